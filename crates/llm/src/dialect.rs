//! The wire dialect a provider speaks, and Gatehouse's own errors written in it, so every
//! SDK raises its usual exception for a refusal or an upstream fault.

use api_types::Provider;
use bytes::Bytes;

/// The API family a provider's native routes speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI and every OpenAI-compatible provider (Azure included).
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}

impl Dialect {
    pub fn of(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => Dialect::Anthropic,
            Provider::Gemini => Dialect::Gemini,
            Provider::Bedrock => Dialect::Bedrock,
            Provider::Cohere => Dialect::Cohere,
            Provider::Openai
            | Provider::Azure
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
            | Provider::Deepseek => Dialect::OpenAi,
        }
    }
}

/// Whether an OpenAI-compatible provider reports stream usage only when asked
/// (`stream_options.include_usage`) and accepts being asked. Mistral, Perplexity, Zhipu AI
/// and MiniMax put usage in their last chunk unasked, and some refuse unknown fields, so
/// they are not asked.
pub fn asks_for_stream_usage(provider: Provider) -> bool {
    match provider {
        Provider::Openai
        | Provider::Azure
        | Provider::Groq
        | Provider::Xai
        | Provider::Openrouter
        | Provider::Cerebras
        | Provider::Vllm
        | Provider::Ollama
        | Provider::Deepseek => true,
        Provider::Mistral
        | Provider::Perplexity
        | Provider::Zhipuai
        | Provider::Minimax
        | Provider::Anthropic
        | Provider::Gemini
        | Provider::Bedrock
        | Provider::Cohere => false,
    }
}

/// What kind of failure an error reports, independent of the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    TooLarge,
    RateLimit,
    /// A spending budget is used up (HTTP 402).
    BudgetExhausted,
    /// The gateway or the upstream failed.
    Server,
    /// The upstream could not be reached or answered garbage.
    BadGateway,
    Timeout,
    /// The gateway cannot serve right now (configuration unavailable).
    Unavailable,
}

/// An error response in a dialect: body, content type and any extra headers its SDKs read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub body: Bytes,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
}

/// Writes `message` as `dialect`'s error body for `status`.
pub fn error_response(
    dialect: Dialect,
    status: u16,
    kind: ErrorKind,
    code: &str,
    message: &str,
) -> ErrorResponse {
    let json = |body: serde_json::Value| Bytes::from(body.to_string());
    match dialect {
        Dialect::OpenAi => ErrorResponse {
            body: crate::openai::error_body(message, crate::openai::ErrorType::from(kind), code),
            content_type: "application/json",
            headers: Vec::new(),
        },
        Dialect::Anthropic => ErrorResponse {
            body: crate::anthropic::error_body(kind, message),
            content_type: "application/json",
            headers: Vec::new(),
        },
        Dialect::Gemini => ErrorResponse {
            body: json(serde_json::json!({"error": {
                "code": status, "message": message, "status": gemini_status(kind),
            }})),
            content_type: "application/json",
            headers: Vec::new(),
        },
        Dialect::Bedrock => {
            // botocore reads the error code from `x-amzn-ErrorType`, the text from `message`.
            let error_type = bedrock_type(kind);
            ErrorResponse {
                body: json(serde_json::json!({"message": message})),
                content_type: "application/json",
                headers: vec![("x-amzn-errortype", error_type)],
            }
        }
        Dialect::Cohere => ErrorResponse {
            body: json(serde_json::json!({"message": message})),
            content_type: "application/json",
            headers: Vec::new(),
        },
    }
}

/// An error written inside a stream whose response has already started (the upstream
/// broke or timed out midway), so the SDK raises instead of returning a truncated reply:
/// an OpenAI `data: {"error":…}` chunk, an Anthropic `error` event, a Gemini error object,
/// a Bedrock exception frame. The connection is cut afterwards as well. `None` where the
/// format has no in-band error (Cohere, JSON bodies): the cut alone reports it.
pub fn stream_error(dialect: Dialect, sse: bool, kind: ErrorKind, message: &str) -> Option<Bytes> {
    // A blank line first ends any event the upstream left half-sent; at an event boundary
    // it is an empty event, which SSE parsers ignore.
    let event = |name: Option<&str>, body: Bytes| {
        let body = String::from_utf8_lossy(&body).into_owned();
        let head = name.map(|n| format!("event: {n}\n")).unwrap_or_default();
        Bytes::from(format!("\n\n{head}data: {body}\n\n"))
    };
    match (dialect, sse) {
        (Dialect::OpenAi, true) => Some(event(
            None,
            crate::openai::error_body(
                message,
                crate::openai::ErrorType::from(kind),
                "upstream_error",
            ),
        )),
        (Dialect::Anthropic, true) => Some(event(
            Some("error"),
            crate::anthropic::error_body(kind, message),
        )),
        (Dialect::Gemini, true) => Some(event(
            None,
            Bytes::from(
                serde_json::json!({"error": {"code": 502, "message": message,
                                              "status": gemini_status(kind)}})
                .to_string(),
            ),
        )),
        (Dialect::Bedrock, false) => {
            let exception = match kind {
                ErrorKind::Timeout => "modelTimeoutException",
                _ => "internalServerException",
            };
            Some(crate::eventstream::exception(exception, message))
        }
        _ => None,
    }
}

