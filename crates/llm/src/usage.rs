//! Reading a response on the side as it streams through: the model that answered, why it
//! stopped, the tools it called and the token usage it reported. The bytes themselves are
//! never changed. One observer serves every provider: the endpoint names the format, the
//! response's content type the framing (one JSON body, SSE, or AWS event-stream).

use crate::eventstream::EventStreamDecoder;
use crate::route::Endpoint;
use crate::sse::SseDecoder;

/// Token counts a provider reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every input token, cached or not.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (part of `input_tokens`).
    pub cached_input_tokens: u64,
    /// Input tokens written to the provider's prompt cache (part of `input_tokens`).
    pub cache_write_input_tokens: u64,
    /// Output tokens spent on reasoning (part of `output_tokens`).
    pub reasoning_tokens: u64,
}

/// What was read from one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub model: Option<String>,
    pub finish_reasons: Vec<String>,
    /// Names of the tools the model called, in order.
    pub tool_calls: Vec<String>,
    pub usage: Option<Usage>,
    /// The first choice's text, when capture was asked for (bounded).
    pub completion: Option<String>,
    /// An error the provider reported inside a stream (an event-stream exception, an SSE
    /// `error` event).
    pub stream_error: Option<String>,
}

impl Observed {
    /// Keeps the first model a response names.
    pub(crate) fn model_once(&mut self, model: Option<String>) {
        if self.model.is_none() {
            self.model = model.filter(|m| !m.is_empty());
        }
    }

    /// Appends `text` to the captured completion, up to `limit` bytes (0: capture is off).
    pub(crate) fn capture_text(&mut self, text: &str, limit: usize) {
        if limit == 0 {
            return;
        }
        let kept = self.completion.get_or_insert_with(String::new);
        for c in text.chars() {
            if kept.len() + c.len_utf8() > limit {
                break;
            }
            kept.push(c);
        }
    }
}

/// Largest non-streamed body kept to read its usage; larger bodies pass through unread.
pub const MAX_BODY: usize = 4 << 20;

/// How a response body is framed, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Json,
    Sse,
    EventStream,
}

impl Framing {
    pub fn from_content_type(content_type: &str) -> Self {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "text/event-stream" => Framing::Sse,
            crate::eventstream::CONTENT_TYPE => Framing::EventStream,
            _ => Framing::Json,
        }
    }

    /// Whether the body arrives as a stream of events.
    pub fn is_stream(self) -> bool {
        self != Framing::Json
    }
}

/// Reads a response of one endpoint as it passes.
#[derive(Debug)]
pub struct ResponseObserver {
    endpoint: Endpoint,
    mode: Mode,
    observed: Observed,
    /// Keep up to this many bytes of the first choice's text (0: none).
    capture: usize,
}

#[derive(Debug)]
enum Mode {
    /// One JSON body, kept (up to [`MAX_BODY`]) and read at the end.
    Json(Vec<u8>),
    /// Server-sent events, each read as it completes.
    Sse(SseDecoder),
    /// AWS event-stream frames, each read as it completes.
    EventStream(EventStreamDecoder),
    /// Too large, malformed, or nothing to read: nothing more is read.
    Gave,
}

impl ResponseObserver {
    pub fn new(endpoint: Endpoint, framing: Framing) -> Self {
        let mode = match (endpoint, framing) {
            (Endpoint::Models | Endpoint::CountTokens, _) => Mode::Gave,
            (_, Framing::Json) => Mode::Json(Vec::new()),
            (_, Framing::Sse) => Mode::Sse(SseDecoder::new(MAX_BODY)),
            (_, Framing::EventStream) => Mode::EventStream(EventStreamDecoder::new()),
        };
        ResponseObserver {
            endpoint,
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
        let (endpoint, capture, observed) = (self.endpoint, self.capture, &mut self.observed);
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
                        if event.event.as_deref() == Some("error") {
                            observed.stream_error = Some(event.data.clone());
                        }
                        absorb_event(endpoint, observed, &event.data, capture);
                    }
                }
                Err(_) => self.mode = Mode::Gave,
            },
            Mode::EventStream(decoder) => match decoder.push(bytes) {
                Ok(frames) => {
                    for frame in frames {
                        if frame.message_type == "event" {
                            crate::bedrock::absorb_event(
                                observed,
                                &frame.event_type,
                                &frame.payload,
                                capture,
                            );
                        } else {
                            observed.stream_error = Some(frame.event_type);
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
            let (o, cap) = (&mut self.observed, self.capture);
            match self.endpoint {
                Endpoint::Messages => crate::anthropic::absorb_body(o, buf, cap),
                Endpoint::GenerateContent | Endpoint::StreamGenerateContent => {
                    crate::gemini::absorb_body(o, buf, cap)
                }
                Endpoint::Converse | Endpoint::ConverseStream => {
                    crate::bedrock::absorb_body(o, buf, cap)
                }
                Endpoint::CohereChat => crate::cohere::absorb_body(o, buf, cap),
                Endpoint::ChatCompletions | Endpoint::Responses | Endpoint::Embeddings => {
                    crate::openai::absorb_body(self.endpoint, o, buf, cap)
                }
                Endpoint::Models | Endpoint::CountTokens => {}
            }
        }
        self.observed
    }
}

/// One SSE event's data, read in the endpoint's format.
fn absorb_event(endpoint: Endpoint, observed: &mut Observed, data: &str, capture: usize) {
    match endpoint {
        Endpoint::Messages => crate::anthropic::absorb_event(observed, data, capture),
        Endpoint::GenerateContent | Endpoint::StreamGenerateContent => {
            crate::gemini::absorb_event(observed, data, capture)
        }
        Endpoint::CohereChat => crate::cohere::absorb_event(observed, data, capture),
        Endpoint::ChatCompletions | Endpoint::Responses | Endpoint::Embeddings => {
            crate::openai::absorb_event(endpoint, observed, data, capture)
        }
        Endpoint::Converse
        | Endpoint::ConverseStream
        | Endpoint::Models
        | Endpoint::CountTokens => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_split_anywhere_yields_model_reasons_and_usage() {
        let body = br#"{"id":"x","model":"gpt-4o-mini-2024","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        for split in 1..body.len() {
            let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Json);
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
                ..Usage::default()
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
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Sse);
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
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Sse).capturing(5);
        o.push(stream.as_bytes());
        assert_eq!(o.finish().completion.as_deref(), Some("Hello"));
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Sse);
        o.push(stream.as_bytes());
        assert_eq!(o.finish().completion, None);
        let body = br#"{"choices":[{"index":0,"message":{"content":"whole"}}]}"#;
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Json).capturing(100);
        o.push(body);
        assert_eq!(o.finish().completion.as_deref(), Some("whole"));
    }

    #[test]
    fn bodies_that_are_not_completions_yield_nothing() {
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Json);
        o.push(b"{\"error\":{\"message\":\"no\"}}");
        assert_eq!(o.finish(), Observed::default());
        let mut o = ResponseObserver::new(Endpoint::ChatCompletions, Framing::Sse);
        o.push(b"data: not json\n\n");
        assert_eq!(o.finish(), Observed::default());
    }
}
