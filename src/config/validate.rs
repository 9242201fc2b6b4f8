//! Raw structs to a validated [`Config`]: defaults applied, values checked, secrets read
//! from their files. A bad value is recorded as an issue and replaced by its default, so
//! checking goes on and every problem is reported in one run.

use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Issue;
use super::raw::{RawAdmin, RawConfig, RawLog, RawServer, RawState};
use super::{AdminConfig, Config, LogConfig, ServerConfig, StateConfig, StateUrl, TlsFiles};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_STATE_URL: &str = "sqlite:///var/lib/scimd/scimd.db";
const DEFAULT_ADMIN_SOCKET: &str = "/run/scimd/admin.sock";
const DEFAULT_LOG_LEVEL: &str = "info";

/// Checks a raw config, pushing one issue per problem. The result is only meaningful when
/// no issue was pushed.
pub(crate) fn config(raw: RawConfig, path: &Path, source: &str, issues: &mut Vec<Issue>) -> Config {
    let mut check = Checker { source, issues };
    Config {
        path: path.to_path_buf(),
        server: check.server(raw.server),
        state: check.state(raw.state),
        admin: check.admin(raw.admin),
        log: check.log(raw.log),
        providers: check.providers(raw.providers),
    }
}

/// Validation state shared by the sections: the config text (for positions and the raw
/// text of values) and the issues found so far.
pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    pub(crate) issues: &'a mut Vec<Issue>,
}

