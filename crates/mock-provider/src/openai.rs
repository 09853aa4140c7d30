//! OpenAI (and Azure OpenAI) as the real APIs answer: `chat.completion` objects or
//! `chat.completion.chunk` events ending in `data: [DONE]`; Responses objects or their
//! typed event stream; embeddings (floats or base64); the model list.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use llm::openai::{error_body, ErrorType};
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::{bearer, has_header, serve, sse, Api, Incoming, MockState};

fn error(status: StatusCode, message: &str) -> Response {
    let error_type = match status.as_u16() {
        401 => ErrorType::Authentication,
        403 => ErrorType::Permission,
        404 => ErrorType::NotFound,
        429 => ErrorType::RateLimit,
        400..=499 => ErrorType::InvalidRequest,
        _ => ErrorType::Server,
    };
    let code = match status.as_u16() {
        401 => "invalid_api_key",
        400 => "invalid_request",
        _ => "mock_error",
    };
    let mut response = (status, error_body(message, error_type, code)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn openai_auth(headers: &HeaderMap, _query: Option<&str>) -> bool {
    bearer(headers).is_some()
}

/// Azure takes `api-key` or an Entra ID bearer token.
fn azure_auth(headers: &HeaderMap, _query: Option<&str>) -> bool {
    has_header(headers, "api-key") || bearer(headers).is_some()
}

// ---- chat completions ------------------------------------------------------------------

fn usage(reply: &Reply) -> Value {
    let completion = reply.completion_tokens();
    json!({"prompt_tokens": reply.prompt_tokens, "completion_tokens": completion,
           "total_tokens": reply.prompt_tokens + completion,
           "prompt_tokens_details": {"cached_tokens": 0},
           "completion_tokens_details": {"reasoning_tokens": 0}})
}

pub fn completion(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        let calls: Vec<Value> = reply
            .calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        return json!({
            "id": reply.id, "object": "chat.completion",
            "created": reply.created, "model": reply.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": null, "refusal": null,
                            "tool_calls": calls}}],
            "usage": usage(reply),
        });
    }
    json!({
        "id": reply.id, "object": "chat.completion",
        "created": reply.created, "model": reply.model, "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
            "message": {"role": "assistant", "content": reply.text(), "refusal": null}}],
        "usage": usage(reply),
    })
}

fn chunk(reply: &Reply, delta: Value, finish_reason: Option<&str>) -> Value {
    let mut chunk = json!({
        "id": reply.id, "object": "chat.completion.chunk",
        "created": reply.created, "model": reply.model, "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    });
    if reply.include_usage {
        // With include_usage every chunk carries `"usage": null` until the last.
        chunk["usage"] = Value::Null;
    }
    chunk
}

/// Every SSE event of the streamed chat reply, in order.
pub fn chat_events(reply: &Reply) -> Vec<Bytes> {
    let mut events = vec![sse(
        None,
        &chunk(reply, json!({"role": "assistant", "content": ""}), None),
    )];
    if reply.calls.is_empty() {
        events.extend(
            reply
                .chunks
                .iter()
                .map(|c| sse(None, &chunk(reply, json!({"content": c}), None))),
        );
        events.push(sse(None, &chunk(reply, json!({}), Some("stop"))));
    } else {
        // Each call: its id and name first, then its arguments a few characters at a time.
        for (index, call) in reply.calls.iter().enumerate() {
            let start = json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                "function": {"name": call.name, "arguments": ""}}]});
            events.push(sse(None, &chunk(reply, start, None)));
            for piece in call.argument_pieces() {
                let delta = json!({"tool_calls": [{"index": index,
                                    "function": {"arguments": piece}}]});
                events.push(sse(None, &chunk(reply, delta, None)));
            }
        }
        events.push(sse(None, &chunk(reply, json!({}), Some("tool_calls"))));
    }
    if reply.include_usage {
        let mut last = chunk(reply, json!({}), None);
        last["choices"] = json!([]);
        last["usage"] = usage(reply);
        events.push(sse(None, &last));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

const CHAT: Api = Api {
    authorized: openai_auth,
    error,
    schema: |s| &s.chat_completion_request,
    whole: completion,
    events: chat_events,
    stream_content_type: "text/event-stream; charset=utf-8",
    id_prefix: "chatcmpl-",
};

const AZURE_CHAT: Api = Api {
    authorized: azure_auth,
    ..CHAT
};

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming::new("/v1/chat/completions", &query, &headers, &body);
    serve(state, &CHAT, incoming).await
}

/// Providers whose streams end with usage whether or not the client asked for it.
const USAGE_ALWAYS: [&str; 4] = ["mistral", "perplexity", "zhipuai", "minimax"];

