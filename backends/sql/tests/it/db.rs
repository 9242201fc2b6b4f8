//! A fresh database per test on each engine: a temporary SQLite file, or a
//! uniquely named PostgreSQL / MariaDB database (dropped at teardown) reached
//! through a local TCP proxy the test can cut. Also a small direct client for
//! checking what landed, with `?` placeholders on every engine.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::proxy::Proxy;

/// The engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

/// A connection straight to the test database, bypassing the backend.
pub enum Direct {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool),
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub engine: Engine,
    /// URL the backend under test uses (through the proxy for servers).
    pub url: String,
    pub direct: Direct,
    proxy: Option<Proxy>,
    /// Server databases: the admin connection and the database name to drop.
    admin: Option<(Direct, String)>,
    /// SQLite: the connection holding an exclusive lock while cut.
    lock: tokio::sync::Mutex<Option<PoolConnection<Sqlite>>>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "scimd_t{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `None` (after printing why) when the service is not reachable, unless
/// `SCIMD_TEST_REQUIRE_SERVICES=1`, which makes that a failure.
fn unreachable(what: &str, url: &str, e: impl std::fmt::Display) -> Option<TestDb> {
    if std::env::var("SCIMD_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("no {what} at {url} ({e}) and SCIMD_TEST_REQUIRE_SERVICES=1");
    }
    println!("skipped: no {what} at {url} ({e})");
    None
}

/// `scheme://[userinfo@]HOST:PORT/db?query` with host, port and db replaced.
fn rewrite_url(url: &str, host_port: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    let userinfo = authority
        .rsplit_once('@')
        .map_or(String::new(), |(u, _)| format!("{u}@"));
    format!("{scheme}://{userinfo}{host_port}/{db}{query}")
}

impl TestDb {
    pub async fn new(engine: Engine) -> Option<TestDb> {
        match engine {
            Engine::Sqlite => Some(Self::sqlite().await),
            Engine::Postgres => Self::postgres().await,
            Engine::MySql => Self::mysql().await,
        }
    }

    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        TestDb {
            engine: Engine::Sqlite,
            url: format!("sqlite://{}", path.display()),
            direct: Direct::Lite(pool),
            proxy: None,
            admin: None,
            lock: tokio::sync::Mutex::new(None),
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<TestDb> {
        let url = std::env::var("SCIMD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let options = PgConnectOptions::from_str(&url).unwrap();
        let admin = match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options.clone())
            .await
        {
            Ok(p) => p,
            Err(e) => return unreachable("PostgreSQL", &url, e),
        };
        let name = unique_name();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let direct = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone().database(&name))
            .await
            .unwrap();
        let proxy = Proxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
        Some(TestDb {
            engine: Engine::Postgres,
            url: rewrite_url(&url, &format!("127.0.0.1:{}", proxy.port()), &name),
            direct: Direct::Pg(direct),
            proxy: Some(proxy),
            admin: Some((Direct::Pg(admin), name)),
            lock: tokio::sync::Mutex::new(None),
            _dir: None,
        })
    }

