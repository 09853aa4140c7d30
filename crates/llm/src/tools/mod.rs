//! Tool use in every format: the tools a request declares, the tool results in its
//! conversation (screened, and replaced when a policy withholds them), and the tool calls in
//! a response — whole or streamed — each judged as soon as its arguments are complete and
//! either released unchanged or replaced by an assistant text stating the refusal, with
//! indexes and stop reasons kept valid for the official SDKs.
//!
//! What is allowed is not decided here: a [`ToolJudge`] (the data plane's, over the policy
//! crate) answers. One file per format below; this module frames the bytes.

mod anthropic;
mod bedrock;
mod cohere;
mod gemini;
mod openai_chat;
mod responses;

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use crate::eventstream::EventStreamDecoder;
use crate::route::Endpoint;
use crate::usage::Framing;

/// Decides about tool calls as a response passes.
pub trait ToolJudge {
    /// Whether a call to `name` could be blocked at all; when not, its deltas flow through
    /// without being held.
    fn may_block(&self, name: &str) -> bool;
    /// The refusal text when the call must not reach the client; `None` releases it.
    fn judge(&mut self, name: &str, arguments: &str) -> Option<String>;
}

/// The tool names a request declares (function tools; built-in tools have no name).
pub fn declared_tools(endpoint: Endpoint, body: &Value) -> Vec<String> {
    let names = |items: &Value, path: &[&str]| -> Vec<String> {
        items
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|t| {
                        path.iter()
                            .try_fold(t, |v, key| v.get(key))
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::CohereChat => {
            names(&body["tools"], &["function", "name"])
        }
        Endpoint::Responses | Endpoint::Messages => names(&body["tools"], &["name"]),
        Endpoint::GenerateContent | Endpoint::StreamGenerateContent => body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| names(&t["functionDeclarations"], &["name"]))
            .collect(),
        Endpoint::Converse | Endpoint::ConverseStream => {
            names(&body["toolConfig"]["tools"], &["toolSpec", "name"])
        }
        Endpoint::Embeddings | Endpoint::Models | Endpoint::CountTokens => Vec::new(),
    }
}

/// One tool result found in a conversation.
pub struct ToolResult<'a> {
    /// The tool's name, from the call the result answers; `None` when that call is not in
    /// the conversation.
    pub tool: Option<&'a str>,
    /// The result as a document: its text parsed as JSON, or the text itself as a string.
    pub document: Value,
}

/// Visits every tool result in a request's conversation, in order; `screen` returns the
/// notice that replaces a result the model must not see. Returns whether the body changed.
pub fn screen_results(
    endpoint: Endpoint,
    body: &mut Value,
    screen: &mut dyn FnMut(ToolResult<'_>) -> Option<String>,
) -> bool {
    match endpoint {
        Endpoint::ChatCompletions => openai_chat::screen_results(body, screen),
        Endpoint::Responses => responses::screen_results(body, screen),
        Endpoint::Messages => anthropic::screen_results(body, screen),
        Endpoint::GenerateContent | Endpoint::StreamGenerateContent => {
            gemini::screen_results(body, screen)
        }
        Endpoint::Converse | Endpoint::ConverseStream => bedrock::screen_results(body, screen),
        Endpoint::CohereChat => cohere::screen_results(body, screen),
        Endpoint::Embeddings | Endpoint::Models | Endpoint::CountTokens => false,
    }
}

/// A tool result's text as a document: JSON when it parses, else the text as a string.
pub(crate) fn document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The text of a content value that is a string or a list of `{type:"text", text}` parts.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

/// Whether a call's accumulated arguments are complete: a JSON value can never be extended
/// into a longer valid one, so arguments that parse are final.
pub(crate) fn complete_json(arguments: &str) -> bool {
    !arguments.trim().is_empty() && serde_json::from_str::<serde::de::IgnoredAny>(arguments).is_ok()
}

/// One event of a stream, parsed, with the bytes it came as.
pub(crate) struct Event {
    /// The SSE `event:` name or the event-stream `:event-type`.
    pub name: Option<String>,
    pub data: Value,
    pub raw: Bytes,
}

/// What a format's stream rewriter does with each event.
pub(crate) trait Rewriter: Send + Sync {
    /// Whether the event's raw bytes may concern tool calls (cheap; `false` lets it pass
    /// without being parsed).
    fn concerns_tools(&self, name: Option<&str>, raw: &[u8]) -> bool;
    /// One parsed event; what to send now goes to `out`.
    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>);
    /// The stream ended; release what is still held.
    fn finish(&mut self, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>);
    /// A whole (non-streamed) response body; returns whether it changed.
    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool;
}

