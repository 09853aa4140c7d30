//! Config the data plane fetches from the control plane, cached in moka with a TTL.
//! Concurrent misses for one key make a single control-plane call; absences (404) are
//! cached too, so unknown keys cannot flood the control plane.

use std::sync::Arc;
use std::time::Duration;

use api_types::internal::{ProfileConfig, VirtualKeyConfig, INTERNAL_TOKEN_HEADER};
use moka::future::Cache;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Why config could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    #[error("control plane answered {0}")]
    Status(u16),
    #[error("control plane answer unreadable: {0}")]
    Decode(String),
}

/// Client of the control plane's internal API, with caches in front.
pub struct ConfigClient {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    profiles: Cache<Uuid, Option<Arc<ProfileConfig>>>,
    virtual_keys: Cache<[u8; 32], Option<Arc<VirtualKeyConfig>>>,
}

impl ConfigClient {
    pub fn new(base_url: &str, token: SecretString, ttl: Duration) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ConfigError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            profiles: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            virtual_keys: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(ttl)
                .build(),
        })
    }

    /// The profile, or `None` when the control plane has no such profile.
    pub async fn profile(&self, id: Uuid) -> Result<Option<Arc<ProfileConfig>>, ConfigError> {
        self.profiles
            .try_get_with(id, self.fetch(format!("/internal/v1/profiles/{id}")))
            .await
            .map_err(|e| (*e).clone())
    }

    /// The virtual key with this token, or `None` when no such key exists (or was revoked).
    pub async fn virtual_key(
        &self,
        token: &str,
    ) -> Result<Option<Arc<VirtualKeyConfig>>, ConfigError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let path = format!("/internal/v1/virtual-keys/{}", hex::encode(digest));
        self.virtual_keys
            .try_get_with(digest, self.fetch(path))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: String,
    ) -> Result<Option<Arc<T>>, ConfigError> {
        tracing::debug!(%path, "config cache miss");
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .header(INTERNAL_TOKEN_HEADER, self.token.expose_secret())
            .send()
            .await
            .map_err(|e| ConfigError::Unreachable(e.without_url().to_string()))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let value = response
                    .json::<T>()
                    .await
                    .map_err(|e| ConfigError::Decode(e.to_string()))?;
                Ok(Some(Arc::new(value)))
            }
            s => Err(ConfigError::Status(s.as_u16())),
        }
    }
}
