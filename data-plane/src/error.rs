//! The one place data-plane errors become responses, in the client's provider format
//! (OpenAI's `{"error":{…}}`, Anthropic's `{"type":"error",…}`, Gemini's, Bedrock's,
//! Cohere's), so each SDK raises its usual exception.

use bytes::Bytes;
use llm::dialect::{error_response, Dialect, ErrorKind};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::config::ConfigError;

/// Every way the gateway itself refuses or fails a request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    UnknownRoute(llm::route::RouteError),
    #[error("method {method} is not allowed here; use {allowed}")]
    MethodNotAllowed {
        method: String,
        allowed: http::Method,
    },
    #[error("profile `{0}` does not exist")]
    UnknownProfile(String),
    #[error("invalid virtual key")]
    InvalidVirtualKey,
    #[error("the virtual key has expired")]
    ExpiredVirtualKey,
    #[error("the virtual key does not belong to profile `{0}`")]
    WrongProfile(String),
    #[error("the virtual key has no provider key for {0}")]
    NoProviderKey(api_types::Provider),
    #[error("this profile requires a Gatehouse virtual key")]
    VirtualKeyRequired,
    #[error("model `{0}` is not allowed for this profile or key")]
    ModelNotAllowed(String),
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("{0}")]
    InvalidBody(llm::request::RequestError),
    #[error("configuration is temporarily unavailable")]
    ConfigUnavailable(ConfigError),
    #[error("the upstream base URL is invalid")]
    UpstreamMisconfigured(llm::upstream::BaseUrlError),
    #[error("upstream provider unreachable")]
    UpstreamUnreachable(String),
    #[error("upstream provider did not answer in time")]
    UpstreamTimeout(String),
    #[error("the upstream stream broke before it finished")]
    StreamBroken(String),
    #[error("could not obtain credentials for the upstream provider")]
    UpstreamCredentials(crate::credentials::CredentialError),
    #[error("{}", limit_message(limit))]
    LimitReached {
        limit: std::sync::Arc<api_types::Limit>,
        /// Seconds until it resets, when known.
        retry_after: Option<u64>,
    },
    #[error("usage limits cannot be checked right now")]
    LimitUnavailable(ConfigError),
}

/// `usage limit 0192… reached: 10 cost_usd per day (organization)`.
fn limit_message(limit: &api_types::Limit) -> String {
    let model = limit
        .model
        .as_deref()
        .map(|m| format!(" for model {m}"))
        .unwrap_or_default();
    let window = if limit.rolling {
        format!("per rolling {}", limit.window.as_str())
    } else {
        format!("per {}", limit.window.as_str())
    };
    format!(
        "usage limit {} reached: {} {} {window}{model} ({})",
        limit.id,
        limit.max,
        limit.metric.as_str(),
        limit.scope.as_str()
    )
}

impl ProxyError {
    /// Status, kind and code.
    fn classify(&self) -> (u16, ErrorKind, &'static str) {
        match self {
            ProxyError::UnknownRoute(_) => (404, ErrorKind::NotFound, "unknown_url"),
            ProxyError::MethodNotAllowed { .. } => {
                (405, ErrorKind::InvalidRequest, "method_not_allowed")
            }
            ProxyError::UnknownProfile(_) => (404, ErrorKind::NotFound, "profile_not_found"),
            ProxyError::InvalidVirtualKey => (401, ErrorKind::Authentication, "invalid_api_key"),
            ProxyError::ExpiredVirtualKey => (401, ErrorKind::Authentication, "expired_api_key"),
            ProxyError::WrongProfile(_) => (403, ErrorKind::Permission, "profile_mismatch"),
            ProxyError::NoProviderKey(_) => (403, ErrorKind::Permission, "provider_not_allowed"),
            ProxyError::VirtualKeyRequired => {
                (401, ErrorKind::Authentication, "virtual_key_required")
            }
            ProxyError::ModelNotAllowed(_) => (403, ErrorKind::Permission, "model_not_allowed"),
            ProxyError::BodyTooLarge { .. } => (413, ErrorKind::TooLarge, "request_too_large"),
            ProxyError::InvalidBody(_) => (400, ErrorKind::InvalidRequest, "invalid_json"),
            ProxyError::ConfigUnavailable(_) => (503, ErrorKind::Unavailable, "config_unavailable"),
            ProxyError::UpstreamMisconfigured(_) => {
                (502, ErrorKind::BadGateway, "upstream_misconfigured")
            }
            ProxyError::UpstreamUnreachable(_) => {
                (502, ErrorKind::BadGateway, "upstream_unreachable")
            }
            ProxyError::UpstreamTimeout(_) => (504, ErrorKind::Timeout, "upstream_timeout"),
            ProxyError::StreamBroken(_) => (502, ErrorKind::BadGateway, "upstream_stream_broken"),
            ProxyError::UpstreamCredentials(_) => (
                502,
                ErrorKind::BadGateway,
                "upstream_credentials_unavailable",
            ),
            ProxyError::LimitReached { limit, .. } if crate::budget::is_rate(limit) => {
                (429, ErrorKind::RateLimit, "rate_limit_exceeded")
            }
            ProxyError::LimitReached { .. } => (402, ErrorKind::BudgetExhausted, "budget_exceeded"),
            ProxyError::LimitUnavailable(_) => (503, ErrorKind::Unavailable, "limits_unavailable"),
        }
    }

