//! The PostgreSQL engine, for several scimd instances on one state store: every
//! mutation is its own transaction (PostgreSQL group-commits concurrent WAL flushes
//! itself), rows are locked `FOR UPDATE` for read-modify-write, and unique indexes
//! settle races between instances.

use std::time::Duration;

use async_trait::async_trait;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::logic::{self, Tx};

/// Combined reads on this engine's connections.
mod reads_sql {
    use sqlx::PgConnection;
    crate::store::reads::impl_reads!(PgConnection);
}

/// Reconcile progress queries on this engine's connections.
mod progress_sql {
    use sqlx::PgConnection;
    crate::store::progress::impl_progress!(PgConnection);
}
use super::queries::impl_tx;
use super::{
    GroupRef, JournalEntry, ListPage, ListQuery, Member, Mutation, StoreEngine, StoreError,
    StoredResource,
};
use crate::scim::ResourceKind;

impl_tx!(
    PgTx,
    PgConnection,
    "FOR UPDATE",
    super::sql::Dialect::Postgres
);

/// Advisory lock key that serialises migrations between instances starting together.
const MIGRATION_LOCK: i64 = 0x5c1d_0001;

/// PostgreSQL state store.
pub(super) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, migrates (under an advisory lock) and returns the store.
    pub(super) async fn open(
        url: &str,
        password: Option<&str>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Unavailable(format!("invalid PostgreSQL URL for the state store: {e}"))
        })?;
        if let Some(pw) = password {
            options = options.password(pw);
        }
        // Custom plans for every statement: sqlx prepares each query once per
        // connection, and a generic plan PostgreSQL settles on while the tables are
        // still small (a new deployment, the first import) is a sequential scan it
        // keeps as they grow: seeding 100,000 users over SCIM slowed down until it
        // had not finished after 10 minutes; planning per execution costs far less.
        options = options.options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot connect to the PostgreSQL state store: {e}"
                ))
            })?;
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        super::migrate::run_migrations!(&mut *tx, super::migrate::POSTGRES)?;
        tx.commit().await?;
        // Planner statistics now, as SQLite's `PRAGMA optimize` at open: a restored
        // dump (pg_restore brings no statistics) or a server with autovacuum off would
        // otherwise plan list queries as if the tables were empty (measured: a
        // 100-row page of a non-indexed filter over 100,000 users 112 ms -> 5 ms).
        // Reads and writes go on while it runs; failing it costs speed, not data.
        if let Err(e) = sqlx::raw_sql("ANALYZE resources, members, journal")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "ANALYZE of the state store's tables failed; list queries may plan badly until autovacuum runs");
        }
        Ok(PgStore { pool })
    }
}

#[async_trait]
impl StoreEngine for PgStore {
    async fn write(
        &self,
        provider: &str,
        mutation: Mutation,
    ) -> Result<Option<StoredResource>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let outcome = logic::apply(&mut PgTx { conn: &mut tx }, provider, mutation).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn get(
        &self,
        provider: &str,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        let mut c = self.pool.acquire().await?;
        PgTx { conn: &mut c }.get(provider, kind, id, false).await
    }

    async fn get_many(
        &self,
        provider: &str,
        ids: &[String],
    ) -> Result<Vec<StoredResource>, StoreError> {
        let mut c = self.pool.acquire().await?;
        PgTx { conn: &mut c }.get_many(provider, ids).await
    }

    async fn members(&self, provider: &str, group_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut c = self.pool.acquire().await?;
        PgTx { conn: &mut c }
            .members_with_display(provider, group_id)
            .await
    }

    async fn groups_of(
        &self,
        provider: &str,
        member_id: &str,
    ) -> Result<Vec<GroupRef>, StoreError> {
        let mut c = self.pool.acquire().await?;
        PgTx { conn: &mut c }.groups_of(provider, member_id).await
    }

    async fn list(&self, provider: &str, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let mut c = self.pool.acquire().await?;
        let mut tx = c.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let page = super::listing::list(&mut PgTx { conn: &mut tx }, provider, query).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn journal(
        &self,
        provider: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let mut c = self.pool.acquire().await?;
        PgTx { conn: &mut c }
            .journal(provider, after_seq, limit)
            .await
    }

    async fn user_with_groups(
        &self,
        provider: &str,
        id: &str,
    ) -> Result<Option<(StoredResource, Vec<GroupRef>)>, StoreError> {
        let mut c = self.pool.acquire().await?;
        reads_sql::user_with_groups(&mut c, provider, id).await
    }

    async fn cursor(&self, provider: &str, target: &str) -> Result<i64, StoreError> {
        let mut c = self.pool.acquire().await?;
        progress_sql::cursor(&mut c, provider, target).await
    }

    async fn record_batch(
        &self,
        provider: &str,
        target: &str,
        seq: i64,
        parked: &[(String, &'static str, String)],
        done: &[String],
    ) -> Result<(), StoreError> {
        let mut c = self.pool.acquire().await?;
        let mut tx = c.begin().await?;
        progress_sql::record_batch(&mut tx, provider, target, seq, parked, done).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn parked_ids(&self, provider: &str, target: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.pool.acquire().await?;
        progress_sql::parked_ids(&mut c, provider, target).await
    }

    async fn forget_parked(
        &self,
        provider: &str,
        target: &str,
        resource_id: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.pool.acquire().await?;
        progress_sql::forget_parked(&mut c, provider, target, resource_id).await
    }

    async fn target_progress(
        &self,
        provider: &str,
        target: &str,
    ) -> Result<super::Progress, StoreError> {
        let mut c = self.pool.acquire().await?;
        progress_sql::progress(&mut c, provider, target).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn try_lead(&self, name: &str) -> Result<Option<super::Lease>, StoreError> {
        // A dedicated connection: the lock lives as long as this session.
        let mut conn = self.pool.acquire().await?.detach();
        let (granted,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(super::lease::lock_key(name))
            .fetch_one(&mut conn)
            .await?;
        if granted {
            Ok(Some(super::Lease::postgres(conn)))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
