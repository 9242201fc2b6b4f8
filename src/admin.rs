//! The admin API on a unix socket (mode 0600), used by `scimd status` (what each
//! provider's targets are doing, with their last drift checks), `scimd reconcile`
//! (a drift check now, its progress streamed as JSON lines, then the reports) and
//! `scimd unpark` (retry what a target parked).
//! HTTP/1.1 over the socket; JSON bodies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, mpsc, watch};

use crate::drift::{DriftReport, DriftService, Mode, Progress};
use crate::reconcile::{Reconciler, TargetReport, UnparkError};

/// What `scimd unpark` asks for.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct UnparkRequest {
    /// Provider name.
    pub provider: String,
    /// Target name.
    pub target: String,
    /// One parked resource id; every parked resource of the target when absent.
    pub resource: Option<String>,
}

type Body = BoxBody<Bytes, Infallible>;

/// A response body fed line by line from a channel (streamed progress).
struct Lines(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// One line of the `/reconcile` stream.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileEvent {
    /// Objects compared so far in one target.
    Progress {
        /// Provider name.
        provider: String,
        /// Target name.
        target: String,
        /// Where the check stands.
        #[serde(flatten)]
        progress: Progress,
    },
    /// The reports, last line of a successful request.
    Reports(Vec<DriftReport>),
    /// Why the request failed, last line otherwise.
    Error(String),
}

fn line(event: &ReconcileEvent) -> Bytes {
    let mut v = serde_json::to_vec(event).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Binds the socket (replacing a stale one) with mode 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        // A live daemon answers on it; refuse to steal its socket.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by a running scimd", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let mut r =
        Response::new(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(
    reconciler: Arc<Mutex<Reconciler>>,
    drift: Arc<DriftService>,
    req: Request<Incoming>,
) -> Response<Body> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/status") => {
            let mut report = reconciler.lock().await.report().await;
            for r in &mut report {
                r.drift = drift.history(&r.provider, &r.target);
            }
            json(StatusCode::OK, &report)
        }
        ("POST", "/reconcile") => reconcile(drift, req.uri().query().unwrap_or_default()),
        ("POST", "/unpark") => {
            let request: Result<UnparkRequest, String> = match req.into_body().collect().await {
                Ok(b) => serde_json::from_slice(&b.to_bytes()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        &serde_json::json!({"error": format!("bad unpark request: {e}")}),
                    );
                }
            };
            let outcome = reconciler
                .lock()
                .await
                .unpark(
                    &request.provider,
                    &request.target,
                    request.resource.as_deref(),
                )
                .await;
            match outcome {
                Ok(queued) => json(StatusCode::OK, &serde_json::json!({"queued": queued})),
                Err(e) => {
                    let status = match e {
                        UnparkError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                        _ => StatusCode::NOT_FOUND,
                    };
                    json(status, &serde_json::json!({"error": e.to_string()}))
                }
            }
        }
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "unknown admin endpoint"}),
        ),
    }
}

/// `POST /reconcile?provider=P&dry_run=true`: runs the checks in a task and streams
/// progress lines, then the reports.
fn reconcile(drift: Arc<DriftService>, query: &str) -> Response<Body> {
    let mut provider = None;
    let mut mode = Mode::Repair;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "provider" => provider = Some(v.into_owned()),
            "dry_run" if v == "true" => mode = Mode::DryRun,
            _ => {}
        }
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let progress = move |provider: &str, target: &str, progress: Progress| {
            // Progress is best effort: a slow reader misses some lines, never the result.
            let _ = progress_tx.try_send(line(&ReconcileEvent::Progress {
                provider: provider.to_owned(),
                target: target.to_owned(),
                progress,
            }));
        };
        tracing::info!(
            provider = provider.as_deref().unwrap_or("(all)"),
            mode = mode.as_str(),
            "reconcile requested over the admin socket"
        );
        let last = match drift
            .run_request(provider.as_deref(), mode, &progress)
            .await
        {
            Ok(reports) => ReconcileEvent::Reports(reports),
            Err(e) => ReconcileEvent::Error(e.to_string()),
        };
        let _ = tx.send(line(&last)).await;
    });
    let mut r = Response::new(Lines(rx).boxed());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

