//! The internal API the data plane reads (`/internal/v1/…`): everything a worker needs to
//! serve a profile and a virtual key. Not `deny_unknown_fields`: a worker must read a newer
//! control plane's answer during a rolling upgrade.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{GlobalToolPolicy, Provider, ToolInvocationPolicy, TrustedDataPolicy};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

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
    /// The organization's default for tool calls no policy decides.
    #[serde(default)]
    pub global_tool_policy: GlobalToolPolicy,
    /// The tool-invocation policies that apply: the profile's own, its team's and the
    /// organization's.
    #[serde(default)]
    pub tool_invocation_policies: Vec<ToolInvocationPolicy>,
    /// The trusted-data policies that apply, chosen the same way.
    #[serde(default)]
    pub trusted_data_policies: Vec<TrustedDataPolicy>,
    /// How much of the conversation interaction records keep.
    #[serde(default)]
    pub log_bodies: crate::LogBodies,
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

/// Audience of every internal token; a token for anything else is refused.
pub const INTERNAL_AUDIENCE: &str = "gatehouse-internal";
/// How long a minted internal token is valid.
pub const INTERNAL_TOKEN_TTL_SECS: i64 = 300;

/// Claims of the short-lived JWT (HS256) the data plane presents on `/internal/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InternalClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why an internal token was refused.
#[derive(Debug, thiserror::Error)]
#[error("internal token refused: {0}")]
pub struct InternalTokenError(String);

/// Mints an internal token valid from `now` for [`INTERNAL_TOKEN_TTL_SECS`], signed with the
/// secret both planes share (`GATEHOUSE_INTERNAL_TOKEN_SECRET`).
pub fn mint_internal_token(
    secret: &[u8],
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<String, InternalTokenError> {
    let claims = InternalClaims {
        aud: INTERNAL_AUDIENCE.to_owned(),
        iss: issuer.to_owned(),
        iat: now.timestamp(),
        exp: now.timestamp() + INTERNAL_TOKEN_TTL_SECS,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .map_err(|e| InternalTokenError(e.to_string()))
}

/// Verifies signature, algorithm (HS256 only), audience and expiry (30 s leeway).
pub fn verify_internal_token(
    secret: &[u8],
    token: &str,
) -> Result<InternalClaims, InternalTokenError> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[INTERNAL_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.leeway = 30;
    jsonwebtoken::decode::<InternalClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|e| InternalTokenError(e.to_string()))
}

/// One change event of the watch stream (`GET /internal/v1/watch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// Global, monotonic: each change to anything a worker uses gets the next revision.
    pub revision: i64,
    /// What changed: `profile`, `provider_key`, `virtual_key`, `tool_invocation_policy`,
    /// `trusted_data_policy`, `limit`, `model_price`, `organization`.
    pub kind: String,
    /// The changed object's id.
    pub id: String,
}

/// One price of `GET /internal/v1/models`: US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceConfig {
    pub provider: Provider,
    pub model: String,
    pub input_price_per_million: f64,
    pub output_price_per_million: f64,
    #[serde(default)]
    pub cached_input_price_per_million: Option<f64>,
}

/// The whole price table, for computing cost on the data plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    pub prices: Vec<PriceConfig>,
}

impl PriceTable {
    /// The price of `model` on `provider`: an exact match, else the longest listed model the
    /// name starts with followed by `-` (a dated snapshot such as `gpt-4o-mini-2024-07-18`).
    pub fn find(&self, provider: Provider, model: &str) -> Option<&PriceConfig> {
        let listed = self.prices.iter().filter(|p| p.provider == provider);
        listed.clone().find(|p| p.model == model).or_else(|| {
            listed
                .filter(|p| {
                    model.len() > p.model.len()
                        && model.starts_with(&p.model)
                        && model.as_bytes()[p.model.len()] == b'-'
                })
                .max_by_key(|p| p.model.len())
        })
    }
}

impl PriceConfig {
    /// Cost in US dollars of the given token counts (`cached` is part of `input`).
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> f64 {
        let per = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        let cached = cached.min(input);
        per(input - cached, self.input_price_per_million)
            + per(
                cached,
                self.cached_input_price_per_million
                    .unwrap_or(self.input_price_per_million),
            )
            + per(output, self.output_price_per_million)
    }
}

/// Body of `reset` and `heartbeat` watch events and of `GET /internal/v1/revision`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RevisionInfo {
    pub revision: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_exactly_or_by_dated_snapshot_and_cost_counts_cached_input() {
        let price = |model: &str, i: f64, o: f64, c: Option<f64>| PriceConfig {
            provider: Provider::Openai,
            model: model.into(),
            input_price_per_million: i,
            output_price_per_million: o,
            cached_input_price_per_million: c,
        };
        let table = PriceTable {
            prices: vec![
                price("gpt-4o", 2.5, 10.0, Some(1.25)),
                price("gpt-4o-mini", 0.15, 0.6, None),
            ],
        };
        assert_eq!(
            table.find(Provider::Openai, "gpt-4o").unwrap().model,
            "gpt-4o"
        );
        assert_eq!(
            table
                .find(Provider::Openai, "gpt-4o-mini-2024-07-18")
                .unwrap()
                .model,
            "gpt-4o-mini"
        );
        assert!(table.find(Provider::Openai, "gpt-4omni").is_none());
        assert!(table.find(Provider::Anthropic, "gpt-4o").is_none());
        let cost = table.prices[0].cost(1_000_000, 400_000, 100_000);
        assert!((cost - (0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10.0)).abs() < 1e-9);
        assert!((table.prices[1].cost(1_000_000, 1_000_000, 0) - 0.15).abs() < 1e-9);
    }

    #[test]
    fn internal_tokens_verify_only_with_the_secret_audience_and_time() {
        let now = Utc::now();
        let token = mint_internal_token(b"s".repeat(32).as_slice(), "dp", now).unwrap();
        let claims = verify_internal_token(b"s".repeat(32).as_slice(), &token).unwrap();
        assert_eq!(claims.aud, INTERNAL_AUDIENCE);
        assert!(verify_internal_token(b"t".repeat(32).as_slice(), &token).is_err());
        let old = now - chrono::Duration::seconds(INTERNAL_TOKEN_TTL_SECS + 60);
        let expired = mint_internal_token(b"s".repeat(32).as_slice(), "dp", old).unwrap();
        assert!(verify_internal_token(b"s".repeat(32).as_slice(), &expired).is_err());
        let claims = InternalClaims {
            aud: "other".into(),
            iss: "dp".into(),
            iat: now.timestamp(),
            exp: now.timestamp() + 60,
        };
        let wrong_aud = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"s".repeat(32).as_slice()),
        )
        .unwrap();
        assert!(verify_internal_token(b"s".repeat(32).as_slice(), &wrong_aud).is_err());
        assert!(verify_internal_token(b"s".repeat(32).as_slice(), "not-a-jwt").is_err());
    }
}
