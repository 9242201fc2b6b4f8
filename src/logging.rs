//! Logging setup: human-readable text on a terminal, JSON on request (`[log] format =
//! "json"`), and under systemd (`JOURNAL_STREAM` set) native journald entries whose
//! fields (`PROVIDER`, `TARGET`, `RESOURCE`, `REQUEST_ID`, ...) `journalctl` can filter
//! on; when the journal socket cannot be reached, plain lines without timestamps
//! (journald stamps them itself).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    if format == LogFormat::Auto
        && under_journald
        && let Ok(journald) = tracing_journald::layer()
    {
        let _ = tracing_subscriber::registry()
            .with(filter())
            .with(journald.with_syslog_identifier("scimd".to_owned()))
            .try_init();
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Auto if under_journald => builder.without_time().with_ansi(false).try_init(),
        _ => builder.with_ansi(terminal).try_init(),
    };
    // A second init (tests starting several daemons) keeps the first subscriber.
    let _ = result;
}
