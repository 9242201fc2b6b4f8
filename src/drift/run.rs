//! One drift check of one target: streams the desired state from the store and the
//! owned objects from the target (`Backend::observe`) through bounded channels into
//! the pure merge (`diff::merge`, on a blocking thread), then reports or repairs.
//! A target that cannot observe in id order (LDAP) is collected and sorted first.
//!
//! A repair first plans the whole target (counting only, keeping the first few
//! differences), refuses when the deletions would pass `max_delete_percent`, and only
//! then streams a second time, applying changes in batches; deletions are held back
//! to the end and checked against the threshold again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scimd_backend::{BackendError, Change, MemberRef, ObjectKind, Observed};
use tokio::sync::mpsc;

use super::diff::{self, Desired, DifferenceKind, MergeCounts, Planned};
use super::report::{DriftReport, Mode};
use crate::reconcile::plan::{ObjectMapping, object_kind};
use crate::reconcile::worker::{TargetRuntime, mapping_input};
use crate::scim::ResourceKind;
use crate::store::{Direction, ListQuery, Paging, Position, Store};

/// Ids of inactive users, collected during the user pass when the target deletes
/// inactive users (and their memberships): their memberships are not desired there.
type Inactive = Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// Where a pass reads from.
struct Sources<'a> {
    store: &'a Store,
    target: &'a TargetRuntime,
    inactive: Inactive,
}

/// Resources per store page and objects in flight per channel.
const PAGE: usize = 1000;
/// Changes per `Backend::apply` call during a repair.
const APPLY_BATCH: usize = 500;

/// Where a check stands, for progress displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Objects compared so far (desired and observed, this pass).
    pub compared: u64,
    /// Desired objects in the store (users and groups).
    pub total: u64,
}

/// What a check needs to know besides the target.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Report only, repair, or plan without writing.
    pub mode: Mode,
    /// Largest share of owned objects one repair may delete.
    pub max_delete_percent: u8,
    /// How many differences the report keeps in full.
    pub sample: usize,
}

/// Runs one check; never fails: trouble ends up in the report's `error`.
pub async fn check(
    store: &Store,
    target: &TargetRuntime,
    policy: Policy,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> DriftReport {
    let started = Instant::now();
    let mut report = DriftReport::new(&target.provider, &target.name, policy.mode);
    let total = match desired_total(store, &target.provider).await {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e);
            return report.finish(started);
        }
    };
    progress(Progress { compared: 0, total });
    let sources = Sources {
        store,
        target,
        inactive: Inactive::default(),
    };
    // Pass 1: plan.
    let mut deletes = 0u64;
    let mut none = Outcome::default();
    let mut base = 0;
    for kind in kinds(target) {
        let mut on_planned = |p: Planned| {
            if matches!(p.difference.what, DifferenceKind::Delete) {
                deletes += 1;
            }
            report.count(&p.difference, policy.sample);
            Vec::new()
        };
        let outcome = pass(
            &sources,
            kind,
            (base, total),
            progress,
            &mut on_planned,
            &mut none,
        )
        .await;
        match outcome {
            Ok(c) => {
                base += c.desired;
                report.desired += c.desired;
                report.owned += c.observed;
            }
            Err(e) => {
                report.error = Some(e);
                return report.finish(started);
            }
        }
    }
    if !diff::within_threshold(deletes, report.owned, policy.max_delete_percent) {
        report.blocked = Some(format!(
            "the plan deletes {deletes} of {} owned objects, more than max_delete_percent = {}%; \
             nothing was changed. If the store really lost these resources on purpose, raise \
             max_delete_percent for one run; otherwise check [state] url and the target's \
             ownership settings",
            report.owned, policy.max_delete_percent
        ));
        return report.finish(started);
    }
    if policy.mode != Mode::Repair || report.differences_found() == 0 {
        return report.finish(started);
    }
    // Pass 2: repair, in batches, deletions last.
    let mut batch: Vec<Change> = Vec::new();
    let mut held: Vec<Change> = Vec::new();
    let mut owned = 0u64;
    let mut outcome = Outcome::default();
    let mut base = 0;
    for kind in kinds(target) {
        let mut on_planned = |p: Planned| {
            if matches!(p.difference.what, DifferenceKind::Delete) {
                held.extend(p.changes);
            } else {
                batch.extend(p.changes);
                if batch.len() >= APPLY_BATCH {
                    return std::mem::take(&mut batch);
                }
            }
            Vec::new()
        };
        let r = pass(
            &sources,
            kind,
            (base, total),
            progress,
            &mut on_planned,
            &mut outcome,
        )
        .await;
        match r {
            Ok(c) => {
                base += c.desired;
                owned += c.observed;
            }
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
        // Users exist before groups name them as members.
        if !batch.is_empty() {
            let flush = std::mem::take(&mut batch);
            let results = target.backend.apply(&flush).await;
            outcome.add(&flush, results);
        }
    }
    if report.error.is_none() && !held.is_empty() {
        if diff::within_threshold(held.len() as u64, owned, policy.max_delete_percent) {
            // Groups first: a user leaves its groups' member lists with it.
            held.sort_by_key(|c| {
                matches!(
                    c,
                    Change::Delete {
                        kind: ObjectKind::User,
                        ..
                    }
                )
            });
            for chunk in held.chunks(APPLY_BATCH) {
                let results = target.backend.apply(chunk).await;
                outcome.add(chunk, results);
            }
        } else {
            report.blocked = Some(format!(
                "the repair would delete {} of {owned} owned objects, more than max_delete_percent = {}%; \
                 deletions were not applied",
                held.len(),
                policy.max_delete_percent
            ));
        }
    }
    report.repaired = outcome.applied;
    report.failed = outcome.failed;
    report.failures = outcome.errors;
    report.finish(started)
}

