//! Reconcile progress in the store: each target's journal cursor and the changes it
//! parked (refused for good), written together so a batch's outcome is atomic.

use serde::{Deserialize, Serialize};

/// A change a target refused for good, kept until the resource changes again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parked {
    /// The resource (or group, for membership changes).
    pub resource_id: String,
    /// What was attempted (`upsert`, `delete`, `add members`, ...).
    pub change: String,
    /// The target's error.
    pub error: String,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
}

impl Parked {
    /// A placeholder line saying the store could not be read.
    pub fn unavailable(message: &str) -> Parked {
        Parked {
            resource_id: "-".into(),
            change: "status".into(),
            error: format!("state store unavailable: {message}"),
            parked_at: String::new(),
        }
    }
}

/// Where a target stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Journal position applied.
    pub cursor: i64,
    /// Entries of the provider after the cursor.
    pub lag_entries: i64,
    /// Age of the oldest entry after the cursor, in seconds (0 when none).
    pub lag_seconds: f64,
    /// Parked changes, oldest first.
    pub parked: Vec<Parked>,
}

/// Implements the progress queries for one sqlx connection type; the SQL is the
/// same on SQLite and PostgreSQL.
macro_rules! impl_progress {
    ($conn:ty) => {
        pub(super) async fn cursor(
            c: &mut $conn,
            provider: &str,
            target: &str,
        ) -> Result<i64, crate::store::StoreError> {
            let row: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM target_cursors WHERE provider = $1 AND target = $2")
                    .bind(provider)
                    .bind(target)
                    .fetch_optional(&mut *c)
                    .await?;
            Ok(row.map(|r| r.0).unwrap_or(0))
        }

        pub(super) async fn record_batch(
            c: &mut $conn,
            provider: &str,
            target: &str,
            seq: i64,
            parked: &[(String, &'static str, String)],
            done: &[String],
        ) -> Result<(), crate::store::StoreError> {
            let now = crate::store::format_time(&chrono::Utc::now());
            sqlx::query(
                "INSERT INTO target_cursors (provider, target, seq, updated) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider, target) DO UPDATE SET seq = excluded.seq, updated = excluded.updated",
            )
            .bind(provider)
            .bind(target)
            .bind(seq)
            .bind(&now)
            .execute(&mut *c)
            .await?;
            for id in done {
                sqlx::query("DELETE FROM parked WHERE provider = $1 AND target = $2 AND resource_id = $3")
                    .bind(provider)
                    .bind(target)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
            }
            for (id, change, error) in parked {
                sqlx::query(
                    "INSERT INTO parked (provider, target, resource_id, change, error, parked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, target, resource_id) \
                     DO UPDATE SET change = excluded.change, error = excluded.error, parked_at = excluded.parked_at",
                )
                .bind(provider)
                .bind(target)
                .bind(id)
                .bind(*change)
                .bind(error)
                .bind(&now)
                .execute(&mut *c)
                .await?;
            }
            Ok(())
        }

        pub(super) async fn parked_ids(
            c: &mut $conn,
            provider: &str,
            target: &str,
        ) -> Result<Vec<String>, crate::store::StoreError> {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT resource_id FROM parked WHERE provider = $1 AND target = $2 ORDER BY parked_at",
            )
            .bind(provider)
            .bind(target)
            .fetch_all(&mut *c)
            .await?;
            Ok(rows.into_iter().map(|r| r.0).collect())
        }

        pub(super) async fn forget_parked(
            c: &mut $conn,
            provider: &str,
            target: &str,
            resource_id: &str,
        ) -> Result<(), crate::store::StoreError> {
            sqlx::query("DELETE FROM parked WHERE provider = $1 AND target = $2 AND resource_id = $3")
                .bind(provider)
                .bind(target)
                .bind(resource_id)
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        pub(super) async fn progress(
            c: &mut $conn,
            provider: &str,
            target: &str,
        ) -> Result<crate::store::Progress, crate::store::StoreError> {
            let cursor = cursor(&mut *c, provider, target).await?;
            let (lag_entries,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM journal WHERE provider = $1 AND seq > $2")
                    .bind(provider)
                    .bind(cursor)
                    .fetch_one(&mut *c)
                    .await?;
            let oldest: Option<(String,)> = sqlx::query_as(
                "SELECT at FROM journal WHERE provider = $1 AND seq > $2 ORDER BY seq LIMIT 1",
            )
            .bind(provider)
            .bind(cursor)
            .fetch_optional(&mut *c)
            .await?;
            let lag_seconds = match oldest {
                Some((at,)) => {
                    let t = crate::store::parse_time(&at)?;
                    (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
                }
                None => 0.0,
            };
            let parked: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT resource_id, change, error, parked_at FROM parked \
                 WHERE provider = $1 AND target = $2 ORDER BY parked_at LIMIT 100",
            )
            .bind(provider)
            .bind(target)
            .fetch_all(&mut *c)
            .await?;
            Ok(crate::store::Progress {
                cursor,
                lag_entries,
                lag_seconds,
                parked: parked
                    .into_iter()
                    .map(|(resource_id, change, error, parked_at)| crate::store::Parked {
                        resource_id,
                        change,
                        error,
                        parked_at,
                    })
                    .collect(),
            })
        }
    };
}

pub(super) use impl_progress;
