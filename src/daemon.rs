//! Builds the running daemon from a validated configuration (store, listener,
//! application state) and owns the control loop that handles reload and shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{self, Config, StateUrl};
use crate::http::{self, App, Listener};
use crate::signals::{self, Control};
use crate::store::{Store, StoreError, StoreUrl};
use crate::systemd;

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state store could not be opened or migrated.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; is another process using it?")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS files could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// Signal handlers could not be installed.
    #[error("signals: {0}")]
    Signals(std::io::Error),
}

/// Opens the configured state store.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let url = match &config.state.url {
        StateUrl::Sqlite(p) => StoreUrl::Sqlite(p.clone()),
        StateUrl::Postgres(u) => StoreUrl::Postgres(u.clone()),
    };
    Store::open(
        &url,
        config.state.password.as_deref(),
        config.state.max_connections,
    )
    .await
}

/// A started daemon: its address and the handle that stops it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: std::net::SocketAddr,
    /// Sends control events (tests use it instead of signals).
    pub control: mpsc::Sender<Control>,
    /// Completes when the daemon has stopped.
    pub done: tokio::task::JoinHandle<()>,
}

/// Starts the daemon; `with_signals` installs the Unix signal handlers.
pub async fn start(config: Config, with_signals: bool) -> Result<Running, DaemonError> {
    crate::metrics::install();
    let store = open_store(&config).await?;
    let tcp = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let addr = tcp.local_addr().map_err(|source| DaemonError::Bind {
        addr: config.server.listen,
        source,
    })?;
    let tls = match &config.server.tls {
        Some(files) => {
            Some(http::tls::acceptor(&files.cert_file, &files.key_file).map_err(DaemonError::Tls)?)
        }
        None => None,
    };
    let app = Arc::new(App::new(store.clone(), &config.server, &config.providers));
    let (control_tx, control_rx) = mpsc::channel(16);
    if with_signals {
        signals::spawn(control_tx.clone()).map_err(DaemonError::Signals)?;
    }
    tracing::info!(%addr, tls = tls.is_some(), providers = config.providers.len(), "scimd listening");
    if with_signals {
        systemd::ready(&format!(
            "serving {} provider(s) on {addr}",
            config.providers.len()
        ));
        systemd::spawn_watchdog();
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(http::serve(
        Listener { tcp, tls },
        app.clone(),
        wait_stop(stop_rx),
    ));
    let done = tokio::spawn(control_loop(
        config, app, store, control_rx, stop_tx, server,
    ));
    Ok(Running {
        addr,
        control: control_tx,
        done,
    })
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn control_loop(
    mut config: Config,
    app: Arc<App>,
    store: Store,
    mut rx: mpsc::Receiver<Control>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
) {
    while let Some(event) = rx.recv().await {
        match event {
            Control::Reload => {
                systemd::reloading();
                reload(&mut config, &app);
                systemd::ready("configuration reloaded");
            }
            Control::Reconcile => {
                tracing::info!("reconcile requested; no targets are configured yet")
            }
            Control::Shutdown => break,
        }
    }
    tracing::info!("stopping");
    systemd::stopping();
    let _ = stop.send(true);
    let _ = server.await;
    store.close().await;
    tracing::info!("stopped");
}

/// Loads and validates the file again; applies it only when valid. Providers change
/// live; `[server]`, `[state]`, `[admin]` and `[log]` changes need a restart, said loudly.
fn reload(current: &mut Config, app: &App) {
    match config::load(&current.path) {
        Ok(new) => {
            app.set_providers(&new.providers);
            tracing::info!(providers = new.providers.len(), "configuration reloaded");
            crate::metrics::reload(true);
            for (section, changed) in [
                ("[server]", new.server != current.server),
                ("[state]", new.state != current.state),
                ("[admin]", new.admin != current.admin),
                ("[log]", new.log != current.log),
            ] {
                if changed {
                    tracing::warn!(
                        section,
                        "this section changed; it takes effect at the next restart"
                    );
                }
            }
            *current = new;
        }
        Err(errors) => {
            crate::metrics::reload(false);
            for e in errors.iter() {
                tracing::error!(error = %e, "configuration reload rejected; the previous configuration stays in force");
            }
        }
    }
}
