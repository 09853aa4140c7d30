//! Cohere's v2 chat as the real API answers: a chat response, or SSE events
//! (`message-start`, `content-delta`, …, `message-end`). Errors are `{"message": …}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::{bearer, json_error, serve, sse, Api, Incoming, MockState};

fn error(status: StatusCode, message: &str) -> Response {
    json_error(status, json!({"message": message}))
}

fn authorized(headers: &HeaderMap, _query: Option<&str>) -> bool {
    bearer(headers).is_some()
}

fn usage(reply: &Reply) -> Value {
    let tokens =
        json!({"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens()});
    json!({"billed_units": tokens, "tokens": tokens})
}

fn tool_call(call: &crate::reply::CallReply, arguments: &str) -> Value {
    json!({"id": call.id, "type": "function",
           "function": {"name": call.name, "arguments": arguments}})
}

fn whole(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        let calls: Vec<Value> = reply
            .calls
            .iter()
            .map(|c| tool_call(c, &c.arguments))
            .collect();
        return json!({"id": reply.id, "finish_reason": "TOOL_CALL",
            "message": {"role": "assistant", "tool_plan": "I will call the tools.",
                        "tool_calls": calls},
            "usage": usage(reply)});
    }
    json!({"id": reply.id, "finish_reason": "COMPLETE",
           "message": {"role": "assistant", "content": [{"type": "text", "text": reply.text()}]},
           "usage": usage(reply)})
}

fn events(reply: &Reply) -> Vec<Bytes> {
    let event = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        sse(Some(name), &data)
    };
    let mut events = vec![
        event(
            "message-start",
            json!({"id": reply.id, "delta": {"message": {"role": "assistant", "content": [],
                   "tool_plan": "", "tool_calls": [], "citations": []}}}),
        ),
        event(
            "content-start",
            json!({"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ),
    ];
    if !reply.calls.is_empty() {
        events.pop();
        for (index, call) in reply.calls.iter().enumerate() {
            events.push(event(
                "tool-call-start",
                json!({"index": index,
                       "delta": {"message": {"tool_calls": tool_call(call, "")}}}),
            ));
            for piece in call.argument_pieces() {
                events.push(event(
                    "tool-call-delta",
                    json!({"index": index, "delta": {"message": {"tool_calls":
                           {"function": {"arguments": piece}}}}}),
                ));
            }
            events.push(event("tool-call-end", json!({"index": index})));
        }
        events.push(event(
            "message-end",
            json!({"delta": {"finish_reason": "TOOL_CALL", "usage": usage(reply)}}),
        ));
        return events;
    }
    for text in &reply.chunks {
        events.push(event(
            "content-delta",
            json!({"index": 0, "delta": {"message": {"content": {"text": text}}}}),
        ));
    }
    events.push(event("content-end", json!({"index": 0})));
    events.push(event(
        "message-end",
        json!({"delta": {"finish_reason": "COMPLETE", "usage": usage(reply)}}),
    ));
    events
}

const CHAT: Api = Api {
    authorized,
    error,
    schema: |s| &s.cohere_chat,
    whole,
    events,
    stream_content_type: "text/event-stream",
    id_prefix: "",
};

/// `POST /v2/chat`.
pub async fn chat(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming::new("/v2/chat", &query, &headers, &body);
    serve(state, &CHAT, incoming).await
}
