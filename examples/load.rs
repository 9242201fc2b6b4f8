//! scimd's load tool: drives a running scimd over HTTP with N concurrent connections
//! and prints throughput and latency percentiles (median of `--runs` runs).
//!
//! ```text
//! cargo run --release --example load -- --url http://127.0.0.1:8080/scim/v2/demo \
//!     --token demo-token --scenario create-users --concurrency 32 --requests 20000
//! ```
//!
//! Scenarios:
//! - `healthz`: GET /healthz, the HTTP stack alone (the in-run baseline).
//! - `create-users`: POST /Users with fresh userNames.
//! - `get-user`: GET /Users/{id} of one user.
//! - `filter-username`: GET /Users?filter=userName eq "..." over `--seed` users
//!   (seeded first when fewer exist), picking a random existing name each time.
//! - `patch-member`: PATCH add one member to a group of `--group-size` members.
//! - `get-group-no-members`: GET /Groups/{id}?excludedAttributes=members on that group.
//! - `filter-title`: GET /Users?filter=title co "eng"&count=100 (not indexed).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Http = Client<HttpConnector, Full<Bytes>>;

struct Args {
    url: String,
    token: String,
    scenario: String,
    concurrency: usize,
    requests: usize,
    runs: usize,
    seed: usize,
    group_size: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: load --url BASE --token TOKEN --scenario NAME [--concurrency N] [--requests N] [--runs N] \
         [--seed N] [--group-size N]\nscenarios: healthz create-users get-user filter-username patch-member \
         get-group-no-members filter-title"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080/scim/v2/demo".into(),
        token: "demo-token".into(),
        scenario: String::new(),
        concurrency: 32,
        requests: 10_000,
        runs: 3,
        seed: 100_000,
        group_size: 100_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--url" => a.url = value(),
            "--token" => a.token = value(),
            "--scenario" => a.scenario = value(),
            "--concurrency" => a.concurrency = num(value()),
            "--requests" => a.requests = num(value()),
            "--runs" => a.runs = num(value()),
            "--seed" => a.seed = num(value()),
            "--group-size" => a.group_size = num(value()),
            _ => usage(),
        }
    }
    if a.scenario.is_empty() {
        usage()
    }
    a
}

struct Target {
    http: Http,
    base: String,
    auth: String,
}

