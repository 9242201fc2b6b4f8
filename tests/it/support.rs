//! Test support: throwaway daemons on random ports in temporary directories, a small
//! SCIM client over a real socket, and fresh PostgreSQL databases per test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The demo token every test provider accepts unless a test says otherwise.
pub const TOKEN: &str = "test-token-a";
/// The token of the second provider, for isolation tests.
pub const TOKEN_B: &str = "test-token-b";

/// `sha256:HEX` of a token, as the config wants it.
pub fn hash_line(token: &str) -> String {
    scimd::config::hash_line(&scimd::config::token_hash(token))
}

/// Whether tests must fail instead of skipping when a service is missing.
pub fn services_required() -> bool {
    std::env::var("SCIMD_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A config with providers `a` and `b` and the given `[state] url`.
pub fn config_text(dir: &Path, state_url: &str, extra_provider_a: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"

[state]
url = "{state_url}"

[admin]
socket = "{dir}/admin.sock"

[log]
level = "warn"

[providers.a]
tokens = ["{ha}"]
{extra_provider_a}

[providers.b]
tokens = ["{hb}"]
"#,
        dir = dir.display(),
        ha = hash_line(TOKEN),
        hb = hash_line(TOKEN_B),
    )
}

/// A daemon running in this process, stopped when dropped.
pub struct Daemon {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    control: tokio::sync::mpsc::Sender<scimd::signals::Control>,
    done: Option<tokio::task::JoinHandle<()>>,
    /// Holds the temporary directory for the daemon's lifetime.
    pub dir: tempfile::TempDir,
}

impl Daemon {
    /// Runs a drift check of provider `a`'s only target over the admin socket.
    pub async fn drift_check(&self, dry_run: bool) -> scimd::drift::DriftReport {
        let mut reports = scimd::admin::request_reconcile(
            &self.dir.path().join("admin.sock"),
            Some("a"),
            dry_run,
            |_, _, _| {},
        )
        .await
        .expect("reconcile answers");
        assert_eq!(reports.len(), 1, "{reports:?}");
        reports.remove(0)
    }

    /// Starts a daemon on SQLite in a fresh temporary directory.
    pub async fn start() -> Daemon {
        Self::start_with("").await
    }

    /// Starts a daemon on SQLite with extra `[providers.a]` keys.
    pub async fn start_with(extra_provider_a: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/state.db", dir.path().display());
        Self::start_in(dir, &url, extra_provider_a).await
    }

    /// Starts a daemon with the given state URL.
    pub async fn start_in(dir: tempfile::TempDir, state_url: &str, extra: &str) -> Daemon {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let path = dir.path().join("scimd.toml");
        std::fs::write(&path, config_text(dir.path(), state_url, extra)).expect("write config");
        let config =
            scimd::config::load(&path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let running = scimd::daemon::start(config, false)
            .await
            .expect("daemon starts");
        Daemon {
            base: format!("http://{}", running.addr),
            control: running.control,
            done: Some(running.done),
            dir,
        }
    }

    /// A client of provider `a`.
    pub fn client(&self) -> Client {
        Client::new(&format!("{}/scim/v2/a", self.base), Some(TOKEN))
    }

    /// A client with any base path and token.
    pub fn client_for(&self, provider: &str, token: Option<&str>) -> Client {
        Client::new(&format!("{}/scim/v2/{provider}", self.base), token)
    }

    /// Stops the daemon gracefully, waits for it, and hands back its directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.control.send(scimd::signals::Control::Shutdown).await;
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), done).await;
        }
        self.dir
    }
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Parsed JSON body (`Value::Null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A minimal HTTP/1.1 SCIM client.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client for `base` (the provider's SCIM base URL).
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            base: base.to_owned(),
            token: token.map(str::to_owned),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request with optional JSON body and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let raw = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send_raw(
            method,
            path,
            raw,
            if body.is_some() {
                Some("application/scim+json")
            } else {
                None
            },
            headers,
        )
        .await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.try_send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    async fn try_send_request(&self, req: http::Request<Full<Bytes>>) -> Result<Reply, String> {
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
            text: String::from_utf8_lossy(&raw).into_owned(),
        })
    }

    /// POST that reports connection errors instead of panicking.
    pub async fn try_post(&self, path: &str, body: &Value) -> Result<Reply, String> {
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/scim+json");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        self.try_send_request(req).await
    }

    /// GET that reports connection errors instead of panicking.
    pub async fn try_get(&self, path: &str) -> Result<Reply, String> {
        let req = http::Request::builder()
            .uri(format!("{}{path}", self.base))
            .body(Full::new(Bytes::new()));
        self.try_send_request(req.map_err(|e| e.to_string())?).await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }
    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body), &[]).await
    }
    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(body), &[]).await
    }
    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send("PATCH", path, Some(body), &[]).await
    }
    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, &[]).await
    }
}

/// A User body.
pub fn user(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "active": true,
    })
}

/// A Group body.
pub fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| serde_json::json!({"value": m}))
        .collect();
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members,
    })
}

/// A PatchOp body.
pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    })
}

/// A fresh, uniquely named PostgreSQL database, dropped on `drop_db`; `None` (after a
/// "skipped" line) when no server answers and services are not required.
pub struct PgDb {
    /// URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDb {
    /// Creates the database.
    pub async fn create(test: &str) -> Option<PgDb> {
        use sqlx::Connection;
        let admin_url = std::env::var("SCIMD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if services_required() {
                    panic!("no PostgreSQL at {admin_url}: {e} (SCIMD_TEST_REQUIRE_SERVICES=1)");
                }
                eprintln!("skipped {test}: no PostgreSQL at {admin_url}: {e}");
                return None;
            }
        };
        let name = format!("scimd_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let (base, _) = admin_url.rsplit_once('/').expect("URL has a database path");
        Some(PgDb {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    /// Drops the database (forcing other sessions off).
    pub async fn drop_db(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Path of the built `scimd` binary.
pub fn scimd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_scimd"))
}
