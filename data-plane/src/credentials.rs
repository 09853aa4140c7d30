//! Server-side credentials: where Gatehouse authenticates to a provider itself instead of
//! forwarding a client's or a provider key's secret.
//!
//! - Gemini on Vertex AI: a Google service-account key file → a signed JWT (RS256) →
//!   an OAuth access token from the key's `token_uri`.
//! - Azure OpenAI with Entra ID: client credentials (tenant, client id, secret) → an access
//!   token for `https://cognitiveservices.azure.com/.default`.
//! - Bedrock with a server-side Bedrock API key (a bearer token), or AWS SigV4 with
//!   credentials from the standard chain (environment, web identity / IRSA, …).
//!
//! Tokens are cached and refreshed ahead of expiry: a request that finds the token in its
//! last minutes starts one background refresh and still uses the current token; only the
//! very first request (or one after a failed refresh let the token expire) waits.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

/// Refresh a token when less than this much of its life is left.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// Why no upstream credential could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("reading the service-account key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the service-account key file is not a Google service-account key: {0}")]
    KeyFormat(String),
    #[error("signing the token request: {0}")]
    Sign(String),
    #[error("token endpoint unreachable: {0}")]
    Unreachable(String),
    #[error("token endpoint refused the request with status {0}")]
    Refused(u16),
}

/// An OAuth access token and when it stops being valid.
#[derive(Clone)]
struct Cached {
    token: Arc<SecretString>,
    expires_at: Instant,
}

/// How a token is obtained.
enum Grant {
    /// Google: a JWT signed with the service account's key (RFC 7523).
    ServiceAccount(ServiceAccountKey),
    /// Entra ID: the client-credentials grant.
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: &'static str,
    },
}

/// The fields of a Google service-account key file Gatehouse uses.
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: SecretString,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default = "default_lifetime")]
    expires_in: u64,
}

fn default_lifetime() -> u64 {
    3600
}

/// A cached OAuth token for one upstream.
pub struct TokenSource {
    grant: Grant,
    http: reqwest::Client,
    cached: RwLock<Option<Cached>>,
    /// Held while a refresh is under way: one at a time.
    refreshing: Arc<Mutex<()>>,
}

const VERTEX_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const AZURE_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

impl TokenSource {
    fn new(grant: Grant) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            grant,
            http,
            cached: RwLock::new(None),
            refreshing: Arc::new(Mutex::new(())),
        })
    }

    /// Google service-account credentials from a key file (the JSON Google issues).
    pub fn service_account(path: &str) -> Result<Arc<Self>, CredentialError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        let key: ServiceAccountKey =
            serde_json::from_str(&text).map_err(|e| CredentialError::KeyFormat(e.to_string()))?;
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|e| CredentialError::KeyFormat(format!("private_key: {e}")))?;
        Ok(Self::new(Grant::ServiceAccount(key)))
    }

    /// Entra ID client credentials for Azure OpenAI; `authority` is
    /// `https://login.microsoftonline.com` outside sovereign clouds.
    pub fn entra_client(
        authority: &str,
        tenant: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> Arc<Self> {
        Self::new(Grant::ClientCredentials {
            token_url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            client_id: client_id.to_owned(),
            client_secret,
            scope: AZURE_SCOPE,
        })
    }

    /// A valid access token, fetching or refreshing it as needed.
    pub async fn token(self: &Arc<Self>) -> Result<Arc<SecretString>, CredentialError> {
        let now = Instant::now();
        let current = self.cached.read().ok().and_then(|c| c.clone());
        match current {
            Some(c) if c.expires_at > now + REFRESH_AHEAD => Ok(c.token),
            Some(c) if c.expires_at > now => {
                // Still valid: refresh in the background, once, and use this one.
                if let Ok(guard) = self.refreshing.clone().try_lock_owned() {
                    let this = self.clone();
                    tokio::spawn(async move {
                        let _guard = guard;
                        if let Err(e) = this.refresh().await {
                            tracing::warn!(error = %e, "refreshing an upstream token failed");
                        }
                    });
                }
                Ok(c.token)
            }
            _ => {
                let _guard = self.refreshing.lock().await;
                // Another request may have fetched it while this one waited.
                if let Some(c) = self.cached.read().ok().and_then(|c| c.clone()) {
                    if c.expires_at > Instant::now() + REFRESH_AHEAD {
                        return Ok(c.token);
                    }
                }
                self.refresh().await
            }
        }
    }

    async fn refresh(&self) -> Result<Arc<SecretString>, CredentialError> {
        let request = match &self.grant {
            Grant::ServiceAccount(key) => {
                let assertion = sign_assertion(key)?;
                self.http.post(&key.token_uri).form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ])
            }
            Grant::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => self.http.post(token_url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose_secret()),
                ("scope", scope),
            ]),
        };
        let response = request
            .send()
            .await
            .map_err(|e| CredentialError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(CredentialError::Refused(response.status().as_u16()));
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| CredentialError::Unreachable(e.without_url().to_string()))?;
        let token = Arc::new(body.access_token);
        let cached = Cached {
            token: token.clone(),
            expires_at: Instant::now() + Duration::from_secs(body.expires_in),
        };
        if let Ok(mut slot) = self.cached.write() {
            *slot = Some(cached);
        }
        Ok(token)
    }
}

