//! Logging setup: human-readable text on a terminal, JSON on request, and plain
//! lines without timestamps under systemd (journald stamps them itself).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Auto if under_journald => builder.without_time().with_ansi(false).try_init(),
        _ => builder.try_init(),
    };
    // A second init (tests starting several daemons) keeps the first subscriber.
    let _ = result;
}
