//! scimd's LDAP target: keeps users and groups as entries in OpenLDAP, 389-DS
//! or Active Directory, touching only entries it created or adopted (those
//! carrying its id attribute below the configured base DNs). The main crate
//! maps SCIM attributes to LDAP attribute values; this crate writes them as
//! minimal modify deltas, keeps group membership with single-value add/delete,
//! and reads everything back with paged searches for drift checks.
//! Configuration: [`LdapTargetConfig`]; the README and `examples/*.toml` say
//! what it needs from the directory administrator.

mod config;
mod conn;
mod directory;
pub mod escape;
mod members;
mod observe;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

use async_trait::async_trait;
use futures::StreamExt;
use scimd_backend::{Backend, BackendError, Change, ObjectKind, ObservedSink};

pub use config::{
    GroupsConfig, LdapConfigError, LdapTargetConfig, MemberStyle, NumberAllocation, OnExisting,
    Policy, UsersConfig, is_attribute_name,
};

use crate::conn::Pool;
use crate::members::Op;
use crate::write::{Prefetch, Writer};

/// An LDAP target, built by [`LdapTargetConfig::build`].
pub struct LdapBackend {
    config: LdapTargetConfig,
    pool: Pool,
}

impl LdapBackend {
    fn new(config: LdapTargetConfig) -> Self {
        LdapBackend {
            pool: Pool::new(config.clone()),
            config,
        }
    }

    /// How many write operations (add, modify, delete, modrdn) this backend
    /// has sent since it was built: lets tests and benchmarks count requests.
    pub fn write_operations(&self) -> u64 {
        self.pool.writes()
    }

    /// One change, its error naming the object.
    async fn tagged(
        &self,
        change: &Change,
        prefetch: Option<&Prefetch>,
    ) -> Result<(), BackendError> {
        self.one(change, prefetch)
            .await
            .map_err(|e| e.for_object(change.object_id()))
    }

    async fn one(&self, change: &Change, prefetch: Option<&Prefetch>) -> Result<(), BackendError> {
        let conn = self.pool.get().await?;
        let w = Writer {
            config: &self.config,
            pool: &self.pool,
            conn: &conn,
            prefetch,
        };
        match change {
            Change::Upsert(o) => w.upsert(o).await,
            Change::Deactivate { id } => w.user_policy(id, self.config.users.on_deactivate).await,
            Change::Delete {
                kind: ObjectKind::User,
                id,
            } => w.user_policy(id, self.config.users.on_delete).await,
            Change::Delete {
                kind: ObjectKind::Group,
                id,
            } => w.delete_group(id).await,
            Change::AddMembers { group, members } => w.members(Op::Add, group, members).await,
            Change::RemoveMembers { group, members } => w.members(Op::Remove, group, members).await,
            Change::SetMembers { group, members } => w.members(Op::Set, group, members).await,
        }
    }
}

impl std::fmt::Debug for LdapBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Splits a batch into runs that may go concurrently: consecutive upserts of
/// distinct objects form one run; every other change is a run of its own.
fn runs(changes: &[Change]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut ids = std::collections::HashSet::new();
    for (i, c) in changes.iter().enumerate() {
        let joins = matches!(c, Change::Upsert(_))
            && i > start
            && matches!(changes[i - 1], Change::Upsert(_))
            && !ids.contains(c.object_id());
        if !joins && i > start {
            out.push(start..i);
            start = i;
            ids.clear();
        }
        ids.insert(c.object_id());
    }
    if start < changes.len() {
        out.push(start..changes.len());
    }
    out
}

#[async_trait]
impl Backend for LdapBackend {
    fn describe(&self) -> String {
        format!("ldap {} as {:?}", self.config.url, self.config.bind_dn)
    }

    async fn healthcheck(&self) -> Result<(), BackendError> {
        let conn = self.pool.get().await?;
        let mut missing = Vec::new();
        let mut bases = vec![("users.base_dn", self.config.users.base_dn.clone())];
        if let Some(g) = &self.config.groups {
            bases.push(("groups.base_dn", g.base_dn.clone()));
        }
        for (key, dn) in bases {
            if conn
                .read(&dn, &["1.1"])
                .await
                .map_err(|e| e.error)?
                .is_none()
            {
                missing.push(format!("{key} {dn:?}"));
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(BackendError::permanent(format!(
                "{} not in the directory (or not visible to the bind DN): create them or fix \
                 the configuration",
                missing.join(" and ")
            )))
        }
    }

    async fn apply(&self, changes: &[Change]) -> Vec<Result<(), BackendError>> {
        let width = self.config.pool_size.max(1) * 4;
        let mut results: Vec<Result<(), BackendError>> = Vec::with_capacity(changes.len());
        let mut failed: Option<BackendError> = None;
        for run in runs(changes) {
            let slice = &changes[run];
            if let Some(e) = &failed {
                results.extend(
                    slice
                        .iter()
                        .map(|c| Err(e.clone().for_object(c.object_id()))),
                );
                continue;
            }
            // A run of several upserts looks its entries up in one go.
            let prefetch = if slice.len() > 1 {
                let objects: Vec<&scimd_backend::Object> = slice
                    .iter()
                    .filter_map(|c| match c {
                        Change::Upsert(o) => Some(o),
                        _ => None,
                    })
                    .collect();
                match self.pool.get().await {
                    Ok(conn) => Prefetch::load(&self.config, &conn, &objects).await,
                    Err(e) => Err(e),
                }
            } else {
                Ok(Prefetch::default())
            };
            let prefetch = match prefetch {
                Ok(p) => p,
                Err(e) => {
                    let all = slice
                        .iter()
                        .map(|c| Err(e.clone().for_object(c.object_id())));
                    results.extend(all);
                    if e.is_retryable() {
                        failed = Some(e);
                    }
                    continue;
                }
            };
            let prefetch = &prefetch;
            let pending: Vec<_> = slice
                .iter()
                .map(
                    |c| -> futures::future::BoxFuture<'_, Result<(), BackendError>> {
                        Box::pin(self.tagged(c, Some(prefetch)))
                    },
                )
                .collect();
            let outcome: Vec<Result<(), BackendError>> = futures::stream::iter(pending)
                .buffered(width)
                .collect()
                .await;
            // After transient trouble the rest of the batch is not attempted:
            // the worker retries the batch, and order per object is kept.
            failed = outcome
                .iter()
                .find_map(|r| r.as_ref().err().filter(|e| e.is_retryable()).cloned());
            results.extend(outcome);
        }
        results
    }

    async fn observe(
        &self,
        kind: ObjectKind,
        sink: &mut ObservedSink<'_>,
    ) -> Result<(), BackendError> {
        let conn = self.pool.get().await?;
        observe::observe(&conn, &self.config, kind, sink).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scimd_backend::Object;

    #[test]
    fn upserts_of_distinct_objects_share_a_run() {
        let up = |id: &str| Change::Upsert(Object::new(ObjectKind::User, id, id));
        let changes = vec![
            up("a"),
            up("b"),
            up("a"),
            Change::Deactivate { id: "a".into() },
            up("c"),
        ];
        assert_eq!(runs(&changes), vec![0..2, 2..3, 3..4, 4..5]);
        assert!(runs(&[]).is_empty());
    }
}
