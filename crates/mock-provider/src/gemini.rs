//! Gemini's `generateContent` and `streamGenerateContent` as the real API answers: one
//! `GenerateContentResponse`, or a stream of them — SSE with `alt=sse`, else one JSON array
//! sent piece by piece. Errors are `{"error":{"code","message","status"}}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::{has_header, json_error, serve, Api, Incoming, MockState};

fn error(status: StatusCode, message: &str) -> Response {
    let rpc_status = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    json_error(
        status,
        json!({"error": {"code": status.as_u16(), "message": message, "status": rpc_status}}),
    )
}

/// `x-goog-api-key`, or the `key` query parameter.
fn authorized(headers: &HeaderMap, query: Option<&str>) -> bool {
    has_header(headers, "x-goog-api-key")
        || query.is_some_and(|q| q.split('&').any(|p| p.len() > 4 && p.starts_with("key=")))
}

fn response(reply: &Reply, text: &str, last: bool) -> Value {
    let mut candidate =
        json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    let output = if last { reply.completion_tokens() } else { 1 };
    if last {
        candidate["finishReason"] = json!("STOP");
    }
    json!({"candidates": [candidate],
           "usageMetadata": {"promptTokenCount": reply.prompt_tokens, "candidatesTokenCount": output,
                             "totalTokenCount": reply.prompt_tokens + output},
           "modelVersion": reply.model, "responseId": reply.id})
}

fn whole(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        return calls_response(reply);
    }
    response(reply, &reply.text(), true)
}

/// Every call as a `functionCall` part of one response (Gemini sends calls whole).
fn calls_response(reply: &Reply) -> Value {
    let mut r = response(reply, "", true);
    let parts: Vec<Value> = reply
        .calls
        .iter()
        .map(|c| json!({"functionCall": {"name": c.name, "args": c.arguments_json()}}))
        .collect();
    r["candidates"][0]["content"]["parts"] = Value::Array(parts);
    r
}

fn chunks(reply: &Reply) -> Box<dyn Iterator<Item = Value> + '_> {
    if !reply.calls.is_empty() {
        return Box::new(std::iter::once(calls_response(reply)));
    }
    let n = reply.chunks.len();
    Box::new(
        reply
            .chunks
            .iter()
            .enumerate()
            .map(move |(i, text)| response(reply, text, i + 1 == n)),
    )
}

fn sse_events(reply: &Reply) -> Vec<Bytes> {
    chunks(reply)
        .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
        .collect()
}

/// The JSON-array stream: `[` + first, `,\r\n` + each next, then `]`.
fn array_events(reply: &Reply) -> Vec<Bytes> {
    let mut events: Vec<Bytes> = chunks(reply)
        .enumerate()
        .map(|(i, c)| Bytes::from(format!("{}{c}", if i == 0 { "[" } else { ",\r\n" })))
        .collect();
    events.push(Bytes::from_static(b"]"));
    events
}

const GENERATE: Api = Api {
    authorized,
    error,
    schema: |s| &s.gemini_generate_content,
    whole,
    events: sse_events,
    stream_content_type: "text/event-stream",
    id_prefix: "",
};

/// `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`.
pub async fn models_call(
    State(state): State<Arc<MockState>>,
    Path(call): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    generate(
        state,
        format!("/v1beta/models/{call}"),
        call,
        query,
        headers,
        body,
        GENERATE,
    )
    .await
}

/// Vertex AI accepts only OAuth access tokens (ones the mock's token endpoint issued).
fn vertex_authorized(state: &MockState, headers: &HeaderMap) -> bool {
    crate::bearer(headers).is_some_and(|t| state.issued.contains(t))
}

/// `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…` (Vertex AI).
pub async fn vertex_call(
    State(state): State<Arc<MockState>>,
    Path((project, location, call)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !vertex_authorized(&state, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        );
    }
    let path =
        format!("/v1/projects/{project}/locations/{location}/publishers/google/models/{call}");
    // The token was checked above; the common checks then only need it present.
    let api = Api {
        authorized: |headers, _| crate::bearer(headers).is_some(),
        ..GENERATE
    };
    generate(state, path, call, query, headers, body, api).await
}

async fn generate(
    state: Arc<MockState>,
    path: String,
    call: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    api: Api,
) -> Response {
    let Some((model, method)) = call.rsplit_once(':') else {
        return error(StatusCode::NOT_FOUND, "unknown method");
    };
    let streams = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return error(StatusCode::NOT_FOUND, "unknown method"),
    };
    let alt_sse = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
    let api = if streams && !alt_sse {
        Api {
            events: array_events,
            stream_content_type: "application/json; charset=UTF-8",
            ..api
        }
    } else {
        api
    };
    let incoming = Incoming {
        path,
        query: query.as_deref(),
        headers: &headers,
        body: &body,
        path_model: Some(model.to_owned()),
        streams,
    };
    serve(state, &api, incoming).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_stream_is_one_json_array() {
        let reply = Reply::new("r".into(), "gemini-x".into(), 2, 3, &Value::Null);
        let joined: Vec<u8> = array_events(&reply).concat();
        let all: Vec<Value> = serde_json::from_slice(&joined).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2]["candidates"][0]["finishReason"], "STOP");
    }
}
