//! The config file as written: serde structs mirroring the TOML, one field per key.
//!
//! Unknown keys are errors (`deny_unknown_fields`), so a misspelt key never silently falls
//! back to its default. Keys that may be left out are `Option`s; `validate` applies
//! the defaults written in these docs. Values that validation checks keep their position
//! ([`Spanned`]) so an error can name the line. Every string may use `${VAR}`, expanded
//! before these structs are filled (see `interpolate`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{DriftAction, LogFormat};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The HTTP(S) listener that serves SCIM, `/healthz`, `/readyz` and `/metrics`.
    #[serde(default)]
    pub server: RawServer,
    /// The state store: desired state of every provider and the journal of changes.
    #[serde(default)]
    pub state: RawState,
    /// The admin API the `scimd` CLI talks to.
    #[serde(default)]
    pub admin: RawAdmin,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
    /// Account providers by name; provider NAME is served at `/scim/v2/NAME`.
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<RawProvider>>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address to listen on, `IP:PORT` (default `"127.0.0.1:8080"`; `"[::]:443"` for all).
    pub listen: Option<Spanned<String>>,
    /// PEM certificate chain for HTTPS; needs `tls_key_file` too. Without both: plain HTTP.
    pub tls_cert_file: Option<Spanned<String>>,
    /// PEM private key for HTTPS; needs `tls_cert_file` too.
    pub tls_key_file: Option<Spanned<String>>,
    /// Largest request body accepted, in bytes (default 1 MiB; 1 KiB to 64 MiB).
    pub max_body_bytes: Option<Spanned<u64>>,
    /// Seconds a request may take before it is answered with an error (default 30).
    pub request_timeout_secs: Option<Spanned<u64>>,
    /// Most client connections open at once; more wait to be accepted (default 1024).
    pub max_connections: Option<Spanned<u64>>,
}

/// `[state]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// `sqlite://PATH` (default `"sqlite:///var/lib/scimd/scimd.db"`; a relative PATH is
    /// relative to the working directory) or `postgres://USER@HOST/DB` (`postgresql://` too).
    pub url: Option<Spanned<String>>,
    /// File holding the PostgreSQL password (read and trimmed at load); postgres only.
    pub password_file: Option<Spanned<String>>,
    /// Size of the connection pool (default 8).
    pub max_connections: Option<Spanned<u64>>,
}

/// `[admin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Unix socket of the admin API, created with mode 0600 (default
    /// `"/run/scimd/admin.sock"`).
    pub socket: Option<Spanned<String>>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `"auto"` (default: journald when `JOURNAL_STREAM` is set, else text), `"text"` or
    /// `"json"`.
    pub format: Option<LogFormat>,
    /// Which events to log, as a tracing `EnvFilter` directive such as `"info"` or
    /// `"info,scimd::reconcile=debug"` (default `"info"`).
    pub level: Option<Spanned<String>>,
}

/// `[providers.NAME]`: one account provider (one SCIM client such as an Entra ID tenant).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Serve this provider (default true); false keeps its data but stops its endpoint and
    /// workers.
    pub enabled: Option<bool>,
    /// Accepted bearer tokens as `sha256:HEX` lines from `scimd token new`; several allow
    /// rotation. A plain token is refused here: put it in a `token_files` file instead.
    #[serde(default)]
    pub tokens: Vec<Spanned<String>>,
    /// Files holding one token per line, raw (hashed at load) or as `sha256:HEX`; blank
    /// lines and `#` comments are ignored. Works with systemd `LoadCredential=`.
    #[serde(default)]
    pub token_files: Vec<Spanned<String>>,
    /// Most resources in one list page (default 1000).
    pub max_results: Option<Spanned<u64>>,
    /// PATCH answers 200 with the resource (default true) or 204 without a body (false).
    pub patch_returns_body: Option<bool>,
    /// Per-provider request rate limit; no limit when absent.
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    /// Limits of `/Bulk` requests (defaults as in [`RawBulk`]).
    pub bulk: Option<RawBulk>,
    /// When to check the targets for drift, as a 5-field crontab (`"*/30 * * * *"`); never
    /// when absent.
    pub drift_check: Option<Spanned<String>>,
    /// What a drift check does with differences: `"report"` (default) or `"repair"`.
    pub drift_action: Option<DriftAction>,
    /// A plan that would delete more than this percentage of the objects scimd owns in a
    /// target is stopped (default 10; 0 to 100).
    pub max_delete_percent: Option<Spanned<u64>>,
    /// Targets by name (`[providers.NAME.targets.T]`, `kind = "ldap" | "sql"`); checked by
    /// the targets layer.
    #[serde(default)]
    pub targets: BTreeMap<String, toml::Table>,
}

/// `rate_limit = { requests_per_second = 50.0, burst = 100 }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Sustained requests per second (more than 0).
    pub requests_per_second: f64,
    /// Requests allowed at once above the sustained rate (at least 1).
    pub burst: u32,
}

/// `bulk = { max_operations = 1000, max_payload_bytes = 1048576 }`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBulk {
    /// Most operations in one `/Bulk` request (default 1000).
    pub max_operations: Option<Spanned<u64>>,
    /// Largest `/Bulk` request body, in bytes (default 1 MiB).
    pub max_payload_bytes: Option<Spanned<u64>>,
}
