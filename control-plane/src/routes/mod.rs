//! The HTTP surface: `/api/v1` resources, `/internal/v1` for the data plane, health and
//! the OpenAPI document.

pub mod api_keys;
pub mod audit_events;
pub mod crud;
pub mod health;
pub mod interactions;
pub mod internal;
pub mod limits;
pub mod models;
pub mod organization;
pub mod policies;
pub mod profiles;
pub mod provider_keys;
mod references;
pub mod teams;
mod validate;
pub mod virtual_keys;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// `GET`/`POST` on the collection and `GET`/`PUT`/`DELETE` on items of one resource module.
macro_rules! crud_routes {
    ($router:expr, $segment:literal, $module:path) => {{
        use $module as m;
        $router
            .route(concat!("/", $segment), get(m::list).post(m::create))
            .route(
                concat!("/", $segment, "/{id}"),
                get(m::read).put(m::update).delete(m::delete),
            )
    }};
}

/// The whole application; `body_limit` caps every request body.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let api = Router::new();
    let api = crud_routes!(api, "teams", teams);
    let api = crud_routes!(api, "api-keys", api_keys);
    let api = crud_routes!(api, "profiles", profiles);
    let api = crud_routes!(api, "provider-keys", provider_keys);
    let api = crud_routes!(api, "virtual-keys", virtual_keys);
    let api = crud_routes!(api, "tool-invocation-policies", policies::tool_invocation);
    let api = crud_routes!(api, "trusted-data-policies", policies::trusted_data);
    let api = crud_routes!(api, "limits", limits);
    let api = crud_routes!(api, "models", models);
    let api = api
        .route("/api-keys/{id}/revoke", post(api_keys::revoke))
        .route("/virtual-keys/{id}/revoke", post(virtual_keys::revoke))
        .route(
            "/organization",
            get(organization::read).put(organization::update),
        )
        .route("/limits/{id}/status", get(limits::status))
        .route("/interactions", get(interactions::list))
        .route("/interactions/{id}", get(interactions::read))
        .route("/usage", get(interactions::usage))
        .route("/audit-events", get(audit_events::list))
        .route("/audit-events/{id}", get(audit_events::read));
    let internal = Router::new()
        .route("/profiles/{id}", get(internal::profile))
        .route("/virtual-keys/{token_sha256}", get(internal::virtual_key))
        .route("/watch", get(internal::watch))
        .route("/revision", get(internal::revision))
        .route("/models", get(internal::prices))
        .route("/limits", get(internal::limits))
        .route("/leases", post(internal::lease))
        .route("/interactions", post(internal::ingest));
    Router::new()
        .nest("/api/v1", api)
        .nest("/internal/v1", internal)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .route("/metrics", get(crate::metrics::serve))
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .fallback(|| async { ApiError::NotFound("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
