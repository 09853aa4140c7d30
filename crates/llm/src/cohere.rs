//! Cohere's v2 chat: the parts of a reply Gatehouse reads. The model is the request's; a
//! stream is SSE whose data carries a `type` (`content-delta`, `message-end`, …).

use serde::Deserialize;

use crate::usage::{Observed, Usage};

#[derive(Deserialize)]
struct ChatWire {
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Contents>,
    #[serde(default)]
    tool_calls: Option<ToolCalls>,
}

/// A whole reply holds lists; a stream delta holds one item.
#[derive(Deserialize)]
#[serde(untagged)]
enum Contents {
    Many(Vec<Content>),
    One(Content),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ToolCalls {
    Many(Vec<ToolCall>),
    One(ToolCall),
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct ToolCall {
    #[serde(default)]
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Function {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    tokens: Option<Tokens>,
    #[serde(default)]
    billed_units: Option<Tokens>,
}

#[derive(Deserialize, Clone, Copy)]
struct Tokens {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    delta: Option<ChatWire>,
}

fn absorb_message(observed: &mut Observed, message: Message, capture: usize) {
    let contents = match message.content {
        Some(Contents::Many(all)) => all,
        Some(Contents::One(one)) => vec![one],
        None => Vec::new(),
    };
    for text in contents.into_iter().filter_map(|c| c.text) {
        observed.capture_text(&text, capture);
    }
    let calls = match message.tool_calls {
        Some(ToolCalls::Many(all)) => all,
        Some(ToolCalls::One(one)) => vec![one],
        None => Vec::new(),
    };
    for name in calls.into_iter().filter_map(|c| c.function?.name) {
        observed.tool_calls.push(name);
    }
}

fn absorb_usage(observed: &mut Observed, usage: WireUsage) {
    // Cohere reports tokens (all) and billed units (what is charged); prefer the former.
    let Some(t) = usage.tokens.or(usage.billed_units) else {
        return;
    };
    let count = |n: Option<f64>| n.filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0) as u64;
    observed.usage = Some(Usage {
        input_tokens: count(t.input_tokens),
        output_tokens: count(t.output_tokens),
        ..Usage::default()
    });
}

/// Reads a whole reply.
pub(crate) fn absorb_body(observed: &mut Observed, body: &[u8], capture: usize) {
    let Ok(wire) = serde_json::from_slice::<ChatWire>(body) else {
        return;
    };
    observed.finish_reasons.extend(wire.finish_reason);
    if let Some(message) = wire.message {
        absorb_message(observed, message, capture);
    }
    if let Some(usage) = wire.usage {
        absorb_usage(observed, usage);
    }
}

/// Reads one stream event.
pub(crate) fn absorb_event(observed: &mut Observed, data: &str, capture: usize) {
    let Ok(event) = serde_json::from_str::<Event>(data) else {
        return;
    };
    let Some(delta) = event.delta else {
        return;
    };
    match event.type_.as_str() {
        "content-delta" | "tool-call-start" => {
            if let Some(message) = delta.message {
                absorb_message(observed, message, capture);
            }
        }
        "message-end" => {
            observed.finish_reasons.extend(delta.finish_reason);
            if let Some(usage) = delta.usage {
                absorb_usage(observed, usage);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_streamed() {
        let mut o = Observed::default();
        absorb_body(&mut o, br#"{"id":"c","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Hi"}],"tool_calls":[{"id":"t","type":"function","function":{"name":"lookup","arguments":"{}"}}]},"usage":{"billed_units":{"input_tokens":5,"output_tokens":2},"tokens":{"input_tokens":70,"output_tokens":2}}}"#, 10);
        assert_eq!(o.finish_reasons, ["COMPLETE"]);
        assert_eq!(o.tool_calls, ["lookup"]);
        assert_eq!(o.completion.as_deref(), Some("Hi"));
        assert_eq!(
            o.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((70, 2))
        );

        let mut o = Observed::default();
        for data in [
            r#"{"type":"message-start","id":"c","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#,
            r#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}"#,
            r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hel"}}}}"#,
            r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"lo"}}}}"#,
            r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"t","type":"function","function":{"name":"lookup","arguments":""}}}}}"#,
            r#"{"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":3,"output_tokens":2},"tokens":{"input_tokens":3,"output_tokens":2}}}}"#,
        ] {
            absorb_event(&mut o, data, 100);
        }
        assert_eq!(o.completion.as_deref(), Some("Hello"));
        assert_eq!(o.tool_calls, ["lookup"]);
        assert_eq!(o.finish_reasons, ["COMPLETE"]);
        assert_eq!(o.usage.map(|u| u.output_tokens), Some(2));
    }
}
