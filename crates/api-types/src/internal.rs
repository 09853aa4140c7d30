//! The internal API the data plane reads (`/internal/v1/…`): everything a worker needs to
//! serve a profile and a virtual key. Not `deny_unknown_fields`: a worker must read a newer
//! control plane's answer during a rolling upgrade.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Provider;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Header carrying the shared internal token on every `/internal/v1` request.
pub const INTERNAL_TOKEN_HEADER: &str = "x-gatehouse-internal-token";

/// What a worker needs to serve a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProfileConfig {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub consider_context_untrusted: bool,
    /// Refuse requests that carry a provider key instead of a virtual key.
    #[serde(default)]
    pub require_virtual_key: bool,
    /// Per provider, the only models allowed; a provider not listed allows all.
    #[serde(default)]
    pub allowed_models: BTreeMap<Provider, Vec<String>>,
}

impl ProfileConfig {
    /// Whether this profile lets `model` be called on `provider`.
    pub fn allows_model(&self, provider: Provider, model: &str) -> bool {
        self.allowed_models
            .get(&provider)
            .is_none_or(|models| models.iter().any(|m| m == model))
    }
}

/// A virtual key resolved for the data plane, looked up by the SHA-256 of its token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VirtualKeyConfig {
    pub id: Uuid,
    pub profile_id: Uuid,
    #[serde(default)]
    pub team_id: Option<Uuid>,
    /// Models this key may call; empty allows every model.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub provider_keys: BTreeMap<Provider, ProviderKeyConfig>,
}

/// A provider key with its decrypted secret: only ever sent to the data plane.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderKeyConfig {
    pub id: Uuid,
    pub secret: String,
    pub base_url: Option<String>,
    /// Added to every upstream request made with this key.
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
}

impl VirtualKeyConfig {
    /// Whether this key lets `model` be called.
    pub fn allows_model(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == model)
    }
}

impl std::fmt::Debug for VirtualKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKeyConfig")
            .field("id", &self.id)
            .field("profile_id", &self.profile_id)
            .field("team_id", &self.team_id)
            .field("allowed_models", &self.allowed_models)
            .field("expires_at", &self.expires_at)
            .field("provider_keys", &self.provider_keys)
            .finish()
    }
}

impl std::fmt::Debug for ProviderKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyConfig")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("extra_headers", &self.extra_headers)
            .finish()
    }
}
