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
}

/// A virtual key resolved for the data plane, looked up by the SHA-256 of its token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VirtualKeyConfig {
    pub id: Uuid,
    pub profile_id: Uuid,
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
}

impl std::fmt::Debug for VirtualKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKeyConfig")
            .field("id", &self.id)
            .field("profile_id", &self.profile_id)
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
            .finish()
    }
}
