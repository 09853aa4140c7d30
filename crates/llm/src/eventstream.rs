//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) that Bedrock's
//! `ConverseStream` answers in, decoded and encoded with `aws-smithy-eventstream` (the AWS
//! SDKs' own implementation, CRCs included). A synchronous decoder fed chunk by chunk.

use aws_smithy_eventstream::frame::{write_message_to, DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// The content type of an event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The largest message the decoder buffers (the format's own limit is 16 MiB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// One decoded message: its `:message-type`, `:event-type` (or `:exception-type`) and
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `event`, `exception` or `error`.
    pub message_type: String,
    /// The event's name (`contentBlockDelta`) or the exception's (`throttlingException`).
    pub event_type: String,
    pub payload: Bytes,
}

/// Why a stream is not a valid event stream.
#[derive(Debug, thiserror::Error)]
pub enum EventStreamError {
    #[error("invalid event-stream frame: {0}")]
    Frame(#[from] aws_smithy_eventstream::error::Error),
    #[error("event-stream message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
}

/// Incremental decoder: bytes in, whole frames out.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buffer: BytesMut,
    frames: MessageFrameDecoder,
}

fn header_str<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

impl EventStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, EventStreamError> {
        if self.buffer.len() + bytes.len() > MAX_MESSAGE {
            return Err(EventStreamError::TooLarge);
        }
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let DecodedFrame::Complete(message) = self.frames.decode_frame(&mut self.buffer)? {
            let message_type = header_str(&message, ":message-type").unwrap_or("event");
            let event_type = match message_type {
                "exception" => header_str(&message, ":exception-type"),
                "error" => header_str(&message, ":error-code"),
                _ => header_str(&message, ":event-type"),
            };
            frames.push(Frame {
                message_type: message_type.to_owned(),
                event_type: event_type.unwrap_or_default().to_owned(),
                payload: message.payload().clone(),
            });
        }
        Ok(frames)
    }
}

fn encode(headers: Vec<Header>, payload: Bytes) -> Bytes {
    let message = Message::new_from_parts(headers, payload);
    let mut out = Vec::new();
    // Writing to a Vec fails only for headers or payloads beyond the format's limits,
    // which Gatehouse never builds; an empty frame is the safe fallback.
    match write_message_to(&message, &mut out) {
        Ok(()) => Bytes::from(out),
        Err(_) => Bytes::new(),
    }
}

/// An `event` frame as Bedrock writes them (`:content-type: application/json`).
pub fn event(event_type: &str, payload: impl Into<Bytes>) -> Bytes {
    let string = |s: &str| HeaderValue::String(s.to_owned().into());
    encode(
        vec![
            Header::new(":event-type", string(event_type)),
            Header::new(":content-type", string("application/json")),
            Header::new(":message-type", string("event")),
        ],
        payload.into(),
    )
}

/// An `exception` frame (`throttlingException`, `internalServerException`, …); the AWS
/// SDKs raise it as the modeled error.
pub fn exception(exception_type: &str, message: &str) -> Bytes {
    let string = |s: &str| HeaderValue::String(s.to_owned().into());
    let payload = serde_json::json!({ "message": message }).to_string();
    encode(
        vec![
            Header::new(":exception-type", string(exception_type)),
            Header::new(":content-type", string("application/json")),
            Header::new(":message-type", string("exception")),
        ],
        Bytes::from(payload),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_however_the_bytes_are_split() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&event("messageStart", r#"{"role":"assistant"}"#));
        stream.extend_from_slice(&event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"hé"}}"#,
        ));
        stream.extend_from_slice(&exception("throttlingException", "slow down"));
        for piece in [1, 3, 7, 64, stream.len()] {
            let mut d = EventStreamDecoder::new();
            let frames: Vec<Frame> = stream
                .chunks(piece)
                .flat_map(|c| d.push(c).unwrap())
                .collect();
            assert_eq!(frames.len(), 3, "split every {piece}");
            assert_eq!(frames[0].event_type, "messageStart");
            assert_eq!(
                frames[1].payload,
                r#"{"contentBlockIndex":0,"delta":{"text":"hé"}}"#
            );
            assert_eq!(
                (
                    frames[2].message_type.as_str(),
                    frames[2].event_type.as_str()
                ),
                ("exception", "throttlingException")
            );
        }
    }

    #[test]
    fn corrupt_frames_are_errors() {
        let mut frame = event("messageStart", "{}").to_vec();
        let last = frame.len() - 1;
        frame[last] ^= 0xff;
        assert!(EventStreamDecoder::new().push(&frame).is_err());
    }
}
