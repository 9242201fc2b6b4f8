//! scimd's SQL target: keeps users, groups and memberships in PostgreSQL,
//! MariaDB/MySQL or SQLite tables, touching only rows it owns (marked in an
//! owner column). The main crate maps SCIM attributes to column values; this
//! crate writes them in batched transactions and reads them back for drift
//! checks. Configuration: [`SqlTargetConfig`]; see the crate's README for what
//! it needs from the database administrator.

mod config;
mod dialect;
mod error;
mod members;
mod observe;
mod pool;
mod schema;
mod sql;
mod upsert;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use scimd_backend::{Backend, BackendError, Change, ObjectKind, ObservedSink};
use tokio::sync::RwLock;

pub use config::{
    GroupsTable, MembershipsTable, OnDeactivate, OnDelete, OnExisting, SqlTargetConfig, UsersTable,
    is_valid_identifier,
};
pub use error::SqlConfigError;

use crate::dialect::Dialect;
use crate::error::classify;
use crate::pool::Pool;
use crate::schema::Schema;

/// A SQL target, built by [`SqlTargetConfig::build`].
pub struct SqlBackend {
    config: SqlTargetConfig,
    dialect: Dialect,
    pool: Pool,
    /// Tables as last checked; `None` until the first successful check.
    schema: RwLock<Option<Arc<Schema>>>,
}

impl SqlBackend {
    fn new(config: SqlTargetConfig, dialect: Dialect, pool: Pool) -> Self {
        SqlBackend {
            config,
            dialect,
            pool,
            schema: RwLock::new(None),
        }
    }

    /// Creates or checks the tables and remembers their column types.
    async fn prepare(&self) -> Result<Arc<Schema>, BackendError> {
        let mut session = self.pool.begin().await.map_err(|e| classify(&e))?;
        let schema = Arc::new(schema::prepare(session.as_mut(), self.dialect, &self.config).await?);
        session.commit().await.map_err(|e| classify(&e))?;
        *self.schema.write().await = Some(schema.clone());
        Ok(schema)
    }

    /// The checked schema, checking it first if this is the first use.
    async fn schema(&self) -> Result<Arc<Schema>, BackendError> {
        if let Some(s) = self.schema.read().await.as_ref() {
            return Ok(s.clone());
        }
        self.prepare().await
    }
}

impl std::fmt::Debug for SqlBackend {
    /// Names the target without the password a URL may carry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[async_trait]
impl Backend for SqlBackend {
    fn describe(&self) -> String {
        format!(
            "sql {} {}",
            self.dialect.name(),
            config::redact(&self.config.url)
        )
    }

    async fn healthcheck(&self) -> Result<(), BackendError> {
        self.prepare().await.map(drop)
    }

    async fn apply(&self, changes: &[Change]) -> Vec<Result<(), BackendError>> {
        if changes.is_empty() {
            return Vec::new();
        }
        let schema = match self.schema().await {
            Ok(s) => s,
            Err(e) => {
                return changes
                    .iter()
                    .map(|c| Err(e.clone().for_object(c.object_id())))
                    .collect();
            }
        };
        let writer = write::Writer {
            config: &self.config,
            schema: &schema,
            dialect: self.dialect,
        };
        writer.apply(&self.pool, changes).await
    }

    /// Rows come ordered by the key column, which holds scimd's ids (lower-case
    /// UUIDs: every collation orders them as `str::cmp` does).
    fn observes_in_id_order(&self) -> bool {
        true
    }

    async fn observe(
        &self,
        kind: ObjectKind,
        sink: &mut ObservedSink<'_>,
    ) -> Result<(), BackendError> {
        let schema = self.schema().await?;
        observe::observe(&self.pool, self.dialect, &self.config, &schema, kind, sink).await
    }
}
