//! Process settings, parsed once from `GATEHOUSE_*` environment variables (or flags).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use api_types::Provider;
use bytesize::ByteSize;
use clap::Parser;
use llm::upstream::{base_url_env, default_base_url, BaseUrl, BaseUrlError};
use secrecy::SecretString;

/// Gatehouse data plane: proxies provider traffic for the profiles the control plane holds.
#[derive(Debug, Clone, Parser)]
#[command(name = "gatehouse-data-plane", version)]
pub struct Settings {
    /// Address for provider traffic, `/healthz` and `/readyz`.
    #[arg(long, env = "GATEHOUSE_PROXY_ADDR", default_value = "0.0.0.0:8080")]
    pub proxy_addr: SocketAddr,

    /// Base URL of the control plane's API.
    #[arg(
        long,
        env = "GATEHOUSE_CONTROL_PLANE_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    pub control_plane_url: String,

    /// Token presented on the control plane's `/internal/v1` (same value on both planes).
    #[arg(long, env = "GATEHOUSE_INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: SecretString,

    /// Largest accepted request body, human-readable (`50MB`, `1MiB`).
    #[arg(long, env = "GATEHOUSE_API_BODY_LIMIT", default_value = "50MB")]
    pub api_body_limit: ByteSize,

    /// Seconds a fetched profile or virtual key (or its absence) is served from cache.
    #[arg(long, env = "GATEHOUSE_CONFIG_CACHE_TTL_SECS", default_value_t = 5)]
    pub config_cache_ttl_secs: u64,

    /// Seconds the upstream may stay silent (before the first byte, or between chunks)
    /// before the request fails with 502.
    #[arg(
        long,
        env = "GATEHOUSE_UPSTREAM_READ_TIMEOUT_SECS",
        default_value_t = 600
    )]
    pub upstream_read_timeout_secs: u64,

    /// Seconds in-flight requests get to finish after SIGTERM before the process exits.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Worker threads of the proxy (default: one per CPU).
    #[arg(long, env = "GATEHOUSE_PROXY_THREADS")]
    pub proxy_threads: Option<usize>,

    /// Log filter (`info`, `debug`, `data_plane=debug`, …).
    #[arg(long, env = "GATEHOUSE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

impl Settings {
    pub fn config_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.config_cache_ttl_secs)
    }

    pub fn upstream_read_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_read_timeout_secs)
    }
}

/// Each provider's default upstream: `GATEHOUSE_<PROVIDER>_BASE_URL`, else its public API.
#[derive(Debug, Clone)]
pub struct Upstreams(HashMap<Provider, BaseUrl>);

impl Upstreams {
    /// Reads the overrides through `lookup` (the process environment in `main`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BaseUrlError> {
        let mut map = HashMap::new();
        for provider in Provider::ALL {
            let url = lookup(&base_url_env(provider))
                .unwrap_or_else(|| default_base_url(provider).to_owned());
            map.insert(provider, BaseUrl::parse(&url)?);
        }
        Ok(Self(map))
    }

    pub fn get(&self, provider: Provider) -> Option<&BaseUrl> {
        self.0.get(&provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_required_token() {
        assert!(
            Settings::try_parse_from(["dp"]).is_err(),
            "the internal token is required"
        );
        let s = Settings::try_parse_from(["dp", "--internal-token", "t"]).unwrap();
        assert_eq!(s.proxy_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.api_body_limit, ByteSize::mb(50));
        assert_eq!(s.config_cache_ttl(), Duration::from_secs(5));
    }

    #[test]
    fn base_url_overrides_come_from_the_environment() {
        let upstreams = Upstreams::from_lookup(|k| {
            (k == "GATEHOUSE_OPENAI_BASE_URL").then(|| "http://127.0.0.1:1/v1".to_owned())
        })
        .unwrap();
        assert_eq!(upstreams.get(Provider::Openai).unwrap().port, 1);
        assert_eq!(upstreams.get(Provider::Groq).unwrap().host, "api.groq.com");
        assert!(Upstreams::from_lookup(|_| Some("nope".into())).is_err());
    }
}
