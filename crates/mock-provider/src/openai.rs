//! OpenAI chat completions, as the real API answers them: `chat.completion` objects, or
//! `chat.completion.chunk` server-sent events ending in `data: [DONE]`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use llm::openai::{error_body, ErrorType};
use serde_json::{json, Value};

use crate::record::{unix_now, RecordedRequest};
use crate::{spec, MockState};

const WORDS: [&str; 12] = [
    "Hello",
    "from",
    "the",
    "Gatehouse",
    "mock",
    "provider,",
    "a",
    "deterministic",
    "stand-in",
    "for",
    "real",
    "models.",
];

/// The content chunks of every reply with `n` chunks: the same for streaming and not.
pub fn reply_chunks(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let word = WORDS[i % WORDS.len()];
            if i + 1 == n {
                word.to_owned()
            } else {
                format!("{word} ")
            }
        })
        .collect()
}

fn error(status: StatusCode, message: &str, error_type: ErrorType, code: &str) -> Response {
    let mut response = (status, error_body(message, error_type, code)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn header_num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Whitespace-separated words in every message's text: the mock's token count.
fn prompt_tokens(body: &Value) -> usize {
    let words = |s: &str| s.split_whitespace().count();
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| match &m["content"] {
                    Value::String(s) => words(s),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .map(words)
                        .sum(),
                    _ => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed = serde_json::from_slice::<Value>(&body);
    let id = format!("chatcmpl-mock{:016x}", rand_id());
    state.recorder.push(RecordedRequest {
        id: id.clone(),
        path: "/v1/chat/completions".into(),
        authorization: authorization.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: parsed.as_ref().map(Clone::clone).unwrap_or(Value::Null),
        body_bytes: body.len(),
        received_at: unix_now(),
        finished_at: None,
        chunks_sent: 0,
    });
    let Ok(request) = parsed else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            ErrorType::InvalidRequest,
            "invalid_json",
        );
    };
    if authorization
        .as_deref()
        .is_none_or(|a| !a.starts_with("Bearer "))
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key.",
            ErrorType::InvalidRequest,
            "missing_api_key",
        );
    }
    let violations = spec::violations(&state.schemas.chat_completion_request, &request);
    if !violations.is_empty() {
        let message = format!("Invalid request: {}", violations.join("; "));
        return error(
            StatusCode::BAD_REQUEST,
            &message,
            ErrorType::InvalidRequest,
            "invalid_request",
        );
    }
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    if let Some(status) = model
        .strip_prefix("mock-error-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(
            status,
            "mock provider error on request",
            ErrorType::Server,
            "mock_error",
        );
    }

    let cfg = &state.config;
    let chunks = header_num(&headers, "x-mock-chunks")
        .unwrap_or(cfg.chunks)
        .clamp(1, 100_000);
    let delay = header_num(&headers, "x-mock-chunk-delay-ms")
        .map(Duration::from_millis)
        .unwrap_or(cfg.chunk_delay);
    let latency = header_num(&headers, "x-mock-latency-ms")
        .map(Duration::from_millis)
        .unwrap_or(cfg.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = Reply {
        id,
        model,
        created: unix_now() as u64,
        prompt_tokens: prompt_tokens(&request),
        chunks: reply_chunks(chunks),
    };
    if request["stream"].as_bool() == Some(true) {
        let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
        stream(state, reply, delay, include_usage)
    } else {
        state.recorder.progress(&reply.id, reply.chunks.len(), true);
        let mut response = axum::Json(reply.completion()).into_response();
        response
            .headers_mut()
            .insert("x-request-id", header::HeaderValue::from_static("mock"));
        response
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (unix_now() * 1e6) as u64
}

struct Reply {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: usize,
    chunks: Vec<String>,
}

impl Reply {
    fn usage(&self) -> Value {
        let completion = self.chunks.len();
        json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
               "total_tokens": self.prompt_tokens + completion})
    }

    fn completion(&self) -> Value {
        json!({
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                "message": {"role": "assistant", "content": self.chunks.concat(), "refusal": null}}],
            "usage": self.usage(),
        })
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        })
    }

    /// Every SSE event of the streamed reply, in order.
    fn events(&self, include_usage: bool) -> Vec<Bytes> {
        let sse = |v: Value| Bytes::from(format!("data: {v}\n\n"));
        let mut events = vec![sse(
            self.chunk(json!({"role": "assistant", "content": ""}), None)
        )];
        events.extend(
            self.chunks
                .iter()
                .map(|c| sse(self.chunk(json!({"content": c}), None))),
        );
        events.push(sse(self.chunk(json!({}), Some("stop"))));
        if include_usage {
            let mut usage = self.chunk(json!({}), None);
            usage["choices"] = json!([]);
            usage["usage"] = self.usage();
            events.push(sse(usage));
        }
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        events
    }
}

fn stream(state: Arc<MockState>, reply: Reply, delay: Duration, include_usage: bool) -> Response {
    let events = reply.events(include_usage);
    let total = events.len();
    let id = reply.id;
    let body = futures::stream::unfold((events.into_iter(), 0usize), move |(mut it, sent)| {
        let state = state.clone();
        let id = id.clone();
        async move {
            let event = it.next()?;
            if sent > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            state.recorder.progress(&id, sent + 1, sent + 1 == total);
            Some((Ok::<_, std::convert::Infallible>(event), (it, sent + 1)))
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_and_whole_replies_carry_the_same_text() {
        let reply = Reply {
            id: "c1".into(),
            model: "m".into(),
            created: 1,
            prompt_tokens: 3,
            chunks: reply_chunks(5),
        };
        let events = reply.events(true);
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
        assert_eq!(text, reply.completion()["choices"][0]["message"]["content"]);
        assert_eq!(text, "Hello from the Gatehouse mock");
    }
}
