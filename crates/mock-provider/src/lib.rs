//! A faithful fake LLM provider for tests, benchmarks and local runs.
//!
//! It serves OpenAI's chat completions (`POST /v1/chat/completions`), streaming and not,
//! with deterministic content, validates every request body against the published schema
//! (400 in OpenAI's error format on a mismatch), and records what it received at
//! `GET /_mock/requests` so tests can check what reached the "provider".
//!
//! Per-request knobs, as headers: `x-mock-chunks` (number of content chunks),
//! `x-mock-chunk-delay-ms` (gap between chunks), `x-mock-latency-ms` (delay before the
//! response starts). A `model` of `mock-error-<status>` answers that status with an
//! OpenAI error body.

pub mod openai;
mod record;
pub mod spec;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

pub use record::{RecordedRequest, Recorder};

/// Defaults for every response; headers override them per request.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub chunks: usize,
    pub chunk_delay: Duration,
    pub latency: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            chunks: 12,
            chunk_delay: Duration::ZERO,
            latency: Duration::ZERO,
        }
    }
}

/// Shared by every handler.
pub struct MockState {
    pub config: MockConfig,
    pub schemas: spec::Schemas,
    pub recorder: Recorder,
}

/// The mock's routes over `state`.
pub fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/_mock/requests", get(record::list).delete(record::clear))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}
