//! The SQLite engine, the embedded default: WAL with `synchronous=FULL`, one writer
//! task that group-commits concurrent mutations (each in its own savepoint, so one
//! rejected request never affects another), and a pool of readers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::logic::{self, Tx};

/// Combined reads on this engine's connections.
mod reads_sql {
    use sqlx::SqliteConnection;
    crate::store::reads::impl_reads!(SqliteConnection);
}

/// Reconcile progress queries on this engine's connections.
mod progress_sql {
    use sqlx::SqliteConnection;
    crate::store::progress::impl_progress!(SqliteConnection);
}
use super::queries::impl_tx;
use super::{
    GroupRef, JournalEntry, ListPage, ListQuery, Member, Mutation, StoreEngine, StoreError,
    StoredResource,
};
use crate::scim::ResourceKind;

impl_tx!(SqliteTx, SqliteConnection, "", super::sql::Dialect::Sqlite);

/// Most mutations one group commit carries.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Option<StoredResource>, StoreError>>;

struct WriteJob {
    provider: String,
    work: Work,
    reply: Reply,
}

/// What one job of the writer does.
enum Work {
    /// A SCIM mutation and its journal entry.
    Mutation(Mutation),
    /// A target's batch record (cursor, parked, unparked). It rides the group commit
    /// like a mutation: a second writing connection would wait for SQLite's write
    /// lock behind busy API traffic (seconds, measured) and stall the worker.
    Progress {
        target: String,
        seq: i64,
        parked: Vec<(String, &'static str, String)>,
        done: Vec<String>,
    },
}

/// SQLite state store.
pub(super) struct SqliteStore {
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    readers: SqlitePool,
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite://")
        .expect("static sqlite URL parses")
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(false)
        .optimize_on_close(true, 400)
}

impl SqliteStore {
    /// Opens or creates the database file, migrates it and starts the writer.
    pub(super) async fn open(path: &Path, max_connections: u32) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot create the state directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut conn = SqliteConnection::connect_with(&options(path))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot open the SQLite state store {}: {e}",
                    path.display()
                ))
            })?;
        {
            let mut tx = conn.begin().await?;
            super::migrate::run_migrations!(&mut *tx, super::migrate::SQLITE)?;
            tx.commit().await?;
        }
        // Planner statistics: without them SQLite may scan a provider's rows where an
        // index seek is right. Cheap (bounded analysis); refreshed on close too.
        sqlx::raw_sql("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002")
            .execute(&mut conn)
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(max_connections.max(2))
            .min_connections(1)
            .connect_with(options(path))
            .await?;
        let (tx, rx) = mpsc::channel(4096);
        let task = tokio::spawn(write_loop(conn, rx));
        Ok(SqliteStore {
            writer: Mutex::new(Some(tx)),
            writer_task: Mutex::new(Some(task)),
            readers,
        })
    }
}

/// Takes every job that is waiting (up to MAX_BATCH) and commits them together.
async fn write_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<WriteJob>) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(&mut conn, &mut batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &mut [WriteJob],
) -> Vec<Result<Option<StoredResource>, StoreError>> {
    let unavailable =
        |e: &dyn std::fmt::Display| StoreError::Unavailable(format!("SQLite write failed: {e}"));
    if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
        return batch.iter().map(|_| Err(unavailable(&e))).collect();
    }
    let mut results = Vec::with_capacity(batch.len());
    for job in batch.iter_mut() {
        let work = std::mem::replace(
            &mut job.work,
            Work::Mutation(Mutation::Delete {
                kind: ResourceKind::User,
                id: String::new(),
                if_match: None,
            }),
        );
        if let Err(e) = sqlx::raw_sql("SAVEPOINT w").execute(&mut *conn).await {
            results.push(Err(unavailable(&e)));
            continue;
        }
        let outcome = match work {
            Work::Mutation(mutation) => {
                logic::apply(&mut SqliteTx { conn: &mut *conn }, &job.provider, mutation).await
            }
            Work::Progress {
                target,
                seq,
                parked,
                done,
            } => progress_sql::record_batch(conn, &job.provider, &target, seq, &parked, &done)
                .await
                .map(|()| None),
        };
        let end = if outcome.is_ok() {
            "RELEASE w"
        } else {
            "ROLLBACK TO w; RELEASE w"
        };
        if let Err(e) = sqlx::raw_sql(end).execute(&mut *conn).await {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            return batch.iter().map(|_| Err(unavailable(&e))).collect();
        }
        results.push(outcome);
    }
    if let Err(e) = sqlx::raw_sql("COMMIT").execute(&mut *conn).await {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        return batch.iter().map(|_| Err(unavailable(&e))).collect();
    }
    results
}

