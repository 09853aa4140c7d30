//! What routes a request: profiles, provider keys and virtual keys.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Provider;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A profile: the unit an application is pointed at (`/v1/{provider}/{profile}/…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// Owning team; `null` for an organization-wide profile.
    pub team_id: Option<Uuid>,
    pub labels: BTreeMap<String, String>,
    /// Treat every conversation as carrying untrusted data from the start.
    pub consider_context_untrusted: bool,
    /// Refuse clients that send their own provider key instead of a virtual key.
    pub require_virtual_key: bool,
    /// Per provider, the only models this profile may call; a provider not listed allows all.
    pub allowed_models: BTreeMap<Provider, Vec<String>>,
    /// How much of each request and response its interaction records keep.
    pub log_bodies: crate::LogBodies,
    /// Incremented on every change; send it back in `If-Match` to update safely.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/profiles` and `PUT /api/v1/profiles/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Unique within its team, 1–128 characters.
    #[cfg_attr(feature = "openapi", schema(example = "support-bot"))]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Owning team. Defaults to the caller's team for a team-scoped key. Cannot change.
    #[serde(default)]
    pub team_id: Option<Uuid>,
    /// Up to 64 labels; keys 1–63 characters of `[A-Za-z0-9_.-/]`, values up to 256.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!({"env": "prod"})))]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub consider_context_untrusted: bool,
    #[serde(default)]
    pub require_virtual_key: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!({"openai": ["gpt-4o-mini"]})))]
    pub allowed_models: BTreeMap<Provider, Vec<String>>,
    /// `none`, `metadata` (default) or `full`.
    #[serde(default)]
    pub log_bodies: crate::LogBodies,
}

/// A provider key as the API shows it: the secret itself is write-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderKey {
    pub id: Uuid,
    pub name: String,
    pub provider: Provider,
    pub team_id: Option<Uuid>,
    /// Upstream base URL for this key; `null` means the provider's default.
    pub base_url: Option<String>,
    /// Headers added to every upstream request made with this key (not secret).
    pub extra_headers: BTreeMap<String, String>,
    /// The key virtual keys of this team use for this provider when they map none.
    pub is_default: bool,
    /// The last four characters of the secret, to tell keys apart.
    pub secret_last_four: String,
    /// `sha256:` and the first 16 hex digits of the secret's SHA-256; empty for keys stored
    /// before fingerprints existed.
    pub secret_fingerprint: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/provider-keys`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyInput {
    #[cfg_attr(feature = "openapi", schema(example = "openai-prod"))]
    pub name: String,
    pub provider: Provider,
    /// The provider's API key. Write-only: never returned.
    #[cfg_attr(feature = "openapi", schema(example = "sk-proj-example", write_only))]
    pub secret: String,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    /// `http(s)://host[:port][/path]`; `null` uses the provider's default.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub is_default: bool,
}

/// Body of `PUT /api/v1/provider-keys/{id}`. An omitted `secret` keeps the stored one.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyUpdate {
    pub name: String,
    pub provider: Provider,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(write_only))]
    pub secret: Option<String>,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub is_default: bool,
}

impl From<ProviderKeyInput> for ProviderKeyUpdate {
    fn from(i: ProviderKeyInput) -> Self {
        ProviderKeyUpdate {
            name: i.name,
            provider: i.provider,
            secret: Some(i.secret),
            team_id: i.team_id,
            base_url: i.base_url,
            extra_headers: i.extra_headers,
            is_default: i.is_default,
        }
    }
}

impl std::fmt::Debug for ProviderKeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyInput")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("secret", &"[redacted]")
            .field("team_id", &self.team_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ProviderKeyUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyUpdate")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("team_id", &self.team_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A virtual key as the API shows it; the token is only in [`VirtualKeyCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VirtualKey {
    pub id: Uuid,
    pub name: String,
    pub profile_id: Uuid,
    pub team_id: Option<Uuid>,
    /// Provider name → provider-key id used when this key calls that provider.
    pub provider_keys: BTreeMap<Provider, Uuid>,
    /// Models this key may call (exact names); empty allows every model the profile allows.
    pub allowed_models: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Set once the key is revoked; a revoked key is refused and cannot be restored.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When a data-plane worker last resolved this key.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The token's first characters (`gh_vk_` and four more), to recognise it.
    pub token_prefix: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Answer to `POST /api/v1/virtual-keys`: the key and, this once only, its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VirtualKeyCreated {
    #[serde(flatten)]
    pub key: VirtualKey,
    /// The bearer token (`gh_vk_…`). Shown only in this response; stored hashed.
    pub token: String,
}

/// Body of `POST /api/v1/virtual-keys` and `PUT /api/v1/virtual-keys/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VirtualKeyInput {
    #[cfg_attr(feature = "openapi", schema(example = "checkout-service"))]
    pub name: String,
    pub profile_id: Uuid,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub provider_keys: BTreeMap<Provider, Uuid>,
    #[serde(default)]
    pub allowed_models: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}
