//! Unix signals as control events: SIGHUP reloads, SIGUSR1 asks for a reconcile of
//! every provider, SIGTERM and SIGINT stop gracefully.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What the daemon is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read and apply the configuration.
    Reload,
    /// The configuration file's directory changed: reload if the file's content did.
    ConfigChanged,
    /// Reconcile every provider now.
    Reconcile,
    /// Stop gracefully.
    Shutdown,
}

/// Starts a task that turns signals into `Control` events on `tx`.
pub fn spawn(tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = usr1.recv() => Control::Reconcile,
                _ = term.recv() => Control::Shutdown,
                _ = int.recv() => Control::Shutdown,
            };
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}
