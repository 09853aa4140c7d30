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

    /// Secret shared with the control plane: signs the short-lived tokens presented on
    /// `/internal/v1` (at least 32 characters).
    #[arg(long, env = "GATEHOUSE_INTERNAL_TOKEN_SECRET", hide_env_values = true)]
    pub internal_token_secret: SecretString,

    /// Largest accepted request body, human-readable (`50MB`, `1MiB`).
    #[arg(long, env = "GATEHOUSE_API_BODY_LIMIT", default_value = "50MB")]
    pub api_body_limit: ByteSize,

    /// How long cached config is served while nothing is confirmed by the control plane
    /// (it is unreachable); afterwards lookups fail with 503. `15m`, `90s`, …
    #[arg(long, env = "GATEHOUSE_MAX_STALENESS", default_value = "15m", value_parser = humantime::parse_duration)]
    pub max_staleness: Duration,

    /// Seconds an unknown profile or virtual key is remembered as unknown.
    #[arg(long, env = "GATEHOUSE_CONFIG_NEGATIVE_TTL_SECS", default_value_t = 5)]
    pub config_negative_ttl_secs: u64,

    /// Seconds between revision comparisons with the control plane (the safety net for a
    /// lost change event).
    #[arg(long, env = "GATEHOUSE_CONFIG_RESYNC_SECS", default_value_t = 10)]
    pub config_resync_secs: u64,

    /// Seconds the change stream may stay silent (the control plane sends heartbeats every
    /// 5 s) before it is reopened.
    #[arg(long, env = "GATEHOUSE_CONFIG_WATCH_IDLE_SECS", default_value_t = 15)]
    pub config_watch_idle_secs: u64,

    /// Longest an upstream exchange may last, streams included (`10m`, `90s`). Checked
    /// as each chunk arrives; the idle timeout bounds the wait for the next one.
    #[arg(long, env = "GATEHOUSE_UPSTREAM_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,

    /// How long the upstream may stay silent — before its first byte, or between two
    /// chunks of a stream — before the request fails (504 before anything was sent).
    #[arg(long, env = "GATEHOUSE_UPSTREAM_IDLE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub upstream_idle_timeout: Duration,

    /// `api-version` sent to Azure OpenAI deployment URLs when the client sends none.
    #[arg(
        long,
        env = "GATEHOUSE_AZURE_API_VERSION",
        default_value = "2024-10-21"
    )]
    pub azure_api_version: String,

    /// Serve Gemini through Vertex AI with the gateway's own service account instead of
    /// API keys.
    #[arg(
        long,
        env = "GATEHOUSE_GEMINI_VERTEX_AI_ENABLED",
        default_value_t = false
    )]
    pub gemini_vertex_ai_enabled: bool,

    /// Google Cloud project for Vertex AI.
    #[arg(long, env = "GATEHOUSE_GEMINI_VERTEX_AI_PROJECT")]
    pub gemini_vertex_ai_project: Option<String>,

    /// Vertex AI location (`us-central1`, `europe-west4`, `global`).
    #[arg(
        long,
        env = "GATEHOUSE_GEMINI_VERTEX_AI_LOCATION",
        default_value = "us-central1"
    )]
    pub gemini_vertex_ai_location: String,

    /// Service-account key file (JSON) for Vertex AI; defaults to
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    #[arg(long, env = "GATEHOUSE_GEMINI_VERTEX_AI_CREDENTIALS_FILE")]
    pub gemini_vertex_ai_credentials_file: Option<String>,

    /// Vertex AI endpoint; defaults to `https://{location}-aiplatform.googleapis.com`.
    #[arg(long, env = "GATEHOUSE_GEMINI_VERTEX_AI_BASE_URL")]
    pub gemini_vertex_ai_base_url: Option<String>,

    /// Entra ID tenant for Azure OpenAI; with the client id and secret, Gatehouse
    /// authenticates to Azure with its own token instead of API keys.
    #[arg(long, env = "GATEHOUSE_AZURE_TENANT_ID")]
    pub azure_tenant_id: Option<String>,

    /// Entra ID application (client) id for Azure OpenAI.
    #[arg(long, env = "GATEHOUSE_AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,

    /// Entra ID client secret for Azure OpenAI.
    #[arg(long, env = "GATEHOUSE_AZURE_CLIENT_SECRET", hide_env_values = true)]
    pub azure_client_secret: Option<SecretString>,

    /// Entra ID authority host.
    #[arg(
        long,
        env = "GATEHOUSE_AZURE_AUTHORITY_HOST",
        default_value = "https://login.microsoftonline.com"
    )]
    pub azure_authority_host: String,

    /// A Bedrock API key Gatehouse sends itself (as a bearer token) when a request
    /// brings no provider key of its own.
    #[arg(long, env = "GATEHOUSE_BEDROCK_API_KEY", hide_env_values = true)]
    pub bedrock_api_key: Option<SecretString>,

    /// Sign Bedrock requests with AWS SigV4, with credentials from the standard chain
    /// (`AWS_ACCESS_KEY_ID`/…, shared config, web identity / IRSA, ECS, IMDS), when a
    /// request brings no provider key of its own.
    #[arg(long, env = "GATEHOUSE_BEDROCK_SIGV4", default_value_t = false)]
    pub bedrock_sigv4: bool,

    /// Bedrock region (signing, and the default endpoint
    /// `https://bedrock-runtime.{region}.amazonaws.com`); defaults to `AWS_REGION`, then
    /// `us-east-1`.
    #[arg(long, env = "GATEHOUSE_BEDROCK_REGION")]
    pub bedrock_region: Option<String>,

    /// Bedrock model providers served (`anthropic,amazon,meta`); empty: all.
    #[arg(
        long,
        env = "GATEHOUSE_BEDROCK_ALLOWED_PROVIDERS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub bedrock_allowed_providers: Vec<String>,

    /// Geographies of cross-region inference profiles served (`us,eu,apac,global`);
    /// empty: all. Plain model ids are not affected.
    #[arg(
        long,
        env = "GATEHOUSE_BEDROCK_ALLOWED_INFERENCE_REGIONS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub bedrock_allowed_inference_regions: Vec<String>,

    /// OpenRouter attribution: `HTTP-Referer` sent when the client sends none.
    #[arg(long, env = "GATEHOUSE_OPENROUTER_REFERER")]
    pub openrouter_referer: Option<String>,

    /// OpenRouter attribution: `X-Title` sent when the client sends none.
    #[arg(long, env = "GATEHOUSE_OPENROUTER_TITLE", default_value = "Gatehouse")]
    pub openrouter_title: String,

    /// Seconds in-flight requests get to finish after SIGTERM before the process exits.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Interaction records the in-memory queue holds; past it, records are dropped (and
    /// counted) rather than slowing traffic.
    #[arg(long, env = "GATEHOUSE_USAGE_QUEUE_CAPACITY", default_value_t = 50_000)]
    pub usage_queue_capacity: usize,

    /// Bytes of request and response bodies (`log_bodies: full`) the queue holds; past it,
    /// records are kept without their bodies.
    #[arg(
        long,
        env = "GATEHOUSE_USAGE_QUEUE_BODY_BYTES",
        default_value = "64MiB"
    )]
    pub usage_queue_body_bytes: bytesize::ByteSize,

    /// Base URL of the control plane that ingests interaction records (default: the
    /// control-plane URL), e.g. replicas set aside for ingest.
    #[arg(long, env = "GATEHOUSE_USAGE_INGEST_URL")]
    pub usage_ingest_url: Option<String>,

    /// Records per batch posted to the control plane.
    #[arg(long, env = "GATEHOUSE_USAGE_BATCH_SIZE", default_value_t = 1_000)]
    pub usage_batch_size: usize,

    /// How long a record waits for others to fill its batch (`250ms`, `1s`, …).
    #[arg(long, env = "GATEHOUSE_USAGE_FLUSH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub usage_flush_interval: Duration,

    /// Worker threads of the proxy (default: one per CPU).
    #[arg(long, env = "GATEHOUSE_PROXY_THREADS")]
    pub proxy_threads: Option<usize>,

    /// Record and serve Prometheus metrics (`false` turns both off).
    #[arg(long, env = "GATEHOUSE_METRICS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics_enabled: bool,

    /// Address of the Prometheus endpoint (`/metrics`).
    #[arg(long, env = "GATEHOUSE_METRICS_ADDR", default_value = "0.0.0.0:9091")]
    pub metrics_addr: SocketAddr,

    /// When set, `/metrics` requires `Authorization: Bearer <this>`.
    #[arg(long, env = "GATEHOUSE_METRICS_SECRET", hide_env_values = true)]
    pub metrics_secret: Option<SecretString>,

    /// Add a `profile` label to request metrics (one series per profile: mind the
    /// cardinality).
    #[arg(
        long,
        env = "GATEHOUSE_METRICS_PROFILE_LABELS",
        default_value_t = false
    )]
    pub metrics_profile_labels: bool,

    /// Add a `virtual_key` label (the key's id) to request metrics (one series per key:
    /// mind the cardinality).
    #[arg(
        long,
        env = "GATEHOUSE_METRICS_VIRTUAL_KEY_LABELS",
        default_value_t = false
    )]
    pub metrics_virtual_key_labels: bool,

    /// OTLP collector base URL for traces, e.g. `http://otel-collector:4318` (HTTP, spans go
    /// to `<this>/v1/traces`) or `http://otel-collector:4317` (gRPC). Unset: no tracing.
    #[arg(long, env = "GATEHOUSE_OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_endpoint: Option<String>,

    /// OTLP transport: `http/protobuf` or `grpc`.
    #[arg(long, env = "GATEHOUSE_OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/protobuf", value_parser = ["http/protobuf", "grpc"])]
    pub otel_protocol: String,

    /// Basic-auth user for the collector.
    #[arg(long, env = "GATEHOUSE_OTEL_EXPORTER_OTLP_AUTH_USERNAME")]
    pub otel_username: Option<String>,

    /// Basic-auth password for the collector.
    #[arg(
        long,
        env = "GATEHOUSE_OTEL_EXPORTER_OTLP_AUTH_PASSWORD",
        hide_env_values = true
    )]
    pub otel_password: Option<SecretString>,

    /// Bearer token for the collector (takes precedence over basic auth).
    #[arg(
        long,
        env = "GATEHOUSE_OTEL_EXPORTER_OTLP_AUTH_BEARER",
        hide_env_values = true
    )]
    pub otel_bearer: Option<SecretString>,

    /// Put prompts (the request's messages, up to 16 KiB) on spans.
    #[arg(long, env = "GATEHOUSE_OTEL_CAPTURE_CONTENT", default_value_t = false)]
    pub otel_capture_content: bool,

    /// Log format: `text` or `json` (one JSON object per line).
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Log filter (`info`, `debug`, `data_plane=debug`, …).
    #[arg(long, env = "GATEHOUSE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

