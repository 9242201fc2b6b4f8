//! Targets from configuration: each `[providers.P.targets.T]` table becomes a backend
//! plus the attribute mappings that feed it. The config type is the factory: parsing
//! checks everything that can be checked without the target (so `check-config`
//! reports it), building makes the backend.

use std::sync::Arc;

use scimd_backend_ldap::LdapTargetConfig;
use scimd_backend_sql::SqlTargetConfig;

use crate::reconcile::mapping::Mapping;
use crate::reconcile::plan::ObjectMapping;
use crate::reconcile::worker::TargetRuntime;
use crate::scim::{ResourceKind, registry};

/// The kinds of target and their own settings.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// An SQL database (PostgreSQL, MariaDB/MySQL, SQLite).
    Sql(Box<SqlTargetConfig>),
    /// An LDAP directory (OpenLDAP, 389-DS, Active Directory).
    Ldap(Box<LdapTargetConfig>),
}

/// A checked target configuration.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Provider name.
    pub provider: String,
    /// Target name.
    pub name: String,
    /// Kind-specific settings.
    pub kind: TargetKind,
    /// Attribute mappings.
    pub mapping: ObjectMapping,
    /// Changes whenever the configuration of this target changes (restarts its worker).
    pub fingerprint: String,
}

/// One problem in a target table: the dotted key below the target and what is wrong.
pub type TargetProblem = (String, String);

fn mappings(
    kind: ResourceKind,
    columns: &std::collections::BTreeMap<String, String>,
    section: &str,
) -> (Vec<(String, Mapping)>, Vec<TargetProblem>) {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    for (column, text) in columns {
        match Mapping::parse(registry(), kind, text) {
            Ok(m) => ok.push((column.clone(), m)),
            Err(e) => problems.push((format!("{section}.{column}"), e)),
        }
    }
    (ok, problems)
}

/// A secret file the daemon will need: unreadable now is a config error (a path
/// still holding `${` failed interpolation, which is reported already).
fn secret_file(key: &str, path: Option<&std::path::Path>, problems: &mut Vec<TargetProblem>) {
    if let Some(path) = path
        && !path.to_string_lossy().contains("${")
        && let Err(e) = std::fs::File::open(path)
    {
        problems.push((
            key.into(),
            format!(
                "cannot read {}: {e}; create it (mode 0600, owned by scimd's user) or fix the path",
                path.display()
            ),
        ));
    }
}

/// The kind's own settings, deserialized from the target table without `kind`.
fn settings<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, Vec<TargetProblem>> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| vec![(String::new(), e.message().to_owned())])
}

/// The user and group mappings of a target whose table has no problem left.
struct Checked {
    users: Vec<(String, Mapping)>,
    groups: Vec<(String, Mapping)>,
}

/// Parses `users.SECTION` and `groups.SECTION`; fails with `problems` and theirs.
fn check_mappings(
    section: &str,
    users: &std::collections::BTreeMap<String, String>,
    groups: Option<&std::collections::BTreeMap<String, String>>,
    mut problems: Vec<TargetProblem>,
) -> Result<Checked, Vec<TargetProblem>> {
    let (users, p) = mappings(ResourceKind::User, users, &format!("users.{section}"));
    problems.extend(p);
    let (groups, p) = match groups {
        Some(g) => mappings(ResourceKind::Group, g, &format!("groups.{section}")),
        None => (Vec::new(), Vec::new()),
    };
    problems.extend(p);
    if problems.is_empty() {
        Ok(Checked { users, groups })
    } else {
        Err(problems)
    }
}

/// Checks a target table.
pub fn parse(
    provider: &str,
    name: &str,
    table: &toml::Table,
) -> Result<TargetSpec, Vec<TargetProblem>> {
    let mut rest = table.clone();
    let kind = rest.remove("kind");
    let spec = |kind: TargetKind, mapping: ObjectMapping| TargetSpec {
        provider: provider.to_owned(),
        name: name.to_owned(),
        kind,
        mapping,
        fingerprint: toml::to_string(table).unwrap_or_default(),
    };
    match kind.as_ref().and_then(toml::Value::as_str) {
        Some("sql") => {
            let config: SqlTargetConfig = settings(rest)?;
            let mut problems: Vec<TargetProblem> = Vec::new();
            if let Err(e) = config.validate() {
                problems.push((String::new(), e.to_string()));
            }
            secret_file(
                "password_file",
                config.password_file.as_deref(),
                &mut problems,
            );
            let m = check_mappings(
                "columns",
                &config.users.columns,
                config.groups.as_ref().map(|g| &g.columns),
                problems,
            )?;
            let mapping = ObjectMapping {
                users: m.users,
                groups: m.groups,
                single_valued: true,
                users_only: config.groups.is_none(),
                restore_memberships: config.users.on_deactivate
                    == scimd_backend_sql::OnDeactivate::Delete
                    && config.memberships.is_some(),
            };
            Ok(spec(TargetKind::Sql(Box::new(config)), mapping))
        }
        Some("ldap") => {
            let config: LdapTargetConfig = settings(rest)?;
            let mut problems: Vec<TargetProblem> = Vec::new();
            if let Err(e) = config.validate() {
                problems.extend(e.0);
            }
            secret_file(
                "bind_password_file",
                config.bind_password_file.as_deref(),
                &mut problems,
            );
            let m = check_mappings(
                "attributes",
                &config.users.attributes,
                config.groups.as_ref().map(|g| &g.attributes),
                problems,
            )?;
            let mapping = ObjectMapping {
                users: m.users,
                groups: m.groups,
                // LDAP attributes are multi-valued: a multi-valued SCIM attribute
                // becomes several values.
                single_valued: false,
                users_only: config.groups.is_none(),
                // A deleted entry loses its member values; a moved one keeps them.
                restore_memberships: config.users.on_deactivate
                    == scimd_backend_ldap::Policy::Delete
                    && config.groups.is_some(),
            };
            Ok(spec(TargetKind::Ldap(Box::new(config)), mapping))
        }
        Some(other) => Err(vec![(
            "kind".into(),
            format!("unknown target kind {other:?}; use \"sql\" or \"ldap\""),
        )]),
        None => Err(vec![(
            "kind".into(),
            "missing `kind` (\"sql\" or \"ldap\")".into(),
        )]),
    }
}

impl TargetSpec {
    /// Makes the backend (connections open lazily; the worker retries while the
    /// target is unreachable).
    pub fn build(&self) -> Result<Arc<TargetRuntime>, String> {
        let backend: Arc<dyn scimd_backend::Backend> = match &self.kind {
            TargetKind::Sql(c) => Arc::new(c.build().map_err(|e| e.to_string())?),
            TargetKind::Ldap(c) => Arc::new(c.build().map_err(|e| e.to_string())?),
        };
        Ok(Arc::new(TargetRuntime {
            provider: self.provider.clone(),
            name: self.name.clone(),
            backend,
            mapping: self.mapping.clone(),
        }))
    }
}