impl SqliteStore {
    /// Hands work to the writer task and waits until its group commit is durable.
    async fn submit(
        &self,
        provider: &str,
        work: Work,
    ) -> Result<Option<StoredResource>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            provider: provider.to_owned(),
            work,
            reply,
        };
        let sender = self.writer.lock().await.clone();
        let sender = sender
            .ok_or_else(|| StoreError::Unavailable("the state store is shutting down".into()))?;
        sender
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, StoreError> {
        Ok(self.readers.acquire().await?)
    }
}

#[async_trait]
impl StoreEngine for SqliteStore {
    async fn write(
        &self,
        provider: &str,
        mutation: Mutation,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.submit(provider, Work::Mutation(mutation)).await
    }

    async fn get(
        &self,
        provider: &str,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        let mut c = self.reader().await?;
        SqliteTx { conn: &mut c }
            .get(provider, kind, id, false)
            .await
    }

    async fn get_many(
        &self,
        provider: &str,
        ids: &[String],
    ) -> Result<Vec<StoredResource>, StoreError> {
        let mut c = self.reader().await?;
        SqliteTx { conn: &mut c }.get_many(provider, ids).await
    }

    async fn members(&self, provider: &str, group_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut c = self.reader().await?;
        SqliteTx { conn: &mut c }
            .members_with_display(provider, group_id)
            .await
    }

    async fn groups_of(
        &self,
        provider: &str,
        member_id: &str,
    ) -> Result<Vec<GroupRef>, StoreError> {
        let mut c = self.reader().await?;
        SqliteTx { conn: &mut c }
            .groups_of(provider, member_id)
            .await
    }

    async fn list(&self, provider: &str, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let mut c = self.reader().await?;
        // One read transaction: count and page see the same snapshot.
        let mut tx = c.begin().await?;
        let page = super::listing::list(&mut SqliteTx { conn: &mut tx }, provider, query).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn journal(
        &self,
        provider: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let mut c = self.reader().await?;
        SqliteTx { conn: &mut c }
            .journal(provider, after_seq, limit)
            .await
    }

    async fn user_with_groups(
        &self,
        provider: &str,
        id: &str,
    ) -> Result<Option<(StoredResource, Vec<GroupRef>)>, StoreError> {
        let mut c = self.reader().await?;
        reads_sql::user_with_groups(&mut c, provider, id).await
    }

    async fn cursor(&self, provider: &str, target: &str) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
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
        let work = Work::Progress {
            target: target.to_owned(),
            seq,
            parked: parked.to_vec(),
            done: done.to_vec(),
        };
        self.submit(provider, work).await.map(drop)
    }

    async fn parked_ids(&self, provider: &str, target: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.reader().await?;
        progress_sql::parked_ids(&mut c, provider, target).await
    }

    async fn forget_parked(
        &self,
        provider: &str,
        target: &str,
        resource_id: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.reader().await?;
        progress_sql::forget_parked(&mut c, provider, target, resource_id).await
    }

    async fn target_progress(
        &self,
        provider: &str,
        target: &str,
    ) -> Result<super::Progress, StoreError> {
        let mut c = self.reader().await?;
        progress_sql::progress(&mut c, provider, target).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.reader().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    async fn try_lead(&self, _name: &str) -> Result<Option<super::Lease>, StoreError> {
        Ok(Some(super::Lease::local()))
    }

    async fn close(&self) {
        self.writer.lock().await.take();
        if let Some(task) = self.writer_task.lock().await.take() {
            let _ = task.await;
        }
        self.readers.close().await;
    }
}
