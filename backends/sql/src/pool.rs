//! One typed sqlx pool per dialect behind a small interface: a [`Session`] is
//! a transaction that runs built [`Sql`] and returns every column as text.
//! (No `Any` driver: it cannot bind typed NULLs or rewrite placeholders.)

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::config::SqlTargetConfig;
use crate::dialect::Dialect;
use crate::sql::{Bind, Sql};

/// A fetched row: every selected column as text (the SQL casts it).
pub(crate) type TextRow = Vec<Option<String>>;

/// A transaction on one connection.
#[async_trait]
pub(crate) trait Session: Send {
    /// Runs a statement; returns the number of rows affected.
    async fn execute(&mut self, sql: Sql) -> Result<u64, sqlx::Error>;
    /// Runs a query whose columns are all text (or NULL).
    async fn fetch(&mut self, sql: Sql) -> Result<Vec<TextRow>, sqlx::Error>;
    /// Commits the transaction.
    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error>;
}

/// The connection pool of one target.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

impl Pool {
    /// Makes a pool that connects on first use, so a target that is down at
    /// start delays only itself.
    pub fn connect_lazy(
        config: &SqlTargetConfig,
        dialect: Dialect,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Pool, sqlx::Error> {
        let url = config.url.as_str();
        let max = config.max_connections;
        Ok(match dialect {
            Dialect::Postgres => {
                // A row locked by the application fails the batch as transient
                // instead of stalling the worker. Custom plans: a generic plan of the
                // key look-ups, cached while a created table was still empty, is a
                // sequential scan that PostgreSQL keeps as the table grows (measured:
                // 1 s per 500-key look-up at 100,000 rows, instead of milliseconds).
                let lock_timeout = format!("{}s", timeout.as_secs());
                let mut o = PgConnectOptions::from_str(url)?.options([
                    ("lock_timeout", lock_timeout.as_str()),
                    ("plan_cache_mode", "force_custom_plan"),
                ]);
                if let Some(p) = &password {
                    o = o.password(p);
                }
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(o),
                )
            }
            Dialect::MySql => {
                let mut o = MySqlConnectOptions::from_str(url)?;
                if let Some(p) = &password {
                    o = o.password(p);
                }
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(o),
                )
            }
            Dialect::Sqlite => {
                let o = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(config.create_tables)
                    .busy_timeout(timeout);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(o),
                )
            }
        })
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Box<dyn Session>, sqlx::Error> {
        Ok(match self {
            Pool::Postgres(p) => Box::new(PgSession(p.begin().await?)),
            Pool::MySql(p) => Box::new(MySqlSession(p.begin().await?)),
            Pool::Sqlite(p) => Box::new(SqliteSession(p.begin().await?)),
        })
    }
}

macro_rules! session {
    ($name:ident, $db:ty) => {
        pub(crate) struct $name(sqlx::Transaction<'static, $db>);

        impl $name {
            fn query(
                sql: Sql,
            ) -> sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments> {
                let mut q = sqlx::query::<$db>(AssertSqlSafe(sql.text));
                for bind in sql.binds {
                    q = match bind {
                        Bind::Text(v) => q.bind(v),
                        Bind::Bool(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                q
            }
        }

        #[async_trait]
        impl Session for $name {
            async fn execute(&mut self, sql: Sql) -> Result<u64, sqlx::Error> {
                Ok(Self::query(sql)
                    .execute(&mut *self.0)
                    .await?
                    .rows_affected())
            }

            async fn fetch(&mut self, sql: Sql) -> Result<Vec<TextRow>, sqlx::Error> {
                let rows = Self::query(sql).fetch_all(&mut *self.0).await?;
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| row.try_get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }

            async fn commit(self: Box<Self>) -> Result<(), sqlx::Error> {
                self.0.commit().await
            }
        }
    };
}

session!(PgSession, Postgres);
session!(MySqlSession, MySql);
session!(SqliteSession, Sqlite);