impl Settings {
    pub fn sync_settings(&self) -> crate::config::SyncSettings {
        crate::config::SyncSettings {
            max_staleness: self.max_staleness,
            negative_ttl: Duration::from_secs(self.config_negative_ttl_secs),
            resync_interval: Duration::from_secs(self.config_resync_secs.max(1)),
            watch_idle: Duration::from_secs(self.config_watch_idle_secs.max(1)),
        }
    }

    pub fn sink_settings(&self) -> crate::records::SinkSettings {
        crate::records::SinkSettings {
            capacity: self.usage_queue_capacity.max(1),
            batch_size: self.usage_batch_size.max(1),
            flush_interval: self.usage_flush_interval,
            body_budget: usize::try_from(self.usage_queue_body_bytes.as_u64())
                .unwrap_or(usize::MAX),
            ..crate::records::SinkSettings::default()
        }
    }

    /// The trace exporter's settings, when an endpoint is configured.
    pub fn trace_settings(&self) -> Option<crate::telemetry::TraceSettings> {
        let endpoint = self.otel_endpoint.clone().filter(|e| !e.is_empty())?;
        Some(crate::telemetry::TraceSettings {
            endpoint,
            protocol: if self.otel_protocol == "grpc" {
                crate::telemetry::OtlpProtocol::Grpc
            } else {
                crate::telemetry::OtlpProtocol::HttpProtobuf
            },
            username: self.otel_username.clone(),
            password: self.otel_password.clone(),
            bearer: self.otel_bearer.clone(),
            capture_content: self.otel_capture_content,
        })
    }

