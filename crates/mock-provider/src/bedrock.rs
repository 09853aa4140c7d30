//! Bedrock Runtime's Converse and ConverseStream as the real service answers: a JSON
//! `ConverseResponse`, or AWS event-stream frames (`messageStart`, `contentBlockDelta`, …,
//! `metadata`). Errors carry their type in `x-amzn-ErrorType`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use llm::eventstream;
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::{bearer, json_error, serve, Api, Incoming, MockState};

fn error(status: StatusCode, message: &str) -> Response {
    let error_type = match status.as_u16() {
        400 => "ValidationException",
        401 | 403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    };
    let mut response = json_error(status, json!({"message": message}));
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// A Bedrock API key (`Bearer`) or a SigV4 signature.
fn authorized(headers: &HeaderMap, _query: Option<&str>) -> bool {
    bearer(headers).is_some()
        || headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "))
}

fn usage(reply: &Reply) -> Value {
    let output = reply.completion_tokens();
    json!({"inputTokens": reply.prompt_tokens, "outputTokens": output,
           "totalTokens": reply.prompt_tokens + output})
}

fn whole(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        let content: Vec<Value> = reply
            .calls
            .iter()
            .map(|c| {
                json!({"toolUse": {"toolUseId": c.id, "name": c.name,
                                        "input": c.arguments_json()}})
            })
            .collect();
        return json!({"output": {"message": {"role": "assistant", "content": content}},
                      "stopReason": "tool_use", "usage": usage(reply),
                      "metrics": {"latencyMs": 1}});
    }
    json!({"output": {"message": {"role": "assistant", "content": [{"text": reply.text()}]}},
           "stopReason": "end_turn", "usage": usage(reply), "metrics": {"latencyMs": 1}})
}

fn events(reply: &Reply) -> Vec<Bytes> {
    let event = |name: &str, payload: Value| eventstream::event(name, payload.to_string());
    let mut events = vec![event("messageStart", json!({"role": "assistant"}))];
    if !reply.calls.is_empty() {
        for (index, call) in reply.calls.iter().enumerate() {
            events.push(event(
                "contentBlockStart",
                json!({"contentBlockIndex": index,
                       "start": {"toolUse": {"toolUseId": call.id, "name": call.name}}}),
            ));
            for piece in call.argument_pieces() {
                events.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
                ));
            }
            events.push(event(
                "contentBlockStop",
                json!({"contentBlockIndex": index}),
            ));
        }
        events.push(event("messageStop", json!({"stopReason": "tool_use"})));
        events.push(event(
            "metadata",
            json!({"usage": usage(reply), "metrics": {"latencyMs": 1}}),
        ));
        return events;
    }
    for text in &reply.chunks {
        events.push(event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": text}}),
        ));
    }
    events.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    events.push(event("messageStop", json!({"stopReason": "end_turn"})));
    events.push(event(
        "metadata",
        json!({"usage": usage(reply), "metrics": {"latencyMs": 1}}),
    ));
    events
}

const CONVERSE: Api = Api {
    authorized,
    error,
    schema: |s| &s.bedrock_converse,
    whole,
    events,
    stream_content_type: eventstream::CONTENT_TYPE,
    id_prefix: "",
};

async fn call(
    state: Arc<MockState>,
    uri: Uri,
    model: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    streams: bool,
) -> Response {
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if let (true, Some(secret)) = (signed, &state.config.aws_secret_access_key) {
        // The path exactly as sent: the model id stays percent-encoded.
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        if let Err(message) = crate::sigv4::verify(secret, &headers, path_and_query, &body) {
            let mut response = error(StatusCode::FORBIDDEN, &message);
            response.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static("InvalidSignatureException"),
            );
            return response;
        }
    }
    let (suffix, api) = if streams {
        let api = Api {
            schema: |s| &s.bedrock_converse_stream,
            ..CONVERSE
        };
        ("converse-stream", api)
    } else {
        ("converse", CONVERSE)
    };
    let incoming = Incoming {
        path: format!("/model/{model}/{suffix}"),
        query: query.as_deref(),
        headers: &headers,
        body: &body,
        path_model: Some(model),
        streams,
    };
    serve(state, &api, incoming).await
}

/// `POST /model/{modelId}/converse`.
pub async fn converse(
    State(state): State<Arc<MockState>>,
    Path(model): Path<String>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(state, uri, model, query, headers, body, false).await
}

/// `POST /model/{modelId}/converse-stream`.
pub async fn converse_stream(
    State(state): State<Arc<MockState>>,
    Path(model): Path<String>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(state, uri, model, query, headers, body, true).await
}