/// google.rpc.Code names, as Google APIs put them in `error.status`.
fn gemini_status(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::TooLarge => "INVALID_ARGUMENT",
        ErrorKind::Authentication => "UNAUTHENTICATED",
        ErrorKind::Permission => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimit | ErrorKind::BudgetExhausted => "RESOURCE_EXHAUSTED",
        ErrorKind::Server => "INTERNAL",
        ErrorKind::BadGateway | ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::Timeout => "DEADLINE_EXCEEDED",
    }
}

/// Bedrock Runtime's modeled error shapes (botocore `service-2.json`).
fn bedrock_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::TooLarge => "ValidationException",
        ErrorKind::Authentication | ErrorKind::Permission => "AccessDeniedException",
        ErrorKind::NotFound => "ResourceNotFoundException",
        ErrorKind::RateLimit => "ThrottlingException",
        ErrorKind::BudgetExhausted => "ServiceQuotaExceededException",
        ErrorKind::Server => "InternalServerException",
        ErrorKind::BadGateway | ErrorKind::Unavailable => "ServiceUnavailableException",
        ErrorKind::Timeout => "ModelTimeoutException",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(r: &ErrorResponse) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn each_dialect_writes_its_own_shape() {
        let m = "bad \"thing\"";
        let openai = error_response(Dialect::OpenAi, 401, ErrorKind::Authentication, "c", m);
        assert_eq!(parsed(&openai)["error"]["type"], "authentication_error");
        let anthropic = error_response(Dialect::Anthropic, 404, ErrorKind::NotFound, "c", m);
        assert_eq!(parsed(&anthropic)["type"], "error");
        assert_eq!(parsed(&anthropic)["error"]["type"], "not_found_error");
        assert_eq!(parsed(&anthropic)["error"]["message"], m);
        let gemini = error_response(Dialect::Gemini, 504, ErrorKind::Timeout, "c", m);
        assert_eq!(parsed(&gemini)["error"]["code"], 504);
        assert_eq!(parsed(&gemini)["error"]["status"], "DEADLINE_EXCEEDED");
        let bedrock = error_response(Dialect::Bedrock, 429, ErrorKind::RateLimit, "c", m);
        assert_eq!(
            bedrock.headers,
            [("x-amzn-errortype", "ThrottlingException")]
        );
        assert_eq!(parsed(&bedrock)["message"], m);
        let cohere = error_response(Dialect::Cohere, 400, ErrorKind::InvalidRequest, "c", m);
        assert_eq!(parsed(&cohere)["message"], m);
    }

    #[test]
    fn in_band_stream_errors() {
        let openai = stream_error(Dialect::OpenAi, true, ErrorKind::BadGateway, "cut").unwrap();
        assert!(openai.starts_with(b"\n\ndata: {\"error\":"));
        let anthropic = stream_error(Dialect::Anthropic, true, ErrorKind::Timeout, "t").unwrap();
        assert!(anthropic.starts_with(b"\n\nevent: error\ndata: {"));
        let bedrock = stream_error(Dialect::Bedrock, false, ErrorKind::Server, "x").unwrap();
        let frames = crate::eventstream::EventStreamDecoder::new()
            .push(&bedrock)
            .unwrap();
        assert_eq!(frames[0].message_type, "exception");
        assert!(stream_error(Dialect::Cohere, true, ErrorKind::Server, "x").is_none());
    }

    #[test]
    fn dialects_follow_providers() {
        assert_eq!(Dialect::of(Provider::Azure), Dialect::OpenAi);
        assert_eq!(Dialect::of(Provider::Deepseek), Dialect::OpenAi);
        assert_eq!(Dialect::of(Provider::Bedrock), Dialect::Bedrock);
    }
}