/// The kinds a target keeps: users, and groups unless it keeps users only.
fn kinds(target: &TargetRuntime) -> Vec<ResourceKind> {
    if target.mapping.users_only {
        vec![ResourceKind::User]
    } else {
        vec![ResourceKind::User, ResourceKind::Group]
    }
}

/// Changes applied and refused during a repair.
#[derive(Default)]
struct Outcome {
    applied: u64,
    failed: u64,
    errors: Vec<String>,
}

impl Outcome {
    fn add(&mut self, changes: &[Change], results: Vec<Result<(), BackendError>>) {
        if results.len() != changes.len() {
            self.failed += changes.len() as u64;
            self.errors.push(format!(
                "backend returned {} results for {} changes",
                results.len(),
                changes.len()
            ));
            return;
        }
        for (change, result) in changes.iter().zip(results) {
            match result {
                Ok(()) => self.applied += 1,
                Err(e) => {
                    self.failed += 1;
                    if self.errors.len() < 20 {
                        self.errors.push(format!("{}: {e}", change.object_id()));
                    }
                }
            }
        }
    }
}

async fn desired_total(store: &Store, provider: &str) -> Result<u64, String> {
    let mut total = 0;
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let page = store
            .list(provider, &query(kind, None, 0))
            .await
            .map_err(|e| format!("state store: {e}"))?;
        total += page.total as u64;
    }
    Ok(total)
}

fn query(kind: ResourceKind, after: Option<String>, count: usize) -> ListQuery<'static> {
    ListQuery {
        kind,
        filter: None,
        matches: &|_| true,
        sort: None,
        paging: Paging::Cursor {
            from: after.map(|id| (Position { key: None, id }, Direction::Forward)),
            count,
        },
    }
}

