//! Upstream base URLs: each provider's public default and the parsed form the proxy dials.

use api_types::Provider;

/// The provider's public API base URL.
pub fn default_base_url(provider: Provider) -> &'static str {
    match provider {
        Provider::Openai => "https://api.openai.com/v1",
        Provider::Anthropic => "https://api.anthropic.com",
        Provider::Gemini => "https://generativelanguage.googleapis.com",
        // Azure OpenAI has no shared endpoint: every resource has its own host, so this
        // placeholder must be replaced by GATEHOUSE_AZURE_BASE_URL or a key's base_url.
        Provider::Azure => "https://your-resource.openai.azure.com/openai",
        Provider::Bedrock => "https://bedrock-runtime.us-east-1.amazonaws.com",
        Provider::Cohere => "https://api.cohere.com",
        Provider::Groq => "https://api.groq.com/openai/v1",
        Provider::Mistral => "https://api.mistral.ai/v1",
        Provider::Xai => "https://api.x.ai/v1",
        Provider::Openrouter => "https://openrouter.ai/api/v1",
        Provider::Cerebras => "https://api.cerebras.ai/v1",
        // Self-hosted servers: their usual local addresses.
        Provider::Vllm => "http://localhost:8000/v1",
        Provider::Ollama => "http://localhost:11434/v1",
        Provider::Zhipuai => "https://open.bigmodel.cn/api/paas/v4",
        Provider::Perplexity => "https://api.perplexity.ai",
        Provider::Minimax => "https://api.minimax.io/v1",
        Provider::Deepseek => "https://api.deepseek.com/v1",
    }
}

/// How a provider expects its API key upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in a provider-specific header.
    Header(&'static str),
}

impl AuthScheme {
    pub fn of(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => AuthScheme::Header("x-api-key"),
            Provider::Gemini => AuthScheme::Header("x-goog-api-key"),
            Provider::Azure => AuthScheme::Header("api-key"),
            Provider::Openai
            | Provider::Bedrock
            | Provider::Cohere
            | Provider::Groq
            | Provider::Mistral
            | Provider::Xai
            | Provider::Openrouter
            | Provider::Cerebras
            | Provider::Vllm
            | Provider::Ollama
            | Provider::Zhipuai
            | Provider::Perplexity
            | Provider::Minimax
            | Provider::Deepseek => AuthScheme::Bearer,
        }
    }

    /// The header name it uses.
    pub fn header(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "authorization",
            AuthScheme::Header(name) => name,
        }
    }
}

/// The environment variable overriding a provider's base URL (`GATEHOUSE_OPENAI_BASE_URL`).
pub fn base_url_env(provider: Provider) -> String {
    format!(
        "GATEHOUSE_{}_BASE_URL",
        provider.as_str().to_ascii_uppercase()
    )
}

/// A base URL split into what the proxy needs to dial and rewrite.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash (`/v1`, or empty).
    pub path: String,
}

/// Why a base URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream base URL `{url}`: {reason}")]
pub struct BaseUrlError {
    pub url: String,
    pub reason: &'static str,
}

impl BaseUrl {
    /// Parses `http(s)://host[:port][/path]` (with the `url` crate's WHATWG parser).
    pub fn parse(url: &str) -> Result<Self, BaseUrlError> {
        let err = |reason| BaseUrlError {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|_| err("not an absolute URL"))?;
        let tls = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(err("scheme must be http or https")),
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(err("must not contain a query or fragment"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(err("must not contain credentials"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(err("host is empty")),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| err("no port"))?;
        let path = parsed.path().trim_end_matches('/').to_owned();
        Ok(Self {
            tls,
            host,
            port,
            path,
        })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let default_port = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_overrides() {
        let openai = BaseUrl::parse(default_base_url(Provider::Openai)).unwrap();
        assert_eq!(
            openai,
            BaseUrl {
                tls: true,
                host: "api.openai.com".into(),
                port: 443,
                path: "/v1".into()
            }
        );
        assert_eq!(openai.authority(), "api.openai.com");
        let local = BaseUrl::parse("http://127.0.0.1:8081/v1/").unwrap();
        assert_eq!(
            (local.tls, local.port, local.path.as_str()),
            (false, 8081, "/v1")
        );
        assert_eq!(local.authority(), "127.0.0.1:8081");
        let v6 = BaseUrl::parse("http://[::1]:9/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9));
        assert_eq!(base_url_env(Provider::Openai), "GATEHOUSE_OPENAI_BASE_URL");
    }

    #[test]
    fn every_default_parses() {
        for p in Provider::ALL {
            BaseUrl::parse(default_base_url(p)).unwrap();
        }
    }

    #[test]
    fn rejects_what_it_cannot_dial() {
        for bad in [
            "ftp://x",
            "https://",
            "http://h:port",
            "https://u@h/",
            "https://h/?q",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
