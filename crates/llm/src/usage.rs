//! Reading a response on the side as it streams through: the model that answered, why it
//! stopped, and the token usage it reported. The bytes themselves are never changed.
//!
//! Today this reads OpenAI chat completions, both as one JSON body and as an SSE stream of
//! chunks (where usage comes in the last chunk when the client asked for it).

use serde::Deserialize;

use crate::sse::SseDecoder;

/// Token counts a provider reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (part of `input_tokens`).
    pub cached_input_tokens: u64,
    /// Output tokens spent on reasoning (part of `output_tokens`).
    pub reasoning_tokens: u64,
}

/// What was read from one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub model: Option<String>,
    pub finish_reasons: Vec<String>,
    pub usage: Option<Usage>,
    /// The first choice's text, when capture was asked for (bounded).
    pub completion: Option<String>,
}

/// Largest non-streamed body kept to read its usage; larger bodies pass through unread.
pub const MAX_BODY: usize = 4 << 20;

/// Reads an OpenAI chat-completions response as it passes.
#[derive(Debug)]
pub struct ResponseObserver {
    mode: Mode,
    observed: Observed,
    /// Keep up to this many bytes of the first choice's text (0: none).
    capture: usize,
}

#[derive(Debug)]
enum Mode {
    /// One JSON body, kept (up to [`MAX_BODY`]) and read at the end.
    Json(Vec<u8>),
    /// Server-sent events, each chunk read as it completes.
    Sse(SseDecoder),
    /// Too large or malformed: nothing more is read.
    Gave,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
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
}

#[derive(Deserialize)]
struct WireUsage {
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

impl ResponseObserver {
    /// `streaming`: the response is `text/event-stream`.
    pub fn new(streaming: bool) -> Self {
        let mode = if streaming {
            Mode::Sse(SseDecoder::new(MAX_BODY))
        } else {
            Mode::Json(Vec::new())
        };
        ResponseObserver {
            mode,
            observed: Observed::default(),
            capture: 0,
        }
    }

    /// Also keeps up to `limit` bytes of the first choice's text (for traces that capture
    /// content).
    pub fn capturing(mut self, limit: usize) -> Self {
        self.capture = limit;
        self
    }

    /// Reads the next bytes of the body.
    pub fn push(&mut self, bytes: &[u8]) {
        match &mut self.mode {
            Mode::Json(buf) => {
                if buf.len() + bytes.len() > MAX_BODY {
                    self.mode = Mode::Gave;
                } else {
                    buf.extend_from_slice(bytes);
                }
            }
            Mode::Sse(decoder) => match decoder.push(bytes) {
                Ok(events) => {
                    for event in events {
                        if event.data != "[DONE]" {
                            if let Ok(chunk) = serde_json::from_str::<Wire>(&event.data) {
                                absorb(&mut self.observed, chunk, self.capture);
                            }
                        }
                    }
                }
                Err(_) => self.mode = Mode::Gave,
            },
            Mode::Gave => {}
        }
    }

    /// What the whole response said.
    pub fn finish(mut self) -> Observed {
        if let Mode::Json(buf) = &self.mode {
            if let Ok(body) = serde_json::from_slice::<Wire>(buf) {
                absorb(&mut self.observed, body, self.capture);
            }
        }
        self.observed
    }
}

fn absorb(observed: &mut Observed, wire: Wire, capture: usize) {
    if observed.model.is_none() {
        observed.model = wire.model;
    }
    for choice in wire.choices {
        if let Some(reason) = choice.finish_reason {
            observed.finish_reasons.push(reason);
        }
        let text = choice.message.and_then(|m| m.content);
        if let (0, Some(text), true) = (choice.index, text, capture > 0) {
            let kept = observed.completion.get_or_insert_with(String::new);
            for c in text.chars() {
                if kept.len() + c.len_utf8() > capture {
                    break;
                }
                kept.push(c);
            }
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
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_split_anywhere_yields_model_reasons_and_usage() {
        let body = br#"{"id":"x","model":"gpt-4o-mini-2024","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        for split in 1..body.len() {
            let mut o = ResponseObserver::new(false);
            o.push(&body[..split]);
            o.push(&body[split..]);
            let seen = o.finish();
            assert_eq!(seen.model.as_deref(), Some("gpt-4o-mini-2024"));
            assert_eq!(seen.finish_reasons, ["stop"]);
            let want = Usage {
                input_tokens: 12,
                output_tokens: 5,
                cached_input_tokens: 4,
                reasoning_tokens: 2,
            };
            assert_eq!(seen.usage, Some(want));
        }
    }

    #[test]
    fn a_stream_yields_usage_from_its_last_chunk() {
        let stream = concat!(
            "data: {\"model\":\"m1\",\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
            "data: {\"model\":\"m1\",\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
            "data: {\"model\":\"m1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9}}\n\n",
            "data: [DONE]\n\n"
        )
        .as_bytes();
        let mut o = ResponseObserver::new(true);
        for byte in stream.chunks(7) {
            o.push(byte);
        }
        let seen = o.finish();
        assert_eq!(seen.model.as_deref(), Some("m1"));
        assert_eq!(seen.finish_reasons, ["length"]);
        assert_eq!(
            seen.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((3, 9))
        );
    }

    #[test]
    fn captured_text_is_the_first_choice_bounded_and_only_when_asked() {
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n\
                      data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo!\"}}]}\n\n";
        let mut o = ResponseObserver::new(true).capturing(5);
        o.push(stream.as_bytes());
        assert_eq!(o.finish().completion.as_deref(), Some("Hello"));
        let mut o = ResponseObserver::new(true);
        o.push(stream.as_bytes());
        assert_eq!(o.finish().completion, None);
        let body = br#"{"choices":[{"index":0,"message":{"content":"whole"}}]}"#;
        let mut o = ResponseObserver::new(false).capturing(100);
        o.push(body);
        assert_eq!(o.finish().completion.as_deref(), Some("whole"));
    }

    #[test]
    fn bodies_that_are_not_completions_yield_nothing() {
        let mut o = ResponseObserver::new(false);
        o.push(b"{\"error\":{\"message\":\"no\"}}");
        assert_eq!(o.finish(), Observed::default());
        let mut o = ResponseObserver::new(true);
        o.push(b"data: not json\n\n");
        assert_eq!(o.finish(), Observed::default());
    }
}