fn rewriter(endpoint: Endpoint) -> Option<Box<dyn Rewriter>> {
    Some(match endpoint {
        Endpoint::ChatCompletions => Box::new(openai_chat::Chat::default()),
        Endpoint::Responses => Box::new(responses::Responses::default()),
        Endpoint::Messages => Box::new(anthropic::Messages::default()),
        Endpoint::GenerateContent | Endpoint::StreamGenerateContent => Box::new(gemini::Gemini),
        Endpoint::Converse | Endpoint::ConverseStream => Box::new(bedrock::Converse::default()),
        Endpoint::CohereChat => Box::new(cohere::Chat::default()),
        Endpoint::Embeddings | Endpoint::Models | Endpoint::CountTokens => return None,
    })
}

/// Largest body or held event the guard keeps; beyond it the rest passes unjudged only if
/// nothing is held, else the stream is cut (see [`ToolCallGuard::push`]).
pub const MAX_HELD: usize = 8 << 20;

/// How the guard splits the body.
enum Frames {
    /// A whole JSON body, judged at the end.
    Json(BytesMut),
    Sse(BytesMut),
    EventStream(BytesMut),
}

/// Judges the tool calls of one response as it streams through.
pub struct ToolCallGuard {
    frames: Frames,
    rewriter: Box<dyn Rewriter>,
    judge: Box<dyn ToolJudge + Send + Sync>,
    /// The body was too large to judge whole: it went out as it came.
    gave_up: bool,
}

/// Why a response could not be judged; the proxy ends it with an error.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("a held tool call exceeded {MAX_HELD} bytes")]
    TooLarge,
}

impl ToolCallGuard {
    /// A guard for a successful response of `endpoint`; `None` for endpoints without tool
    /// calls.
    pub fn new(
        endpoint: Endpoint,
        framing: Framing,
        judge: Box<dyn ToolJudge + Send + Sync>,
    ) -> Option<Self> {
        let frames = match framing {
            Framing::Json => Frames::Json(BytesMut::new()),
            Framing::Sse => Frames::Sse(BytesMut::new()),
            Framing::EventStream => Frames::EventStream(BytesMut::new()),
        };
        Some(ToolCallGuard {
            frames,
            rewriter: rewriter(endpoint)?,
            judge,
            gave_up: false,
        })
    }

    /// Whether the whole body is held until the end (a JSON body): the response's length
    /// header must go.
    pub fn holds_whole_body(&self) -> bool {
        matches!(self.frames, Frames::Json(_))
    }