/// Serves the admin API until `stop` turns true; removes the socket file after.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    reconciler: Arc<Mutex<Reconciler>>,
    drift: Arc<DriftService>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let reconciler = reconciler.clone();
        let drift = drift.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reconciler = reconciler.clone();
                let drift = drift.clone();
                async move { Ok::<_, Infallible>(handle(reconciler, drift, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    let _ = std::fs::remove_file(&path);
}

async fn send(path: &Path, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!("cannot reach scimd's admin socket {}: {e} (is scimd running, and may you read the socket?)", path.display())
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(|e| e.to_string())
}

/// Asks a running daemon for a drift check (repair, or plan only with `dry_run`) of
/// one provider or all; `progress` sees each progress line; returns the reports.
pub async fn request_reconcile(
    path: &Path,
    provider: Option<&str>,
    dry_run: bool,
    mut progress: impl FnMut(&str, &str, Progress),
) -> Result<Vec<DriftReport>, String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(p) = provider {
        query.append_pair("provider", p);
    }
    if dry_run {
        query.append_pair("dry_run", "true");
    }
    let req = Request::post(format!("/reconcile?{}", query.finish()))
        .header("host", "scimd")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let mut body = send(path, req).await?.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the admin socket closed early: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let text: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<ReconcileEvent>(&text) {
                Ok(ReconcileEvent::Progress {
                    provider,
                    target,
                    progress: p,
                }) => progress(&provider, &target, p),
                Ok(ReconcileEvent::Reports(r)) => return Ok(r),
                Ok(ReconcileEvent::Error(e)) => return Err(e),
                Err(e) => return Err(format!("unexpected answer from the admin socket: {e}")),
            }
        }
    }
    Err("the daemon ended the reconcile without a result (did it stop?)".to_owned())
}

/// Asks a running daemon for its status over the socket.
pub async fn fetch_status(path: &Path) -> Result<Vec<TargetReport>, String> {
    let req = Request::get("/status")
        .header("host", "scimd")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = send(path, req).await?;
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| format!("unexpected answer from the admin socket: {e}"))
}

/// Asks a running daemon to retry what a target parked; returns how many resources
/// were queued.
pub async fn unpark(path: &Path, request: &UnparkRequest) -> Result<usize, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!("cannot reach scimd's admin socket {}: {e} (is scimd running, and may you read the socket?)", path.display())
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let req = Request::post("/unpark")
        .header("host", "scimd")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("unexpected answer from the admin socket: {e}"))?;
    if status.is_success() {
        Ok(answer["queued"].as_u64().unwrap_or(0) as usize)
    } else {
        Err(answer["error"]
            .as_str()
            .unwrap_or("unpark failed")
            .to_owned())
    }
}

/// The status as a table for a terminal.
pub fn render(reports: &[TargetReport]) -> String {
    if reports.is_empty() {
        return "no targets configured\n".to_owned();
    }
    let mut out = String::new();
    for r in reports {
        let role = if r.leader {
            ""
        } else {
            "  [standby: another instance works this target]"
        };
        out.push_str(&format!(
            "{}/{}  ({}){role}\n",
            r.provider, r.target, r.backend
        ));
        out.push_str(&format!(
            "  cursor {}  lag {} entries, {:.1} s  applied {}  last success {}\n",
            r.cursor,
            r.lag_entries,
            r.lag_seconds,
            r.applied,
            r.last_success.as_deref().unwrap_or("never")
        ));
        if let Some(e) = &r.last_error {
            out.push_str(&format!("  FAILING: {e}\n"));
        }
        for p in &r.parked {
            out.push_str(&format!(
                "  parked {} {} since {}: {}\n",
                p.change, p.resource_id, p.parked_at, p.error
            ));
        }
        for d in r.drift.iter().take(3) {
            let verdict = if let Some(e) = &d.error {
                format!("FAILED: {e}")
            } else if d.blocked.is_some() {
                format!(
                    "REFUSED by the deletion threshold ({} deletes of {} owned)",
                    d.deletes, d.owned
                )
            } else {
                format!(
                    "{} differences (create {}, update {}, delete {}, members {}), repaired {}, failed {}",
                    d.differences_found(),
                    d.creates,
                    d.updates,
                    d.deletes,
                    d.membership,
                    d.repaired,
                    d.failed
                )
            };
            out.push_str(&format!(
                "  drift {} at {} ({:.1} s): {verdict}\n",
                d.mode.as_str(),
                d.started,
                d.seconds
            ));
        }
    }
    out
}
