//! Reading what Gatehouse needs from a request body (the model, whether it streams), and
//! asking an OpenAI-compatible upstream for stream usage the client did not ask for —
//! then hiding that usage again so the client sees exactly the stream it asked for.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use crate::route::Endpoint;

/// What Gatehouse reads of a request body; everything else stays in the raw body, which
/// is forwarded unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPeek {
    /// The model asked for: from the body, or from the path where the API names it there.
    pub model: String,
    /// The client asked for a streamed reply.
    pub stream: bool,
    /// OpenAI chat: `stream_options.include_usage` as sent.
    pub include_usage: bool,
}

/// Why a request body is unusable.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(serde_json::Error),
    #[error("request body must be a JSON object")]
    NotAnObject,
    #[error("request body must be a JSON object with a string `model`: {0}")]
    InvalidShape(serde_json::Error),
    #[error("request body must name a `model`")]
    MissingModel,
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Reads `model` and `stream` from a body of `endpoint`; `path_model` is the model the
/// path named (Gemini, Bedrock, Azure deployments), which wins over the body's.
pub fn peek(
    endpoint: Endpoint,
    path_model: Option<&str>,
    body: &[u8],
) -> Result<RequestPeek, RequestError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(RequestError::MalformedJson)?;
    if !value.is_object() {
        // serde would read a struct from a JSON array too (`["gpt-4o", true]`).
        return Err(RequestError::NotAnObject);
    }
    let peek: Peek = serde_json::from_value(value).map_err(RequestError::InvalidShape)?;
    let model = match path_model {
        Some(model) => model.to_owned(),
        None => peek.model.ok_or(RequestError::MissingModel)?,
    };
    Ok(RequestPeek {
        model,
        stream: endpoint.always_streams() || peek.stream == Some(true),
        include_usage: peek
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
    })
}

/// The body with `stream_options.include_usage` set, for a streamed chat request that did
/// not ask for usage. The common case (no `stream_options` at all) is a byte insertion
/// that leaves the rest of the body exactly as sent.
pub fn ask_for_usage(body: &[u8]) -> Option<Bytes> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.contains_key("stream_options") {
        let mut value = value;
        let options = value.get_mut("stream_options")?.as_object_mut()?;
        options.insert("include_usage".into(), serde_json::Value::Bool(true));
        return serde_json::to_vec(&value).ok().map(Bytes::from);
    }
    if object.is_empty() {
        return None;
    }
    let open = body.iter().position(|b| *b == b'{')?;
    let mut out = BytesMut::with_capacity(body.len() + 40);
    out.extend_from_slice(&body[..=open]);
    out.extend_from_slice(br#""stream_options":{"include_usage":true},"#);
    out.extend_from_slice(&body[open + 1..]);
    Some(out.freeze())
}

/// Removes from an OpenAI chat stream what asking for usage added: the final usage-only
/// chunk (`"choices":[]` with `usage`) and the `"usage":null` field of every other chunk.
/// Whole events pass at once; only an incomplete trailing event is held back.
#[derive(Debug, Default)]
pub struct UsageChunkFilter {
    pending: BytesMut,
}

/// An event longer than this is passed through unfiltered rather than held.
const MAX_HELD: usize = 4 << 20;

impl UsageChunkFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now.
    pub fn push(&mut self, bytes: &[u8]) -> Bytes {
        self.pending.extend_from_slice(bytes);
        let mut out = BytesMut::with_capacity(self.pending.len());
        while let Some(end) = event_end(&self.pending) {
            let event = self.pending.split_to(end);
            filter_event(&event, &mut out);
        }
        if self.pending.len() > MAX_HELD {
            out.extend_from_slice(&self.pending.split());
        }
        out.freeze()
    }

    /// The end of the stream: whatever is still held, unfiltered.
    pub fn finish(&mut self) -> Bytes {
        self.pending.split().freeze()
    }
}

/// The length of the first complete event (through its blank line), if any.
pub(crate) fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'\n' if buf.get(i + 1) == Some(&b'\n') => return Some(i + 2),
            b'\n' if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') => {
                return Some(i + 3)
            }
            b'\r' if buf.get(i + 1) == Some(&b'\r') => return Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    None
}

