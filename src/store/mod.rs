//! The state store: what provisioning clients pushed, kept durably per provider.
//! One object-safe engine trait behind the `Store` handle, two engines (SQLite, the
//! embedded default, and PostgreSQL for several instances), one mutation logic
//! (`logic.rs`) shared by both, and the journal (outbox) written in the same
//! transaction as every change.

mod filter_sql;
mod lease;
mod listing;
mod logic;
mod migrate;
mod postgres;
mod prefilter;
mod progress;
mod queries;
mod reads;
mod sort_sql;
mod sql;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

use crate::scim::ResourceKind;
pub use lease::Lease;
pub use listing::check_sort;
pub use progress::{Parked, Progress};
pub use types::*;

/// First key of the PostgreSQL transaction lock that orders one provider's journal
/// commits (the second is `hashtext(provider)`); two-key advisory locks never collide
/// with the one-key leases.
pub(crate) const JOURNAL_LOCK_CLASS: i32 = 0x5c1d_0002;

/// What a storage engine offers; every call is scoped to one provider.
#[async_trait]
pub trait StoreEngine: Send + Sync {
    /// Applies one mutation atomically with its journal entry; returns the resource as
    /// written (`None` for a delete) only once the commit is durable.
    async fn write(
        &self,
        provider: &str,
        mutation: Mutation,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// One resource by id.
    async fn get(
        &self,
        provider: &str,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// The resources among `ids` (any kind; missing ids are left out), in a few
    /// round trips whatever their number: what a reconcile batch plans from.
    async fn get_many(
        &self,
        provider: &str,
        ids: &[String],
    ) -> Result<Vec<StoredResource>, StoreError>;
    /// A user and its groups, in one round trip (the GET /Users/{id} path).
    async fn user_with_groups(
        &self,
        provider: &str,
        id: &str,
    ) -> Result<Option<(StoredResource, Vec<GroupRef>)>, StoreError>;
    /// The members of a group, with their display names.
    async fn members(&self, provider: &str, group_id: &str) -> Result<Vec<Member>, StoreError>;
    /// The groups a resource is a direct member of.
    async fn groups_of(&self, provider: &str, member_id: &str)
    -> Result<Vec<GroupRef>, StoreError>;
    /// A page of resources matching a query.
    async fn list(&self, provider: &str, query: &ListQuery<'_>) -> Result<ListPage, StoreError>;
    /// Journal entries after `after_seq`, oldest first.
    async fn journal(
        &self,
        provider: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError>;
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The journal position a target has applied (0 before its first batch).
    async fn cursor(&self, provider: &str, target: &str) -> Result<i64, StoreError>;
    /// Records a target's batch atomically: the new cursor, the changes it parked
    /// (`resource id, change, error`), and the resources it applied (unparked).
    async fn record_batch(
        &self,
        provider: &str,
        target: &str,
        seq: i64,
        parked: &[(String, &'static str, String)],
        done: &[String],
    ) -> Result<(), StoreError>;
    /// Where a target stands: cursor, lag and parked changes.
    async fn target_progress(&self, provider: &str, target: &str) -> Result<Progress, StoreError>;
    /// Every resource id a target has parked (no limit, unlike `target_progress`).
    async fn parked_ids(&self, provider: &str, target: &str) -> Result<Vec<String>, StoreError>;
    /// Drops a target's parked entry for a resource (one that no longer exists).
    async fn forget_parked(
        &self,
        provider: &str,
        target: &str,
        resource_id: &str,
    ) -> Result<(), StoreError>;
    /// Tries to become the one instance doing the work called `name`; `None` while
    /// another instance holds it.
    async fn try_lead(&self, name: &str) -> Result<Option<Lease>, StoreError>;
    /// Stops accepting writes and waits for in-flight ones to be committed.
    async fn close(&self);
}

/// A cheap, cloneable handle on the configured engine. Writes go through
/// [`Store::write`], which also wakes whoever waits for new journal entries.
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn StoreEngine>,
    changed: Arc<tokio::sync::Notify>,
}

impl std::ops::Deref for Store {
    type Target = dyn StoreEngine;
    fn deref(&self) -> &Self::Target {
        &*self.engine
    }
}

impl Store {
    /// Applies a mutation (see [`StoreEngine::write`]) and, once it is durable, wakes
    /// the reconcile workers waiting on [`Store::changed`].
    pub async fn write(
        &self,
        provider: &str,
        mutation: Mutation,
    ) -> Result<Option<StoredResource>, StoreError> {
        let outcome = self.engine.write(provider, mutation).await;
        if outcome.is_ok() {
            self.changed.notify_waiters();
        }
        outcome
    }

    /// Notified after every successful write through this handle.
    pub fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// Opens (creating if needed) the store at `url` (`sqlite://PATH` or `postgres://...`)
    /// and applies pending migrations.
    /// `password`, when given, overrides the one in a PostgreSQL URL.
    pub async fn open(
        url: &StoreUrl,
        password: Option<&str>,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        let engine: Arc<dyn StoreEngine> = match url {
            StoreUrl::Sqlite(path) => {
                Arc::new(sqlite::SqliteStore::open(path, max_connections).await?)
            }
            StoreUrl::Postgres(url) => {
                Arc::new(postgres::PgStore::open(url, password, max_connections).await?)
            }
        };
        Ok(Store {
            engine,
            changed: Arc::default(),
        })
    }
}

/// Where the state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection URL (may hold a password: never printed).
    Postgres(String),
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            StoreUrl::Postgres(_) => f.write_str("postgres://<redacted>"),
        }
    }
}
