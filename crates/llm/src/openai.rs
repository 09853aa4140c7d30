//! OpenAI's chat-completions wire format: the parts Gatehouse reads, and its error body.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What Gatehouse reads of a `CreateChatCompletionRequest`; everything else stays in the
/// raw body, which is forwarded unchanged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatRequestPeek {
    pub model: String,
    #[serde(default)]
    pub stream: Option<bool>,
}

/// Why a request body is not a chat-completions request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(serde_json::Error),
    #[error("request body must be a JSON object")]
    NotAnObject,
    #[error("request body must be a JSON object with a string `model`: {0}")]
    InvalidShape(serde_json::Error),
}

/// Reads `model` and `stream` from a chat-completions body, rejecting bodies that are not
/// JSON or lack a string `model`.
pub fn peek_chat_request(body: &[u8]) -> Result<ChatRequestPeek, RequestError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(RequestError::MalformedJson)?;
    if !value.is_object() {
        // serde would read a struct from a JSON array too (`["gpt-4o", true]`).
        return Err(RequestError::NotAnObject);
    }
    serde_json::from_value(value).map_err(RequestError::InvalidShape)
}

/// The `type` field of an OpenAI error, as OpenAI's SDKs read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    Server,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::Server => "server_error",
        }
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    type_: &'static str,
    param: Option<&'a str>,
    code: &'a str,
}

/// An OpenAI error body: `{"error":{"message","type","param","code"}}`.
pub fn error_body(message: &str, error_type: ErrorType, code: &str) -> Bytes {
    let envelope = ErrorEnvelope {
        error: ErrorDetail {
            message,
            type_: error_type.as_str(),
            param: None,
            code,
        },
    };
    // Serializing a struct of strings cannot fail; fall back to a fixed body regardless.
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_else(|_| {
            Bytes::from_static(br#"{"error":{"message":"internal error","type":"server_error"}}"#)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_model_and_stream_and_ignores_the_rest() {
        let peek = peek_chat_request(
            br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        assert_eq!(
            peek,
            ChatRequestPeek {
                model: "gpt-4o".into(),
                stream: Some(true)
            }
        );
    }

    #[test]
    fn peek_tells_malformed_json_from_a_wrong_shape() {
        assert!(matches!(
            peek_chat_request(b"{\"model\":"),
            Err(RequestError::MalformedJson(_))
        ));
        // serde reads structs from arrays; the peek must not.
        for array in [&b"[1,2]"[..], br#"["gpt-4o", true]"#, b"[\n\"\"\n]"] {
            assert!(matches!(
                peek_chat_request(array),
                Err(RequestError::NotAnObject)
            ));
        }
        assert!(matches!(
            peek_chat_request(b"{\"model\":7}"),
            Err(RequestError::InvalidShape(_))
        ));
    }

    #[test]
    fn error_body_is_openai_shaped() {
        let body = error_body("bad \"key\"", ErrorType::Authentication, "invalid_api_key");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["message"], "bad \"key\"");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(v["error"]["code"], "invalid_api_key");
    }
}
