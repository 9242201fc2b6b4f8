//! One reconcile worker per provider x target: reads the journal from the target's
//! durable cursor, plans idempotent changes, applies them, parks what the target
//! refuses for good, and advances the cursor only after the target confirmed.
//! Transient failures retry the same batch with capped exponential backoff and
//! jitter; a target that is down delays only itself.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scimd_backend::{Backend, Change, MemberRef, ObjectKind};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::plan::{
    Current, ObjectMapping, hold_back_parked, object_kind, plan, reactivated_users,
    restore_memberships,
};
use crate::store::{JournalEntry, Store, StoreError, StoredResource, format_time};

/// Journal entries per batch.
const BATCH: i64 = 500;
/// Longest wait between retries of a failing batch.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often an idle worker looks at the journal even without a wake-up (other
/// instances write to a shared PostgreSQL store without telling this one).
const POLL: Duration = Duration::from_secs(1);

/// One target of one provider, ready to receive changes.
pub struct TargetRuntime {
    /// Provider name.
    pub provider: String,
    /// Target name (the key under `[providers.P.targets]`).
    pub name: String,
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// How resources map to target attributes.
    pub mapping: ObjectMapping,
}

/// What the worker reports for `scimd status` and metrics.
#[derive(Debug, Clone, Default)]
pub struct WorkerStatus {
    /// When a batch last went through.
    pub last_success: Option<DateTime<Utc>>,
    /// The last transient error, cleared by the next success.
    pub last_error: Option<String>,
    /// Changes applied since start.
    pub applied: u64,
    /// Retries since start.
    pub retries: u64,
    /// Whether this instance holds the target's lease (works it) or stands by.
    pub leader: bool,
}

/// Shared status of a worker.
pub type SharedStatus = Arc<Mutex<WorkerStatus>>;

/// The full JSON a mapping is evaluated against.
pub fn mapping_input(r: &StoredResource) -> Value {
    let mut out = serde_json::Map::with_capacity(r.data.len() + 2);
    out.insert("id".into(), Value::String(r.id.clone()));
    out.extend(r.data.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": r.kind.as_str(),
            "created": format_time(&r.created),
            "lastModified": format_time(&r.last_modified),
            "version": r.etag(),
        }),
    );
    Value::Object(out)
}

fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = u16::from_le_bytes(b) as f64 / u16::MAX as f64;
    d.mul_f64(0.5 + frac / 2.0)
}

/// How often a standby instance tries to take a target over, and how often the
/// leader checks that it still holds its lease.
const LEASE_CHECK: Duration = Duration::from_secs(2);

