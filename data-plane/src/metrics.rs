//! Prometheus metrics of the data plane, served on `GATEHOUSE_METRICS_ADDR` at `/metrics`
//! (bearer-protected when `GATEHOUSE_METRICS_SECRET` is set).
//!
//! Names follow Prometheus conventions: `gatehouse_` prefix, base units (seconds), `_total`
//! counters. Label values are bounded: providers and APIs are closed sets, model names are
//! capped (the first [`MAX_MODELS`] distinct names, then `other`), and the profile label is
//! only present when `GATEHOUSE_METRICS_PROFILE_LABELS` is on.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{
    CounterVec, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigClient;

/// Distinct model label values kept before the rest are counted as `other`.
pub const MAX_MODELS: usize = 200;

/// Latency buckets, in seconds: sub-millisecond gateway work up to long streams.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    120.0,
];
/// The gateway's own work: microseconds to milliseconds.
const OVERHEAD_BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

/// Every data-plane metric.
pub struct Metrics {
    registry: Registry,
    profile_labels: bool,
    virtual_key_labels: bool,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub time_to_first_token: HistogramVec,
    pub gateway_overhead: HistogramVec,
    pub in_flight: IntGauge,
    pub open_streams: IntGauge,
    pub upstream_errors: IntCounterVec,
    pub config_lookups: IntCounterVec,
    pub tokens: IntCounterVec,
    pub cost: CounterVec,
    pub unpriced: IntCounterVec,
    pub tool_calls_blocked: IntCounterVec,
    pub tool_calls: IntCounterVec,
    pub tool_results: IntCounterVec,
    pub usage_queue_depth: IntGauge,
    pub usage_records: IntCounterVec,
    pub usage_batches: IntCounterVec,
    pub limit_refusals: IntCounterVec,
    config_revision: IntGauge,
    config_staleness: Gauge,
    config_watch_live: IntGauge,
    models: Mutex<HashSet<String>>,
    tools: Mutex<HashSet<String>>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();
static DISABLED: AtomicBool = AtomicBool::new(false);

/// The process's metrics (profile labels off unless [`init`] said otherwise); `None` when
/// metrics are disabled, so nothing is recorded.
pub fn metrics() -> Option<&'static Metrics> {
    if DISABLED.load(Ordering::Relaxed) {
        return None;
    }
    Some(METRICS.get_or_init(|| Metrics::new(false, false)))
}

/// Sets up the metrics once, at start-up, before any request.
pub fn init(profile_labels: bool, virtual_key_labels: bool, enabled: bool) {
    DISABLED.store(!enabled, Ordering::Relaxed);
    METRICS.get_or_init(|| Metrics::new(profile_labels, virtual_key_labels));
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| {
        unreachable_metric(name, e);
    });
    register(registry, Box::new(vec.clone()));
    vec
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let vec = HistogramVec::new(opts, labels).unwrap_or_else(|e| unreachable_metric(name, e));
    register(registry, Box::new(vec.clone()));
    vec
}

fn register(registry: &Registry, collector: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = registry.register(collector) {
        tracing::error!(error = %e, "metric registration failed");
    }
}

/// Metric definitions are constants; an invalid one is a programming error caught by tests.
#[allow(clippy::panic)]
fn unreachable_metric(name: &str, e: prometheus::Error) -> ! {
    panic!("metric {name} is invalid: {e}")
}

