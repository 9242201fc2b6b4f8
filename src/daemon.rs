//! Builds the running daemon from a validated configuration (store, listener,
//! application state) and owns the control loop that handles reload and shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, watch};

use crate::admin;
use crate::config::{self, Config, StateUrl};
use crate::drift::{self, DriftService};
use crate::http::{self, App, Listener};
use crate::reconcile::Reconciler;
use crate::reconcile::worker::TargetRuntime;
use crate::signals::{self, Control};
use crate::store::{Store, StoreError, StoreUrl};
use crate::systemd;
use crate::targets;

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
    /// The admin socket could not be bound.
    #[error("admin socket {path}: {source}")]
    Admin {
        /// The configured path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A target could not be set up.
    #[error("{0}")]
    Target(String),
}

/// The targets of every enabled provider, built from a validated configuration.
pub fn build_targets(config: &Config) -> Result<Vec<(Arc<TargetRuntime>, String)>, String> {
    let mut out = Vec::new();
    for (provider, p) in config.providers.iter().filter(|(_, p)| p.enabled) {
        for (name, table) in &p.targets {
            let spec = targets::parse(provider, name, table).map_err(|problems| {
                let text: Vec<String> = problems
                    .into_iter()
                    .map(|(k, m)| format!("{k}: {m}"))
                    .collect();
                format!("target {provider}/{name}: {}", text.join("; "))
            })?;
            let runtime = spec
                .build()
                .map_err(|e| format!("target {provider}/{name}: {e}"))?;
            out.push((runtime, spec.fingerprint));
        }
    }
    Ok(out)
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

/// Starts the daemon; `with_signals` installs the Unix signal handlers and the
/// configuration file watch.
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
    let reconciler = Arc::new(Mutex::new(Reconciler::new(store.clone())));
    reconciler
        .lock()
        .await
        .sync(build_targets(&config).map_err(DaemonError::Target)?)
        .await;
    let drift = Arc::new(DriftService::new(
        store.clone(),
        reconciler.clone(),
        &config.providers,
    ));
    let admin_path = config.admin.socket.clone();
    let admin = admin::bind(&admin_path).map_err(|source| DaemonError::Admin {
        path: admin_path.clone(),
        source,
    })?;
    let (control_tx, control_rx) = mpsc::channel(16);
    let mut watch = None;
    if with_signals {
        signals::spawn(control_tx.clone()).map_err(DaemonError::Signals)?;
        match config::watch::spawn(&config.path, control_tx.clone()) {
            Ok(w) => watch = Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "configuration changes need SIGHUP (or systemctl reload)")
            }
        }
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
    tokio::spawn(admin::serve(
        admin,
        admin_path,
        reconciler.clone(),
        drift.clone(),
        stop_tx.subscribe(),
    ));
    tokio::spawn(drift::schedule::run(drift.clone(), stop_tx.subscribe()));
    tokio::spawn(export_target_metrics(
        reconciler.clone(),
        stop_tx.subscribe(),
    ));
    let done = tokio::spawn(control_loop(
        Parts {
            app,
            store,
            reconciler,
            drift,
            stop: stop_tx,
            server,
            _watch: watch,
        },
        config,
        control_rx,
    ));
    Ok(Running {
        addr,
        control: control_tx,
        done,
    })
}

/// Publishes each target's lag and parked count as gauges, every few seconds.
async fn export_target_metrics(
    reconciler: Arc<Mutex<Reconciler>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        for r in reconciler.lock().await.report().await {
            let labels = [
                ("provider", r.provider.clone()),
                ("target", r.target.clone()),
            ];
            metrics::gauge!("scimd_reconcile_lag_entries", &labels).set(r.lag_entries as f64);
            metrics::gauge!("scimd_reconcile_lag_seconds", &labels).set(r.lag_seconds);
            metrics::gauge!("scimd_reconcile_parked", &labels).set(r.parked.len() as f64);
            metrics::gauge!("scimd_reconcile_failing", &labels).set(if r.last_error.is_some() {
                1.0
            } else {
                0.0
            });
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// What the control loop drives.
struct Parts {
    app: Arc<App>,
    store: Store,
    reconciler: Arc<Mutex<Reconciler>>,
    drift: Arc<DriftService>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    /// Kept alive while the loop runs.
    _watch: Option<config::watch::ConfigWatch>,
}

async fn control_loop(parts: Parts, mut config: Config, mut rx: mpsc::Receiver<Control>) {
    let Parts {
        app,
        store,
        reconciler,
        drift,
        stop,
        server,
        _watch,
    } = parts;
    let mut loaded = config::watch::fingerprint(&config.path);
    while let Some(event) = rx.recv().await {
        match event {
            Control::ConfigChanged | Control::Reload => {
                let now = config::watch::fingerprint(&config.path);
                if event == Control::ConfigChanged && (now == loaded || now.is_none()) {
                    continue;
                }
                loaded = now;
                if event == Control::ConfigChanged {
                    tracing::info!(path = %config.path.display(), "configuration file changed; reloading");
                }
                systemd::reloading();
                if reload(&mut config, &app) {
                    drift.set_providers(&config.providers);
                    match build_targets(&config) {
                        Ok(targets) => reconciler.lock().await.sync(targets).await,
                        Err(e) => tracing::error!(error = %e, "targets not changed"),
                    }
                }
                systemd::ready("configuration reloaded");
            }
            Control::Reconcile => {
                let drift = drift.clone();
                tokio::spawn(async move { drift.run_signal().await });
            }
            Control::Shutdown => break,
        }
    }
    tracing::info!("stopping");
    systemd::stopping();
    let _ = stop.send(true);
    let _ = server.await;
    reconciler.lock().await.shutdown().await;
    store.close().await;
    tracing::info!("stopped");
}

/// Loads and validates the file again; applies it only when valid. Providers change
/// live; `[server]`, `[state]`, `[admin]` and `[log]` changes need a restart, said loudly.
fn reload(current: &mut Config, app: &App) -> bool {
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
            true
        }
        Err(errors) => {
            crate::metrics::reload(false);
            for e in errors.iter() {
                tracing::error!(error = %e, "configuration reload rejected; the previous configuration stays in force");
            }
            false
        }
    }
}