    /// What the proxy needs to shape upstream requests.
    pub fn upstream_options(&self) -> UpstreamOptions {
        UpstreamOptions {
            total_timeout: self.upstream_timeout,
            idle_timeout: self.upstream_idle_timeout,
            azure_api_version: self.azure_api_version.clone(),
            openrouter_referer: self.openrouter_referer.clone(),
            openrouter_title: Some(self.openrouter_title.clone()).filter(|t| !t.is_empty()),
            bedrock_models: llm::bedrock::ModelFilter {
                providers: clean_list(&self.bedrock_allowed_providers),
                inference_regions: clean_list(&self.bedrock_allowed_inference_regions),
            },
        }
    }
}

/// Gemini on Vertex AI, as configured.
#[derive(Debug, Clone)]
pub struct VertexSettings {
    pub project: String,
    pub location: String,
    pub credentials_file: String,
    pub base_url: String,
}

impl Settings {
    /// Vertex AI settings when enabled; an error names what is missing.
    pub fn vertex(&self) -> Result<Option<VertexSettings>, String> {
        if !self.gemini_vertex_ai_enabled {
            return Ok(None);
        }
        let project = self
            .gemini_vertex_ai_project
            .clone()
            .ok_or("GATEHOUSE_GEMINI_VERTEX_AI_PROJECT is required with Vertex AI")?;
        let credentials_file = self
            .gemini_vertex_ai_credentials_file
            .clone()
            .or_else(|| std::env::var("GOOGLE_APPLICATION_CREDENTIALS").ok())
            .ok_or(
                "GATEHOUSE_GEMINI_VERTEX_AI_CREDENTIALS_FILE (or GOOGLE_APPLICATION_CREDENTIALS) \
                 is required with Vertex AI",
            )?;
        let location = self.gemini_vertex_ai_location.clone();
        let base_url = self.gemini_vertex_ai_base_url.clone().unwrap_or_else(|| {
            if location == "global" {
                "https://aiplatform.googleapis.com".to_owned()
            } else {
                format!("https://{location}-aiplatform.googleapis.com")
            }
        });
        Ok(Some(VertexSettings {
            project,
            location,
            credentials_file,
            base_url,
        }))
    }