    async fn mysql() -> Option<TestDb> {
        let url = std::env::var("SCIMD_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        let options = MySqlConnectOptions::from_str(&url).unwrap();
        let admin = match MySqlPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options.clone())
            .await
        {
            Ok(p) => p,
            Err(e) => return unreachable("MariaDB/MySQL", &url, e),
        };
        let name = unique_name();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )))
        .execute(&admin)
        .await
        .unwrap();
        let direct = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone().database(&name))
            .await
            .unwrap();
        let proxy = Proxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
        Some(TestDb {
            engine: Engine::MySql,
            url: rewrite_url(&url, &format!("127.0.0.1:{}", proxy.port()), &name),
            direct: Direct::My(direct),
            proxy: Some(proxy),
            admin: Some((Direct::My(admin), name)),
            lock: tokio::sync::Mutex::new(None),
            _dir: None,
        })
    }

    /// Runs a statement; `?` placeholders on every engine.
    pub async fn exec(&self, sql: &str, binds: &[Option<&str>]) {
        self.direct.exec(sql, binds).await
    }

    /// Runs a query; every column comes back as text (integers converted).
    pub async fn rows(&self, sql: &str, binds: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
        self.direct.rows(sql, binds).await
    }

    /// One engine-specific spelling out of three.
    pub fn pick<'a>(&self, sqlite: &'a str, postgres: &'a str, mysql: &'a str) -> &'a str {
        match self.engine {
            Engine::Sqlite => sqlite,
            Engine::Postgres => postgres,
            Engine::MySql => mysql,
        }
    }

    /// Makes the database unreachable for the backend: connections through the
    /// proxy are cut and refused; SQLite gets an exclusive lock held.
    pub async fn cut(&self) {
        match (&self.proxy, &self.direct) {
            (Some(p), _) => p.cut(),
            (None, Direct::Lite(pool)) => {
                let mut conn = pool.acquire().await.unwrap();
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                *self.lock.lock().await = Some(conn);
            }
            _ => unreachable!(),
        }
    }

    pub async fn restore(&self) {
        if let Some(p) = &self.proxy {
            p.restore();
        }
        if let Some(mut conn) = self.lock.lock().await.take() {
            sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        }
    }

    /// Drops the database (server engines); the SQLite directory goes with `self`.
    pub async fn teardown(&self) {
        if let Some((admin, name)) = &self.admin {
            let sql = match admin {
                Direct::Pg(_) => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            match &self.direct {
                Direct::Pg(p) => p.close().await,
                Direct::My(p) => p.close().await,
                Direct::Lite(p) => p.close().await,
            }
            admin.exec(&sql, &[]).await;
        }
    }
}

macro_rules! run_on {
    ($pool:expr, $db:ty, $sql:expr, $binds:expr, $fetch:ident) => {{
        let mut q = sqlx::query::<$db>(AssertSqlSafe($sql));
        for b in $binds {
            q = q.bind(b.map(str::to_owned));
        }
        q.$fetch($pool)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", stringify!($fetch)))
    }};
}

fn text_row<R: Row>(row: &R) -> Vec<Option<String>>
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<String>, _>(i)
                .or_else(|_| {
                    row.try_get::<Option<i64>, _>(i)
                        .map(|v| v.map(|n| n.to_string()))
                })
                .or_else(|_| {
                    row.try_get::<Option<i32>, _>(i)
                        .map(|v| v.map(|n| n.to_string()))
                })
                .unwrap_or_else(|e| panic!("column {i}: {e}"))
        })
        .collect()
}

impl Direct {
    fn numbered(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    pub async fn exec(&self, sql: &str, binds: &[Option<&str>]) {
        match self {
            Direct::Pg(p) => {
                run_on!(p, sqlx::Postgres, Self::numbered(sql), binds, execute);
            }
            Direct::My(p) => {
                run_on!(p, sqlx::MySql, sql.to_owned(), binds, execute);
            }
            Direct::Lite(p) => {
                run_on!(p, sqlx::Sqlite, sql.to_owned(), binds, execute);
            }
        }
    }

    pub async fn rows(&self, sql: &str, binds: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
        match self {
            Direct::Pg(p) => run_on!(p, sqlx::Postgres, Self::numbered(sql), binds, fetch_all)
                .iter()
                .map(text_row)
                .collect(),
            Direct::My(p) => run_on!(p, sqlx::MySql, sql.to_owned(), binds, fetch_all)
                .iter()
                .map(text_row)
                .collect(),
            Direct::Lite(p) => run_on!(p, sqlx::Sqlite, sql.to_owned(), binds, fetch_all)
                .iter()
                .map(text_row)
                .collect(),
        }
    }
}

#[test]
fn urls_are_rewritten_for_the_proxy() {
    assert_eq!(
        rewrite_url(
            "postgres://u:p@db:5432/postgres?sslmode=disable",
            "127.0.0.1:9",
            "x"
        ),
        "postgres://u:p@127.0.0.1:9/x?sslmode=disable"
    );
    assert_eq!(
        rewrite_url("mysql://127.0.0.1:3306/test", "127.0.0.1:9", "y"),
        "mysql://127.0.0.1:9/y"
    );
}