impl Metrics {
    fn new(profile_labels: bool, virtual_key_labels: bool) -> Self {
        let r = Registry::new();
        let mut request_labels = vec!["provider", "api", "model", "status"];
        if profile_labels {
            request_labels.push("profile");
        }
        if virtual_key_labels {
            request_labels.push("virtual_key");
        }
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).unwrap_or_else(|e| unreachable_metric(name, e));
            register(&r, Box::new(g.clone()));
            g
        };
        let staleness = Gauge::new(
            "gatehouse_config_staleness_seconds",
            "Seconds since the config cache was last confirmed current by the control plane",
        )
        .unwrap_or_else(|e| unreachable_metric("staleness", e));
        register(&r, Box::new(staleness.clone()));
        Metrics {
            profile_labels,
            virtual_key_labels,
            requests: counter(
                &r,
                "gatehouse_requests_total",
                "Proxied requests by provider, API, model and response status",
                &request_labels,
            ),
            request_duration: histogram(
                &r,
                "gatehouse_request_duration_seconds",
                "Time from request arrival to the last byte of the response",
                &["provider", "api"],
                &LATENCY_BUCKETS,
            ),
            time_to_first_token: histogram(
                &r,
                "gatehouse_time_to_first_token_seconds",
                "Time from request arrival to the first byte of the upstream response body",
                &["provider", "api"],
                &LATENCY_BUCKETS,
            ),
            gateway_overhead: histogram(
                &r,
                "gatehouse_gateway_overhead_seconds",
                "Time the gateway itself spent on a request before sending it upstream \
                 (authentication, config lookup, body checks), excluding waiting for the client",
                &["provider"],
                &OVERHEAD_BUCKETS,
            ),
            in_flight: gauge(
                "gatehouse_requests_in_flight",
                "Requests being served (an autoscaling signal)",
            ),
            open_streams: gauge(
                "gatehouse_open_streams",
                "Streaming responses being sent (an autoscaling signal for long streams)",
            ),
            tool_calls_blocked: counter(
                &r,
                "gatehouse_tool_calls_blocked_total",
                "Tool calls removed from responses, by tool and reason (undeclared_tool, \
                 invalid_arguments, block_always, block_when_context_is_untrusted, not_allowed)",
                &["tool", "reason"],
            ),
            tool_calls: counter(
                &r,
                "gatehouse_tool_call_decisions_total",
                "Tool calls judged by the policies, by decision (allowed, blocked)",
                &["decision"],
            ),
            tool_results: counter(
                &r,
                "gatehouse_tool_results_total",
                "Tool results read in requests, by verdict (trusted, untrusted, blocked)",
                &["verdict"],
            ),
            upstream_errors: counter(
                &r,
                "gatehouse_upstream_errors_total",
                "Upstream failures by provider and kind (unreachable, timeout, status_4xx, \
                 status_5xx)",
                &["provider", "kind"],
            ),
            config_lookups: counter(
                &r,
                "gatehouse_config_cache_lookups_total",
                "Config cache lookups by kind (profile, virtual_key) and result (hit, miss)",
                &["kind", "result"],
            ),
            tokens: counter(
                &r,
                "gatehouse_tokens_total",
                "Tokens reported by providers, by provider, model and type (input, output, \
                 cached_input, reasoning)",
                &["provider", "model", "type"],
            ),
            cost: {
                let vec = CounterVec::new(
                    Opts::new(
                        "gatehouse_cost_usd_total",
                        "Cost in US dollars from the model price table, by provider and model",
                    ),
                    &["provider", "model"],
                )
                .unwrap_or_else(|e| unreachable_metric("cost", e));
                register(&r, Box::new(vec.clone()));
                vec
            },
            unpriced: counter(
                &r,
                "gatehouse_unpriced_requests_total",
                "Requests with token usage but no price in the model price table",
                &["provider"],
            ),
            usage_queue_depth: gauge(
                "gatehouse_usage_queue_depth",
                "Interaction records waiting to be sent to the control plane",
            ),
            usage_records: counter(
                &r,
                "gatehouse_usage_records_total",
                "Interaction records by outcome: queued, sent (stored by the control plane), \
                 dropped_queue_full, dropped_rejected (the control plane refused the batch), \
                 bodies_dropped (kept without bodies: the queue's body budget was spent)",
                &["outcome"],
            ),
            usage_batches: counter(
                &r,
                "gatehouse_usage_batches_total",
                "Batches posted to the control plane by result (ok, retry, rejected)",
                &["result"],
            ),
            limit_refusals: counter(
                &r,
                "gatehouse_limit_refusals_total",
                "Requests refused by a usage limit, by metric (requests, tokens, cost_usd) and \
                 kind (budget: 402, rate: 429, unavailable: the limit could not be checked)",
                &["metric", "kind"],
            ),
            config_revision: gauge(
                "gatehouse_config_revision",
                "The config revision this worker has applied",
            ),
            config_staleness: staleness,
            config_watch_live: gauge(
                "gatehouse_config_watch_live",
                "1 while the control plane's change stream is connected",
            ),
            models: Mutex::new(HashSet::new()),
            tools: Mutex::new(HashSet::new()),
            registry: r,
        }
    }

    /// Whether request metrics carry a `profile` label.
    pub fn profile_labels(&self) -> bool {
        self.profile_labels
    }

    /// Whether request metrics carry a `virtual_key` label.
    pub fn virtual_key_labels(&self) -> bool {
        self.virtual_key_labels
    }

    /// `model` as a label value: itself while fewer than [`MAX_MODELS`] distinct models were
    /// seen (and it is short), else `other`.
    pub fn model_label(&self, model: &str) -> String {
        bounded(&self.models, model)
    }

    /// A tool name as a label value, bounded like models: names come from clients.
    pub fn tool_label(&self, tool: &str) -> String {
        bounded(&self.tools, tool)
    }

    /// The exposition text, with the config gauges read now.
    pub fn render(&self, config: &ConfigClient) -> Vec<u8> {
        let status = config.status();
        self.config_revision.set(status.revision);
        self.config_staleness.set(status.staleness_secs);
        self.config_watch_live.set(i64::from(status.watch_live));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Decrements a gauge when dropped: in-flight requests and open streams end with their
/// request, whichever way it ends.
pub struct GaugeGuard(Option<IntGauge>);

impl GaugeGuard {
    /// Increments the gauge `pick` chooses (nothing when metrics are disabled).
    pub fn new(pick: fn(&Metrics) -> &IntGauge) -> Self {
        let gauge = metrics().map(|m| pick(m).clone());
        if let Some(g) = &gauge {
            g.inc();
        }
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        if let Some(g) = &self.0 {
            g.dec();
        }
    }
}

struct ServerState {
    config: Arc<ConfigClient>,
    secret: Option<SecretString>,
}

async fn serve_metrics(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    if let Some(secret) = &state.secret {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !api_types::bearer_matches(authorization, secret.expose_secret()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need Authorization: Bearer <GATEHOUSE_METRICS_SECRET>\n",
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        METRICS
            .get_or_init(|| Metrics::new(false, false))
            .render(&state.config),
    )
        .into_response()
}

/// `value` while fewer than [`MAX_MODELS`] distinct values were seen in `seen` (and it is
/// short), else `other`; `-` for none.
fn bounded(seen: &Mutex<HashSet<String>>, value: &str) -> String {
    if value.is_empty() {
        return "-".to_owned();
    }
    if value.len() > 128 {
        return "other".to_owned();
    }
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.contains(value) {
        return value.to_owned();
    }
    if seen.len() < MAX_MODELS {
        seen.insert(value.to_owned());
        return value.to_owned();
    }
    "other".to_owned()
}

/// Serves `/metrics` on `addr` until the process ends. A port that cannot be bound is
/// logged, not fatal: metrics must never take traffic down.
pub async fn serve(addr: SocketAddr, config: Arc<ConfigClient>, secret: Option<SecretString>) {
    let state = Arc::new(ServerState { config, secret });
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(serve_metrics))
        .with_state(state);
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            tracing::info!(%addr, "metrics listening");
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics server failed");
            }
        }
        Err(e) => tracing::error!(%addr, error = %e, "cannot bind the metrics address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_valid_and_model_labels_are_bounded() {
        let m = Metrics::new(true, false);
        m.requests
            .with_label_values(&["openai", "chat_completions", "m", "200", "p"])
            .inc();
        for i in 0..MAX_MODELS {
            assert_eq!(m.model_label(&format!("model-{i}")), format!("model-{i}"));
        }
        assert_eq!(m.model_label("model-0"), "model-0", "known models stay");
        assert_eq!(m.model_label("one-too-many"), "other");
        assert_eq!(m.model_label(&"x".repeat(200)), "other");
        let text = String::from_utf8(
            TextEncoder::new()
                .encode_to_string(&m.registry.gather())
                .unwrap()
                .into_bytes(),
        )
        .unwrap();
        assert!(text.contains("gatehouse_requests_total{api=\"chat_completions\""));
    }
}