impl Checker<'_> {
    /// Records a problem with the value at `span`.
    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        key: &str,
        message: String,
        hint: Option<&str>,
    ) {
        let issue = Issue::new(Some(span), key, message);
        self.issues.push(match hint {
            Some(hint) => issue.with_hint(hint),
            None => issue,
        });
    }

    /// An integer key with a default and an allowed range; out of range is an error.
    pub(crate) fn ranged(
        &mut self,
        value: Option<&Spanned<u64>>,
        key: &str,
        allowed: RangeInclusive<u64>,
        default: u64,
    ) -> u64 {
        let Some(value) = value else { return default };
        let number = *value.get_ref();
        if allowed.contains(&number) {
            return number;
        }
        let message = format!(
            "{number} is out of range: allowed are {} to {}",
            allowed.start(),
            allowed.end()
        );
        self.error(value.span(), key, message, None);
        default
    }

    /// A path that must name an existing file (checked without opening it, so a file
    /// readable only by the service user still passes `check-config` run by an admin).
    pub(crate) fn existing_file(&mut self, value: &Spanned<String>, key: &str) -> PathBuf {
        let path = PathBuf::from(value.get_ref());
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => self.error(
                value.span(),
                key,
                format!("`{}` is not a file", path.display()),
                None,
            ),
            Err(e) => self.error(
                value.span(),
                key,
                format!("cannot use `{}`: {e}", path.display()),
                Some("relative paths are relative to scimd's working directory"),
            ),
        }
        path
    }

    /// Reads a secret file; `None` (after recording why) when it cannot be read.
    pub(crate) fn read_file(&mut self, value: &Spanned<String>, key: &str) -> Option<String> {
        let path = Path::new(value.get_ref());
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                let message = format!("cannot read `{}`: {e}", path.display());
                let hint = "check the path, relative to scimd's working directory, and that \
                            scimd's user may read the file; systemd LoadCredential= can provide it";
                self.error(value.span(), key, message, Some(hint));
                None
            }
        }
    }

    fn server(&mut self, raw: RawServer) -> ServerConfig {
        ServerConfig {
            listen: self.listen(raw.listen.as_ref()),
            tls: self.tls(raw.tls_cert_file.as_ref(), raw.tls_key_file.as_ref()),
            max_body_bytes: to_usize(self.ranged(
                raw.max_body_bytes.as_ref(),
                "server.max_body_bytes",
                KIB..=64 * MIB,
                MIB,
            )),
            request_timeout: Duration::from_secs(self.ranged(
                raw.request_timeout_secs.as_ref(),
                "server.request_timeout_secs",
                1..=3600,
                30,
            )),
            max_connections: to_usize(self.ranged(
                raw.max_connections.as_ref(),
                "server.max_connections",
                1..=1_000_000,
                1024,
            )),
        }
    }

    fn listen(&mut self, raw: Option<&Spanned<String>>) -> SocketAddr {
        let default = SocketAddr::from(([127, 0, 0, 1], 8080));
        let Some(raw) = raw else { return default };
        raw.get_ref().parse().unwrap_or_else(|_| {
            let message = format!("`{}` is not an IP:PORT address", raw.get_ref());
            let hint =
                format!("write an IP address and port, like \"{DEFAULT_LISTEN}\" or \"[::]:443\"");
            self.error(raw.span(), "server.listen", message, Some(&hint));
            default
        })
    }

    fn tls(
        &mut self,
        cert: Option<&Spanned<String>>,
        key: Option<&Spanned<String>>,
    ) -> Option<TlsFiles> {
        let hint = Some("set both tls_cert_file and tls_key_file for HTTPS, or neither for HTTP");
        match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert_file: self.existing_file(cert, "server.tls_cert_file"),
                key_file: self.existing_file(key, "server.tls_key_file"),
            }),
            (Some(cert), None) => {
                let message = "tls_cert_file is set but tls_key_file is not".to_owned();
                self.error(cert.span(), "server.tls_cert_file", message, hint);
                None
            }
            (None, Some(key)) => {
                let message = "tls_key_file is set but tls_cert_file is not".to_owned();
                self.error(key.span(), "server.tls_key_file", message, hint);
                None
            }
            (None, None) => None,
        }
    }

    fn state(&mut self, raw: RawState) -> StateConfig {
        let url = match &raw.url {
            Some(url) => self.state_url(url),
            None => StateUrl::Sqlite(PathBuf::from("/var/lib/scimd/scimd.db")),
        };
        let password = raw
            .password_file
            .as_ref()
            .and_then(|file| self.state_password(file, &url));
        let max_connections = self.ranged(
            raw.max_connections.as_ref(),
            "state.max_connections",
            1..=1000,
            8,
        );
        StateConfig {
            url,
            password,
            max_connections: u32::try_from(max_connections).unwrap_or(8),
        }
    }

    fn state_url(&mut self, raw: &Spanned<String>) -> StateUrl {
        let key = "state.url";
        let url = raw.get_ref();
        let hint = format!(
            "use \"sqlite://PATH\" (like \"{DEFAULT_STATE_URL}\") or \"postgres://USER@HOST/DATABASE\""
        );
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains('?') {
                let message =
                    "a sqlite URL is sqlite:// followed by a file path, without options".to_owned();
                self.error(raw.span(), key, message, Some(&hint));
            }
            return StateUrl::Sqlite(PathBuf::from(path));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            self.inline_password(raw);
            return StateUrl::Postgres(url.clone());
        }
        let message = format!(
            "`{}` is neither a sqlite:// nor a postgres:// URL",
            redact_url(url)
        );
        self.error(raw.span(), key, message, Some(&hint));
        StateUrl::Sqlite(PathBuf::from("/var/lib/scimd/scimd.db"))
    }

    /// Refuses a password written literally in the URL (as opposed to through `${VAR}`):
    /// secrets never live only in the config file. Looks at the text as written.
    fn inline_password(&mut self, raw: &Spanned<String>) {
        let written = self.source.get(raw.span()).unwrap_or_default();
        let literal = [url_password(written), query_password(written)]
            .into_iter()
            .flatten()
            .any(|password| !password.contains("${"));
        if literal {
            let message = "the URL holds a password written inline".to_owned();
            let hint = "move it to a file named by state.password_file, or into an environment \
                        variable written as ${VAR} in the URL";
            self.error(raw.span(), "state.url", message, Some(hint));
        }
    }

    fn state_password(&mut self, file: &Spanned<String>, url: &StateUrl) -> Option<String> {
        let key = "state.password_file";
        let StateUrl::Postgres(url) = url else {
            let message = "password_file is only for a postgres:// state url".to_owned();
            self.error(file.span(), key, message, None);
            return None;
        };
        if url_password(url).is_some() || query_password(url).is_some() {
            let message = "the state url already holds a password".to_owned();
            self.error(
                file.span(),
                key,
                message,
                Some("keep one: the URL's or the file's"),
            );
        }
        let password = self.read_file(file, key)?.trim().to_owned();
        if password.is_empty() {
            self.error(
                file.span(),
                key,
                format!("`{}` is empty", file.get_ref()),
                None,
            );
            return None;
        }
        Some(password)
    }

    fn admin(&mut self, raw: RawAdmin) -> AdminConfig {
        let socket = match raw.socket {
            Some(socket) if socket.get_ref().is_empty() => {
                self.error(
                    socket.span(),
                    "admin.socket",
                    "the socket path is empty".to_owned(),
                    None,
                );
                PathBuf::from(DEFAULT_ADMIN_SOCKET)
            }
            Some(socket) => PathBuf::from(socket.into_inner()),
            None => PathBuf::from(DEFAULT_ADMIN_SOCKET),
        };
        AdminConfig { socket }
    }

    fn log(&mut self, raw: RawLog) -> LogConfig {
        let level = match raw.level {
            Some(level) => {
                if let Err(e) = tracing_subscriber::EnvFilter::try_new(level.get_ref()) {
                    let message = format!("not a valid log filter: {e}");
                    let hint = "write a level such as \"info\", or directives such as \"info,scimd::http=debug\"";
                    self.error(level.span(), "log.level", message, Some(hint));
                }
                level.into_inner()
            }
            None => DEFAULT_LOG_LEVEL.to_owned(),
        };
        LogConfig {
            format: raw.format.unwrap_or_default(),
            level,
        }
    }
}

/// The password in a URL's user info (`scheme://user:PASSWORD@host/...`), if any.
fn url_password(url: &str) -> Option<&str> {
    let (_, after_scheme) = url.split_once("://")?;
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let (user_info, _) = authority.rsplit_once('@')?;
    let (_, password) = user_info.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// The value of a `password=` query parameter, if any.
fn query_password(url: &str) -> Option<&str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("password="))
        .filter(|password| !password.is_empty())
}

/// The URL with its user-info password and any `password=` query value replaced by `***`,
/// for logs and `Debug`.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = match url_password(url) {
        Some(password) => url.replacen(&format!(":{password}@"), ":***@", 1),
        None => url.to_owned(),
    };
    if let Some(password) = query_password(&out).map(str::to_owned) {
        out = out.replacen(&format!("password={password}"), "password=***", 1);
    }
    out
}

/// u64 to usize; saturates on 32-bit targets (values are range-checked before).
pub(crate) fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
