//! Gemini's `generateContent` / `streamGenerateContent`: the parts of a reply Gatehouse
//! reads. A stream is either SSE (`alt=sse`, one `GenerateContentResponse` per event) or
//! one JSON array of them; both carry cumulative `usageMetadata`.

use serde::Deserialize;

use crate::usage::{Observed, Usage};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseWire {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    index: u32,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

fn absorb(observed: &mut Observed, wire: ResponseWire, capture: usize) {
    observed.model_once(wire.model_version);
    for candidate in wire.candidates {
        observed.finish_reasons.extend(candidate.finish_reason);
        let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
        for part in parts {
            if let Some(name) = part.function_call.and_then(|f| f.name) {
                observed.tool_calls.push(name);
            }
            let answer = candidate.index == 0 && part.thought != Some(true);
            if let (true, Some(text)) = (answer, part.text) {
                observed.capture_text(&text, capture);
            }
        }
    }
    if let Some(u) = wire.usage_metadata {
        // Thinking is billed as output; Gemini reports it apart from the candidates.
        observed.usage = Some(Usage {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count + u.thoughts_token_count,
            cached_input_tokens: u.cached_content_token_count,
            reasoning_tokens: u.thoughts_token_count,
            ..Usage::default()
        });
    }
}

/// Reads a whole body: one response, or the JSON-array form of a stream.
pub(crate) fn absorb_body(observed: &mut Observed, body: &[u8], capture: usize) {
    if let Ok(all) = serde_json::from_slice::<Vec<ResponseWire>>(body) {
        for wire in all {
            absorb(observed, wire, capture);
        }
    } else if let Ok(wire) = serde_json::from_slice::<ResponseWire>(body) {
        absorb(observed, wire, capture);
    }
}

/// Reads one SSE event (`alt=sse`).
pub(crate) fn absorb_event(observed: &mut Observed, data: &str, capture: usize) {
    if let Ok(wire) = serde_json::from_str::<ResponseWire>(data) {
        absorb(observed, wire, capture);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNKS: [&str; 2] = [
        r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":1,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"lo"},{"functionCall":{"name":"search","args":{}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":3,"thoughtsTokenCount":5,"cachedContentTokenCount":2,"totalTokenCount":16},"modelVersion":"gemini-2.5-flash"}"#,
    ];

    fn check(o: &Observed) {
        assert_eq!(o.model.as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(o.completion.as_deref(), Some("Hello"));
        assert_eq!(o.finish_reasons, ["STOP"]);
        assert_eq!(o.tool_calls, ["search"]);
        let u = o.usage.unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_input_tokens,
                u.reasoning_tokens
            ),
            (8, 8, 2, 5)
        );
    }

    #[test]
    fn sse_and_json_array_streams_read_the_same() {
        let mut sse = Observed::default();
        for data in CHUNKS {
            absorb_event(&mut sse, data, 100);
        }
        check(&sse);
        let array = format!("[{},\r\n{}]", CHUNKS[0], CHUNKS[1]);
        let mut whole = Observed::default();
        absorb_body(&mut whole, array.as_bytes(), 100);
        check(&whole);
    }
}
