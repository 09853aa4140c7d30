//! Request authentication: admin API keys on `/api/v1`, the shared internal token on
//! `/internal/v1`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::{hash_token, secrets_equal};
use crate::error::ApiError;
use crate::state::AppState;

/// Proof that the request carried a valid admin API key.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    pub key_id: Uuid,
}

fn bearer(parts: &Parts) -> Option<&str> {
    api_types::bearer_token(parts.headers.get(AUTHORIZATION)?.to_str().ok()?)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let key_id = crate::db::api_keys::touch(&state.db, &hash_token(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Admin { key_id })
    }
}

/// Proof that the request carried the internal token (the data plane).
#[derive(Debug, Clone, Copy)]
pub struct Internal;

impl FromRequestParts<AppState> for Internal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let expected: &SecretString = state
            .internal_token
            .as_deref()
            .ok_or(ApiError::InternalDisabled)?;
        let presented = parts
            .headers
            .get(api_types::internal::INTERNAL_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::InternalUnauthorized)?;
        if secrets_equal(presented, expected.expose_secret()) {
            Ok(Internal)
        } else {
            Err(ApiError::InternalUnauthorized)
        }
    }
}
