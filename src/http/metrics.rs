//! `/metrics`: request counters and latencies, the log's head, projector and replication lag,
//! in the Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Latency histogram buckets, seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Request counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
}

impl Metrics {
    pub(super) fn observe(&self, elapsed: Duration, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            if secs <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    use std::fmt::Write;
    let m = &state.metrics;
    let (head, projectors) = state.archive.status();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP morgue_log_head_position Position of the last event in the log (events appended)."
    );
    let _ = writeln!(out, "# TYPE morgue_log_head_position gauge\nmorgue_log_head_position {head}");
    let _ = writeln!(
        out,
        "# HELP morgue_events_appended_total Events appended to the log (positions are gapless)."
    );
    let _ = writeln!(out, "# TYPE morgue_events_appended_total counter\nmorgue_events_appended_total {head}");
    let _ = writeln!(out, "# HELP morgue_projector_lag Events the projector has not applied yet.");
    let _ = writeln!(out, "# TYPE morgue_projector_lag gauge");
    for p in &projectors {
        let _ = writeln!(out, "morgue_projector_lag{{projector=\"{}\"}} {}", p.name, p.lag);
    }
    if let Some(l) = state.archive.link_report() {
        let role = if l.replica { "replica" } else { "writer" };
        let _ = writeln!(
            out,
            "# HELP morgue_replication_lag Events not yet published (writer) or applied (replica)."
        );
        let _ = writeln!(out, "# TYPE morgue_replication_lag gauge");
        let _ = writeln!(out, "morgue_replication_lag{{role=\"{role}\"}} {}", l.lag);
        let _ = writeln!(out, "# HELP morgue_replication_connected 1 when connected to NATS JetStream.");
        let _ = writeln!(out, "# TYPE morgue_replication_connected gauge");
        let _ = writeln!(out, "morgue_replication_connected{{role=\"{role}\"}} {}", u8::from(l.connected));
    }
    let _ = writeln!(out, "# HELP morgue_graphql_requests_total GraphQL requests served.");
    let _ = writeln!(out, "# TYPE morgue_graphql_requests_total counter");
    let _ = writeln!(out, "morgue_graphql_requests_total {}", m.requests.load(Ordering::Relaxed));
    let _ = writeln!(out, "morgue_graphql_errors_total {}", m.errors.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP morgue_graphql_request_seconds GraphQL request latency.");
    let _ = writeln!(out, "# TYPE morgue_graphql_request_seconds histogram");
    for (bucket, le) in m.buckets.iter().zip(BUCKETS) {
        let _ = writeln!(
            out,
            "morgue_graphql_request_seconds_bucket{{le=\"{le}\"}} {}",
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = m.requests.load(Ordering::Relaxed);
    let _ = writeln!(out, "morgue_graphql_request_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(
        out,
        "morgue_graphql_request_seconds_sum {}",
        m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "morgue_graphql_request_seconds_count {count}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