/// The RS256 JWT a service account presents for an access token.
fn sign_assertion(key: &ServiceAccountKey) -> Result<String, CredentialError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        scope: &'a str,
        aud: &'a str,
        iat: u64,
        exp: u64,
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let claims = Claims {
        iss: &key.client_email,
        scope: VERTEX_SCOPE,
        aud: &key.token_uri,
        iat: now,
        exp: now + 3600,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let encoding =
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|e| CredentialError::Sign(e.to_string()))?;
    jsonwebtoken::encode(&header, &claims, &encoding)
        .map_err(|e| CredentialError::Sign(e.to_string()))
}

/// Gemini on Vertex AI: where requests go and the token that authenticates them.
pub struct Vertex {
    pub tokens: Arc<TokenSource>,
    pub project: String,
    pub location: String,
    pub base: llm::upstream::BaseUrl,
}

impl Vertex {
    /// The Vertex AI path for a Gemini API call: `/v1/projects/{p}/locations/{l}/
    /// publishers/google/models/{model}:{method}`.
    pub fn path(&self, model: &str, streaming: bool) -> String {
        let method = if streaming {
            "streamGenerateContent"
        } else {
            "generateContent"
        };
        format!(
            "/v1/projects/{}/locations/{}/publishers/google/models/{model}:{method}",
            self.project, self.location
        )
    }
}

/// Gatehouse's own credentials for providers, where configured. A request whose virtual
/// key maps the provider to a provider key uses that key; any other request to a covered
/// provider is authenticated with these, and whatever key the client sent is not
/// forwarded.
#[derive(Default)]
pub struct ServerCredentials {
    pub vertex: Option<Vertex>,
    pub azure: Option<Arc<TokenSource>>,
    pub bedrock_api_key: Option<SecretString>,
    /// Bedrock signed with SigV4 (when no API key is configured).
    pub bedrock_sigv4: Option<SigV4>,
}

impl ServerCredentials {
    /// Whether Gatehouse authenticates to `provider` itself.
    pub fn covers(&self, provider: api_types::Provider) -> bool {
        use api_types::Provider;
        match provider {
            Provider::Gemini => self.vertex.is_some(),
            Provider::Azure => self.azure.is_some(),
            Provider::Bedrock => self.bedrock_api_key.is_some() || self.bedrock_sigv4.is_some(),
            _ => false,
        }
    }

    /// The `Authorization` value for `provider`, fetching a token if needed.
    pub async fn authorization(
        &self,
        provider: api_types::Provider,
    ) -> Result<Option<http::HeaderValue>, CredentialError> {
        use api_types::Provider;
        let bearer = |secret: &str| {
            let mut value = http::HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|e| CredentialError::KeyFormat(format!("not a header value: {e}")))?;
            value.set_sensitive(true);
            Ok(Some(value))
        };
        match provider {
            Provider::Gemini => match &self.vertex {
                Some(v) => bearer(v.tokens.token().await?.expose_secret()),
                None => Ok(None),
            },
            Provider::Azure => match &self.azure {
                Some(tokens) => bearer(tokens.token().await?.expose_secret()),
                None => Ok(None),
            },
            Provider::Bedrock => match &self.bedrock_api_key {
                Some(key) => bearer(key.expose_secret()),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

/// AWS SigV4 for Bedrock with credentials from the standard chain (environment, shared
/// config, web identity / IRSA, ECS, IMDS), via `aws-config`; signed with `aws-sigv4`.
pub struct SigV4 {
    pub region: String,
    chain:
        tokio::sync::OnceCell<aws_config::default_provider::credentials::DefaultCredentialsChain>,
    cached: RwLock<Option<aws_credential_types::Credentials>>,
}

impl SigV4 {
    pub fn new(region: String) -> Self {
        Self {
            region,
            chain: tokio::sync::OnceCell::new(),
            cached: RwLock::new(None),
        }
    }

    /// Current credentials: cached until five minutes before they expire (static
    /// credentials never do).
    async fn credentials(&self) -> Result<aws_credential_types::Credentials, CredentialError> {
        use aws_credential_types::provider::ProvideCredentials;
        let fresh = |c: &aws_credential_types::Credentials| {
            c.expiry()
                .is_none_or(|at| at > std::time::SystemTime::now() + REFRESH_AHEAD)
        };
        if let Some(c) = self.cached.read().ok().and_then(|c| c.clone()) {
            if fresh(&c) {
                return Ok(c);
            }
        }
        let chain = self
            .chain
            .get_or_init(|| async {
                // The chain's own HTTP calls (STS for web identity, ECS, IMDS) use rustls
                // with ring, the one crypto provider every other Gatehouse client uses.
                use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(Provider::Rustls(CryptoMode::Ring))
                    .build_https();
                let config = aws_config::provider_config::ProviderConfig::default()
                    .with_http_client(http)
                    .with_region(Some(aws_config::Region::new(self.region.clone())));
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .configure(config)
                    .build()
                    .await
            })
            .await;
        let credentials = chain
            .provide_credentials()
            .await
            .map_err(|e| CredentialError::Unreachable(format!("AWS credentials: {e}")))?;
        if let Ok(mut slot) = self.cached.write() {
            *slot = Some(credentials.clone());
        }
        Ok(credentials)
    }

    /// The headers that sign a Bedrock request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` for temporary credentials).
    pub async fn sign(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CredentialError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let credentials = self.credentials().await?;
        let identity = aws_smithy_runtime_api::client::identity::Identity::from(credentials);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("bedrock")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CredentialError::Sign(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| CredentialError::Sign(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| CredentialError::Sign(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}
