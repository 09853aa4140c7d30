//! Request and response types of the control plane's REST and internal APIs, shared by the
//! control plane (server), the data plane and the Terraform provider (clients).
//!
//! Input types people write use `deny_unknown_fields`; snapshot types the data plane reads
//! do not, so an older worker can read a newer control plane's answer.

pub mod internal;
mod provider;

pub use provider::{Provider, UnknownProvider};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// Prefix of every virtual-key token.
pub const VIRTUAL_KEY_PREFIX: &str = "gh_vk_";

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive);
/// `None` for other schemes or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A profile: the unit an application is pointed at (`/v1/{provider}/{profile}/…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/profiles` and `PUT /api/v1/profiles/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Unique, 1–128 characters.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A provider key as the API shows it: the secret itself is write-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderKey {
    pub id: Uuid,
    pub name: String,
    pub provider: Provider,
    /// Upstream base URL for this key; `null` means the provider's default.
    pub base_url: Option<String>,
    /// The last four characters of the secret, to tell keys apart.
    pub secret_last_four: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/provider-keys`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyInput {
    pub name: String,
    pub provider: Provider,
    /// The provider's API key. Write-only: never returned.
    pub secret: String,
    /// `http(s)://host[:port][/path]`; `null` uses the provider's default.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Body of `PUT /api/v1/provider-keys/{id}`. An omitted `secret` keeps the stored one.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyUpdate {
    pub name: String,
    pub provider: Provider,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

impl std::fmt::Debug for ProviderKeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyInput")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl std::fmt::Debug for ProviderKeyUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyUpdate")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// A virtual key as the API shows it; the token is only in [`VirtualKeyCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VirtualKey {
    pub id: Uuid,
    pub name: String,
    pub profile_id: Uuid,
    /// Provider name → provider-key id used when this key calls that provider.
    pub provider_keys: BTreeMap<Provider, Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token's first characters (`gh_vk_` and four more), to recognise it.
    pub token_prefix: String,
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
    pub name: String,
    pub profile_id: Uuid,
    #[serde(default)]
    pub provider_keys: BTreeMap<Provider, Uuid>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Query parameters of every list endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `application/problem+json` body (RFC 9457) of every REST error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer gh_vk_abc"), Some("gh_vk_abc"));
        assert_eq!(bearer_token("bearer  sk-1 "), Some("sk-1"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
