//! The one place data-plane errors become responses, in the client's provider format
//! (OpenAI's `{"error":{…}}` for every route served today).

use bytes::Bytes;
use llm::openai::{error_body, ErrorType};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::config::ConfigError;

/// Every way the gateway itself refuses or fails a request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    UnknownRoute(llm::route::RouteError),
    #[error("method {0} is not allowed here; use POST")]
    MethodNotAllowed(String),
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
    InvalidBody(llm::openai::RequestError),
    #[error("configuration is temporarily unavailable")]
    ConfigUnavailable(ConfigError),
    #[error("the upstream base URL is invalid")]
    UpstreamMisconfigured(llm::upstream::BaseUrlError),
    #[error("upstream provider unreachable")]
    UpstreamUnreachable(String),
    #[error("upstream provider did not answer in time")]
    UpstreamTimeout(String),
}

impl ProxyError {
    /// Status, OpenAI error type and code.
    fn classify(&self) -> (u16, ErrorType, &'static str) {
        match self {
            ProxyError::UnknownRoute(_) => (404, ErrorType::InvalidRequest, "unknown_url"),
            ProxyError::MethodNotAllowed(_) => {
                (405, ErrorType::InvalidRequest, "method_not_allowed")
            }
            ProxyError::UnknownProfile(_) => (404, ErrorType::NotFound, "profile_not_found"),
            ProxyError::InvalidVirtualKey => (401, ErrorType::Authentication, "invalid_api_key"),
            ProxyError::ExpiredVirtualKey => (401, ErrorType::Authentication, "expired_api_key"),
            ProxyError::WrongProfile(_) => (403, ErrorType::Permission, "profile_mismatch"),
            ProxyError::NoProviderKey(_) => (403, ErrorType::Permission, "provider_not_allowed"),
            ProxyError::VirtualKeyRequired => {
                (401, ErrorType::Authentication, "virtual_key_required")
            }
            ProxyError::ModelNotAllowed(_) => (403, ErrorType::Permission, "model_not_allowed"),
            ProxyError::BodyTooLarge { .. } => {
                (413, ErrorType::InvalidRequest, "request_too_large")
            }
            ProxyError::InvalidBody(_) => (400, ErrorType::InvalidRequest, "invalid_json"),
            ProxyError::ConfigUnavailable(_) => (503, ErrorType::Server, "config_unavailable"),
            ProxyError::UpstreamMisconfigured(_) => {
                (502, ErrorType::Server, "upstream_misconfigured")
            }
            ProxyError::UpstreamUnreachable(_) => (502, ErrorType::Server, "upstream_unreachable"),
            ProxyError::UpstreamTimeout(_) => (504, ErrorType::Server, "upstream_timeout"),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        self.classify().0
    }

    /// Writes the error response; logs the detail that must not reach the client.
    pub async fn respond(&self, session: &mut Session) -> pingora::Result<()> {
        match self {
            ProxyError::ConfigUnavailable(e) => tracing::warn!(error = %e, "config fetch failed"),
            ProxyError::UpstreamMisconfigured(e) => tracing::warn!(error = %e, "bad upstream"),
            ProxyError::UpstreamUnreachable(e) => {
                tracing::warn!(error = %e, "upstream unreachable")
            }
            ProxyError::UpstreamTimeout(e) => tracing::warn!(error = %e, "upstream timed out"),
            ProxyError::UnknownRoute(_)
            | ProxyError::MethodNotAllowed(_)
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
        let (status, error_type, code) = self.classify();
        let body = error_body(&self.to_string(), error_type, code);
        write_json(session, status, body).await
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