    /// The error's code (`budget_exceeded`, `upstream_timeout`, …), as the client sees it.
    pub fn code(&self) -> &'static str {
        self.classify().2
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        self.classify().0
    }

    /// Logs the detail that must not reach the client (once, here).
    fn log(&self) {
        match self {
            ProxyError::ConfigUnavailable(e) => tracing::warn!(error = %e, "config fetch failed"),
            ProxyError::UpstreamMisconfigured(e) => tracing::warn!(error = %e, "bad upstream"),
            ProxyError::UpstreamUnreachable(e) => {
                tracing::warn!(error = %e, "upstream unreachable")
            }
            ProxyError::UpstreamTimeout(e) => tracing::warn!(error = %e, "upstream timed out"),
            ProxyError::StreamBroken(e) => tracing::warn!(error = %e, "upstream stream broke"),
            ProxyError::UpstreamCredentials(e) => {
                tracing::warn!(error = %e, "no upstream credentials")
            }
            ProxyError::LimitUnavailable(e) => {
                tracing::warn!(error = %e, "could not get budget from the control plane")
            }
            ProxyError::LimitReached { limit, .. } => {
                tracing::info!(limit = %limit.id, "request refused by a usage limit")
            }
            ProxyError::UnknownRoute(_)
            | ProxyError::MethodNotAllowed { .. }
            | ProxyError::UnknownProfile(_)
            | ProxyError::InvalidVirtualKey
            | ProxyError::ExpiredVirtualKey
            | ProxyError::WrongProfile(_)
            | ProxyError::NoProviderKey(_)
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::InvalidBody(_)
            | ProxyError::VirtualKeyRequired
            | ProxyError::ModelNotAllowed(_) => {}
        }
    }

    /// The error written in `dialect`: body, content type and headers.
    pub fn render(&self, dialect: Dialect) -> llm::dialect::ErrorResponse {
        let (status, kind, code) = self.classify();
        error_response(dialect, status, kind, code, &self.to_string())
    }

    /// Writes the error response in the client's `dialect`.
    pub async fn respond(&self, session: &mut Session, dialect: Dialect) -> pingora::Result<()> {
        self.log();
        let rendered = self.render(dialect);
        let mut header = ResponseHeader::build(self.status(), Some(4))?;
        header.insert_header("content-type", rendered.content_type)?;
        header.insert_header("content-length", rendered.body.len().to_string())?;
        for (name, value) in rendered.headers {
            header.insert_header(name, value)?;
        }
        if let ProxyError::LimitReached {
            retry_after: Some(secs),
            limit,
        } = self
        {
            if crate::budget::is_rate(limit) {
                header.insert_header("retry-after", (*secs).max(1).to_string())?;
            }
        }
        session
            .write_response_header(Box::new(header), false)
            .await?;
        session.write_response_body(Some(rendered.body), true).await
    }
}

/// Writes a complete JSON response.
pub async fn write_json(session: &mut Session, status: u16, body: Bytes) -> pingora::Result<()> {
    let mut header = ResponseHeader::build(status, Some(3))?;
    header.insert_header("content-type", "application/json")?;
    header.insert_header("content-length", body.len().to_string())?;
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session.write_response_body(Some(body), true).await
}