/// `POST /{provider}/v1/chat/completions`: an OpenAI-compatible provider.
pub async fn compatible_chat_completions(
    State(state): State<Arc<MockState>>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{provider}/v1/chat/completions");
    let incoming = Incoming::new(&path, &query, &headers, &body);
    if USAGE_ALWAYS.contains(&provider.as_str()) {
        serve(state, &USAGE_IN_LAST_CHUNK, incoming).await
    } else {
        serve(state, &CHAT, incoming).await
    }
}

/// The last content chunk carries the usage (Mistral's way), asked for or not.
fn usage_in_last_chunk(reply: &Reply) -> Vec<Bytes> {
    let mut events = vec![sse(
        None,
        &chunk(reply, json!({"role": "assistant", "content": ""}), None),
    )];
    let n = reply.chunks.len();
    for (i, text) in reply.chunks.iter().enumerate() {
        let mut c = chunk(
            reply,
            json!({"content": text}),
            (i + 1 == n).then_some("stop"),
        );
        if i + 1 == n {
            c["usage"] = usage(reply);
        }
        events.push(sse(None, &c));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

const USAGE_IN_LAST_CHUNK: Api = Api {
    events: usage_in_last_chunk,
    ..CHAT
};

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=…` (Azure).
pub async fn azure_deployment_chat(
    State(state): State<Arc<MockState>>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has_version = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("api-version=")));
    if !has_version {
        return error(
            StatusCode::NOT_FOUND,
            "Resource not found: api-version query parameter is required",
        );
    }
    let path = format!("/openai/deployments/{deployment}/chat/completions");
    let mut incoming = Incoming::new(&path, &query, &headers, &body);
    incoming.path_model = Some(deployment);
    serve(state, &AZURE_CHAT, incoming).await
}

/// `POST /openai/v1/chat/completions` (Azure's v1 API: the deployment is the `model`).
pub async fn azure_v1_chat(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming::new("/openai/v1/chat/completions", &query, &headers, &body);
    serve(state, &AZURE_CHAT, incoming).await
}

// ---- Responses ----------------------------------------------------------------------------

fn response_object(reply: &Reply, status: &str, output: Value) -> Value {
    let completion = reply.completion_tokens();
    json!({
        "id": reply.id, "object": "response", "created_at": reply.created,
        "status": status, "model": reply.model, "output": output,
        "error": null, "incomplete_details": null, "instructions": null, "metadata": {},
        "parallel_tool_calls": true, "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto",
        "tools": [], "text": {"format": {"type": "text"}}, "truncation": "disabled",
        "usage": if status == "completed" { json!({
            "input_tokens": reply.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.prompt_tokens + completion}) } else { Value::Null },
    })
}

fn message_item(reply: &Reply, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{"type": "output_text", "text": text, "annotations": []}])
    } else {
        json!([])
    };
    json!({"type": "message", "id": format!("msg_{}", reply.id), "status": status,
           "role": "assistant", "content": content})
}

fn call_item(call: &crate::reply::CallReply, status: &str) -> Value {
    let arguments = if status == "completed" {
        call.arguments.as_str()
    } else {
        ""
    };
    json!({"type": "function_call", "id": format!("fc_{}", call.id), "call_id": call.id,
           "name": call.name, "arguments": arguments, "status": status})
}

fn whole_response(reply: &Reply) -> Value {
    if !reply.calls.is_empty() {
        let items: Vec<Value> = reply
            .calls
            .iter()
            .map(|c| call_item(c, "completed"))
            .collect();
        return response_object(reply, "completed", Value::Array(items));
    }
    let item = message_item(reply, &reply.text(), "completed");
    response_object(reply, "completed", json!([item]))
}

/// A streamed reply of function calls, each as its own output item.
fn call_events(reply: &Reply) -> Vec<Bytes> {
    let mut seq = 0u64;
    let mut event = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        sse(Some(name), &data)
    };
    let created = response_object(reply, "in_progress", json!([]));
    let mut events = vec![
        event("response.created", json!({"response": created})),
        event("response.in_progress", json!({"response": created})),
    ];
    for (index, call) in reply.calls.iter().enumerate() {
        let item_id = format!("fc_{}", call.id);
        events.push(event(
            "response.output_item.added",
            json!({"output_index": index, "item": call_item(call, "in_progress")}),
        ));
        for piece in call.argument_pieces() {
            events.push(event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": index, "delta": piece}),
            ));
        }
        events.push(event(
            "response.function_call_arguments.done",
            json!({"item_id": item_id, "output_index": index, "arguments": call.arguments}),
        ));
        events.push(event(
            "response.output_item.done",
            json!({"output_index": index, "item": call_item(call, "completed")}),
        ));
    }
    events.push(event(
        "response.completed",
        json!({"response": whole_response(reply)}),
    ));
    events
}

fn response_events(reply: &Reply) -> Vec<Bytes> {
    if !reply.calls.is_empty() {
        return call_events(reply);
    }
    let item_id = format!("msg_{}", reply.id);
    let mut seq = 0u64;
    let mut event = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        sse(Some(name), &data)
    };
    let mut events = vec![
        event(
            "response.created",
            json!({"response": response_object(reply, "in_progress", json!([]))}),
        ),
        event(
            "response.in_progress",
            json!({"response": response_object(reply, "in_progress", json!([]))}),
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 0, "item": message_item(reply, "", "in_progress")}),
        ),
        event(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
    ];
    for delta in &reply.chunks {
        events.push(event(
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0,
                   "delta": delta, "logprobs": []}),
        ));
    }
    let text = reply.text();
    events.push(event(
        "response.output_text.done",
        json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": text,
               "logprobs": []}),
    ));
    events.push(event(
        "response.content_part.done",
        json!({"item_id": item_id, "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": text, "annotations": []}}),
    ));
    events.push(event(
        "response.output_item.done",
        json!({"output_index": 0, "item": message_item(reply, &text, "completed")}),
    ));
    events.push(event(
        "response.completed",
        json!({"response": whole_response(reply)}),
    ));
    events
}

const RESPONSES: Api = Api {
    authorized: openai_auth,
    error,
    schema: |s| &s.create_response,
    whole: whole_response,
    events: response_events,
    stream_content_type: "text/event-stream; charset=utf-8",
    id_prefix: "resp_",
};

/// `POST /v1/responses`.
pub async fn responses(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        state,
        &RESPONSES,
        Incoming::new("/v1/responses", &query, &headers, &body),
    )
    .await
}

/// `POST /openai/v1/responses` (Azure).
pub async fn azure_v1_responses(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = Api {
        authorized: azure_auth,
        ..RESPONSES
    };
    let incoming = Incoming::new("/openai/v1/responses", &query, &headers, &body);
    serve(state, &api, incoming).await
}

// ---- embeddings and models ------------------------------------------------------------------

/// Eight deterministic dimensions per input.
fn embedding(index: usize) -> Vec<f32> {
    (0..8)
        .map(|d| ((index * 8 + d) as f32 * 0.37).sin())
        .collect()
}

fn embeddings_reply(reply: &Reply) -> Value {
    let data: Vec<Value> = (0..reply.inputs)
        .map(|i| {
            let vector = embedding(i);
            let value = if reply.base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": value})
        })
        .collect();
    json!({"object": "list", "data": data, "model": reply.model,
           "usage": {"prompt_tokens": reply.prompt_tokens, "total_tokens": reply.prompt_tokens}})
}

const EMBEDDINGS: Api = Api {
    authorized: openai_auth,
    error,
    schema: |s| &s.create_embedding_request,
    whole: embeddings_reply,
    events: |_| Vec::new(),
    stream_content_type: "text/event-stream",
    id_prefix: "",
};

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        state,
        &EMBEDDINGS,
        Incoming::new("/v1/embeddings", &query, &headers, &body),
    )
    .await
}

/// The models the mock lists.
pub const MODELS: [&str; 3] = ["gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"];

/// `GET /v1/models`.
pub async fn models(headers: HeaderMap) -> Response {
    if bearer(&headers).is_none() {
        return error(StatusCode::UNAUTHORIZED, "You didn't provide an API key.");
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(
            |id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock"}),
        )
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(include_usage: bool) -> Reply {
        let mut r = Reply::new("c1".into(), "m".into(), 3, 5, &Value::Null);
        r.include_usage = include_usage;
        r
    }

    #[test]
    fn streamed_and_whole_replies_carry_the_same_text() {
        let reply = reply(true);
        let events = chat_events(&reply);
        assert_eq!(events.len(), 1 + 5 + 1 + 1 + 1);
        assert_eq!(
            events.last().unwrap(),
            &Bytes::from_static(b"data: [DONE]\n\n")
        );
        let text: String = events
            .iter()
            .filter_map(|e| {
                e.strip_prefix(b"data: ")?
                    .strip_suffix(b"\n\n")
                    .map(|d| d.to_vec())
            })
            .filter_map(|d| serde_json::from_slice::<Value>(&d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(text, completion(&reply)["choices"][0]["message"]["content"]);
        assert_eq!(text, "Hello from the Gatehouse mock");
    }

    #[test]
    fn usage_null_appears_only_when_usage_was_asked_for() {
        let with = chat_events(&reply(true));
        assert!(String::from_utf8_lossy(&with[1]).contains("\"usage\":null"));
        let without = chat_events(&reply(false));
        assert!(!without
            .iter()
            .any(|e| String::from_utf8_lossy(e).contains("usage")));
    }
}
