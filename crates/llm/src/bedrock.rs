//! Bedrock's Converse and ConverseStream: the parts of a reply Gatehouse reads. The model
//! is named in the path, not the reply; a stream is AWS event-stream frames whose
//! `:event-type` names the member (`contentBlockDelta`, `metadata`, …).

use serde::Deserialize;

use crate::usage::{Observed, Usage};

/// What a Bedrock model id names: the model's provider (`anthropic`, `amazon`, `meta`, …)
/// and, for a cross-region inference profile (`us.anthropic.…`), its geography prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelId<'a> {
    pub provider: &'a str,
    pub inference_region: Option<&'a str>,
}

/// Geography prefixes of cross-region inference profiles.
const INFERENCE_REGIONS: [&str; 8] = ["us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"];

/// Reads a model id, an inference-profile id or either's ARN
/// (`arn:aws:bedrock:…:foundation-model/anthropic.…`, `…:inference-profile/eu.anthropic.…`).
pub fn model_id(id: &str) -> ModelId<'_> {
    let id = match id.strip_prefix("arn:") {
        Some(arn) => arn.rsplit_once('/').map(|(_, r)| r).unwrap_or(arn),
        None => id,
    };
    let mut parts = id.splitn(3, '.');
    let first = parts.next().unwrap_or_default();
    match parts.next() {
        Some(second) if INFERENCE_REGIONS.contains(&first) => ModelId {
            provider: second,
            inference_region: Some(first),
        },
        _ => ModelId {
            provider: first,
            inference_region: None,
        },
    }
}

/// Which Bedrock models the gateway serves: by provider, and by inference-profile
/// geography. Empty lists allow everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFilter {
    pub providers: Vec<String>,
    pub inference_regions: Vec<String>,
}

impl ModelFilter {
    /// Whether `id` passes; a plain model id (no geography prefix) passes any region list.
    pub fn allows(&self, id: &str) -> bool {
        let model = model_id(id);
        let provider_ok = self.providers.is_empty()
            || self
                .providers
                .iter()
                .any(|p| p.eq_ignore_ascii_case(model.provider));
        let region_ok = match model.inference_region {
            None => true,
            Some(region) => {
                self.inference_regions.is_empty()
                    || self
                        .inference_regions
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(region))
            }
        };
        provider_ok && region_ok
    }
}

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
    fn model_ids_profiles_and_arns() {
        assert_eq!(
            model_id("anthropic.claude-3-haiku-20240307-v1:0"),
            ModelId {
                provider: "anthropic",
                inference_region: None
            }
        );
        assert_eq!(
            model_id("eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ModelId {
                provider: "anthropic",
                inference_region: Some("eu")
            }
        );
        assert_eq!(
            model_id("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"),
            ModelId { provider: "meta", inference_region: Some("us") }
        );
        assert_eq!(
            model_id("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0").provider,
            "amazon"
        );
        let filter = ModelFilter {
            providers: vec!["anthropic".into(), "amazon".into()],
            inference_regions: vec!["eu".into()],
        };
        assert!(filter.allows("anthropic.claude-3-haiku-20240307-v1:0"));
        assert!(filter.allows("eu.anthropic.claude-3-haiku-20240307-v1:0"));
        assert!(!filter.allows("us.anthropic.claude-3-haiku-20240307-v1:0"));
        assert!(!filter.allows("meta.llama3-8b-instruct-v1:0"));
        assert!(ModelFilter::default().allows("anything.at-all"));
    }

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