/// Runs until `stop` turns true: waits to lead this target (exactly one instance works
/// a target at a time), then applies the journal; gives the work up if the lease is lost.
pub async fn run(
    store: Store,
    target: Arc<TargetRuntime>,
    wake: Arc<Notify>,
    status: SharedStatus,
    mut stop: watch::Receiver<bool>,
    work: Arc<tokio::sync::Mutex<()>>,
) {
    let (p, t) = (target.provider.clone(), target.name.clone());
    let lease_name = format!("{p}/{t}");
    while !*stop.borrow() {
        let lease = match store.try_lead(&lease_name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                status.lock().unwrap_or_else(|e| e.into_inner()).leader = false;
                tokio::select! {
                    () = tokio::time::sleep(LEASE_CHECK) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(provider = %p, target = %t, error = %e, "cannot ask the state store for the lease");
                tokio::select! {
                    () = tokio::time::sleep(LEASE_CHECK) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        status.lock().unwrap_or_else(|e| e.into_inner()).leader = true;
        tracing::info!(provider = %p, target = %t, backend = %target.backend.describe(), "reconcile worker leading");
        let lease = lead(&store, &target, &wake, &status, &mut stop, lease, &work).await;
        status.lock().unwrap_or_else(|e| e.into_inner()).leader = false;
        if let Some(lease) = lease {
            lease.release().await;
        }
    }
    tracing::info!(provider = %p, target = %t, "reconcile worker stopped");
}

/// Works the target while the lease holds; returns the lease when stopping, `None`
/// when it was lost.
async fn lead(
    store: &Store,
    target: &TargetRuntime,
    wake: &Notify,
    status: &SharedStatus,
    stop: &mut watch::Receiver<bool>,
    mut lease: crate::store::Lease,
    work: &tokio::sync::Mutex<()>,
) -> Option<crate::store::Lease> {
    let (p, t) = (target.provider.as_str(), target.name.as_str());
    let mut backoff = Duration::from_millis(500);
    let mut checked = tokio::time::Instant::now();
    let mut healthy = false;
    loop {
        if *stop.borrow() {
            return Some(lease);
        }
        if checked.elapsed() >= LEASE_CHECK {
            if !lease.check().await {
                tracing::warn!(provider = %p, target = %t, "lost the lease on this target; another instance may take it");
                return None;
            }
            checked = tokio::time::Instant::now();
        }
        // Registered before looking at the journal, so a write in between is not missed.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // A drift check of this target holds `work` while it runs: never both at once.
        // The healthcheck (reachable, tables and columns as configured) runs before the
        // first batch and again after any failure; a failing one is retried like a
        // failing batch, whatever its kind, since an operator may fix the target.
        let outcome = {
            let _working = work.lock().await;
            if healthy {
                step(store, target, status).await
            } else {
                match target.backend.healthcheck().await {
                    Ok(()) => {
                        healthy = true;
                        step(store, target, status).await
                    }
                    Err(e) => Err(format!("healthcheck: {e}")),
                }
            }
        };
        if outcome.is_ok() {
            status.lock().unwrap_or_else(|e| e.into_inner()).last_error = None;
        }
        match outcome {
            Ok(0) => {
                backoff = Duration::from_millis(500);
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Ok(_) => backoff = Duration::from_millis(500),
            Err(message) => {
                healthy = false;
                {
                    let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
                    s.last_error = Some(message.clone());
                    s.retries += 1;
                }
                let wait = jitter(backoff);
                tracing::warn!(provider = %p, target = %t, error = %message, retry_in_ms = wait.as_millis() as u64,
                    "target batch failed; will retry");
                metrics::counter!("scimd_reconcile_retries_total", "provider" => p.to_owned(), "target" => t.to_owned())
                    .increment(1);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One batch: returns how many journal entries it consumed, or why it must retry.
async fn step(
    store: &Store,
    target: &TargetRuntime,
    status: &SharedStatus,
) -> Result<usize, String> {
    let (p, t) = (target.provider.as_str(), target.name.as_str());
    let se = |e: StoreError| format!("state store: {e}");
    let cursor = store.cursor(p, t).await.map_err(se)?;
    let entries = store.journal(p, cursor, BATCH).await.map_err(se)?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(0);
    };

    let (current, versions) = load_current(store, p, &entries, &target.mapping).await?;
    let mut changes = plan(&entries, &current, &target.mapping);
    let parked_now: HashSet<String> = store
        .parked_ids(p, t)
        .await
        .map_err(se)?
        .into_iter()
        .collect();
    let landing = hold_back_parked(&mut changes, &parked_now);
    // A user at version 1 was never updated, so never deactivated: its groups are
    // all later than its creation and come with their own journal entries.
    let mut users_back: Vec<String> = reactivated_users(&changes, &target.mapping)
        .into_iter()
        .filter(|id| versions.get(id).is_some_and(|v| *v > 1))
        .collect();
    for (kind, id) in landing {
        match kind {
            ObjectKind::User => users_back.push(id),
            ObjectKind::Group => {
                let members = store.members(p, &id).await.map_err(se)?;
                let mut members: Vec<MemberRef> = members
                    .into_iter()
                    .map(|m| MemberRef {
                        id: m.id,
                        kind: object_kind(m.kind),
                    })
                    .collect();
                if target.mapping.restore_memberships {
                    let inactive = inactive_users(store, p, &members).await?;
                    members.retain(|m| !inactive.contains(&m.id));
                }
                changes.push(Change::SetMembers { group: id, members });
            }
        }
    }
    let mut groups_of = std::collections::BTreeMap::new();
    for user in users_back {
        let groups = store.groups_of(p, &user).await.map_err(se)?;
        if !groups.is_empty() {
            groups_of.insert(user, groups.into_iter().map(|g| g.id).collect());
        }
    }
    // Restored memberships are read from the store as it is now, which may be ahead
    // of this batch: a group created since is not in the target yet and will bring
    // its members itself, so a refusal of these is no reason to park anything.
    let restored_from = changes.len();
    restore_memberships(&mut changes, &groups_of);
    let results = if changes.is_empty() {
        Vec::new()
    } else {
        target.backend.apply(&changes).await
    };
    if results.len() != changes.len() {
        return Err(format!(
            "backend returned {} results for {} changes",
            results.len(),
            changes.len()
        ));
    }
    if let Some(e) = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find(|e| e.is_retryable())
    {
        return Err(e.to_string());
    }
    let mut parked: Vec<(String, &'static str, String)> = Vec::new();
    let mut done = Vec::new();
    for (index, (change, result)) in changes.iter().zip(&results).enumerate() {
        match result {
            Ok(()) => done.push(change.object_id().to_owned()),
            Err(e) if index >= restored_from => {
                tracing::debug!(provider = %p, target = %t, group = change.object_id(), error = %e,
                    "membership not restored; the group's own journal entries will bring it");
            }
            // The first refusal of a resource says why; later ones follow from it.
            Err(_) if parked.iter().any(|(id, _, _)| id == change.object_id()) => {}
            Err(e) => {
                tracing::error!(provider = %p, target = %t, resource = change.object_id(), error = %e,
                    "target refused a change; parked until the resource changes again");
                parked.push((
                    change.object_id().to_owned(),
                    describe(change),
                    e.to_string(),
                ));
            }
        }
    }
    let applied = done.len() as u64;
    // Only what was parked needs unparking: one statement per id is not free.
    done.retain(|id| parked_now.contains(id));
    done.sort_unstable();
    done.dedup();
    store
        .record_batch(p, t, last, &parked, &done)
        .await
        .map_err(se)?;
    metrics::counter!("scimd_reconcile_changes_total", "provider" => p.to_owned(), "target" => t.to_owned(),
        "result" => "applied")
    .increment(applied);
    if !parked.is_empty() {
        metrics::counter!("scimd_reconcile_changes_total", "provider" => p.to_owned(), "target" => t.to_owned(),
            "result" => "parked")
        .increment(parked.len() as u64);
    }
    let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
    s.last_success = Some(Utc::now());
    s.last_error = None;
    s.applied += applied;
    Ok(entries.len())
}

/// The desired state now of every resource the batch names, and on targets where
/// deactivation deletes rows, of every member its deltas add (the plan leaves
/// inactive ones out), in a few round trips; with the stored versions.
async fn load_current(
    store: &Store,
    provider: &str,
    entries: &[JournalEntry],
    mapping: &ObjectMapping,
) -> Result<(Current, HashMap<String, i64>), String> {
    let mut ids: Vec<String> = Vec::with_capacity(entries.len());
    let mut named = HashSet::new();
    for e in entries {
        if named.insert(e.resource_id.as_str()) {
            ids.push(e.resource_id.clone());
        }
    }
    let mut current: Current = ids.iter().map(|id| (id.clone(), None)).collect();
    if mapping.restore_memberships {
        for e in entries.iter().filter(|e| e.op == "members") {
            for m in e.body["added"].as_array().into_iter().flatten() {
                if let Some(id) = m["id"].as_str()
                    && named.insert(id)
                {
                    ids.push(id.to_owned());
                }
            }
        }
    }
    let found = store
        .get_many(provider, &ids)
        .await
        .map_err(|e| format!("state store: {e}"))?;
    let mut versions = HashMap::with_capacity(found.len());
    for r in found {
        versions.insert(r.id.clone(), r.version);
        current.insert(r.id.clone(), Some((r.kind, mapping_input(&r))));
    }
    Ok((current, versions))
}

/// The ids among `members` that are users inactive now.
async fn inactive_users(
    store: &Store,
    provider: &str,
    members: &[MemberRef],
) -> Result<HashSet<String>, String> {
    let ids: Vec<String> = members
        .iter()
        .filter(|m| m.kind == ObjectKind::User)
        .map(|m| m.id.clone())
        .collect();
    let found = store
        .get_many(provider, &ids)
        .await
        .map_err(|e| format!("state store: {e}"))?;
    Ok(found
        .into_iter()
        .filter(|r| r.data.get("active") == Some(&Value::Bool(false)))
        .map(|r| r.id)
        .collect())
}

fn describe(change: &Change) -> &'static str {
    match change {
        Change::Upsert(_) => "upsert",
        Change::Deactivate { .. } => "deactivate",
        Change::Delete { .. } => "delete",
        Change::AddMembers { .. } => "add members",
        Change::RemoveMembers { .. } => "remove members",
        Change::SetMembers { .. } => "set members",
    }
}
