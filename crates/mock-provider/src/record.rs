//! What the mock received, kept in memory for tests (bounded to the last 1,000 requests).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::MockState;

const KEEP: usize = 1000;

/// One request as the mock saw it, and when its response finished.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub id: String,
    pub path: String,
    /// The `Authorization` header exactly as received.
    pub authorization: Option<String>,
    /// Every header, names lower-cased (a repeated header keeps its last value).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The query string, when there was one.
    pub query: Option<String>,
    /// The body as JSON; `null` when it did not parse.
    pub body: serde_json::Value,
    pub body_bytes: usize,
    /// Unix time (seconds) when the request arrived.
    pub received_at: f64,
    /// Unix time (seconds) when the last byte of the response body was produced.
    pub finished_at: Option<f64>,
    pub chunks_sent: usize,
}

/// A bounded log of received requests.
#[derive(Default)]
pub struct Recorder {
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn push(&self, request: RecordedRequest) {
        let mut requests = self.lock();
        if requests.len() == KEEP {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    /// Updates the request `id` once more of its response has been sent.
    pub fn progress(&self, id: &str, chunks_sent: usize, finished: bool) {
        if let Some(r) = self.lock().iter_mut().rev().find(|r| r.id == id) {
            r.chunks_sent = chunks_sent;
            if finished {
                r.finished_at = Some(unix_now());
            }
        }
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

pub async fn list(State(state): State<Arc<MockState>>) -> Json<Vec<RecordedRequest>> {
    Json(state.recorder.snapshot())
}

pub async fn clear(State(state): State<Arc<MockState>>) -> StatusCode {
    state.recorder.lock().clear();
    StatusCode::NO_CONTENT
}
