//! What one drift check found and did: counts, the first differences in full, the
//! deletion-threshold verdict; logged, kept for `scimd status`, rendered for a terminal.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::diff::{Difference, DifferenceKind};

/// What a check does with differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Report them (the `drift_action = "report"` policy).
    Report,
    /// Report and repair them.
    Repair,
    /// Plan a repair and report it without writing (`scimd reconcile --dry-run`).
    DryRun,
}

impl Mode {
    /// As written in logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Report => "report",
            Mode::Repair => "repair",
            Mode::DryRun => "dry-run",
        }
    }
}

/// The result of one drift check of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Provider name.
    pub provider: String,
    /// Target name.
    pub target: String,
    /// Report, repair or dry-run.
    pub mode: Mode,
    /// When the check started (RFC 3339).
    pub started: String,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// Desired objects (users and groups) read from the store.
    pub desired: u64,
    /// Objects the target owns.
    pub owned: u64,
    /// Objects missing from the target.
    pub creates: u64,
    /// Objects whose attributes differ.
    pub updates: u64,
    /// Owned objects the store no longer has.
    pub deletes: u64,
    /// Groups whose members differ.
    pub membership: u64,
    /// Changes applied by a repair.
    pub repaired: u64,
    /// Changes the target refused during a repair.
    pub failed: u64,
    /// Why the target refused them (the first few).
    pub failures: Vec<String>,
    /// Set when the deletion threshold stopped the repair.
    pub blocked: Option<String>,
    /// Set when the check could not complete (store or target unreachable, ...).
    pub error: Option<String>,
    /// The first differences, in full.
    pub differences: Vec<Difference>,
}

impl DriftReport {
    /// An empty report, started now.
    pub fn new(provider: &str, target: &str, mode: Mode) -> DriftReport {
        DriftReport {
            provider: provider.to_owned(),
            target: target.to_owned(),
            mode,
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            seconds: 0.0,
            desired: 0,
            owned: 0,
            creates: 0,
            updates: 0,
            deletes: 0,
            membership: 0,
            repaired: 0,
            failed: 0,
            failures: Vec::new(),
            blocked: None,
            error: None,
            differences: Vec::new(),
        }
    }

    /// Counts one difference; keeps it in full while fewer than `sample` are kept.
    pub fn count(&mut self, d: &Difference, sample: usize) {
        match d.what {
            DifferenceKind::Create => self.creates += 1,
            DifferenceKind::Update { .. } => self.updates += 1,
            DifferenceKind::Delete => self.deletes += 1,
            DifferenceKind::Members { .. } => self.membership += 1,
        }
        if self.differences.len() < sample {
            self.differences.push(d.clone());
        }
    }

    /// All differences found.
    pub fn differences_found(&self) -> u64 {
        self.creates + self.updates + self.deletes + self.membership
    }

