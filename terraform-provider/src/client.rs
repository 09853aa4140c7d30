//! A thin client of the control plane's REST API; errors become Terraform diagnostics.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::{AttributePath, Diagnostics};

/// An API call that failed; never carries a secret (request bodies are not echoed).
#[derive(Debug)]
pub enum ApiError {
    /// The request did not get an answer.
    Transport(String),
    /// The API answered an error status with a problem+json `detail`.
    Status { status: StatusCode, detail: String },
    /// The answer was not the expected JSON.
    Decode(String),
}

impl ApiError {
    /// Records the error as a diagnostic on the whole resource.
    pub fn report(&self, diags: &mut Diagnostics, action: &str) {
        let (summary, detail) = match self {
            ApiError::Transport(e) => (format!("{action}: Gatehouse API unreachable"), e.clone()),
            ApiError::Status { status, detail } => match status.as_u16() {
                412 => (
                    format!("{action}: changed outside Terraform"),
                    format!(
                        "The object was modified after Terraform last read it ({detail}). \
                         Run `terraform plan` again to see the change, then apply."
                    ),
                ),
                403 => (
                    format!("{action}: permission denied"),
                    format!(
                        "The API key the provider uses may not do this: its role or team \
                         scope does not allow it ({detail})."
                    ),
                ),
                409 => (format!("{action}: conflict"), detail.clone()),
                _ => (
                    format!("{action}: Gatehouse API answered {status}"),
                    detail.clone(),
                ),
            },
            ApiError::Decode(e) => (
                format!("{action}: unexpected answer from Gatehouse API"),
                e.clone(),
            ),
        };
        diags.error(summary, detail, AttributePath::root());
    }
}

/// Base URL and admin key, set once the provider is configured.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

impl Api {
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!(
                "terraform-provider-gatehouse/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    /// Sends a request; `Ok(None)` on 404.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<Option<T>, ApiError> {
        self.call_if_match(method, path, body, None).await
    }

    /// Sends a request with `If-Match: "<version>"` when a version is given, so an object
    /// changed since it was read is refused (412) rather than overwritten.
    pub async fn call_if_match<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
        version: Option<i64>,
    ) -> Result<Option<T>, ApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key);
        if let Some(version) = version {
            request = request.header("if-match", format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            // The problem's detail, and each field the API named with its reason.
            let detail = match response.json::<api_types::Problem>().await {
                Ok(problem) => {
                    let mut text = problem.detail.unwrap_or(problem.title);
                    for param in problem.invalid_params {
                        text.push_str(&format!("\n- {}: {}", param.name, param.reason));
                    }
                    text
                }
                Err(_) => status.to_string(),
            };
            return Err(ApiError::Status { status, detail });
        }
        if status == StatusCode::NO_CONTENT {
            return serde_json::from_str("null")
                .map(Some)
                .map_err(|e| ApiError::Decode(e.to_string()));
        }
        response
            .json::<T>()
            .await
            .map(Some)
            .map_err(|e| ApiError::Decode(e.to_string()))
    }
}
