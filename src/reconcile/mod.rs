//! Reconciliation: carrying the desired state in the store into each provider's
//! targets. `mapping` turns SCIM resources into target attributes and `plan` turns
//! journal batches into target changes (both pure); `worker` runs one loop per
//! provider x target; `Reconciler` starts and stops workers as the configuration
//! changes and answers what they are doing.

pub mod mapping;
pub mod plan;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::scim::ResourceKind;
use crate::store::Store;
use worker::{SharedStatus, TargetRuntime};

struct Running {
    target: Arc<TargetRuntime>,
    status: SharedStatus,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    fingerprint: String,
    work: Arc<tokio::sync::Mutex<()>>,
}

/// A target as a drift check needs it: the runtime, the lock its journal worker
/// holds while applying a batch, and whether this instance leads it.
pub struct DriftTarget {
    /// The target.
    pub target: Arc<TargetRuntime>,
    /// Held by the journal worker around each batch; a drift check holds it too.
    pub work: Arc<tokio::sync::Mutex<()>>,
    /// The worker's status (its `leader` flag says whether this instance holds the lease).
    pub status: SharedStatus,
}

/// The reconcile workers of every provider x target.
pub struct Reconciler {
    store: Store,
    workers: BTreeMap<(String, String), Running>,
}

/// One target as `scimd status` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TargetReport {
    /// Provider name.
    pub provider: String,
    /// Target name.
    pub target: String,
    /// What the backend talks to (no secrets).
    pub backend: String,
    /// Journal position applied.
    pub cursor: i64,
    /// Journal entries not yet applied.
    pub lag_entries: i64,
    /// Age in seconds of the oldest entry not yet applied.
    pub lag_seconds: f64,
    /// Changes the target refused for good, with their errors.
    pub parked: Vec<crate::store::Parked>,
    /// When a batch last went through (RFC 3339).
    pub last_success: Option<String>,
    /// The last transient error, if the target is failing now.
    pub last_error: Option<String>,
    /// Changes applied since start.
    pub applied: u64,
    /// Whether this instance works the target (`false`: another instance does).
    pub leader: bool,
    /// The last drift checks of this target, newest first.
    #[serde(default)]
    pub drift: Vec<crate::drift::DriftReport>,
}

/// Why an unpark request did nothing.
#[derive(Debug, thiserror::Error)]
pub enum UnparkError {
    /// No such provider x target runs here.
    #[error("{0}")]
    UnknownTarget(String),
    /// The named resource is not parked on that target.
    #[error("{0}")]
    NotParked(String),
    /// The state store failed.
    #[error("state store: {0}")]
    Store(String),
}

impl Reconciler {
    /// A reconciler with no workers yet.
    pub fn new(store: Store) -> Reconciler {
        Reconciler {
            store,
            workers: BTreeMap::new(),
        }
    }

    /// Makes the running workers match `targets` (keyed by provider, target): starts
    /// new ones, restarts changed ones, stops removed ones. Cursors live in the store,
    /// so nothing is lost or replayed beyond at-least-once.
    pub async fn sync(&mut self, targets: Vec<(Arc<TargetRuntime>, String)>) {
        let wanted: BTreeMap<(String, String), (Arc<TargetRuntime>, String)> = targets
            .into_iter()
            .map(|(t, fp)| ((t.provider.clone(), t.name.clone()), (t, fp)))
            .collect();
        let stale: Vec<(String, String)> = self
            .workers
            .iter()
            .filter(|(k, r)| wanted.get(*k).is_none_or(|(_, fp)| *fp != r.fingerprint))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(r) = self.workers.remove(&key) {
                let _ = r.stop.send(true);
                let _ = r.task.await;
            }
        }
        for (key, (target, fingerprint)) in wanted {
            if self.workers.contains_key(&key) {
                continue;
            }
            let status = SharedStatus::default();
            let (stop, stop_rx) = watch::channel(false);
            let wake = self.store.changed();
            let work = Arc::new(tokio::sync::Mutex::new(()));
            let task = tokio::spawn(worker::run(
                self.store.clone(),
                target.clone(),
                wake,
                status.clone(),
                stop_rx,
                work.clone(),
            ));
            self.workers.insert(
                key,
                Running {
                    target,
                    status,
                    stop,
                    task,
                    fingerprint,
                    work,
                },
            );
        }
    }

    /// Stops every worker and waits for them.
    pub async fn shutdown(&mut self) {
        self.sync(Vec::new()).await;
    }

    /// The targets of `provider` (every provider when `None`), for drift checks.
    pub fn drift_targets(&self, provider: Option<&str>) -> Vec<DriftTarget> {
        self.workers
            .iter()
            .filter(|((p, _), _)| provider.is_none_or(|want| want == p))
            .map(|(_, r)| DriftTarget {
                target: r.target.clone(),
                work: r.work.clone(),
                status: r.status.clone(),
            })
            .collect()
    }

    /// Retries what a target parked, after an operator fixed the cause: journals the
    /// current state of each parked resource again (all of them, or only `resource`), so
    /// the target's worker applies it once more; only parked resources are replayed. A
    /// parked resource deleted since is forgotten. Returns how many were queued.
    pub async fn unpark(
        &self,
        provider: &str,
        target: &str,
        resource: Option<&str>,
    ) -> Result<usize, UnparkError> {
        if !self
            .workers
            .contains_key(&(provider.to_owned(), target.to_owned()))
        {
            return Err(UnparkError::UnknownTarget(format!(
                "no target {provider}/{target} is running; `scimd status` lists them"
            )));
        }
        let store_error = |e: crate::store::StoreError| UnparkError::Store(e.to_string());
        let mut ids = self
            .store
            .parked_ids(provider, target)
            .await
            .map_err(store_error)?;
        if let Some(r) = resource {
            if !ids.iter().any(|id| id == r) {
                return Err(UnparkError::NotParked(format!(
                    "{r} is not parked on {provider}/{target}; nothing to retry"
                )));
            }
            ids = vec![r.to_owned()];
        }
        let mut queued = 0;
        for id in ids {
            let mut kind = None;
            for k in [ResourceKind::User, ResourceKind::Group] {
                if self
                    .store
                    .get(provider, k, &id)
                    .await
                    .map_err(store_error)?
                    .is_some()
                {
                    kind = Some(k);
                    break;
                }
            }
            match kind {
                Some(kind) => {
                    self.store
                        .write(provider, crate::store::Mutation::Replay { kind, id })
                        .await
                        .map_err(store_error)?;
                    queued += 1;
                }
                None => self
                    .store
                    .forget_parked(provider, target, &id)
                    .await
                    .map_err(store_error)?,
            }
        }
        Ok(queued)
    }

    /// The state of every target.
    pub async fn report(&self) -> Vec<TargetReport> {
        let mut out = Vec::new();
        for ((provider, target), r) in &self.workers {
            let status = r.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let progress = self.store.target_progress(provider, target).await;
            let (cursor, lag_entries, lag_seconds, parked) = match progress {
                Ok(p) => (p.cursor, p.lag_entries, p.lag_seconds, p.parked),
                Err(e) => (
                    0,
                    -1,
                    -1.0,
                    vec![crate::store::Parked::unavailable(&e.to_string())],
                ),
            };
            out.push(TargetReport {
                provider: provider.clone(),
                target: target.clone(),
                backend: r.target.backend.describe(),
                cursor,
                lag_entries,
                lag_seconds,
                parked,
                last_success: status.last_success.map(|t| t.to_rfc3339()),
                last_error: status.last_error,
                applied: status.applied,
                leader: status.leader,
                drift: Vec::new(),
            });
        }
        out
    }
}
