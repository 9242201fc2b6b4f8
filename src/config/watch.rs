//! Watching the configuration file: a debounced watch on its parent directory (so
//! editors that save by rename, and symlink swaps such as a Kubernetes ConfigMap,
//! count as changes) that asks the daemon to reload. The daemon compares the file's
//! content with what it last loaded, so a reload already done by SIGHUP, or an event
//! for another file in the directory, changes nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::signals::Control;

/// How long the directory must stay quiet before a change counts (editors write in
/// several steps).
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Keeps the watch running; dropping it stops watching.
pub struct ConfigWatch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

/// The directory a config path lives in (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Starts watching the directory of `path`; every settled change sends
/// [`Control::ConfigChanged`] on `tx`.
pub fn spawn(path: &Path, tx: mpsc::Sender<Control>) -> Result<ConfigWatch, String> {
    let dir = parent(path);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                let relevant = events
                    .iter()
                    .any(|e| !matches!(e.event.kind, EventKind::Access(_)));
                if relevant {
                    // The debouncer runs on its own thread, outside the runtime.
                    let _ = tx.blocking_send(Control::ConfigChanged);
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "watching the configuration directory failed");
                }
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    debouncer
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    tracing::info!(directory = %dir.display(), "watching the configuration file for changes");
    Ok(ConfigWatch {
        _debouncer: debouncer,
    })
}

/// SHA-256 of the file's content now (`None` when unreadable), to tell a real change
/// from a touch or an event about another file.
pub fn fingerprint(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path).ok().map(|b| Sha256::digest(&b).into())
}