fn filter_event(event: &[u8], out: &mut BytesMut) {
    let text = match std::str::from_utf8(event) {
        Ok(text) => text,
        Err(_) => {
            out.extend_from_slice(event);
            return;
        }
    };
    if text.contains("\"usage\":{") && is_usage_only(text) {
        return;
    }
    for pattern in [",\"usage\":null", "\"usage\":null,"] {
        if let Some(at) = text.find(pattern) {
            out.extend_from_slice(&event[..at]);
            out.extend_from_slice(&event[at + pattern.len()..]);
            return;
        }
    }
    out.extend_from_slice(event);
}

/// A chunk with no choices and a usage object: the one `include_usage` adds.
fn is_usage_only(event: &str) -> bool {
    #[derive(Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Option<Vec<serde_json::Value>>,
        #[serde(default)]
        usage: Option<serde_json::Value>,
    }
    let data: String = event
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str::<Chunk>(&data).is_ok_and(|c| {
        c.choices.is_some_and(|choices| choices.is_empty())
            && c.usage.is_some_and(|u| u.is_object())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_model_and_stream_and_ignores_the_rest() {
        let peek = peek(
            Endpoint::ChatCompletions,
            None,
            br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        assert_eq!(
            peek,
            RequestPeek {
                model: "gpt-4o".into(),
                stream: true,
                include_usage: false
            }
        );
    }

    #[test]
    fn path_models_and_streaming_endpoints() {
        let p = peek(
            Endpoint::StreamGenerateContent,
            Some("gemini-2.5-pro"),
            b"{}",
        )
        .unwrap();
        assert_eq!((p.model.as_str(), p.stream), ("gemini-2.5-pro", true));
        assert!(matches!(
            peek(Endpoint::Messages, None, br#"{"max_tokens":1}"#),
            Err(RequestError::MissingModel)
        ));
    }

    #[test]
    fn peek_tells_malformed_json_from_a_wrong_shape() {
        let chat = |b: &[u8]| peek(Endpoint::ChatCompletions, None, b);
        assert!(matches!(
            chat(b"{\"model\":"),
            Err(RequestError::MalformedJson(_))
        ));
        for array in [&b"[1,2]"[..], br#"["gpt-4o", true]"#, b"[\n\"\"\n]"] {
            assert!(matches!(chat(array), Err(RequestError::NotAnObject)));
        }
        assert!(matches!(
            chat(b"{\"model\":7}"),
            Err(RequestError::InvalidShape(_))
        ));
    }

    #[test]
    fn asking_for_usage_inserts_or_merges() {
        let body = br#"{"model":"m","stream":true,"messages":[]}"#;
        let asked = ask_for_usage(body).unwrap();
        assert_eq!(
            &asked[..],
            br#"{"stream_options":{"include_usage":true},"model":"m","stream":true,"messages":[]}"#
        );
        let merged =
            ask_for_usage(br#"{"model":"m","stream_options":{"include_obfuscation":false}}"#)
                .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["include_obfuscation"], false);
    }

    #[test]
    fn the_filter_restores_the_stream_the_client_asked_for() {
        let upstream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
            "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n"
        );
        let want = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        for piece in 1..upstream.len() {
            let mut f = UsageChunkFilter::new();
            let mut got = Vec::new();
            for chunk in upstream.as_bytes().chunks(piece) {
                got.extend_from_slice(&f.push(chunk));
            }
            got.extend_from_slice(&f.finish());
            assert_eq!(String::from_utf8(got).unwrap(), want, "split every {piece}");
        }
    }

    #[test]
    fn whole_events_are_not_held_back() {
        let mut f = UsageChunkFilter::new();
        let out = f.push(b"data: {\"choices\":[{\"delta\":{}}]}\n\ndata: {\"cho");
        assert_eq!(&out[..], b"data: {\"choices\":[{\"delta\":{}}]}\n\n");
        assert_eq!(&f.finish()[..], b"data: {\"cho");
    }
}
