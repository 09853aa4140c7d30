//! The request path, in pingora's phase order:
//! `request_filter` (route, profile, credentials) → `request_body_filter` (bounded buffer,
//! parse) → `upstream_peer` / `upstream_request_filter` (dial, rewrite path and auth) →
//! `response_filter` / `response_body_filter` (stream through, time the first byte) →
//! `logging` (metrics and the access log line, also for refused and failed requests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use api_types::internal::{ProfileConfig, ProviderKeyConfig, VirtualKeyConfig};
use api_types::{Provider, VIRTUAL_KEY_PREFIX};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use llm::route::Endpoint;
use llm::upstream::BaseUrl;
use llm::usage::{Observed, ResponseObserver, Usage};
use moka::future::Cache;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType};
use uuid::Uuid;

use crate::config::ConfigClient;
use crate::error::{write_json, ProxyError};
use crate::metrics::{metrics, GaugeGuard, Metrics};
use crate::settings::Upstreams;
use crate::telemetry::{self, RequestSpan};

/// The proxy service: shared, immutable state for every request.
pub struct Gateway {
    pub config: Arc<ConfigClient>,
    pub upstreams: Upstreams,
    pub body_limit: u64,
    pub upstream_read_timeout: Duration,
    dns: Cache<(String, u16), SocketAddr>,
}

impl Gateway {
    pub fn new(
        config: Arc<ConfigClient>,
        upstreams: Upstreams,
        body_limit: u64,
        upstream_read_timeout: Duration,
    ) -> Self {
        let dns = Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(60))
            .build();
        Self {
            config,
            upstreams,
            body_limit,
            upstream_read_timeout,
            dns,
        }
    }
}

/// How the upstream request is authenticated.
enum Credential {
    /// The client's own header goes upstream unchanged (or there is none).
    Passthrough,
    /// A virtual key, swapped for its provider key's secret.
    Virtual(Arc<VirtualKeyConfig>),
}

/// Per-request state, filled phase by phase.
pub struct RequestCtx {
    started: Instant,
    /// Client's `x-request-id`, or one made up here; in the access log.
    request_id: String,
    /// The model the client asked for (once the body is read).
    model: Option<String>,
    /// Gateway work so far (excluding waits for the client's body and the upstream).
    overhead: Duration,
    /// When the client's body was complete.
    body_done: Option<Instant>,
    first_byte: bool,
    /// Reads model, finish reasons and usage from the response as it streams through.
    observer: Option<ResponseObserver>,
    observed: Option<Observed>,
    /// The request's trace span, when tracing is on.
    span: Option<RequestSpan>,
    /// The request's messages, kept only when content capture is on.
    prompt: Option<String>,
    _in_flight: GaugeGuard,
    stream: Option<GaugeGuard>,
    provider: Option<Provider>,
    endpoint: Option<Endpoint>,
    upstream: Option<BaseUrl>,
    profile: Option<Arc<ProfileConfig>>,
    credential: Credential,
    body: BytesMut,
    error: Option<ProxyError>,
}

impl RequestCtx {
    /// `(provider, api)` label values; `-` before the route is known.
    fn labels(&self) -> (&'static str, &'static str) {
        (
            self.provider.map(Provider::as_str).unwrap_or("-"),
            self.endpoint.map(Endpoint::as_str).unwrap_or("-"),
        )
    }

    /// The provider key to use upstream, when a virtual key was used.
    fn provider_key(&self) -> Option<&ProviderKeyConfig> {
        match (&self.credential, self.provider) {
            (Credential::Virtual(vk), Some(p)) => vk.provider_keys.get(&p),
            _ => None,
        }
    }

    /// Whether the profile and the virtual key (if any) allow calling `model`.
    fn allows_model(&self, model: &str) -> bool {
        let by_profile = match (&self.profile, self.provider) {
            (Some(profile), Some(provider)) => profile.allows_model(provider, model),
            _ => true,
        };
        let by_key = match &self.credential {
            Credential::Virtual(vk) => vk.allows_model(model),
            Credential::Passthrough => true,
        };
        by_profile && by_key
    }
}

fn bearer(session: &Session) -> Option<&str> {
    api_types::bearer_token(
        session
            .req_header()
            .headers
            .get("authorization")?
            .to_str()
            .ok()?,
    )
}

