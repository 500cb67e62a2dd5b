//! `/metrics`, in the Prometheus text format (0.0.4, which `promtool check metrics` reads),
//! through the `prometheus` crate: every metric has HELP and TYPE and its unit in its name.
//!
//! - requests and their latency, by route (each web page, `/graphql`, …) and by GraphQL
//!   operation;
//! - GraphQL errors by `extensions.code`, counted in every answer, 200s included;
//! - the log's head, projector and replication lag, the data directory's size on disk;
//! - build information and the process's own metrics (CPU, memory, file descriptors).
//!
//! Label values that come from clients (operation names) are bounded: past
//! [`MAX_OPERATIONS`] distinct names, or for a name that is not a GraphQL name of at most 64
//! bytes, the label is `other`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::AppState;

/// Latency histogram buckets, seconds.
const BUCKETS: [f64; 13] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0];

/// Distinct GraphQL operation names kept as label values; later ones count as `other`.
pub const MAX_OPERATIONS: usize = 128;

/// The node's metrics, registered in a registry of its own.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    graphql_requests: IntCounterVec,
    graphql_seconds: HistogramVec,
    graphql_errors: IntCounterVec,
    head: IntGauge,
    appended: IntCounter,
    projector_lag: IntGaugeVec,
    replication_lag: IntGaugeVec,
    replication_connected: IntGaugeVec,
    store_bytes: IntGaugeVec,
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()), labels)
        .expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let head = IntGauge::new("morgue_log_head_position", "Position of the last event in the log.")
            .expect("a valid metric");
        r.register(Box::new(head.clone())).expect("registered once");
        let appended = IntCounter::new(
            "morgue_events_appended_total",
            "Events in the log (positions are gapless, so this is the head position).",
        )
        .expect("a valid metric");
        r.register(Box::new(appended.clone())).expect("registered once");
        let build = IntGaugeVec::new(
            Opts::new("morgue_build_info", "The running build: always 1, with its version as labels."),
            &["version", "search_format", "views_format"],
        )
        .expect("a valid metric");
        r.register(Box::new(build.clone())).expect("registered once");
        let (views_format, search_format) = crate::archive::Archive::formats();
        build.with_label_values(&[env!("CARGO_PKG_VERSION"), search_format, views_format]).set(1);
        #[cfg(target_os = "linux")]
        r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
            .expect("registered once");
        Metrics {
            http_requests: counter(
                &r,
                "morgue_http_requests_total",
                "HTTP requests answered, by route (a web page's pattern, /graphql, ...), method and status.",
                &["route", "method", "status"],
            ),
            http_seconds: histogram(
                &r,
                "morgue_http_request_duration_seconds",
                "Time to answer an HTTP request, by route (each web page, /graphql, ...).",
                &["route"],
            ),
            graphql_requests: counter(
                &r,
                "morgue_graphql_requests_total",
                "GraphQL requests, by operation name (`anonymous` without one).",
                &["operation"],
            ),
            graphql_seconds: histogram(
                &r,
                "morgue_graphql_request_duration_seconds",
                "Time to answer a GraphQL request, by operation name.",
                &["operation"],
            ),
            graphql_errors: counter(
                &r,
                "morgue_graphql_errors_total",
                "GraphQL errors answered, by extensions.code, including errors inside 200 answers.",
                &["code"],
            ),
            head,
            appended,
            projector_lag: gauge(
                &r,
                "morgue_projector_lag_events",
                "Events in the log the projector has not applied yet.",
                &["projector"],
            ),
            replication_lag: gauge(
                &r,
                "morgue_replication_lag_events",
                "Events not yet published (writer) or applied (replica).",
                &["role"],
            ),
            replication_connected: gauge(
                &r,
                "morgue_replication_connected",
                "1 when connected to NATS JetStream, else 0.",
                &["role"],
            ),
            store_bytes: gauge(
                &r,
                "morgue_store_size_bytes",
                "Bytes on disk in the data directory, by part (log, views, search, other).",
                &["part"],
            ),
            registry: r,
            operations: Mutex::default(),
        }
    }

    /// Counts an HTTP request to a route.
    pub(super) fn observe_http(&self, route: &str, method: &str, status: StatusCode, elapsed: Duration) {
        self.http_requests.with_label_values(&[route, method, status.as_str()]).inc();
        self.http_seconds.with_label_values(&[route]).observe(elapsed.as_secs_f64());
    }

    /// Counts a GraphQL request, its latency and the codes of the errors it answered with.
    pub(super) fn observe_graphql(&self, operation: Option<&str>, codes: &[&str], elapsed: Duration) {
        let operation = self.operation_label(operation);
        self.graphql_requests.with_label_values(&[&operation]).inc();
        self.graphql_seconds.with_label_values(&[&operation]).observe(elapsed.as_secs_f64());
        for code in codes {
            self.graphql_errors.with_label_values(&[code]).inc();
        }
    }

    /// The label for an operation name: bounded in length, alphabet and number.
    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation else { return "anonymous".into() };
        let valid = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return "other".into();
        }
        let mut seen = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(name) || (seen.len() < MAX_OPERATIONS && seen.insert(name.to_owned())) {
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// The text `/metrics` answers with, read from the archive now.
    fn render(&self, state: &AppState) -> Vec<u8> {
        let (head, projectors) = state.archive.status();
        self.head.set(i64::try_from(head.get()).unwrap_or(i64::MAX));
        let counted = self.appended.get();
        if head.get() > counted {
            self.appended.inc_by(head.get() - counted);
        }
        for p in &projectors {
            self.projector_lag.with_label_values(&[p.name]).set(i64::try_from(p.lag).unwrap_or(i64::MAX));
        }
        if let Some(l) = state.archive.link_report() {
            let role = if l.replica { "replica" } else { "writer" };
            self.replication_lag.with_label_values(&[role]).set(i64::try_from(l.lag).unwrap_or(i64::MAX));
            self.replication_connected.with_label_values(&[role]).set(i64::from(l.connected));
        }
        for (part, bytes) in state.archive.disk_usage() {
            self.store_bytes.with_label_values(&[part]).set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding the metrics");
        }
        out
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state);
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response()
}
