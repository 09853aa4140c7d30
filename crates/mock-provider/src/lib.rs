//! A faithful fake LLM provider for tests, benchmarks and local runs.
//!
//! One server speaks every provider format Gatehouse proxies, each at its real path:
//! OpenAI (`/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`, `/v1/models`), Azure
//! OpenAI (`/openai/deployments/{d}/chat/completions?api-version=…`, `/openai/v1/…`),
//! Anthropic (`/v1/messages`, `/v1/messages/count_tokens`), Gemini
//! (`/v1beta/models/{model}:generateContent` / `:streamGenerateContent`, SSE or JSON
//! array), Bedrock (`/model/{id}/converse`, `/converse-stream` in AWS event-stream framing)
//! and Cohere (`/v2/chat`); Gemini on Vertex AI
//! (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…`) with the OAuth
//! token endpoints of Google and Entra ID (`tokens`). Every request body is validated against the provider's published
//! schema (400 in the provider's error format on a mismatch), credentials are required in
//! the provider's own header, and what arrived is recorded at `GET /_mock/requests`.
//!
//! OpenAI-compatible providers are served at `/{provider}/v1/chat/completions` too, with
//! their quirks: Mistral, Perplexity, Zhipu AI and MiniMax put usage in a stream's last
//! chunk whether or not it was asked for.
//!
//! Per-request knobs, as headers: `x-mock-chunks` (number of content chunks),
//! `x-mock-chunk-delay-ms` (gap between chunks), `x-mock-latency-ms` (delay before the
//! response starts), `x-mock-fail-after` (cut a stream's connection after that many
//! events). A model named `mock-error-<status>` answers that status with the provider's
//! error body.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod openai;
mod record;
pub mod reply;
pub mod sigv4;
pub mod spec;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use jsonschema::Validator;
use serde_json::Value;

use record::unix_now;
pub use record::{RecordedRequest, Recorder};
use reply::Reply;

/// Defaults for every response; headers override them per request.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub chunks: usize,
    pub chunk_delay: Duration,
    pub latency: Duration,
    /// With this secret key, SigV4-signed Bedrock requests must carry a valid signature.
    pub aws_secret_access_key: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            chunks: 12,
            chunk_delay: Duration::ZERO,
            latency: Duration::ZERO,
            aws_secret_access_key: None,
        }
    }
}

/// Shared by every handler.
pub struct MockState {
    pub config: MockConfig,
    pub schemas: spec::Schemas,
    pub recorder: Recorder,
    pub issued: tokens::Issued,
}

/// The mock's routes over `state`.
pub fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route(
            "/{provider}/v1/chat/completions",
            post(openai::compatible_chat_completions),
        )
        .route("/v1/responses", post(openai::responses))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::models))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(openai::azure_deployment_chat),
        )
        .route("/openai/v1/chat/completions", post(openai::azure_v1_chat))
        .route("/openai/v1/responses", post(openai::azure_v1_responses))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1beta/models/{call}", post(gemini::models_call))
        .route("/v1/models/{call}", post(gemini::models_call))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
            post(gemini::vertex_call),
        )
        .route("/token", post(tokens::google))
        .route("/{tenant}/oauth2/v2.0/token", post(tokens::entra))
        .route("/model/{model}/converse", post(bedrock::converse))
        .route(
            "/model/{model}/converse-stream",
            post(bedrock::converse_stream),
        )
        .route("/v2/chat", post(cohere::chat))
        .route("/_mock/requests", get(record::list).delete(record::clear))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// How one provider API speaks: its credentials, errors, schema and replies.
pub struct Api {
    /// Whether the request carries a credential in the provider's own convention.
    pub authorized: fn(&HeaderMap, Option<&str>) -> bool,
    /// An error response in the provider's format.
    pub error: fn(StatusCode, &str) -> Response,
    /// The request schema the body must satisfy.
    pub schema: fn(&spec::Schemas) -> &Validator,
    /// The non-streamed reply.
    pub whole: fn(&Reply) -> Value,
    /// Every event of the streamed reply, framed, in order.
    pub events: fn(&Reply) -> Vec<Bytes>,
    pub stream_content_type: &'static str,
    /// How the provider's reply ids start (`chatcmpl-`, `msg_`, …).
    pub id_prefix: &'static str,
}

/// One request as a handler received it.
pub struct Incoming<'a> {
    pub path: String,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    /// The model the path names (Gemini, Bedrock, Azure deployments).
    pub path_model: Option<String>,
    /// Whether the endpoint itself streams (`converse-stream`, `streamGenerateContent`).
    pub streams: bool,
}

