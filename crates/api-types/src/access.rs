//! Who may do what: teams, admin API keys and their roles, organization settings and the
//! audit trail of every change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Prefix of admin API keys created through the API.
pub const API_KEY_PREFIX: &str = "gh_ak_";

/// A team: the scope objects and API keys can belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/teams` and `PUT /api/v1/teams/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    /// Unique, 1–128 characters.
    #[cfg_attr(feature = "openapi", schema(example = "payments"))]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// What an API key may do. `admin`: everything in its scope, API keys included;
/// `editor`: create and change objects in its scope; `viewer`: read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

wire_names!(Role {
    Viewer => "viewer",
    Editor => "editor",
    Admin => "admin",
});

/// An admin API key as the API shows it; the token is only in [`ApiKeyCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The team this key is confined to; `null`: the whole organization.
    pub team_id: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The token's first characters; empty for the bootstrap key.
    pub token_prefix: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Answer to `POST /api/v1/api-keys`: the key and, this once only, its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The bearer token (`gh_ak_…`). Shown only in this response; stored hashed.
    pub token: String,
}

/// Body of `POST /api/v1/api-keys` and `PUT /api/v1/api-keys/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    #[cfg_attr(feature = "openapi", schema(example = "ci-terraform"))]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// What happens to a tool call that no tool-invocation policy matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GlobalToolPolicy {
    /// Tool calls are allowed unless a policy blocks them.
    #[default]
    Permissive,
    /// Tool calls are blocked unless a policy allows them.
    Restrictive,
}

wire_names!(GlobalToolPolicy {
    Permissive => "permissive",
    Restrictive => "restrictive",
});

/// The organization-wide settings (a singleton).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Organization {
    pub name: String,
    pub global_tool_policy: GlobalToolPolicy,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Body of `PUT /api/v1/organization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    #[cfg_attr(feature = "openapi", schema(example = "Acme"))]
    pub name: String,
    pub global_tool_policy: GlobalToolPolicy,
}

/// One change made through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The API key that made the change.
    pub actor_key_id: Option<Uuid>,
    pub actor_name: Option<String>,
    /// `create`, `update`, `delete` or `revoke`.
    pub action: String,
    /// The resource path segment, e.g. `profiles`.
    pub resource_type: String,
    pub resource_id: String,
    pub team_id: Option<Uuid>,
    /// The object as the API showed it before the change (secrets are never part of it).
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}