/// Streams one kind through the merge. `on_planned` sees every difference in id
/// order and returns changes to apply now (a full batch), applied before the next
/// difference is taken; their results go to `outcome`. `progress_base` is the
/// desired objects compared before this pass and the total of all passes.
async fn pass(
    sources: &Sources<'_>,
    kind: ResourceKind,
    (base, total): (u64, u64),
    progress: &(dyn Fn(Progress) + Send + Sync),
    on_planned: &mut (dyn FnMut(Planned) -> Vec<Change> + Send),
    outcome: &mut Outcome,
) -> Result<MergeCounts, String> {
    let Sources {
        store,
        target,
        inactive,
    } = sources;
    let (desired_tx, mut desired_rx) = mpsc::channel::<Result<Desired, String>>(PAGE);
    let (observed_tx, mut observed_rx) = mpsc::channel::<Result<Observed, String>>(PAGE);
    let (planned_tx, mut planned_rx) = mpsc::channel::<Planned>(64);
    let compared = Arc::new(AtomicU64::new(0));

    let producer = tokio::spawn(produce_desired(
        (*store).clone(),
        target.provider.clone(),
        target.mapping.clone(),
        kind,
        desired_tx,
        inactive.clone(),
    ));
    let backend = target.backend.clone();
    let observer = tokio::spawn(async move {
        let tx = observed_tx;
        if backend.observes_in_id_order() {
            let mut sink = |o: Observed| send_blocking(&tx, Ok(o));
            if let Err(e) = backend.observe(object_kind(kind), &mut sink).await {
                let _ = tx.send(Err(format!("target: {e}"))).await;
            }
            return;
        }
        // The merge needs id order: collect, sort, then stream.
        let mut all = Vec::new();
        let mut sink = |o: Observed| {
            all.push(o);
            Ok(())
        };
        if let Err(e) = backend.observe(object_kind(kind), &mut sink).await {
            let _ = tx.send(Err(format!("target: {e}"))).await;
            return;
        }
        all.sort_unstable_by(|a, b| a.object.id.cmp(&b.object.id));
        for o in all {
            if tx.send(Ok(o)).await.is_err() {
                return;
            }
        }
    });
    let counter = compared.clone();
    let merger = tokio::task::spawn_blocking(move || {
        diff::merge(
            std::iter::from_fn(|| desired_rx.blocking_recv()),
            std::iter::from_fn(|| observed_rx.blocking_recv()),
            |p| {
                planned_tx
                    .blocking_send(p)
                    .map_err(|_| "the drift check was abandoned".to_owned())
            },
            |c| counter.store(c.desired, Ordering::Relaxed),
        )
    });
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            p = planned_rx.recv() => match p {
                Some(p) => {
                    let flush = on_planned(p);
                    if !flush.is_empty() {
                        let results = target.backend.apply(&flush).await;
                        outcome.add(&flush, results);
                    }
                }
                None => break,
            },
            _ = tick.tick() => progress(Progress {
                compared: base + compared.load(Ordering::Relaxed),
                total,
            }),
        }
    }
    progress(Progress {
        compared: base + compared.load(Ordering::Relaxed),
        total,
    });
    let merged = merger
        .await
        .map_err(|e| format!("drift merge panicked: {e}"))?;
    // A merge that stopped early leaves the sources blocked on full channels: stop them.
    producer.abort();
    observer.abort();
    merged.map_err(|e| e.to_string())
}

/// Delivers one observed object, waiting for room in the channel: `observe`'s sink
/// cannot await, so a full channel parks this worker thread (the runtime moves its
/// other tasks elsewhere) until the merge catches up.
fn send_blocking(
    tx: &mpsc::Sender<Result<Observed, String>>,
    item: Result<Observed, String>,
) -> Result<(), BackendError> {
    let closed = || BackendError::transient("drift check stopped reading");
    match tx.try_send(item) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(closed()),
        Err(mpsc::error::TrySendError::Full(item)) => {
            tokio::task::block_in_place(|| tx.blocking_send(item)).map_err(|_| closed())
        }
    }
}

/// Pages through the store in id order, mapping each resource as the journal worker
/// would, with its members for groups.
async fn produce_desired(
    store: Store,
    provider: String,
    mapping: ObjectMapping,
    kind: ResourceKind,
    tx: mpsc::Sender<Result<Desired, String>>,
    inactive: Inactive,
) {
    let mut after: Option<String> = None;
    loop {
        let page = match store
            .list(&provider, &query(kind, after.clone(), PAGE))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(format!("state store: {e}"))).await;
                return;
            }
        };
        let full = page.resources.len() == PAGE;
        after = page.resources.last().map(|r| r.id.clone());
        for r in page.resources {
            let object = mapping.object(r.kind, &mapping_input(&r));
            if mapping.restore_memberships && kind == ResourceKind::User && !object.active {
                inactive
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(r.id.clone());
            }
            let members = if kind == ResourceKind::Group {
                match store.members(&provider, &r.id).await {
                    Ok(list) => {
                        let gone = inactive.lock().unwrap_or_else(|e| e.into_inner());
                        let mut refs: Vec<MemberRef> = list
                            .into_iter()
                            .filter(|m| !gone.contains(&m.id))
                            .map(|m| MemberRef {
                                id: m.id,
                                kind: object_kind(m.kind),
                            })
                            .collect();
                        drop(gone);
                        refs.sort();
                        refs.dedup_by(|a, b| a.id == b.id);
                        Some(refs)
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("state store: {e}"))).await;
                        return;
                    }
                }
            } else {
                None
            };
            if tx.send(Ok(Desired { object, members })).await.is_err() {
                return;
            }
        }
        if !full {
            return;
        }
    }
}
