//! Prometheus metrics: one process-wide recorder, rendered by `GET /metrics`.
//! Labels carry only bounded values (configured provider names, methods, status
//! codes), never client-chosen text, so a scan of random URLs cannot explode the
//! series count.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder once (later calls reuse it) and starts its upkeep task.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("scimd_store_commit_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
                )
            })
            .expect("static bucket lists are valid")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("spawn the metrics upkeep thread");
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        "scimd_http_requests_total",
        "HTTP requests by provider, method and status"
    );
    metrics::describe_histogram!(
        "scimd_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by provider and method"
    );
    metrics::describe_counter!(
        "scimd_reloads_total",
        "Configuration reloads by result (ok, rejected)"
    );
    metrics::describe_histogram!(
        "scimd_store_commit_batch_size",
        "Mutations per SQLite group commit"
    );
}

/// The text exposition of every metric.
pub fn render() -> String {
    install().render()
}

/// Counts one HTTP request. `provider` is `-` unless the request authenticated.
pub fn http_request(provider: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("provider", provider.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("scimd_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "scimd_http_request_duration_seconds",
        "provider" => provider.to_owned(),
        "method" => method.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// Counts a configuration reload attempt.
pub fn reload(ok: bool) {
    metrics::counter!("scimd_reloads_total", "result" => if ok { "ok" } else { "rejected" })
        .increment(1);
}