impl Target {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Bytes), String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/scim+json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let resp = self
            .http
            .request(req.body(Full::new(bytes)).map_err(|e| e.to_string())?)
            .await;
        let resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }

    async fn call_url(&self, method: &str, url: &str) -> Result<(u16, Bytes), String> {
        let req = http::Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::new()));
        let resp = self
            .http
            .request(req.map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }

    async fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = self.call(method, path, body).await.expect("request");
        assert!(
            status < 300,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

fn user(name: &str, title: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "title": title,
        "name": {"givenName": "Load", "familyName": "Test"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work"}],
        "active": true,
    })
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Creates users `prefix-0..n` with `concurrency` workers; returns their ids.
async fn seed_users(t: &Arc<Target>, prefix: &str, n: usize, concurrency: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (t, next, prefix) = (t.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return ids;
                }
                let title = if i % 10 == 0 { "Engineer" } else { "Manager" };
                let (status, body) = t
                    .call(
                        "POST",
                        "/Users",
                        Some(&user(&format!("{prefix}-{i}"), title)),
                    )
                    .await
                    .unwrap();
                if status == 201 {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    ids.push(v["id"].as_str().unwrap().to_owned());
                } else if status != 409 {
                    panic!(
                        "seeding failed: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

async fn total(t: &Target, filter: &str) -> usize {
    let v = t
        .json(
            "GET",
            &format!("/Users?count=0&filter={}", encode(filter)),
            None,
        )
        .await;
    v["totalResults"].as_u64().unwrap_or(0) as usize
}

/// What one request of a scenario sends.
#[derive(Clone)]
enum Request {
    Get(String),
    Post(String, fn(usize, usize) -> Value),
    Patch(String, Arc<Vec<String>>),
    RandomFilter(usize, String),
    Absolute(String),
}

async fn prepare(t: &Arc<Target>, a: &Args) -> Request {
    let run_id = std::process::id();
    match a.scenario.as_str() {
        "healthz" => {
            // The HTTP stack alone: the in-run baseline for the other scenarios.
            let root = t.base.split("/scim/").next().unwrap_or(&t.base).to_owned();
            Request::Absolute(format!("{root}/healthz"))
        }
        "create-users" => Request::Post("/Users".into(), |run, i| {
            user(&format!("load-{run}-{i}"), "Engineer")
        }),
        "get-user" => {
            let ids = seed_users(t, &format!("get-{run_id}"), 1, 1).await;
            Request::Get(format!(
                "/Users/{}{}",
                ids[0],
                std::env::var("LOAD_QUERY").unwrap_or_default()
            ))
        }
        "filter-username" | "filter-title" => {
            let have = total(t, r#"userName sw "seed-""#).await;
            if have < a.seed {
                eprintln!("seeding {} users (have {have})...", a.seed);
                let started = Instant::now();
                // Seeding is not measured: many connections, whatever the scenario's
                // concurrency (one at a time, a PostgreSQL store takes minutes).
                seed_users(t, "seed", a.seed, a.concurrency.max(32)).await;
                eprintln!("seeded in {:.1}s", started.elapsed().as_secs_f64());
            }
            if a.scenario == "filter-title" {
                Request::Get(format!(
                    "/Users?count=100&filter={}",
                    encode(r#"title co "eng""#)
                ))
            } else {
                Request::RandomFilter(a.seed, "seed".into())
            }
        }
        "patch-member" | "get-group-no-members" => {
            let name = format!("load-group-{}", a.group_size);
            let found = t
                .json(
                    "GET",
                    &format!(
                        "/Groups?excludedAttributes=members&filter={}",
                        encode(&format!("displayName eq \"{name}\""))
                    ),
                    None,
                )
                .await;
            let gid = match found["Resources"][0]["id"].as_str() {
                Some(id) => id.to_owned(),
                None => {
                    eprintln!("building a group of {} members...", a.group_size);
                    let members = seed_users(
                        t,
                        &format!("member-{}", a.group_size),
                        a.group_size,
                        a.concurrency,
                    )
                    .await;
                    let g = t
                        .json(
                            "POST",
                            "/Groups?excludedAttributes=members",
                            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})),
                        )
                        .await;
                    let gid = g["id"].as_str().unwrap().to_owned();
                    for chunk in members.chunks(1000) {
                        let value: Vec<Value> =
                            chunk.iter().map(|id| json!({"value": id})).collect();
                        let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": value}]});
                        t.json(
                            "PATCH",
                            &format!("/Groups/{gid}?excludedAttributes=members"),
                            Some(&op),
                        )
                        .await;
                    }
                    gid
                }
            };
            if a.scenario == "get-group-no-members" {
                Request::Get(format!("/Groups/{gid}?excludedAttributes=members"))
            } else {
                let extra = seed_users(
                    t,
                    &format!("extra-{run_id}"),
                    a.requests * a.runs,
                    a.concurrency,
                )
                .await;
                Request::Patch(
                    format!("/Groups/{gid}?excludedAttributes=members"),
                    Arc::new(extra),
                )
            }
        }
        _ => usage(),
    }
}

struct RunResult {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn run_once(t: &Arc<Target>, req: &Request, a: &Args, run: usize) -> RunResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (t, next, req, n) = (t.clone(), next.clone(), req.clone(), a.requests);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut rng = fastrand_seed(next.load(Ordering::Relaxed) as u64 + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return (lat, errors);
                }
                let t0 = Instant::now();
                let result = match &req {
                    Request::Get(path) => t.call("GET", path, None).await,
                    Request::Absolute(url) => t.call_url("GET", url).await,
                    Request::Post(path, make) => t.call("POST", path, Some(&make(run, i))).await,
                    Request::Patch(path, extra) => {
                        let member = &extra[run * n + i];
                        let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]});
                        t.call("PATCH", path, Some(&op)).await
                    }
                    Request::RandomFilter(seeded, prefix) => {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let k = (rng >> 33) as usize % seeded;
                        let f = encode(&format!("userName eq \"{prefix}-{k}\""));
                        t.call("GET", &format!("/Users?filter={f}"), None).await
                    }
                };
                lat.push(t0.elapsed());
                if !matches!(result, Ok((s, _)) if s < 300) {
                    errors += 1;
                }
            }
        }));
    }
    let mut lat = Vec::with_capacity(a.requests);
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    RunResult {
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
    }
}

fn fastrand_seed(x: u64) -> u64 {
    x ^ (std::process::id() as u64) << 17 ^ Instant::now().elapsed().as_nanos() as u64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.concurrency.max(1))
        .build(connector);
    let t = Arc::new(Target {
        http,
        base: a.url.trim_end_matches('/').to_owned(),
        auth: format!("Bearer {}", a.token),
    });
    let req = prepare(&t, &a).await;
    let (mut rps, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        let r = run_once(&t, &req, &a, run).await;
        println!(
            "run {}: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
            run + 1,
            a.requests,
            r.rps,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.errors
        );
        rps.push(r.rps);
        p50.push(r.p50.as_secs_f64() * 1e3);
        p99.push(r.p99.as_secs_f64() * 1e3);
    }
    println!(
        "{}: median of {} runs, concurrency {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        a.scenario,
        a.runs,
        a.concurrency,
        median(rps),
        median(p50),
        median(p99)
    );
}
