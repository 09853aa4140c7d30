//! Bedrock's Converse and ConverseStream: the parts of a reply Gatehouse reads. The model
//! is named in the path, not the reply; a stream is AWS event-stream frames whose
//! `:event-type` names the member (`contentBlockDelta`, `metadata`, …).

use serde::Deserialize;

use crate::usage::{Observed, Usage};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseWire {
    #[serde(default)]
    output: Option<Output>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Block>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
struct ToolUse {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

/// The payload of a stream event; each event type fills different fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventWire {
    #[serde(default)]
    start: Option<Block>,
    #[serde(default)]
    delta: Option<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl From<WireUsage> for Usage {
    /// Bedrock's `inputTokens` excludes cache reads and writes; Gatehouse counts all input.
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens,
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cache_read_input_tokens,
            cache_write_input_tokens: u.cache_write_input_tokens,
            reasoning_tokens: 0,
        }
    }
}

/// Reads a whole Converse reply.
pub(crate) fn absorb_body(observed: &mut Observed, body: &[u8], capture: usize) {
    let Ok(wire) = serde_json::from_slice::<ConverseWire>(body) else {
        return;
    };
    observed.finish_reasons.extend(wire.stop_reason);
    let blocks = wire
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default();
    for block in blocks {
        observed
            .tool_calls
            .extend(block.tool_use.and_then(|t| t.name));
        if let Some(text) = block.text {
            observed.capture_text(&text, capture);
        }
    }
    observed.usage = wire.usage.map(Usage::from).or(observed.usage);
}

/// Reads one ConverseStream event.
pub(crate) fn absorb_event(observed: &mut Observed, event_type: &str, payload: &[u8], cap: usize) {
    let Ok(event) = serde_json::from_slice::<EventWire>(payload) else {
        return;
    };
    match event_type {
        "contentBlockStart" => {
            let tool = event.start.and_then(|s| s.tool_use).and_then(|t| t.name);
            observed.tool_calls.extend(tool);
        }
        "contentBlockDelta" => {
            if let Some(text) = event.delta.and_then(|d| d.text) {
                observed.capture_text(&text, cap);
            }
        }
        "messageStop" => observed.finish_reasons.extend(event.stop_reason),
        "metadata" => observed.usage = event.usage.map(Usage::from).or(observed.usage),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_reply() {
        let mut o = Observed::default();
        absorb_body(&mut o, br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hi"},{"toolUse":{"toolUseId":"t","name":"fetch_url","input":{}}}]}},"stopReason":"tool_use","usage":{"inputTokens":9,"outputTokens":2,"totalTokens":11,"cacheReadInputTokens":4},"metrics":{"latencyMs":5}}"#, 10);
        assert_eq!(o.finish_reasons, ["tool_use"]);
        assert_eq!(o.tool_calls, ["fetch_url"]);
        assert_eq!(o.completion.as_deref(), Some("Hi"));
        assert_eq!(
            o.usage.map(|u| (u.input_tokens, u.cached_input_tokens)),
            Some((13, 4))
        );
    }

    #[test]
    fn stream_events() {
        let mut o = Observed::default();
        for (event, payload) in [
            ("messageStart", r#"{"role":"assistant"}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"lo"}}"#,
            ),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"search"}}}"#,
            ),
            ("messageStop", r#"{"stopReason":"end_turn"}"#),
            (
                "metadata",
                r#"{"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":1}}"#,
            ),
        ] {
            absorb_event(&mut o, event, payload.as_bytes(), 100);
        }
        assert_eq!(o.completion.as_deref(), Some("Hello"));
        assert_eq!(o.tool_calls, ["search"]);
        assert_eq!(o.finish_reasons, ["end_turn"]);
        assert_eq!(
            o.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((3, 2))
        );
    }
}
