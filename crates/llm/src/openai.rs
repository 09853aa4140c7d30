//! OpenAI's wire format (and every OpenAI-compatible provider's): the parts of chat
//! completions, Responses and embeddings replies Gatehouse reads, and the error body.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::dialect::ErrorKind;
use crate::route::Endpoint;
use crate::usage::{Observed, Usage};

/// The `type` field of an OpenAI error, as OpenAI's SDKs read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RateLimit,
    InsufficientQuota,
    Server,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::InsufficientQuota => "insufficient_quota",
            ErrorType::Server => "server_error",
        }
    }
}

impl From<ErrorKind> for ErrorType {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidRequest | ErrorKind::TooLarge => ErrorType::InvalidRequest,
            ErrorKind::Authentication => ErrorType::Authentication,
            ErrorKind::Permission => ErrorType::Permission,
            ErrorKind::NotFound => ErrorType::NotFound,
            ErrorKind::RateLimit => ErrorType::RateLimit,
            ErrorKind::BudgetExhausted => ErrorType::InsufficientQuota,
            ErrorKind::Server
            | ErrorKind::BadGateway
            | ErrorKind::Timeout
            | ErrorKind::Unavailable => ErrorType::Server,
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

// ---- chat completions and embeddings -------------------------------------------------

#[derive(Deserialize)]
struct ChatWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    finish_reason: Option<String>,
    /// Non-streamed: the whole message; streamed: this chunk's delta.
    #[serde(default, alias = "delta")]
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    /// Streamed calls name the function in their first delta only.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

fn absorb_chat(observed: &mut Observed, wire: ChatWire, capture: usize) {
    observed.model_once(wire.model);
    for choice in wire.choices {
        if let Some(reason) = choice.finish_reason {
            observed.finish_reasons.push(reason);
        }
        let Some(message) = choice.message else {
            continue;
        };
        for call in message.tool_calls {
            if let Some(name) = call.function.and_then(|f| f.name) {
                observed.tool_calls.push(name);
            }
        }
        if let (0, Some(text)) = (choice.index, message.content) {
            observed.capture_text(&text, capture);
        }
    }
    if let Some(u) = wire.usage {
        observed.usage = Some(Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cached_input_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            ..Usage::default()
        });
    }
}

// ---- Responses --------------------------------------------------------------------------

#[derive(Deserialize)]
struct ResponseWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Vec<OutputItem>,
    #[serde(default)]
    usage: Option<ResponsesUsage>,
}

#[derive(Deserialize)]
struct OutputItem {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content: Vec<OutputContent>,
}

#[derive(Deserialize)]
struct OutputContent {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    output_tokens_details: Option<CompletionDetails>,
}

/// One Responses stream event: only the fields Gatehouse reads.
#[derive(Deserialize)]
struct ResponseEvent {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    delta: Option<String>,
    #[serde(default)]
    item: Option<OutputItem>,
    #[serde(default)]
    response: Option<ResponseWire>,
}

/// Model, status and usage of a whole response; `items`: also its text and tool calls.
fn absorb_response(observed: &mut Observed, wire: ResponseWire, items: bool, capture: usize) {
    observed.model_once(wire.model);
    if let Some(status) = wire.status {
        observed.finish_reasons.push(status);
    }
    if items {
        for item in wire.output {
            absorb_item(observed, item, capture);
        }
    }
    if let Some(u) = wire.usage {
        observed.usage = Some(Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_input_tokens: u
                .input_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: u
                .output_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            ..Usage::default()
        });
    }
}

fn absorb_item(observed: &mut Observed, item: OutputItem, capture: usize) {
    match item.type_.as_str() {
        "function_call" | "custom_tool_call" => {
            observed.tool_calls.extend(item.name);
        }
        "message" => {
            for text in item.content.into_iter().filter_map(|c| c.text) {
                observed.capture_text(&text, capture);
            }
        }
        _ => {}
    }
}

/// Reads a whole (non-streamed) reply of `endpoint`.
pub(crate) fn absorb_body(endpoint: Endpoint, observed: &mut Observed, body: &[u8], cap: usize) {
    match endpoint {
        Endpoint::Responses => {
            if let Ok(wire) = serde_json::from_slice::<ResponseWire>(body) {
                absorb_response(observed, wire, true, cap);
            }
        }
        _ => {
            if let Ok(wire) = serde_json::from_slice::<ChatWire>(body) {
                absorb_chat(observed, wire, cap);
            }
        }
    }
}

