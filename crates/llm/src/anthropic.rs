//! Anthropic's Messages API: the parts of a reply Gatehouse reads, and the error body.

use bytes::Bytes;
use serde::Deserialize;

use crate::dialect::ErrorKind;
use crate::usage::Observed;

/// `{"type":"error","error":{"type","message"}}` with Anthropic's error types.
pub fn error_body(kind: ErrorKind, message: &str) -> Bytes {
    let error_type = match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::TooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::BudgetExhausted => "billing_error",
        ErrorKind::Unavailable => "overloaded_error",
        ErrorKind::Server | ErrorKind::BadGateway | ErrorKind::Timeout => "api_error",
    };
    let body =
        serde_json::json!({"type": "error", "error": {"type": error_type, "message": message}});
    Bytes::from(body.to_string())
}

#[derive(Deserialize)]
struct MessageWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// One stream event's data (the `type` field repeats the SSE event name).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    message: Option<MessageWire>,
    #[serde(default)]
    content_block: Option<Block>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Anthropic's `input_tokens` excludes cache reads and writes; Gatehouse counts all input.
fn merge_usage(observed: &mut Observed, wire: WireUsage) {
    let mut usage = observed.usage.unwrap_or_default();
    let read = wire.cache_read_input_tokens;
    let write = wire.cache_creation_input_tokens;
    if let Some(read) = read {
        usage.cached_input_tokens = read;
    }
    if let Some(write) = write {
        usage.cache_write_input_tokens = write;
    }
    if let Some(input) = wire.input_tokens {
        usage.input_tokens = input + usage.cached_input_tokens + usage.cache_write_input_tokens;
    }
    if let Some(output) = wire.output_tokens {
        usage.output_tokens = output;
    }
    observed.usage = Some(usage);
}

fn absorb_block(observed: &mut Observed, block: Block, capture: usize) {
    match block.type_.as_str() {
        "tool_use" | "server_tool_use" => observed.tool_calls.extend(block.name),
        "text" => {
            if let Some(text) = block.text {
                observed.capture_text(&text, capture);
            }
        }
        _ => {}
    }
}

/// Reads a whole (non-streamed) message.
pub(crate) fn absorb_body(observed: &mut Observed, body: &[u8], capture: usize) {
    let Ok(wire) = serde_json::from_slice::<MessageWire>(body) else {
        return;
    };
    observed.model_once(wire.model);
    observed.finish_reasons.extend(wire.stop_reason);
    for block in wire.content {
        absorb_block(observed, block, capture);
    }
    if let Some(u) = wire.usage {
        merge_usage(observed, u);
    }
}

/// Reads one stream event.
pub(crate) fn absorb_event(observed: &mut Observed, data: &str, capture: usize) {
    let Ok(event) = serde_json::from_str::<Event>(data) else {
        return;
    };
    match event.type_.as_str() {
        "message_start" => {
            if let Some(message) = event.message {
                observed.model_once(message.model);
                if let Some(u) = message.usage {
                    merge_usage(observed, u);
                }
            }
        }
        "content_block_start" => {
            if let Some(block) = event.content_block {
                absorb_block(observed, block, capture);
            }
        }
        "content_block_delta" => {
            if let Some(text) = event.delta.and_then(|d| d.text) {
                observed.capture_text(&text, capture);
            }
        }
        "message_delta" => {
            observed
                .finish_reasons
                .extend(event.delta.and_then(|d| d.stop_reason));
            if let Some(u) = event.usage {
                merge_usage(observed, u);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;

    #[test]
    fn a_whole_message_counts_cache_reads_and_writes_as_input() {
        let mut o = Observed::default();
        absorb_body(&mut o, br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"t","name":"read_file","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":4,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}"#, 10);
        assert_eq!(o.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(o.finish_reasons, ["tool_use"]);
        assert_eq!(o.tool_calls, ["read_file"]);
        assert_eq!(o.completion.as_deref(), Some("Hi"));
        assert_eq!(
            o.usage,
            Some(Usage {
                input_tokens: 130,
                output_tokens: 4,
                cached_input_tokens: 100,
                cache_write_input_tokens: 20,
                reasoning_tokens: 0
            })
        );
    }

    #[test]
    fn a_stream_takes_input_from_message_start_and_output_from_message_delta() {
        let mut o = Observed::default();
        for data in [
            r#"{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":25,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            r#"{"type":"message_stop"}"#,
        ] {
            absorb_event(&mut o, data, 100);
        }
        assert_eq!(o.completion.as_deref(), Some("Hello"));
        assert_eq!(o.finish_reasons, ["end_turn"]);
        assert_eq!(
            o.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((25, 15))
        );
    }

    #[test]
    fn error_types_follow_the_kind() {
        let v: serde_json::Value =
            serde_json::from_slice(&error_body(ErrorKind::TooLarge, "m")).unwrap();
        assert_eq!(v["error"]["type"], "request_too_large");
    }
}