impl<'a> Incoming<'a> {
    /// A request at `path` whose model is in its body and that streams only if asked.
    pub fn new(
        path: &str,
        query: &'a Option<String>,
        headers: &'a HeaderMap,
        body: &'a Bytes,
    ) -> Self {
        Incoming {
            path: path.to_owned(),
            query: query.as_deref(),
            headers,
            body,
            path_model: None,
            streams: false,
        }
    }
}

fn header_num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Whitespace-separated words in every text of a body: the mock's token count.
pub fn count_words(value: &Value) -> usize {
    match value {
        Value::String(s) => s.split_whitespace().count(),
        Value::Array(items) => items.iter().map(count_words).sum(),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "model" | "role" | "type"))
            .map(|(_, v)| count_words(v))
            .sum(),
        _ => 0,
    }
}

/// Records, checks and answers a request the way `api` does.
pub async fn serve(state: Arc<MockState>, api: &Api, incoming: Incoming<'_>) -> Response {
    let parsed = serde_json::from_slice::<Value>(incoming.body);
    let id = format!("{}mock{:016x}", api.id_prefix, reply::rand_id());
    state.recorder.push(RecordedRequest {
        id: id.clone(),
        path: incoming.path.clone(),
        authorization: incoming
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: incoming
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        query: incoming.query.map(str::to_owned),
        body: parsed.as_ref().map(Clone::clone).unwrap_or(Value::Null),
        body_bytes: incoming.body.len(),
        received_at: unix_now(),
        finished_at: None,
        chunks_sent: 0,
    });
    let Ok(request) = parsed else {
        return (api.error)(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
        );
    };
    if !(api.authorized)(incoming.headers, incoming.query) {
        return (api.error)(StatusCode::UNAUTHORIZED, "missing or malformed API key");
    }
    let violations = spec::violations((api.schema)(&state.schemas), &request);
    if !violations.is_empty() {
        let message = format!("Invalid request: {}", violations.join("; "));
        return (api.error)(StatusCode::BAD_REQUEST, &message);
    }
    let model = incoming
        .path_model
        .clone()
        .or_else(|| request["model"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Some(status) = model
        .strip_prefix("mock-error-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (api.error)(status, "mock provider error on request");
    }

    let cfg = &state.config;
    let headers = incoming.headers;
    let chunks = header_num(headers, "x-mock-chunks")
        .unwrap_or(cfg.chunks)
        .clamp(1, 100_000);
    let delay = header_num(headers, "x-mock-chunk-delay-ms")
        .map(Duration::from_millis)
        .unwrap_or(cfg.chunk_delay);
    let latency = header_num(headers, "x-mock-latency-ms")
        .map(Duration::from_millis)
        .unwrap_or(cfg.latency);
    let fail_after = header_num::<usize>(headers, "x-mock-fail-after");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = Reply::new(id, model, count_words(&request), chunks, &request);
    if incoming.streams || request["stream"].as_bool() == Some(true) {
        stream(state, api, reply, delay, fail_after)
    } else {
        state.recorder.progress(&reply.id, reply.chunks.len(), true);
        let body = (api.whole)(&reply).to_string();
        let mut response = Response::new(Body::from(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// The stream was cut on purpose (`x-mock-fail-after`).
#[derive(Debug, thiserror::Error)]
#[error("mock stream cut after {0} events")]
struct Cut(usize);

fn stream(
    state: Arc<MockState>,
    api: &Api,
    reply: Reply,
    delay: Duration,
    fail_after: Option<usize>,
) -> Response {
    let events = (api.events)(&reply);
    let total = events.len();
    let id = reply.id;
    let body = futures::stream::unfold((events.into_iter(), 0usize), move |(mut it, sent)| {
        let state = state.clone();
        let id = id.clone();
        async move {
            if fail_after == Some(sent) {
                // An error ends the body without its terminating chunk: a cut connection.
                return Some((Err(Cut(sent)), (it, usize::MAX)));
            }
            if sent == usize::MAX {
                return None;
            }
            let event = it.next()?;
            if sent > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            state.recorder.progress(&id, sent + 1, sent + 1 == total);
            Some((Ok(event), (it, sent + 1)))
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(api.stream_content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

/// A JSON error response with `body`.
pub fn json_error(status: StatusCode, body: Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The value of a bearer `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
}

/// A non-empty header value.
pub fn has_header(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.is_empty())
}

/// An SSE event: `event: <name>` (when given) and one `data:` line.
pub fn sse(event: Option<&str>, data: &Value) -> Bytes {
    match event {
        Some(name) => Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
        None => Bytes::from(format!("data: {data}\n\n")),
    }
}