    /// The Bedrock region: `GATEHOUSE_BEDROCK_REGION`, else `AWS_REGION`, else us-east-1.
    pub fn bedrock_region(&self) -> String {
        self.bedrock_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_owned())
    }

    /// Entra ID client credentials for Azure, when all three parts are set.
    pub fn azure_entra(&self) -> Result<Option<(String, String, SecretString)>, String> {
        match (
            &self.azure_tenant_id,
            &self.azure_client_id,
            &self.azure_client_secret,
        ) {
            (Some(t), Some(c), Some(s)) => Ok(Some((t.clone(), c.clone(), s.clone()))),
            (None, None, None) => Ok(None),
            _ => Err("GATEHOUSE_AZURE_TENANT_ID, GATEHOUSE_AZURE_CLIENT_ID and \
                      GATEHOUSE_AZURE_CLIENT_SECRET must be set together"
                .to_owned()),
        }
    }
}

/// How upstream requests are shaped and bounded.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    pub total_timeout: Duration,
    pub idle_timeout: Duration,
    pub azure_api_version: String,
    pub openrouter_referer: Option<String>,
    pub openrouter_title: Option<String>,
    /// The Bedrock models served.
    pub bedrock_models: llm::bedrock::ModelFilter,
}

/// A comma-separated list without blanks.
fn clean_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            total_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(300),
            azure_api_version: "2024-10-21".into(),
            openrouter_referer: None,
            openrouter_title: Some("Gatehouse".into()),
            bedrock_models: llm::bedrock::ModelFilter::default(),
        }
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
        let s = Settings::try_parse_from(["dp", "--internal-token-secret", "t"]).unwrap();
        assert_eq!(s.proxy_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.api_body_limit, ByteSize::mb(50));
        let sync = s.sync_settings();
        assert_eq!(sync.max_staleness, Duration::from_secs(15 * 60));
        assert_eq!(sync.resync_interval, Duration::from_secs(10));
        let s = Settings::try_parse_from([
            "dp",
            "--internal-token-secret",
            "t",
            "--max-staleness",
            "90s",
        ])
        .unwrap();
        assert_eq!(s.max_staleness, Duration::from_secs(90));
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
