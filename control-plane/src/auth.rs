//! Request authentication and authorization: admin API keys (role, team scope) on `/api/v1`, the shared internal token on
//! `/internal/v1`.

use api_types::Role;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::hash_token;
use crate::error::ApiError;
use crate::state::AppState;

/// The API key a request was made with: its role and the team it is confined to.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: Uuid,
    pub name: String,
    pub role: Role,
    /// `None`: the whole organization.
    pub team_id: Option<Uuid>,
}

impl Principal {
    /// 403 unless the key's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the key has {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// 403 unless the key is an organization-wide admin.
    pub fn require_organization_admin(&self) -> Result<(), ApiError> {
        self.require(Role::Admin)?;
        if self.team_id.is_some() {
            return Err(ApiError::Forbidden(
                "this needs an organization-wide admin key; the key is team-scoped".into(),
            ));
        }
        Ok(())
    }

    /// Whether an object owned by `team` is visible to this key: everything for an
    /// organization-wide key, only the team's own objects for a team-scoped one.
    pub fn sees(&self, team: Option<Uuid>) -> bool {
        self.team_id.is_none() || self.team_id == team
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    api_types::bearer_token(parts.headers.get(AUTHORIZATION)?.to_str().ok()?)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        crate::db::api_keys::authenticate(&state.db, &hash_token(token))
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

/// Proof that the request carried a valid internal token: a short-lived JWT (HS256,
/// audience `gatehouse-internal`) signed with `GATEHOUSE_INTERNAL_TOKEN_SECRET`. Admin API
/// keys do not open `/internal/v1`, and internal tokens do not open `/api/v1`.
#[derive(Debug, Clone, Copy)]
pub struct Internal;

impl FromRequestParts<AppState> for Internal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret: &SecretString = state
            .internal_secret
            .as_deref()
            .ok_or(ApiError::InternalDisabled)?;
        let token = bearer(parts).ok_or(ApiError::InternalUnauthorized)?;
        match api_types::internal::verify_internal_token(secret.expose_secret().as_bytes(), token) {
            Ok(_) => Ok(Internal),
            Err(e) => {
                tracing::debug!(error = %e, "internal token refused");
                Err(ApiError::InternalUnauthorized)
            }
        }
    }
}
