//! The admin API on a unix socket (mode 0600), used by `scimd status` (what each
//! provider's targets are doing) and `scimd unpark` (retry what a target parked).
//! HTTP/1.1 over the socket; JSON bodies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, watch};

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

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(body).unwrap_or_default(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(
    reconciler: Arc<Mutex<Reconciler>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/status") => {
            let report = reconciler.lock().await.report().await;
            json(StatusCode::OK, &report)
        }
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

/// Serves the admin API until `stop` turns true; removes the socket file after.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    reconciler: Arc<Mutex<Reconciler>>,
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
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reconciler = reconciler.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(reconciler, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    let _ = std::fs::remove_file(&path);
}

/// Asks a running daemon for its status over the socket.
pub async fn fetch_status(path: &Path) -> Result<Vec<TargetReport>, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!("cannot reach scimd's admin socket {}: {e} (is scimd running, and may you read the socket?)", path.display())
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get("/status")
        .header("host", "scimd")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
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
    }
    out
}