/// Headers that carry credentials, in any provider's convention.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// Marks credential headers sensitive so no `Debug` output (pingora's debug logs
/// included) ever prints them.
fn mark_credentials_sensitive(req: &mut pingora::http::RequestHeader) -> pingora::Result<()> {
    for name in CREDENTIAL_HEADERS {
        if let Some(mut value) = req.headers.get(name).cloned() {
            value.set_sensitive(true);
            req.insert_header(name, value)?;
        }
    }
    Ok(())
}

/// Stops the request with `error`: remembered for `fail_to_proxy`, which writes it.
fn fail(ctx: &mut RequestCtx, error: ProxyError) -> Box<Error> {
    let status = error.status();
    ctx.error = Some(error);
    Error::explain(ErrorType::HTTPStatus(status), "refused by gateway")
}

impl Gateway {
    /// Route, profile and credentials: everything decided from the request head.
    async fn admit(&self, session: &Session, ctx: &mut RequestCtx) -> Result<(), ProxyError> {
        let req = session.req_header();
        let route = llm::route::parse(req.uri.path()).map_err(ProxyError::UnknownRoute)?;
        if req.method != http::Method::POST {
            return Err(ProxyError::MethodNotAllowed(req.method.to_string()));
        }
        let declared_len = req
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_len.is_some_and(|len| len > self.body_limit) {
            return Err(ProxyError::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        ctx.provider = Some(route.provider);
        ctx.endpoint = Some(route.endpoint);

        // Credentials before the profile: an invalid key learns nothing about profiles.
        let mut base_url = None;
        let mut virtual_key = None;
        if let Some(token) = bearer(session).filter(|t| t.starts_with(VIRTUAL_KEY_PREFIX)) {
            let vk = self
                .config
                .virtual_key(token)
                .await
                .map_err(ProxyError::ConfigUnavailable)?
                .ok_or(ProxyError::InvalidVirtualKey)?;
            if vk.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
                return Err(ProxyError::ExpiredVirtualKey);
            }
            virtual_key = Some(vk);
        }

        let unknown_profile = || ProxyError::UnknownProfile(route.profile.to_owned());
        let profile_id = Uuid::parse_str(route.profile).map_err(|_| unknown_profile())?;
        let profile = self
            .config
            .profile(profile_id)
            .await
            .map_err(ProxyError::ConfigUnavailable)?
            .ok_or_else(unknown_profile)?;
        if profile.require_virtual_key && virtual_key.is_none() {
            return Err(ProxyError::VirtualKeyRequired);
        }
        ctx.profile = Some(profile);

        if let Some(vk) = virtual_key {
            if vk.profile_id != profile_id {
                return Err(ProxyError::WrongProfile(route.profile.to_owned()));
            }
            let key = vk
                .provider_keys
                .get(&route.provider)
                .ok_or(ProxyError::NoProviderKey(route.provider))?;
            if let Some(url) = &key.base_url {
                base_url = Some(BaseUrl::parse(url).map_err(ProxyError::UpstreamMisconfigured)?);
            }
            ctx.credential = Credential::Virtual(vk);
        }
        ctx.upstream = match base_url {
            Some(url) => Some(url),
            None => self.upstreams.get(route.provider).cloned(),
        };
        Ok(())
    }

    /// Cost of the reported usage from the price table (by the requested model, else the
    /// model that answered); `None` when neither has a price or the table is unavailable.
    async fn cost(&self, provider: Provider, ctx: &RequestCtx, usage: Usage) -> Option<f64> {
        let table = match self.config.prices().await {
            Ok(table) => table,
            Err(e) => {
                tracing::debug!(error = %e, "price table unavailable");
                return None;
            }
        };
        let served = ctx.observed.as_ref().and_then(|o| o.model.as_deref());
        let price = [ctx.model.as_deref(), served]
            .into_iter()
            .flatten()
            .find_map(|model| table.find(provider, model))?;
        Some(price.cost(
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens,
        ))
    }

    async fn resolve(&self, base: &BaseUrl) -> Result<SocketAddr, ProxyError> {
        let key = (base.host.clone(), base.port);
        self.dns
            .try_get_with(key.clone(), async move {
                tokio::net::lookup_host(key)
                    .await
                    .map_err(|e| e.to_string())?
                    .next()
                    .ok_or_else(|| "no address".to_owned())
            })
            .await
            .map_err(|e| ProxyError::UpstreamUnreachable(format!("resolving {}: {e}", base.host)))
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            request_id: String::new(),
            model: None,
            overhead: Duration::ZERO,
            body_done: None,
            first_byte: false,
            observer: None,
            observed: None,
            span: None,
            prompt: None,
            _in_flight: GaugeGuard::new(|m| &m.in_flight),
            stream: None,
            provider: None,
            endpoint: None,
            upstream: None,
            profile: None,
            credential: Credential::Passthrough,
            body: BytesMut::new(),
            error: None,
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        mark_credentials_sensitive(session.req_header_mut())?;
        let path = session.req_header().uri.path();
        if path == "/healthz" {
            write_json(session, 200, Bytes::from_static(b"{\"status\":\"ok\"}")).await?;
            return Ok(true);
        }
        if path == "/readyz" {
            let status = self.config.status();
            let code = if status.ready { 200 } else { 503 };
            let body = serde_json::to_vec(&status).unwrap_or_default();
            write_json(session, code, Bytes::from(body)).await?;
            return Ok(true);
        }
        ctx.span = RequestSpan::start(
            &session.req_header().headers,
            SystemTime::now() - ctx.started.elapsed(),
        );
        ctx.request_id = session
            .req_header()
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| Uuid::new_v4().simple().to_string());
        let admitted = self.admit(session, ctx).await;
        ctx.overhead += ctx.started.elapsed();
        match admitted {
            Ok(()) => Ok(false),
            Err(e) => {
                e.respond(session).await?;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        if let Some(chunk) = body.take() {
            if (ctx.body.len() + chunk.len()) as u64 > self.body_limit {
                return Err(fail(
                    ctx,
                    ProxyError::BodyTooLarge {
                        limit: self.body_limit,
                    },
                ));
            }
            ctx.body.extend_from_slice(&chunk);
        }
        if !end_of_stream {
            // An empty chunk holds the body back; `None` would tell pingora the body ended.
            *body = Some(Bytes::new());
            return Ok(());
        }
        let body_done = Instant::now();
        ctx.body_done = Some(body_done);
        let whole = ctx.body.split().freeze();
        match llm::openai::peek_chat_request(&whole) {
            Err(e) => return Err(fail(ctx, ProxyError::InvalidBody(e))),
            Ok(peek) if !ctx.allows_model(&peek.model) => {
                ctx.model = Some(peek.model.clone());
                return Err(fail(ctx, ProxyError::ModelNotAllowed(peek.model)));
            }
            Ok(peek) => ctx.model = Some(peek.model),
        }
        if ctx.span.is_some() && telemetry::capture_content() {
            ctx.prompt = serde_json::from_slice::<serde_json::Value>(&whole)
                .ok()
                .map(|body| {
                    body["messages"]
                        .to_string()
                        .chars()
                        .take(16 * 1024)
                        .collect()
                });
        }
        ctx.overhead += body_done.elapsed();
        *body = Some(whole);
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        let Some(base) = ctx.upstream.clone() else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no upstream chosen",
            ));
        };
        let started = Instant::now();
        let addr = match self.resolve(&base).await {
            Ok(addr) => addr,
            Err(e) => return Err(fail(ctx, e)),
        };
        ctx.overhead += started.elapsed();
        let mut peer = HttpPeer::new(addr, base.tls, base.host.clone());
        peer.options.connection_timeout = Some(Duration::from_secs(10));
        peer.options.total_connection_timeout = Some(Duration::from_secs(15));
        peer.options.idle_timeout = Some(Duration::from_secs(90));
        peer.options.read_timeout = Some(self.upstream_read_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut pingora::http::RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let started = Instant::now();
        let (Some(base), Some(endpoint)) = (&ctx.upstream, ctx.endpoint) else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "request not admitted",
            ));
        };
        let query = upstream_request
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let uri = format!("{}{}{query}", base.path, endpoint.upstream_path());
        let uri = uri
            .parse::<http::Uri>()
            .map_err(|e| Error::because(ErrorType::InternalError, "building upstream URI", e))?;
        upstream_request.set_uri(uri);
        upstream_request.insert_header("host", base.authority())?;
        if let Some(key) = ctx.provider_key() {
            for (name, value) in &key.extra_headers {
                upstream_request.insert_header(name.clone(), value.as_str())?;
            }
            let secret = &key.secret;
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|e| {
                    Error::because(
                        ErrorType::InternalError,
                        "provider secret is not a header value",
                        e,
                    )
                })?;
            value.set_sensitive(true);
            upstream_request.insert_header("authorization", value)?;
        }
        if let Some(span) = &ctx.span {
            for (name, value) in span.upstream_headers().0 {
                upstream_request.insert_header(name, value)?;
            }
        }
        ctx.overhead += started.elapsed();
        if let Some(m) = metrics() {
            m.gateway_overhead
                .with_label_values(&[ctx.provider.map(Provider::as_str).unwrap_or("-")])
                .observe(ctx.overhead.as_secs_f64());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut pingora::http::ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let status = upstream_response.status.as_u16();
        if status >= 400 {
            let kind = if status >= 500 {
                "status_5xx"
            } else {
                "status_4xx"
            };
            if let Some(m) = metrics() {
                m.upstream_errors
                    .with_label_values(&[ctx.provider.map(Provider::as_str).unwrap_or("-"), kind])
                    .inc();
            }
        }
        let streaming = upstream_response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if streaming {
            ctx.stream = Some(GaugeGuard::new(|m| &m.open_streams));
        }
        if status < 400 {
            let observer = ResponseObserver::new(streaming);
            ctx.observer = Some(if ctx.prompt.is_some() {
                observer.capturing(16 * 1024)
            } else {
                observer
            });
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<Option<Duration>> {
        if let (Some(observer), Some(bytes)) = (ctx.observer.as_mut(), body.as_ref()) {
            observer.push(bytes);
        }
        if end_of_stream {
            ctx.observed = ctx.observer.take().map(ResponseObserver::finish);
        }
        if !ctx.first_byte && body.as_ref().is_some_and(|b| !b.is_empty()) {
            ctx.first_byte = true;
            let labels = ctx.labels();
            if let Some(m) = metrics() {
                m.time_to_first_token
                    .with_label_values(&[labels.0, labels.1])
                    .observe(ctx.started.elapsed().as_secs_f64());
            }
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let error = match ctx.error.take() {
            Some(error) => Some(error),
            None if e.esource() == &ErrorSource::Upstream => {
                let (error, kind) = match e.etype() {
                    ErrorType::ReadTimedout | ErrorType::ConnectTimedout => {
                        (ProxyError::UpstreamTimeout(e.to_string()), "timeout")
                    }
                    _ => (
                        ProxyError::UpstreamUnreachable(e.to_string()),
                        "unreachable",
                    ),
                };
                if let Some(m) = metrics() {
                    m.upstream_errors
                        .with_label_values(&[
                            ctx.provider.map(Provider::as_str).unwrap_or("-"),
                            kind,
                        ])
                        .inc();
                }
                Some(error)
            }
            None => None,
        };
        let error_code = match &error {
            Some(error) => {
                if let Err(write) = error.respond(session).await {
                    tracing::debug!(error = %write, "could not write error response");
                }
                error.status()
            }
            // The client went away (or an internal fault): nothing useful to write.
            None if e.esource() == &ErrorSource::Downstream => 0,
            None => {
                let body = llm::openai::error_body(
                    "internal gateway error",
                    llm::openai::ErrorType::Server,
                    "internal_error",
                );
                if let Err(write) = write_json(session, 500, body).await {
                    tracing::debug!(error = %write, "could not write error response");
                }
                500
            }
        };
        ctx.error = error;
        FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let path = session.req_header().uri.path();
        if path == "/healthz" || path == "/readyz" {
            return;
        }
        let (provider, api) = ctx.labels();
        let profile = ctx.profile.as_ref().map(|p| p.id.to_string());
        let usage = ctx.observed.as_ref().and_then(|o| o.usage);
        let elapsed = ctx.started.elapsed();
        let cost = match (usage, ctx.provider) {
            (Some(u), Some(p)) => self.cost(p, ctx, u).await,
            _ => None,
        };
        if let Some(m) = metrics() {
            record_request(m, ctx, status, profile.as_deref(), elapsed, cost);
        }
        tracing::info!(
            request_id = %ctx.request_id,
            provider,
            api,
            profile = profile.as_deref().unwrap_or("-"),
            model = ctx.model.as_deref().unwrap_or("-"),
            status,
            credential = match ctx.credential {
                Credential::Virtual(_) => "virtual",
                Credential::Passthrough => "passthrough",
            },
            response_model = ctx.observed.as_ref().and_then(|o| o.model.as_deref()).unwrap_or("-"),
            input_tokens = usage.map(|u| u.input_tokens),
            output_tokens = usage.map(|u| u.output_tokens),
            cost_usd = cost,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            overhead_us = ctx.overhead.as_micros() as u64,
            error = e.map(|e| e.etype().as_str()),
            "access"
        );
        if let Some(span) = ctx.span.take() {
            end_span(span, ctx, status, profile.as_deref(), cost);
        }
    }
}

/// Fills in the GenAI attributes (and Gatehouse's own) and ends the span.
fn end_span(
    mut span: RequestSpan,
    ctx: &RequestCtx,
    status: u16,
    profile: Option<&str>,
    cost: Option<f64>,
) {
    use opentelemetry::{Array, KeyValue, StringValue, Value};
    let (provider, api) = ctx.labels();
    let operation = match api {
        "chat_completions" => "chat",
        other => other,
    };
    let request_model = ctx.model.clone().unwrap_or_default();
    span.set(KeyValue::new("gen_ai.operation.name", operation));
    span.set(KeyValue::new("gen_ai.provider.name", provider));
    span.set(KeyValue::new("gen_ai.request.model", request_model.clone()));
    span.set(KeyValue::new(
        "http.response.status_code",
        i64::from(status),
    ));
    span.set(KeyValue::new(
        "gatehouse.request_id",
        ctx.request_id.clone(),
    ));
    span.set(KeyValue::new(
        "gatehouse.gateway_overhead_us",
        i64::try_from(ctx.overhead.as_micros()).unwrap_or(i64::MAX),
    ));
    span.set(KeyValue::new(
        "gatehouse.credential",
        match ctx.credential {
            Credential::Virtual(_) => "virtual",
            Credential::Passthrough => "passthrough",
        },
    ));
    if let Some(profile) = profile {
        span.set(KeyValue::new("gatehouse.profile.id", profile.to_owned()));
    }
    if let Some(team) = ctx.profile.as_ref().and_then(|p| p.team_id) {
        span.set(KeyValue::new("gatehouse.team.id", team.to_string()));
    }
    if let Some(observed) = &ctx.observed {
        if let Some(model) = &observed.model {
            span.set(KeyValue::new("gen_ai.response.model", model.clone()));
        }
        if !observed.finish_reasons.is_empty() {
            let reasons: Vec<StringValue> = observed
                .finish_reasons
                .iter()
                .map(|r| StringValue::from(r.clone()))
                .collect();
            span.set(KeyValue::new(
                "gen_ai.response.finish_reasons",
                Value::Array(Array::String(reasons)),
            ));
        }
        if let Some(u) = observed.usage {
            let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            span.set(KeyValue::new(
                "gen_ai.usage.input_tokens",
                tokens(u.input_tokens),
            ));
            span.set(KeyValue::new(
                "gen_ai.usage.output_tokens",
                tokens(u.output_tokens),
            ));
        }
    }
    if let Some(usd) = cost {
        span.set(KeyValue::new("gatehouse.cost_usd", usd));
    }
    if let Some(prompt) = &ctx.prompt {
        span.set(KeyValue::new("gen_ai.input.messages", prompt.clone()));
    }
    if let Some(text) = ctx.observed.as_ref().and_then(|o| o.completion.clone()) {
        span.set(KeyValue::new("gen_ai.output.messages", text));
    }
    let name = if request_model.is_empty() {
        operation.to_owned()
    } else {
        format!("{operation} {request_model}")
    };
    span.end(name, status);
}

/// Request, token, cost and duration metrics of one finished request.
fn record_request(
    m: &Metrics,
    ctx: &RequestCtx,
    status: u16,
    profile: Option<&str>,
    elapsed: Duration,
    cost: Option<f64>,
) {
    let (provider, api) = ctx.labels();
    let model = m.model_label(ctx.model.as_deref().unwrap_or(""));
    let status_label = status.to_string();
    let mut labels = vec![provider, api, &model, &status_label];
    if m.profile_labels() {
        labels.push(profile.unwrap_or("-"));
    }
    m.requests.with_label_values(&labels).inc();
    if let Some(u) = ctx.observed.as_ref().and_then(|o| o.usage) {
        for (kind, n) in [
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cached_input", u.cached_input_tokens),
            ("reasoning", u.reasoning_tokens),
        ] {
            m.tokens
                .with_label_values(&[provider, &model, kind])
                .inc_by(n);
        }
        match cost {
            Some(usd) => m.cost.with_label_values(&[provider, &model]).inc_by(usd),
            None => m.unpriced.with_label_values(&[provider]).inc(),
        }
    }
    m.request_duration
        .with_label_values(&[provider, api])
        .observe(elapsed.as_secs_f64());
}
