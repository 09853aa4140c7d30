//! Prometheus metrics of the control plane, served at `/metrics` on the API port
//! (bearer-protected when `GATEHOUSE_METRICS_SECRET` is set): API latency by route and
//! status, the database pool, open watch streams.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use secrecy::ExposeSecret;

use crate::state::AppState;

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool: IntGaugeVec,
    watch_subscribers: IntGauge,
    ingested: IntCounterVec,
}

/// Metric definitions are constants; an invalid one is a programming error caught by tests.
#[allow(clippy::panic)]
fn invalid(name: &str, e: prometheus::Error) -> ! {
    panic!("metric {name} is invalid: {e}")
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "gatehouse_api_requests_total",
            "Control-plane API requests by method, route and status",
        ),
        &["method", "route", "status"],
    )
    .unwrap_or_else(|e| invalid("requests", e));
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "gatehouse_api_request_duration_seconds",
            "Control-plane API latency by method and route",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ]),
        &["method", "route"],
    )
    .unwrap_or_else(|e| invalid("duration", e));
    let pool = IntGaugeVec::new(
        Opts::new(
            "gatehouse_db_pool_connections",
            "Database pool connections by state (idle, in_use)",
        ),
        &["state"],
    )
    .unwrap_or_else(|e| invalid("pool", e));
    let watch_subscribers = IntGauge::new(
        "gatehouse_watch_subscribers",
        "Data-plane change streams open on this replica",
    )
    .unwrap_or_else(|e| invalid("watch", e));
    let ingested = IntCounterVec::new(
        Opts::new(
            "gatehouse_interactions_ingested_total",
            "Interaction records received from data planes: stored, or duplicate (a retried \
             batch, not stored again)",
        ),
        &["outcome"],
    )
    .unwrap_or_else(|e| invalid("ingested", e));
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(ingested.clone()),
        Box::new(duration.clone()),
        Box::new(pool.clone()),
        Box::new(watch_subscribers.clone()),
    ] {
        if let Err(e) = registry.register(collector) {
            tracing::error!(error = %e, "metric registration failed");
        }
    }
    Metrics {
        registry,
        requests,
        duration,
        pool,
        watch_subscribers,
        ingested,
    }
});

/// Counts one ingested batch.
pub fn ingested(stored: u64, duplicates: u64) {
    let m = &*METRICS;
    m.ingested.with_label_values(&["stored"]).inc_by(stored);
    m.ingested
        .with_label_values(&["duplicate"])
        .inc_by(duplicates);
}

/// Middleware (a route layer, so the matched route is known): counts and times requests.
/// The route template (`/api/v1/profiles/{id}`) is the label, never the raw path.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &*METRICS;
    m.requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    m.duration
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = &state.metrics_secret {
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
    let m = &*METRICS;
    let size = i64::from(state.db.size());
    let idle = i64::try_from(state.db.num_idle()).unwrap_or(i64::MAX);
    m.pool.with_label_values(&["idle"]).set(idle);
    m.pool.with_label_values(&["in_use"]).set(size - idle);
    m.watch_subscribers
        .set(i64::try_from(state.watch.subscribers()).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], out).into_response()
}