    /// Feeds upstream bytes; returns what to send to the client now.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Bytes, GuardError> {
        if self.gave_up {
            return Ok(Bytes::copy_from_slice(bytes));
        }
        let mut out = Vec::new();
        match &mut self.frames {
            Frames::Json(buf) => {
                if buf.len() + bytes.len() > MAX_HELD {
                    return Err(GuardError::TooLarge);
                }
                buf.extend_from_slice(bytes);
            }
            Frames::Sse(buf) => {
                buf.extend_from_slice(bytes);
                while let Some(end) = crate::request::event_end(buf) {
                    let raw = buf.split_to(end).freeze();
                    sse_event(raw, self.rewriter.as_mut(), self.judge.as_mut(), &mut out);
                }
                if buf.len() > MAX_HELD {
                    return Err(GuardError::TooLarge);
                }
            }
            Frames::EventStream(buf) => {
                buf.extend_from_slice(bytes);
                while buf.len() >= 4 {
                    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    if len > crate::eventstream::MAX_MESSAGE {
                        // Not an event stream after all: pass it on as it is.
                        self.gave_up = true;
                        out.push(buf.split().freeze());
                        break;
                    }
                    if buf.len() < len {
                        break;
                    }
                    let raw = buf.split_to(len).freeze();
                    frame_event(raw, self.rewriter.as_mut(), self.judge.as_mut(), &mut out);
                }
            }
        }
        Ok(join(out))
    }

    /// The body ended: what is still held, judged.
    pub fn finish(&mut self) -> Bytes {
        let mut out = Vec::new();
        match &mut self.frames {
            Frames::Json(buf) => {
                let raw = buf.split().freeze();
                let rewritten = serde_json::from_slice::<Value>(&raw)
                    .ok()
                    .and_then(|mut body| {
                        self.rewriter
                            .body(&mut body, self.judge.as_mut())
                            .then(|| serde_json::to_vec(&body).ok())
                            .flatten()
                    });
                out.push(rewritten.map(Bytes::from).unwrap_or(raw));
            }
            Frames::Sse(buf) | Frames::EventStream(buf) => {
                self.rewriter.finish(self.judge.as_mut(), &mut out);
                out.push(buf.split().freeze());
            }
        }
        join(out)
    }
}

fn join(parts: Vec<Bytes>) -> Bytes {
    match parts.len() {
        0 => Bytes::new(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
            for p in parts {
                all.extend_from_slice(&p);
            }
            all.freeze()
        }
    }
}

/// One raw SSE event: passed as it is unless it may concern tools (decided before its data
/// is copied out).
fn sse_event(
    raw: Bytes,
    rewriter: &mut dyn Rewriter,
    judge: &mut dyn ToolJudge,
    out: &mut Vec<Bytes>,
) {
    let Ok(text) = std::str::from_utf8(&raw) else {
        out.push(raw);
        return;
    };
    let name = text
        .lines()
        .find_map(|line| line.strip_prefix("event:"))
        .map(|v| v.trim().to_owned());
    if !rewriter.concerns_tools(name.as_deref(), &raw) {
        out.push(raw);
        return;
    }
    let mut data = String::new();
    for v in text.lines().filter_map(|line| line.strip_prefix("data:")) {
        if !data.is_empty() {
            data.push('\n');
        }
        data.push_str(v.strip_prefix(' ').unwrap_or(v));
    }
    match serde_json::from_str::<Value>(&data) {
        Ok(data) => rewriter.event(Event { name, data, raw }, judge, out),
        Err(_) => out.push(raw),
    }
}

/// One raw event-stream frame: passed as it is unless it may concern tools.
fn frame_event(
    raw: Bytes,
    rewriter: &mut dyn Rewriter,
    judge: &mut dyn ToolJudge,
    out: &mut Vec<Bytes>,
) {
    let mut decoder = EventStreamDecoder::new();
    let frame = match decoder.push(&raw) {
        Ok(mut frames) if frames.len() == 1 => frames.remove(0),
        _ => {
            out.push(raw);
            return;
        }
    };
    if frame.message_type != "event" || !rewriter.concerns_tools(Some(&frame.event_type), &raw) {
        out.push(raw);
        return;
    }
    match serde_json::from_slice::<Value>(&frame.payload) {
        Ok(data) => rewriter.event(
            Event {
                name: Some(frame.event_type),
                data,
                raw,
            },
            judge,
            out,
        ),
        Err(_) => out.push(raw),
    }
}

/// An SSE event with this data (and name, when the format names its events).
pub(crate) fn sse(name: Option<&str>, data: &Value) -> Bytes {
    let data = data.to_string();
    Bytes::from(match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    })
}

/// Whether `raw` contains any of `needles` (a cheap pre-filter before parsing).
pub(crate) fn mentions(raw: &[u8], needles: &[&str]) -> bool {
    needles
        .iter()
        .any(|n| memchr::memmem::find(raw, n.as_bytes()).is_some())
}

#[cfg(test)]
pub(crate) mod tests;
