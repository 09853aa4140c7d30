//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

/// Always 200 while the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 when Postgres answers, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
