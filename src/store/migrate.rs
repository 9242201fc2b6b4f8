//! Schema migrations, embedded in the binary and applied at start, in order, once.
//! Each engine gets the same list; where SQL differs, the engine picks its variant.

/// One migration: a version and the SQL to run for it.
pub(super) struct Migration {
    /// Applied in increasing order; recorded in `scimd_schema`.
    pub version: i64,
    /// What it does, for the log.
    pub name: &'static str,
    /// Statements (several, separated by `;`).
    pub sql: &'static str,
}

/// The migrations for SQLite.
pub(super) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "resources and members",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "journal",
        sql: include_str!("migrations/0002_journal_sqlite.sql"),
    },
    Migration {
        version: 3,
        name: "reconcile progress",
        sql: include_str!("migrations/0003_reconcile.sql"),
    },
    Migration {
        version: 4,
        name: "covering member index",
        sql: include_str!("migrations/0004_member_index.sql"),
    },
    Migration {
        version: 5,
        name: "id index in code point order",
        sql: include_str!("migrations/0005_id_order_sqlite.sql"),
    },
];

/// The migrations for PostgreSQL.
pub(super) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "resources and members",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "journal",
        sql: include_str!("migrations/0002_journal_postgres.sql"),
    },
    Migration {
        version: 3,
        name: "reconcile progress",
        sql: include_str!("migrations/0003_reconcile.sql"),
    },
    Migration {
        version: 4,
        name: "covering member index",
        sql: include_str!("migrations/0004_member_index.sql"),
    },
    Migration {
        version: 5,
        name: "id index in code point order",
        sql: include_str!("migrations/0005_id_order_postgres.sql"),
    },
];

/// Creates the bookkeeping table; the same text on both engines.
pub(super) const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS scimd_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// Runs the migrations newer than what `scimd_schema` records, each in the caller's
/// transaction; `$conn` is a `&mut` connection of either engine.
macro_rules! run_migrations {
    ($conn:expr, $list:expr) => {{
        sqlx::raw_sql(crate::store::migrate::BOOKKEEPING).execute(&mut *$conn).await?;
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM scimd_schema").fetch_all(&mut *$conn).await?;
        let known = $list.last().map(|m| m.version).unwrap_or(0);
        if let Some(newer) = applied.iter().map(|v| v.0).filter(|v| *v > known).max() {
            return Err(crate::store::StoreError::Internal(format!(
                "the state store has schema version {newer}, newer than this scimd knows ({known}); \
                 run the newer scimd or restore a backup"
            )));
        }
        for m in $list {
            if applied.iter().any(|v| v.0 == m.version) {
                continue;
            }
            tracing::info!(version = m.version, name = m.name, "applying state store migration");
            sqlx::raw_sql(m.sql).execute(&mut *$conn).await?;
            sqlx::query("INSERT INTO scimd_schema (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(crate::store::format_time(&chrono::Utc::now()))
                .execute(&mut *$conn)
                .await?;
        }
        Ok::<(), crate::store::StoreError>(())
    }};
}

pub(super) use run_migrations;
