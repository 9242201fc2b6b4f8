//! Drift checks: comparing each target with the desired state in the store, on a
//! schedule (`drift_check`), on SIGUSR1 and on `scimd reconcile`, and reporting or
//! repairing what differs. `diff` is the pure plan, `run` streams one target
//! through it, `report` is what comes out, `schedule` starts checks by crontab.
//!
//! A check of a target runs only where this instance leads the target (HA lease),
//! holding the lock its journal worker holds around each batch, so the two never
//! write at once. One check per provider runs at a time: a signal or schedule that
//! comes while one runs is coalesced into it.

pub mod diff;
pub mod report;
pub mod run;
pub mod schedule;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex as SyncMutex, RwLock};

use tokio::sync::Mutex;

use crate::config::{DriftAction, ProviderConfig};
use crate::reconcile::Reconciler;
use crate::store::Store;
pub use report::{DriftReport, Mode};
pub use run::Progress;

/// Reports kept per target for `scimd status`.
const HISTORY: usize = 5;
/// Differences a report keeps in full.
const SAMPLE: usize = 20;

/// Why a request for checks could not be served.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// No enabled provider of that name.
    #[error("no enabled provider {0:?} in the running configuration")]
    UnknownProvider(String),
}

/// Runs drift checks and remembers their reports.
pub struct DriftService {
    store: Store,
    reconciler: Arc<Mutex<Reconciler>>,
    providers: RwLock<BTreeMap<String, ProviderConfig>>,
    running: SyncMutex<HashMap<String, Arc<Mutex<()>>>>,
    signalled: std::sync::atomic::AtomicBool,
    history: SyncMutex<BTreeMap<(String, String), VecDeque<DriftReport>>>,
}

impl DriftService {
    /// A service for the given providers.
    pub fn new(
        store: Store,
        reconciler: Arc<Mutex<Reconciler>>,
        providers: &BTreeMap<String, ProviderConfig>,
    ) -> DriftService {
        let service = DriftService {
            store,
            reconciler,
            providers: RwLock::default(),
            running: SyncMutex::default(),
            signalled: std::sync::atomic::AtomicBool::new(false),
            history: SyncMutex::default(),
        };
        service.set_providers(providers);
        service
    }

    /// Takes the providers of a (re)loaded configuration.
    pub fn set_providers(&self, providers: &BTreeMap<String, ProviderConfig>) {
        let enabled = providers
            .iter()
            .filter(|(_, p)| p.enabled)
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) = enabled;
    }

    /// Provider name and `drift_check` of every provider that has one.
    pub fn schedules(&self) -> Vec<(String, String)> {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(n, p)| p.drift_check.clone().map(|c| (n.clone(), c)))
            .collect()
    }

    /// The last reports of a target, newest first.
    pub fn history(&self, provider: &str, target: &str) -> Vec<DriftReport> {
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(provider.to_owned(), target.to_owned()))
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn provider_lock(&self, provider: &str) -> Arc<Mutex<()>> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(provider.to_owned())
            .or_default()
            .clone()
    }

    fn policy(&self, provider: &str) -> Option<ProviderConfig> {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(provider)
            .cloned()
    }

    /// A scheduled check of one provider with its own `drift_action`; skipped when a
    /// check of that provider is running.
    pub async fn run_scheduled(&self, provider: &str) {
        let Some(p) = self.policy(provider) else {
            return;
        };
        let mode = match p.drift_action {
            DriftAction::Report => Mode::Report,
            DriftAction::Repair => Mode::Repair,
        };
        tracing::info!(
            provider,
            mode = mode.as_str(),
            "scheduled drift check starting"
        );
        let _ = self
            .run_provider(provider, mode, false, &|_, _, _| {})
            .await;
    }

    /// SIGUSR1: a check with repair of every provider, one provider at a time;
    /// a provider whose check is already running is coalesced, not queued.
    pub async fn run_signal(&self) {
        use std::sync::atomic::Ordering;
        if self.signalled.swap(true, Ordering::AcqRel) {
            tracing::info!("reconcile requested (SIGUSR1) while one is running: coalesced into it");
            return;
        }
        let names: Vec<String> = self
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        tracing::info!(
            providers = names.len(),
            "reconcile requested (SIGUSR1): drift check with repair of every provider"
        );
        for name in names {
            let _ = self
                .run_provider(&name, Mode::Repair, false, &|_, _, _| {})
                .await;
        }
        self.signalled.store(false, Ordering::Release);
        tracing::info!("reconcile (SIGUSR1) done");
    }

    /// `scimd reconcile`: waits for a running check of the same provider, then runs.
    pub async fn run_request(
        &self,
        provider: Option<&str>,
        mode: Mode,
        progress: &(dyn Fn(&str, &str, Progress) + Send + Sync),
    ) -> Result<Vec<DriftReport>, DriftError> {
        let names: Vec<String> = match provider {
            Some(p) => {
                if self.policy(p).is_none() {
                    return Err(DriftError::UnknownProvider(p.to_owned()));
                }
                vec![p.to_owned()]
            }
            None => self
                .providers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect(),
        };
        let mut out = Vec::new();
        for name in names {
            out.extend(
                self.run_provider(&name, mode, true, progress)
                    .await
                    .unwrap_or_default(),
            );
        }
        Ok(out)
    }

    /// Checks every target of one provider; `None` when coalesced into a running check.
    async fn run_provider(
        &self,
        provider: &str,
        mode: Mode,
        wait: bool,
        progress: &(dyn Fn(&str, &str, Progress) + Send + Sync),
    ) -> Option<Vec<DriftReport>> {
        let lock = self.provider_lock(provider);
        let _running = if wait {
            lock.lock().await
        } else {
            match lock.try_lock() {
                Ok(g) => g,
                Err(_) => {
                    tracing::info!(
                        provider,
                        "a drift check of this provider is running; this request joins it"
                    );
                    return None;
                }
            }
        };
        let max_delete_percent = self.policy(provider)?.max_delete_percent;
        let targets = self.reconciler.lock().await.drift_targets(Some(provider));
        let mut reports = Vec::new();
        for t in targets {
            let name = t.target.name.clone();
            let _working = t.work.lock().await;
            let leader = t.status.lock().unwrap_or_else(|e| e.into_inner()).leader;
            let report = if leader {
                let policy = run::Policy {
                    mode,
                    max_delete_percent,
                    sample: SAMPLE,
                };
                let show = |p: Progress| progress(provider, &name, p);
                run::check(&self.store, &t.target, policy, &show).await
            } else {
                let mut r = DriftReport::new(provider, &name, mode);
                r.error = Some(
                    "this instance does not hold the target's lease; the instance that works \
                     the target runs its drift checks (see `scimd status` there)"
                        .to_owned(),
                );
                r
            };
            report.log();
            report.record_metrics();
            self.remember(&report);
            reports.push(report);
        }
        Some(reports)
    }

    fn remember(&self, report: &DriftReport) {
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let list = history
            .entry((report.provider.clone(), report.target.clone()))
            .or_default();
        list.push_front(report.clone());
        list.truncate(HISTORY);
    }
}
