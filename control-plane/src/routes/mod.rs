//! The HTTP surface: `/api/v1` resources, `/internal/v1` for the data plane, health and
//! the OpenAPI document.

pub mod health;
pub mod internal;
pub mod profiles;
pub mod provider_keys;
mod validate;
pub mod virtual_keys;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// The whole application; `body_limit` caps every request body.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let api = Router::new()
        .route("/profiles", get(profiles::list).post(profiles::create))
        .route(
            "/profiles/{id}",
            get(profiles::read)
                .put(profiles::update)
                .delete(profiles::delete),
        )
        .route(
            "/provider-keys",
            get(provider_keys::list).post(provider_keys::create),
        )
        .route(
            "/provider-keys/{id}",
            get(provider_keys::read)
                .put(provider_keys::update)
                .delete(provider_keys::delete),
        )
        .route(
            "/virtual-keys",
            get(virtual_keys::list).post(virtual_keys::create),
        )
        .route(
            "/virtual-keys/{id}",
            get(virtual_keys::read)
                .put(virtual_keys::update)
                .delete(virtual_keys::delete),
        );
    let internal = Router::new()
        .route("/profiles/{id}", get(internal::profile))
        .route("/virtual-keys/{token_sha256}", get(internal::virtual_key));
    Router::new()
        .nest("/api/v1", api)
        .nest("/internal/v1", internal)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .fallback(|| async { ApiError::NotFound("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