/// Reads one server-sent event of a streamed reply of `endpoint`.
pub(crate) fn absorb_event(endpoint: Endpoint, observed: &mut Observed, data: &str, cap: usize) {
    if endpoint != Endpoint::Responses {
        if data != "[DONE]" {
            if let Ok(chunk) = serde_json::from_str::<ChatWire>(data) {
                absorb_chat(observed, chunk, cap);
            }
        }
        return;
    }
    let Ok(event) = serde_json::from_str::<ResponseEvent>(data) else {
        return;
    };
    match event.type_.as_str() {
        "response.output_text.delta" => {
            if let Some(delta) = event.delta {
                observed.capture_text(&delta, cap);
            }
        }
        "response.output_item.added" => {
            if let Some(item) = event.item.filter(|i| i.type_ != "message") {
                absorb_item(observed, item, 0);
            }
        }
        "response.completed" | "response.incomplete" | "response.failed" => {
            if let Some(response) = event.response {
                absorb_response(observed, response, false, cap);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_openai_shaped() {
        let body = error_body("bad \"key\"", ErrorType::Authentication, "invalid_api_key");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["message"], "bad \"key\"");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(v["error"]["code"], "invalid_api_key");
    }

    #[test]
    fn chat_tool_calls_are_named_whole_or_streamed() {
        let mut o = Observed::default();
        absorb_body(
            Endpoint::ChatCompletions,
            &mut o,
            br#"{"choices":[{"index":0,"finish_reason":"tool_calls","message":{"tool_calls":[{"id":"1","type":"function","function":{"name":"send_email","arguments":"{}"}}]}}]}"#,
            0,
        );
        assert_eq!(o.tool_calls, ["send_email"]);
        let mut o = Observed::default();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"get_weather","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":1}"}}]}}]}"#,
        ] {
            absorb_event(Endpoint::ChatCompletions, &mut o, data, 0);
        }
        assert_eq!(o.tool_calls, ["get_weather"]);
    }

    #[test]
    fn responses_whole_and_streamed() {
        let body = br#"{"id":"resp_1","object":"response","model":"gpt-4.1-2025","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"Hi"}]},{"type":"function_call","name":"fetch","arguments":"{}"}],"usage":{"input_tokens":7,"output_tokens":3,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":1},"total_tokens":10}}"#;
        let mut o = Observed::default();
        absorb_body(Endpoint::Responses, &mut o, body, 100);
        assert_eq!(o.model.as_deref(), Some("gpt-4.1-2025"));
        assert_eq!(o.finish_reasons, ["completed"]);
        assert_eq!(o.tool_calls, ["fetch"]);
        assert_eq!(o.completion.as_deref(), Some("Hi"));
        let u = o.usage.unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_input_tokens,
                u.reasoning_tokens
            ),
            (7, 3, 2, 1)
        );

        let mut o = Observed::default();
        for data in [
            r#"{"type":"response.created","response":{"model":"gpt-4.1","status":"in_progress","output":[]}}"#,
            r#"{"type":"response.output_text.delta","delta":"He"}"#,
            r#"{"type":"response.output_text.delta","delta":"llo"}"#,
            r#"{"type":"response.output_item.added","item":{"type":"function_call","name":"fetch"}}"#,
            r#"{"type":"response.completed","response":{"model":"gpt-4.1","status":"completed","output":[{"type":"message","content":[{"text":"Hello"}]}],"usage":{"input_tokens":4,"output_tokens":2}}}"#,
        ] {
            absorb_event(Endpoint::Responses, &mut o, data, 100);
        }
        assert_eq!(
            o.completion.as_deref(),
            Some("Hello"),
            "text is not counted twice"
        );
        assert_eq!(o.tool_calls, ["fetch"]);
        assert_eq!(o.finish_reasons, ["completed"]);
        assert_eq!(o.usage.map(|u| u.output_tokens), Some(2));
    }

    #[test]
    fn embeddings_usage() {
        let mut o = Observed::default();
        absorb_body(
            Endpoint::Embeddings,
            &mut o,
            br#"{"object":"list","data":[],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#,
            0,
        );
        assert_eq!(
            o.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((5, 0))
        );
    }
}
