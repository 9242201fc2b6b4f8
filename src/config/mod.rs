//! scimd's configuration: the TOML file operators edit, turned into a validated [`Config`]
//! that `scimd run`, `scimd check-config` and reload all get from [`load`].
//!
//! Loading runs in stages, one file each: the text is parsed into a spanned tree
//! (`document`), `${VAR}` references in string values are replaced from the environment
//! (`interpolate`), the tree is deserialized into the serde structs of [`raw`], and
//! `validate` checks those and applies the defaults. Every stage collects its errors
//! rather than stopping at the first, so one run of `scimd check-config` shows every
//! mistake with its line.
//!
//! Relative paths (the SQLite file, token files, TLS files, the password file, the admin
//! socket) are relative to the working directory of the process, not to the config file;
//! under systemd that is `/` unless the unit sets `WorkingDirectory=`.

mod document;
mod error;
mod interpolate;
mod provider;
pub mod raw;
mod token;
mod validate;
pub mod watch;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use subtle::ConstantTimeEq;

pub use error::{ConfigError, ConfigErrors};
pub use interpolate::Env;
pub use token::{HASH_PREFIX, TOKEN_PREFIX, hash_line, new_token, token_hash};

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was loaded from (named in errors, re-read on reload).
    pub path: PathBuf,
    /// `[server]`
    pub server: ServerConfig,
    /// `[state]`
    pub state: StateConfig,
    /// `[admin]`
    pub admin: AdminConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[providers.NAME]`, by name.
    pub providers: BTreeMap<String, ProviderConfig>,
}

/// The HTTP(S) listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Certificate and key for HTTPS; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time a request may take before it is answered with an error.
    pub request_timeout: Duration,
    /// Most client connections open at once.
    pub max_connections: usize,
}

/// PEM files for HTTPS (both exist at load time; read by the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// The state store. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Which database.
    pub url: StateUrl,
    /// PostgreSQL password from `password_file`, when given (the URL then holds none).
    pub password: Option<String>,
    /// Size of the connection pool.
    pub max_connections: u32,
}

impl fmt::Debug for StateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateConfig")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Where the state lives. `Debug` and `Display` hide any password in a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StateUrl {
    /// A SQLite file (relative paths are relative to the working directory).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`), `${VAR}` expanded.
    Postgres(String),
}

impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&validate::redact_url(url)),
        }
    }
}

impl fmt::Debug for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&validate::redact_url(url))
                .finish(),
        }
    }
}

/// The admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Unix socket path (mode 0600).
    pub socket: PathBuf,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, known to parse.
    pub level: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald when `JOURNAL_STREAM` is set (started by systemd), else text.
    #[default]
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What a drift check does with the differences it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftAction {
    /// Log them, count them in metrics and show them in `scimd status`.
    #[default]
    Report,
    /// Report them and change the target back to the desired state.
    Repair,
}

/// One account provider. `Debug` shows how many token hashes there are, not the hashes.
#[derive(Clone, PartialEq)]
pub struct ProviderConfig {
    /// Name, as in `/scim/v2/NAME`.
    pub name: String,
    /// Served (endpoint and workers running) or only kept.
    pub enabled: bool,
    /// SHA-256 of every accepted bearer token, from `tokens` and `token_files`, no duplicates.
    pub token_hashes: Vec<[u8; 32]>,
    /// Most resources in one list page.
    pub max_results: usize,
    /// PATCH answers 200 with the resource (true) or 204 (false).
    pub patch_returns_body: bool,
    /// Request rate limit; none when `None`.
    pub rate_limit: Option<RateLimit>,
    /// Limits of `/Bulk` requests.
    pub bulk: BulkLimits,
    /// 5-field crontab of drift checks; none when `None`.
    pub drift_check: Option<String>,
    /// What drift checks do with differences.
    pub drift_action: DriftAction,
    /// Largest share (percent) of owned target objects one plan may delete.
    pub max_delete_percent: u8,
    /// Target tables by name, as written (`${VAR}` expanded); checked by the targets layer.
    pub targets: BTreeMap<String, toml::Table>,
}

impl ProviderConfig {
    /// True when `token` hashes to one of the accepted hashes. Compares every hash in
    /// constant time, so timing tells nothing about how close a guess was.
    pub fn accepts_token(&self, token: &str) -> bool {
        let presented = token_hash(token);
        let matched = self
            .token_hashes
            .iter()
            .fold(subtle::Choice::from(0), |any, hash| {
                any | hash.ct_eq(&presented)
            });
        matched.into()
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = format!("<{} redacted>", self.token_hashes.len());
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("token_hashes", &tokens)
            .field("max_results", &self.max_results)
            .field("patch_returns_body", &self.patch_returns_body)
            .field("rate_limit", &self.rate_limit)
            .field("bulk", &self.bulk)
            .field("drift_check", &self.drift_check)
            .field("drift_action", &self.drift_action)
            .field("max_delete_percent", &self.max_delete_percent)
            .field("targets", &self.targets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (finite, more than 0).
    pub per_second: f64,
    /// Bucket size: requests allowed at once (at least 1).
    pub burst: u32,
}

/// Limits of `/Bulk` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    /// Most operations in one request.
    pub max_operations: usize,
    /// Largest request body, in bytes.
    pub max_payload_bytes: usize,
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read the config file: {e}")))?;
    parse(&text, path)
}

/// Validates config text; `origin` is the file it came from, named in errors and kept in
/// [`Config::path`]. `${VAR}` comes from the process environment.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigErrors> {
    parse_with_env(text, origin, &|name| std::env::var(name).ok())
}

/// [`parse`] with `${VAR}` taken from `env` instead of the process environment (for tests,
/// which must not change the environment of a multi-threaded process).
pub fn parse_with_env(text: &str, origin: &Path, env: Env<'_>) -> Result<Config, ConfigErrors> {
    let mut tree = document::parse(text).map_err(|issues| error::report(issues, origin, text))?;
    let mut issues = Vec::new();
    let failed = interpolate::table(tree.get_mut(), "", env, &mut issues);
    let reported = issues.len();
    let config = document::deserialize::<raw::RawConfig>(&tree, &mut issues)
        .map(|raw| validate::config(raw, origin, text, &mut issues));
    drop_repeats(&mut issues, reported, &failed);
    match config {
        Some(config) if issues.is_empty() => Ok(config),
        _ if issues.is_empty() => Err(ConfigError::whole_file(origin, "invalid config").into()),
        _ => Err(error::report(issues, origin, text)),
    }
}

/// Drops issues found after the first `reported` ones that concern a string whose `${VAR}`
/// could not be expanded: the unexpanded text is bound to be invalid, and the operator
/// already has the real error.
fn drop_repeats(
    issues: &mut Vec<error::Issue>,
    reported: usize,
    failed: &[std::ops::Range<usize>],
) {
    let mut index = 0;
    issues.retain(|issue| {
        index += 1;
        index <= reported
            || !issue.span.as_ref().is_some_and(|span| {
                failed
                    .iter()
                    .any(|bad| bad.start <= span.start && span.end <= bad.end)
            })
    });
}
