//! Benchmark of the reconcile path into a PostgreSQL target: N users created through the
//! SCIM API of a real `scimd` (release build, durable SQLite state) must reach the
//! target table; the figure is how long after the last 2xx the table holds all N rows.
//! The baseline, measured in the same run on the same server, is PostgreSQL's raw
//! `COPY` of the very rows scimd wrote (read back, then copied into a twin table).
//!
//! ```text
//! cargo build --release --bin scimd --example target_bench
//! ./target/release/examples/target_bench --postgres postgres://postgres@127.0.0.1:5432/postgres \
//!     --users 100000 --concurrency 32 --runs 3
//! ```
//!
//! Each run uses a fresh database (dropped afterwards) and a fresh scimd in a temporary
//! directory, with a target that creates its tables (`create_tables = true`).

use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const TOKEN: &str = "bench-token";
const COLUMNS: &str = "scim_id, scimd_owner, user_name, display_name, email, active";

struct Args {
    postgres: String,
    users: usize,
    concurrency: usize,
    runs: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: target_bench [--postgres ADMIN_URL] [--users N] [--concurrency N] [--runs N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        postgres: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        users: 100_000,
        concurrency: 32,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--postgres" => a.postgres = value(),
            "--users" => a.users = num(value()),
            "--concurrency" => a.concurrency = num(value()),
            "--runs" => a.runs = num(value()),
            _ => usage(),
        }
    }
    a
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// The `scimd` binary built next to this example.
fn scimd_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("scimd");
    assert!(
        bin.exists(),
        "{} missing: cargo build --release --bin scimd",
        bin.display()
    );
    bin
}

fn config(dir: &std::path::Path, port: u16, target_url: &str) -> String {
    let hash = scimd::config::hash_line(&scimd::config::token_hash(TOKEN));
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[state]
url = "sqlite://{dir}/state.db"

[admin]
socket = "{dir}/admin.sock"

[log]
level = "warn"

[providers.bench]
tokens = ["{hash}"]

[providers.bench.targets.pg]
kind = "sql"
url = "{target_url}"
create_tables = true

[providers.bench.targets.pg.users]
table = "users"
key = "scim_id"

[providers.bench.targets.pg.users.columns]
user_name = "userName"
display_name = "{{name.givenName}} {{name.familyName}}"
email = 'emails[type eq "work"].value'
active = "active"
"#,
        dir = dir.display()
    )
}

type Http = Client<HttpConnector, Full<Bytes>>;

async fn post(http: &Http, url: &str, body: &serde_json::Value) -> Result<u16, String> {
    let req = http::Request::builder()
        .method("POST")
        .uri(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/scim+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

async fn wait_healthy(http: &Http, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let req = http::Request::builder()
            .uri(format!("{base}/healthz"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_millis(500), http.request(req)).await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "scimd did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(conn: &mut PgConnection, table: &str) -> usize {
    // The table appears with the worker's first healthcheck.
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(conn)
        .await
        .map(|n| n as usize)
        .unwrap_or(0)
}

struct RunResult {
    api_rate: f64,
    lag_after_last_2xx: Duration,
    target_rate: f64,
    copy_rate: f64,
}

async fn run_once(a: &Args, http: &Http, run: usize) -> RunResult {
    let admin_options = PgConnectOptions::from_str(&a.postgres).expect("a PostgreSQL URL");
    let mut admin = PgConnection::connect_with(&admin_options)
        .await
        .expect("connect to PostgreSQL");
    let db = format!("scimd_bench_{}_{run}", std::process::id());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("create the bench database");
    let target_url = {
        let (base, _) = a.postgres.split_once('?').unwrap_or((&a.postgres, ""));
        let (server, _) = base.rsplit_once('/').expect("URL with a database");
        format!("{server}/{db}")
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let path = dir.path().join("scimd.toml");
    std::fs::write(&path, config(dir.path(), port, &target_url)).expect("write config");
    let mut child: Child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn scimd");
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(http, &base).await;
    let mut probe = PgConnection::connect_with(&admin_options.clone().database(&db))
        .await
        .expect("connect to the target database");

    let url = Arc::new(format!("{base}/scim/v2/bench/Users"));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (http, url, next, n) = (http.clone(), url.clone(), next.clone(), a.users);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let name = format!("bench.user{i:06}");
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "name": {"givenName": "Bench", "familyName": format!("User {i}")},
                    "emails": [{"type": "work", "value": format!("{name}@example.com"), "primary": true}],
                    "active": true,
                });
                let status = post(&http, &url, &body).await.expect("POST /Users");
                assert_eq!(status, 201, "POST /Users {name}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let last_2xx = Instant::now();
    let api_rate = a.users as f64 / (last_2xx - start).as_secs_f64();
    let landed_at_last_2xx = count(&mut probe, "users").await;
    while count(&mut probe, "users").await < a.users {
        assert!(
            last_2xx.elapsed() < Duration::from_secs(600),
            "the target did not catch up in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lag_after_last_2xx = last_2xx.elapsed();
    let target_rate = a.users as f64 / (Instant::now() - start).as_secs_f64();
    println!(
        "run {}: {} users, API {:.0}/s; {} in the target at the last 2xx; all {} there {:.2} s after it",
        run + 1,
        a.users,
        api_rate,
        landed_at_last_2xx,
        a.users,
        lag_after_last_2xx.as_secs_f64()
    );
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();

    // Baseline: the same rows, copied raw into a twin table on the same server.
    let rows: Vec<u8> = {
        let text: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT concat_ws(E'\\t', {COLUMNS}) FROM users"
        )))
        .fetch_all(&mut probe)
        .await
        .expect("read the rows back");
        let mut out = Vec::with_capacity(text.len() * 120);
        for (line,) in text {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    };
    sqlx::query("CREATE TABLE copy_twin (LIKE users INCLUDING ALL)")
        .execute(&mut probe)
        .await
        .expect("twin table");
    let copy_start = Instant::now();
    let mut copy = probe
        .copy_in_raw(&format!("COPY copy_twin ({COLUMNS}) FROM STDIN"))
        .await
        .expect("COPY");
    copy.send(rows).await.expect("COPY data");
    let copied = copy.finish().await.expect("COPY finish") as usize;
    let copy_time = copy_start.elapsed();
    assert_eq!(copied, a.users);
    let copy_rate = copied as f64 / copy_time.as_secs_f64();
    println!(
        "run {}: raw COPY of the same {} rows: {:.2} s ({:.0} rows/s)",
        run + 1,
        copied,
        copy_time.as_secs_f64(),
        copy_rate
    );
    drop(probe);
    let _ = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    RunResult {
        api_rate,
        lag_after_last_2xx,
        target_rate,
        copy_rate,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = parse_args();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.concurrency.max(1))
        .build(connector);
    let mut results = Vec::new();
    for run in 0..a.runs {
        results.push(run_once(&a, &http, run).await);
    }
    let lag = median(
        results
            .iter()
            .map(|r| r.lag_after_last_2xx.as_secs_f64())
            .collect(),
    );
    let api = median(results.iter().map(|r| r.api_rate).collect());
    let target = median(results.iter().map(|r| r.target_rate).collect());
    let copy = median(results.iter().map(|r| r.copy_rate).collect());
    println!(
        "median of {} runs, {} users, concurrency {}: API {api:.0} users/s; target complete {lag:.2} s \
         after the last 2xx; end-to-end {target:.0} rows/s = {:.3} of raw COPY ({copy:.0} rows/s)",
        a.runs,
        a.users,
        a.concurrency,
        target / copy
    );
}
