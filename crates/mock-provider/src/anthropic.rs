//! Anthropic's Messages API as the real one answers: a `message` object, or the typed
//! SSE events `message_start` … `message_stop`; `count_tokens`; `{"type":"error"}` bodies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use llm::dialect::ErrorKind;
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::{bearer, has_header, json_error, serve, sse, Api, Incoming, MockState};

fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status.as_u16() {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::TooLarge,
        429 => ErrorKind::RateLimit,
        529 => ErrorKind::Unavailable,
        400..=499 => ErrorKind::InvalidRequest,
        _ => ErrorKind::Server,
    };
    let body = llm::anthropic::error_body(kind, message);
    json_error(status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// `x-api-key` (or an OAuth bearer token) and the required `anthropic-version`.
fn authorized(headers: &HeaderMap, _query: Option<&str>) -> bool {
    (has_header(headers, "x-api-key") || bearer(headers).is_some())
        && has_header(headers, "anthropic-version")
}

fn usage(reply: &Reply, output: usize) -> Value {
    json!({"input_tokens": reply.prompt_tokens, "output_tokens": output,
           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

fn message(reply: &Reply, content: Value, stop: Option<&str>, output: usize) -> Value {
    json!({"id": reply.id, "type": "message", "role": "assistant",
           "model": reply.model, "content": content, "stop_reason": stop,
           "stop_sequence": null, "usage": usage(reply, output)})
}

fn whole(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        let blocks: Vec<Value> = reply
            .calls
            .iter()
            .map(|c| {
                json!({"type": "tool_use", "id": c.id, "name": c.name,
                            "input": c.arguments_json()})
            })
            .collect();
        return message(
            reply,
            Value::Array(blocks),
            Some("tool_use"),
            reply.completion_tokens(),
        );
    }
    let content = json!([{"type": "text", "text": reply.text()}]);
    message(reply, content, Some("end_turn"), reply.completion_tokens())
}

fn events(reply: &Reply) -> Vec<Bytes> {
    let event = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        sse(Some(name), &data)
    };
    let mut events = vec![
        event(
            "message_start",
            json!({"message": message(reply, json!([]), None, 1)}),
        ),
        event(
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({})),
    ];
    if !reply.calls.is_empty() {
        events.pop();
        events.remove(1);
        for (index, call) in reply.calls.iter().enumerate() {
            events.push(event(
                "content_block_start",
                json!({"index": index, "content_block": {"type": "tool_use", "id": call.id,
                       "name": call.name, "input": {}}}),
            ));
            for piece in call.argument_pieces() {
                events.push(event(
                    "content_block_delta",
                    json!({"index": index,
                           "delta": {"type": "input_json_delta", "partial_json": piece}}),
                ));
            }
            events.push(event("content_block_stop", json!({"index": index})));
        }
        events.push(event(
            "message_delta",
            json!({"delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"output_tokens": reply.completion_tokens()}}),
        ));
        events.push(event("message_stop", json!({})));
        return events;
    }
    for text in &reply.chunks {
        events.push(event(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "text_delta", "text": text}}),
        ));
    }
    events.push(event("content_block_stop", json!({"index": 0})));
    events.push(event(
        "message_delta",
        json!({"delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": reply.completion_tokens()}}),
    ));
    events.push(event("message_stop", json!({})));
    events
}

const MESSAGES: Api = Api {
    authorized,
    error,
    schema: |s| &s.anthropic_messages,
    whole,
    events,
    stream_content_type: "text/event-stream; charset=utf-8",
    id_prefix: "msg_",
};

const COUNT_TOKENS: Api = Api {
    schema: |s| &s.anthropic_count_tokens,
    whole: |reply| json!({"input_tokens": reply.prompt_tokens}),
    ..MESSAGES
};

/// `POST /v1/messages`.
pub async fn messages(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming::new("/v1/messages", &query, &headers, &body);
    serve(state, &MESSAGES, incoming).await
}

/// `POST /v1/messages/count_tokens`: never streams.
pub async fn count_tokens(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming::new("/v1/messages/count_tokens", &query, &headers, &body);
    serve(state, &COUNT_TOKENS, incoming).await
}