    /// Whether the check ended without error, refusal or failed change.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.blocked.is_none() && self.failed == 0
    }

    /// Stamps the duration.
    pub fn finish(mut self, started: Instant) -> DriftReport {
        self.seconds = started.elapsed().as_secs_f64();
        self
    }

    /// Logs the report: an error when blocked or failed, a warning with differences,
    /// info when the target matches.
    pub fn log(&self) {
        let (p, t, mode) = (&self.provider, &self.target, self.mode.as_str());
        let found = self.differences_found();
        if let Some(why) = &self.blocked {
            tracing::error!(provider = %p, target = %t, mode, deletes = self.deletes, owned = self.owned,
                "DRIFT REPAIR REFUSED by the deletion threshold: {why}");
        }
        if let Some(e) = &self.error {
            tracing::error!(provider = %p, target = %t, mode, error = %e, "drift check failed");
            return;
        }
        let fields = format!(
            "creates={} updates={} deletes={} membership={} repaired={} failed={} desired={} owned={} seconds={:.2}",
            self.creates,
            self.updates,
            self.deletes,
            self.membership,
            self.repaired,
            self.failed,
            self.desired,
            self.owned,
            self.seconds
        );
        if self.failed > 0 {
            tracing::error!(provider = %p, target = %t, mode, differences = found, failures = ?self.failures,
                "drift check done, some repairs failed: {fields}");
        } else if found > 0 {
            tracing::warn!(provider = %p, target = %t, mode, differences = found, "drift check done: {fields}");
        } else {
            tracing::info!(provider = %p, target = %t, mode, differences = 0, "drift check done, target in sync: {fields}");
        }
        for d in &self.differences {
            tracing::info!(provider = %p, target = %t, resource = %d.id, "drift: {}", one_line(d));
        }
    }

    /// Records the check in Prometheus metrics.
    pub fn record_metrics(&self) {
        let labels = [
            ("provider", self.provider.clone()),
            ("target", self.target.clone()),
        ];
        let result = if self.error.is_some() {
            "error"
        } else if self.blocked.is_some() {
            "blocked"
        } else {
            "ok"
        };
        metrics::counter!("scimd_drift_runs_total", "provider" => self.provider.clone(),
            "target" => self.target.clone(), "mode" => self.mode.as_str(), "result" => result)
        .increment(1);
        metrics::histogram!("scimd_drift_duration_seconds", &labels).record(self.seconds);
        for (change, n) in [
            ("create", self.creates),
            ("update", self.updates),
            ("delete", self.deletes),
            ("membership", self.membership),
        ] {
            metrics::counter!("scimd_drift_differences_found_total", "provider" => self.provider.clone(),
                "target" => self.target.clone(), "change" => change)
            .increment(n);
        }
        metrics::counter!("scimd_drift_repaired_total", &labels).increment(self.repaired);
        metrics::counter!("scimd_drift_repair_failures_total", &labels).increment(self.failed);
        if self.blocked.is_some() {
            metrics::counter!("scimd_drift_blocked_total", &labels).increment(1);
        }
        metrics::gauge!("scimd_drift_last_differences", &labels)
            .set(self.differences_found() as f64);
    }
}

/// One difference on one line, attribute diffs included.
pub fn one_line(d: &Difference) -> String {
    let head = format!("{} {} ({})", d.kind, d.name, d.id);
    let show = |v: &Option<String>| match v {
        Some(s) => format!("{s:?}"),
        None => "(empty)".to_owned(),
    };
    match &d.what {
        DifferenceKind::Create => format!("missing from the target: {head}"),
        DifferenceKind::Delete => format!("orphan in the target: {head}"),
        DifferenceKind::Update { attributes } => {
            let parts: Vec<String> = attributes
                .iter()
                .map(|a| {
                    format!(
                        "{}: {} -> {}",
                        a.attribute,
                        show(&a.observed),
                        show(&a.desired)
                    )
                })
                .collect();
            format!("differs: {head}: {}", parts.join("; "))
        }
        DifferenceKind::Members { add, remove } => format!(
            "members differ: {head}: add [{}], remove [{}]",
            add.join(", "),
            remove.join(", ")
        ),
    }
}

/// Reports as text for a terminal.
pub fn render(reports: &[DriftReport]) -> String {
    if reports.is_empty() {
        return "no targets to check (is the provider enabled, and does it have targets?)\n"
            .to_owned();
    }
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "{}/{}  [{}]  {:.2} s\n",
            r.provider,
            r.target,
            r.mode.as_str(),
            r.seconds
        ));
        if let Some(e) = &r.error {
            out.push_str(&format!("  FAILED: {e}\n"));
            continue;
        }
        out.push_str(&format!(
            "  compared {} desired with {} owned objects: {} to create, {} to update, {} to delete, {} groups with member changes\n",
            r.desired, r.owned, r.creates, r.updates, r.deletes, r.membership
        ));
        if let Some(why) = &r.blocked {
            out.push_str(&format!("  REFUSED: {why}\n"));
        }
        if r.mode == Mode::Repair {
            out.push_str(&format!(
                "  repaired {} changes, {} failed\n",
                r.repaired, r.failed
            ));
        }
        for f in &r.failures {
            out.push_str(&format!("  failed: {f}\n"));
        }
        for d in &r.differences {
            out.push_str(&format!("  - {}\n", one_line(d)));
        }
        let hidden = r.differences_found() as usize
            - r.differences.len().min(r.differences_found() as usize);
        if hidden > 0 {
            out.push_str(&format!("  ... and {hidden} more\n"));
        }
    }
    out
}
