//! The request path, in pingora's phase order:
//! `request_filter` (route, profile, credentials) → `request_body_filter` (bounded buffer,
//! parse) → `upstream_peer` / `upstream_request_filter` (dial, rewrite path and auth) →
//! `response_filter` / `response_body_filter` (stream through, time the first byte) →
//! `logging` (metrics and the access log line, also for refused and failed requests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use api_types::internal::{ProviderKeyConfig, VirtualKeyConfig};
use api_types::{Provider, VIRTUAL_KEY_PREFIX};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use llm::dialect::{Dialect, ErrorKind};
use llm::request::UsageChunkFilter;
use llm::route::Endpoint;
use llm::tools::ToolCallGuard;
use llm::upstream::{AuthScheme, BaseUrl};
use llm::usage::{Framing, Observed, ResponseObserver, Usage};
use moka::future::Cache;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType};
use uuid::Uuid;

use crate::budget::{Admission, Budgets, Refusal};
use crate::config::ConfigClient;
use crate::credentials::ServerCredentials;
use crate::drain::{Drain, InFlight};
use crate::error::{write_json, ProxyError};
use crate::guard::{self, CallTally, Judge, ServedProfile};
use crate::metrics::{metrics, GaugeGuard, Metrics};
use crate::records::RecordSink;
use crate::settings::{UpstreamOptions, Upstreams};
use crate::telemetry::{self, RequestSpan};

/// The proxy service: shared, immutable state for every request.
pub struct Gateway {
    pub config: Arc<ConfigClient>,
    pub upstreams: Upstreams,
    pub body_limit: u64,
    pub options: UpstreamOptions,
    pub server: ServerCredentials,
    /// Requests in flight and the draining flag (SIGTERM).
    pub drain: Arc<Drain>,
    /// Where interaction records go.
    pub records: RecordSink,
    /// Budget leases of the usage limits.
    pub budgets: Arc<Budgets>,
    dns: Cache<(String, u16), SocketAddr>,
    /// Sends the requests whose signature covers the body (see [`Gateway::serve_signed`]).
    signed_http: reqwest::Client,
}

impl Gateway {
    pub fn new(
        config: Arc<ConfigClient>,
        upstreams: Upstreams,
        body_limit: u64,
        options: UpstreamOptions,
        server: ServerCredentials,
        records: RecordSink,
    ) -> Self {
        let dns = Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(60))
            .build();
        let signed_http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(options.idle_timeout)
            .timeout(options.total_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_default();
        Self {
            budgets: Arc::new(Budgets::new(config.clone())),
            records,
            config,
            upstreams,
            body_limit,
            options,
            server,
            drain: Drain::new(),
            dns,
            signed_http,
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
    /// When the request arrived (wall clock, for its record).
    arrived_at: chrono::DateTime<chrono::Utc>,
    /// Arrival to the first byte of the response body.
    first_byte_after: Option<Duration>,
    /// Bytes of the request body as sent upstream, and of the response sent to the client.
    request_bytes: u64,
    response_bytes: u64,
    /// The request and response bodies, kept (capped) for a profile with `log_bodies: full`.
    request_capture: Option<Bytes>,
    response_capture: Option<BytesMut>,
    /// The limits the request was admitted against.
    admissions: Vec<Admission>,
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
    /// Counted for draining, whatever the metrics settings.
    _draining: InFlight,
    stream: Option<GaugeGuard>,
    provider: Option<Provider>,
    endpoint: Option<Endpoint>,
    /// The client's wire format: errors are written in it.
    dialect: Dialect,
    /// The path below the upstream's base URL (still percent-encoded).
    upstream_path: String,
    /// The model the path names (Gemini, Bedrock, Azure deployments).
    path_model: Option<String>,
    /// Azure deployment URLs need `api-version`; the default is added when missing.
    needs_api_version: bool,
    upstream: Option<BaseUrl>,
    /// Gatehouse authenticates upstream with its own credentials (no provider key).
    server_auth: bool,
    /// The stream was asked for usage the client did not request; this hides it again.
    usage_filter: Option<UsageChunkFilter>,
    /// How the response body is framed (once its header arrived).
    framing: Option<Framing>,
    profile: Option<Arc<ServedProfile>>,
    /// The client sent `X-Gatehouse-Context-Untrusted: true`.
    client_says_untrusted: bool,
    /// The conversation was untrusted (once the body was read).
    untrusted: bool,
    /// Decides the response's tool calls (made once the request body was read).
    judge: Option<Judge>,
    /// Holds and judges tool calls as the response passes (once its head arrived).
    tool_guard: Option<ToolCallGuard>,
    /// What the judge decided, for the request's record.
    tool_calls: Arc<std::sync::Mutex<CallTally>>,
    credential: Credential,
    body: BytesMut,
    error: Option<ProxyError>,
}

impl RequestCtx {
    /// `(provider, api)` label values; `-` before the route is known.
    ///
    /// (The API names the endpoint: `chat_completions`, `messages`, `converse`, …)
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

    /// The upstream's response head arrived: count errors, note the framing, start reading
    /// the body on the side.
    fn response_started(&mut self, status: u16, content_type: &str) {
        if status >= 400 {
            let kind = if status >= 500 {
                "status_5xx"
            } else {
                "status_4xx"
            };
            if let Some(m) = metrics() {
                m.upstream_errors
                    .with_label_values(&[self.provider.map(Provider::as_str).unwrap_or("-"), kind])
                    .inc();
            }
        }
        let framing = Framing::from_content_type(content_type);
        self.framing = Some(framing);
        if framing.is_stream() {
            self.stream = Some(GaugeGuard::new(|m| &m.open_streams));
        }
        if status >= 400 || framing != Framing::Sse {
            // Only a successful SSE stream carries the usage chunk to hide.
            self.usage_filter = None;
        }
        if let (true, Some(endpoint), Some(judge)) =
            (status < 400, self.endpoint, self.judge.take())
        {
            self.tool_guard = ToolCallGuard::new(endpoint, framing, Box::new(judge));
        }
        if let (true, Some(endpoint)) = (status < 400, self.endpoint) {
            let observer = ResponseObserver::new(endpoint, framing);
            self.observer = Some(if self.prompt.is_some() {
                observer.capturing(16 * 1024)
            } else {
                observer
            });
        }
    }

    /// Bytes of the upstream's response body arrived: read them on the side, then return
    /// what goes to the client (tool calls judged, hidden usage removed).
    fn response_chunk(
        &mut self,
        bytes: Option<Bytes>,
        end_of_stream: bool,
    ) -> Result<Option<Bytes>, ProxyError> {
        self.response_read(bytes.as_ref(), end_of_stream);
        let out = self.response_filtered(bytes, end_of_stream)?;
        if let Some(sent) = &out {
            self.response_bytes += sent.len() as u64;
            if let Some(capture) = self.response_capture.as_mut() {
                let room = api_types::BODY_CAP.saturating_sub(capture.len());
                capture.extend_from_slice(&sent[..sent.len().min(room)]);
            }
        }
        Ok(out)
    }

    /// What goes to the client of the upstream's bytes: tool calls judged, hidden usage
    /// removed.
    fn response_filtered(
        &mut self,
        bytes: Option<Bytes>,
        end_of_stream: bool,
    ) -> Result<Option<Bytes>, ProxyError> {
        let mut out = bytes;
        if let Some(guard) = self.tool_guard.as_mut() {
            let mut sent = match out.take() {
                Some(b) => guard
                    .push(&b)
                    .map_err(|e| ProxyError::StreamBroken(e.to_string()))?,
                None => Bytes::new(),
            };
            if end_of_stream {
                sent = concat(sent, guard.finish());
            }
            out = Some(sent);
        }
        if let Some(filter) = self.usage_filter.as_mut() {
            let mut sent = out.take().map(|b| filter.push(&b)).unwrap_or_default();
            if end_of_stream {
                sent = concat(sent, filter.finish());
            }
            out = Some(sent);
        }
        Ok(out)
    }

    /// Reads the upstream's bytes (before any filtering) on the side.
    fn response_read(&mut self, bytes: Option<&Bytes>, end_of_stream: bool) {
        if let (Some(observer), Some(bytes)) = (self.observer.as_mut(), bytes) {
            observer.push(bytes);
        }
        if end_of_stream {
            self.observed = self.observer.take().map(ResponseObserver::finish);
        }
        if !self.first_byte && bytes.is_some_and(|b| !b.is_empty()) {
            self.first_byte = true;
            self.first_byte_after = Some(self.started.elapsed());
            let labels = self.labels();
            if let Some(m) = metrics() {
                m.time_to_first_token
                    .with_label_values(&[labels.0, labels.1])
                    .observe(self.started.elapsed().as_secs_f64());
            }
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

/// Headers that carry credentials, in any provider's convention.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// A Gatehouse virtual key, in whichever header the client's SDK puts its key
/// (`Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, `api-key`), as the access key
/// id of an AWS SigV4 `Authorization` (how a boto3 client configured with the virtual key
/// as its access key sends it), or in Gemini's `key` query parameter.
fn virtual_key_token(req: &pingora::http::RequestHeader) -> Option<&str> {
    let from_headers = CREDENTIAL_HEADERS.iter().find_map(|name| {
        let value = req.headers.get(*name)?.to_str().ok()?;
        let token = if *name == "authorization" {
            api_types::bearer_token(value).or_else(|| sigv4_access_key(value))?
        } else {
            value.trim()
        };
        token.starts_with(VIRTUAL_KEY_PREFIX).then_some(token)
    });
    from_headers.or_else(|| {
        req.uri
            .query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix("key="))
            .filter(|key| key.starts_with(VIRTUAL_KEY_PREFIX))
    })
}

/// The access key id of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request, …`).
fn sigv4_access_key(value: &str) -> Option<&str> {
    let params = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    params
        .split(',')
        .find_map(|p| p.trim().strip_prefix("Credential="))?
        .split('/')
        .next()
}

/// SigV4 headers of the client's own signature, meaningless once the credential is
/// swapped.
const SIGV4_HEADERS: [&str; 2] = ["x-amz-security-token", "x-amz-content-sha256"];

/// The upstream query: the client's, without a virtual key in `key=`, with Azure's
/// `api-version` added when the deployment URL needs one and the client sent none.
fn upstream_query(query: Option<&str>, api_version: Option<&str>) -> String {
    let mut pairs: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !p.strip_prefix("key=")
                .is_some_and(|k| k.starts_with(VIRTUAL_KEY_PREFIX))
        })
        .collect();
    let version;
    if let Some(default) = api_version {
        if !pairs.iter().any(|p| p.starts_with("api-version=")) {
            version = format!("api-version={default}");
            pairs.push(&version);
        }
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

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
        ctx.dialect = Dialect::of(route.provider);
        if req.method != route.endpoint.method() {
            return Err(ProxyError::MethodNotAllowed {
                method: req.method.to_string(),
                allowed: route.endpoint.method(),
            });
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
        ctx.upstream_path = route.upstream_path.clone().into_owned();
        ctx.path_model = route.path_model.clone();
        ctx.needs_api_version = route.needs_api_version;

        // Credentials before the profile: an invalid key learns nothing about profiles.
        let mut base_url = None;
        let mut virtual_key = None;
        if let Some(token) = virtual_key_token(req) {
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
        if let (Provider::Bedrock, Some(model)) = (route.provider, &route.path_model) {
            if !self.options.bedrock_models.allows(model) {
                return Err(ProxyError::ModelNotAllowed(model.clone()));
            }
        }
        if profile.require_virtual_key && virtual_key.is_none() {
            return Err(ProxyError::VirtualKeyRequired);
        }
        ctx.profile = Some(profile);

        if let Some(vk) = virtual_key {
            if vk.profile_id != profile_id {
                return Err(ProxyError::WrongProfile(route.profile.to_owned()));
            }
            match vk.provider_keys.get(&route.provider) {
                Some(key) => {
                    if let Some(url) = &key.base_url {
                        let url = BaseUrl::parse(url).map_err(ProxyError::UpstreamMisconfigured)?;
                        base_url = Some(url);
                    }
                }
                None if self.server.covers(route.provider) => ctx.server_auth = true,
                None => return Err(ProxyError::NoProviderKey(route.provider)),
            }
            ctx.credential = Credential::Virtual(vk);
        } else {
            ctx.server_auth = self.server.covers(route.provider);
        }
        let vertex = self.server.vertex.as_ref().filter(|_| ctx.server_auth);
        ctx.upstream = match (base_url, vertex) {
            (Some(url), _) => Some(url),
            (None, Some(vertex)) if route.provider == Provider::Gemini => Some(vertex.base.clone()),
            (None, _) => self.upstreams.get(route.provider).cloned(),
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

    /// Admits the request against every usage limit that applies to it (its profile, team,
    /// virtual key and the organization; by model where a limit names one), or refuses it.
    async fn check_limits(&self, ctx: &mut RequestCtx) -> Result<(), ProxyError> {
        let Some(profile) = ctx.profile.clone() else {
            return Ok(());
        };
        let index = self
            .config
            .limits()
            .await
            .map_err(ProxyError::ConfigUnavailable)?;
        if index.is_empty() {
            return Ok(());
        }
        let virtual_key = match &ctx.credential {
            Credential::Virtual(vk) => Some(vk.id),
            Credential::Passthrough => None,
        };
        let limits = index.applying(&profile, profile.team_id, virtual_key, ctx.model.as_deref());
        if limits.is_empty() {
            return Ok(());
        }
        let refusal = match self.budgets.admit(&limits).await {
            Ok(admissions) => {
                ctx.admissions = admissions;
                return Ok(());
            }
            Err(refusal) => refusal,
        };
        let (metric, kind, error) = match refusal {
            Refusal::Spent { limit, resets_at } => {
                let retry_after = resets_at
                    .and_then(|at| (at - chrono::Utc::now()).to_std().ok())
                    .map(|d| d.as_secs() + 1)
                    .or(limit.rolling.then_some(1));
                let kind = if crate::budget::is_rate(&limit) {
                    "rate"
                } else {
                    "budget"
                };
                (
                    limit.metric.as_str(),
                    kind,
                    ProxyError::LimitReached { limit, retry_after },
                )
            }
            Refusal::Unavailable(e) => ("-", "unavailable", ProxyError::LimitUnavailable(e)),
        };
        if let Some(m) = metrics() {
            m.limit_refusals.with_label_values(&[metric, kind]).inc();
        }
        Err(error)
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
            arrived_at: chrono::Utc::now(),
            first_byte_after: None,
            request_bytes: 0,
            response_bytes: 0,
            request_capture: None,
            response_capture: None,
            admissions: Vec::new(),
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
            _draining: self.drain.enter(),
            stream: None,
            provider: None,
            endpoint: None,
            dialect: Dialect::OpenAi,
            upstream_path: String::new(),
            path_model: None,
            needs_api_version: false,
            upstream: None,
            server_auth: false,
            usage_filter: None,
            framing: None,
            profile: None,
            client_says_untrusted: false,
            untrusted: false,
            judge: None,
            tool_guard: None,
            tool_calls: Arc::default(),
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
            let draining = self.drain.is_draining();
            let code = if status.ready && !draining { 200 } else { 503 };
            let mut body = serde_json::to_value(&status).unwrap_or_default();
            body["draining"] = draining.into();
            let body = serde_json::to_vec(&body).unwrap_or_default();
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
        ctx.client_says_untrusted = session
            .req_header()
            .headers
            .get("x-gatehouse-context-untrusted")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let admitted = self.admit(session, ctx).await;
        ctx.overhead += ctx.started.elapsed();
        match admitted {
            Ok(()) if self.signs_body(ctx) => self.serve_signed(session, ctx).await,
            Ok(()) => Ok(false),
            Err(e) => {
                e.respond(session, ctx.dialect).await?;
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
        let Some(endpoint) = ctx.endpoint else {
            return Ok(());
        };
        if endpoint.method() == http::Method::GET {
            // `GET /models`: no body to read; the model list passes through.
            return Ok(());
        }
        let whole = ctx.body.split().freeze();
        let whole = match inspect_body(ctx, endpoint, whole) {
            Ok(whole) => whole,
            Err(e) => return Err(fail(ctx, e)),
        };
        if let Err(e) = self.check_limits(ctx).await {
            return Err(fail(ctx, e));
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
        peer.options.read_timeout = Some(self.options.idle_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut pingora::http::RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let started = Instant::now();
        let (Some(base), Some(endpoint), Some(provider)) =
            (&ctx.upstream, ctx.endpoint, ctx.provider)
        else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "request not admitted",
            ));
        };
        let api_version = ctx
            .needs_api_version
            .then_some(self.options.azure_api_version.as_str());
        let query = upstream_query(upstream_request.uri.query(), api_version);
        let vertex = self
            .server
            .vertex
            .as_ref()
            .filter(|_| ctx.server_auth && provider == Provider::Gemini);
        let path = match (vertex, &ctx.path_model) {
            (Some(vertex), Some(model)) => vertex.path(model, endpoint.always_streams()),
            _ => ctx.upstream_path.clone(),
        };
        let uri = format!("{}{path}{query}", base.path);
        let uri = uri
            .parse::<http::Uri>()
            .map_err(|e| Error::because(ErrorType::InternalError, "building upstream URI", e))?;
        upstream_request.set_uri(uri);
        upstream_request.insert_header("host", base.authority())?;
        // The side parser reads the body as it passes: ask for it uncompressed.
        upstream_request.insert_header("accept-encoding", "identity")?;
        let results_may_change = endpoint.has_tools()
            && ctx
                .profile
                .as_ref()
                .is_some_and(|p| p.policies.may_block_results());
        if results_may_change
            || (ctx.dialect == Dialect::OpenAi && endpoint == Endpoint::ChatCompletions)
        {
            // The body may be rewritten once read (stream usage), after this header has
            // gone: send it chunked rather than with the client's length.
            upstream_request.remove_header("content-length");
        }
        if provider == Provider::Openrouter {
            let defaults = [
                ("http-referer", self.options.openrouter_referer.as_deref()),
                ("x-title", self.options.openrouter_title.as_deref()),
            ];
            for (name, value) in defaults {
                if let (None, Some(value)) = (upstream_request.headers.get(name), value) {
                    upstream_request.insert_header(name, value)?;
                }
            }
        }
        if let Some(key) = ctx.provider_key() {
            for (name, value) in &key.extra_headers {
                upstream_request.insert_header(name.clone(), value.as_str())?;
            }
            for name in CREDENTIAL_HEADERS.iter().chain(&SIGV4_HEADERS) {
                upstream_request.remove_header(*name);
            }
            if !key.secret.is_empty() {
                let scheme = AuthScheme::of(provider);
                let value = match scheme {
                    AuthScheme::Bearer => format!("Bearer {}", key.secret),
                    AuthScheme::Header(_) => key.secret.clone(),
                };
                let mut value = http::HeaderValue::from_str(&value).map_err(|e| {
                    Error::because(
                        ErrorType::InternalError,
                        "provider secret is not a header value",
                        e,
                    )
                })?;
                value.set_sensitive(true);
                upstream_request.insert_header(scheme.header(), value)?;
            }
        } else if ctx.server_auth {
            for name in CREDENTIAL_HEADERS.iter().chain(&SIGV4_HEADERS) {
                upstream_request.remove_header(*name);
            }
            match self.server.authorization(provider).await {
                Ok(Some(value)) => {
                    upstream_request.insert_header("authorization", value)?;
                }
                Ok(None) => {}
                Err(e) => return Err(fail(ctx, ProxyError::UpstreamCredentials(e))),
            }
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
        let content_type = upstream_response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ctx.response_started(upstream_response.status.as_u16(), content_type);
        let rewrites = ctx.usage_filter.is_some()
            || ctx
                .tool_guard
                .as_ref()
                .is_some_and(ToolCallGuard::holds_whole_body);
        let has_body = !matches!(upstream_response.status.as_u16(), 204 | 304);
        if rewrites && upstream_response.remove_header("content-length").is_some() && has_body {
            // pingora framed a length-less answer as chunked before this filter ran; one
            // whose length is dropped here must be told so, or it goes out close-delimited
            // and every keep-alive client reconnects for its next request.
            upstream_response.set_version(http::Version::HTTP_11);
            upstream_response.insert_header("transfer-encoding", "chunked")?;
        }
        for (name, value) in limit_headers(&ctx.admissions) {
            upstream_response.insert_header(name, value)?;
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
        *body = match ctx.response_chunk(body.take(), end_of_stream) {
            Ok(out) => out,
            Err(e) => return Err(fail(ctx, e)),
        };
        if !end_of_stream && ctx.started.elapsed() > self.options.total_timeout {
            let limit = humantime::format_duration(self.options.total_timeout);
            return Err(fail(
                ctx,
                ProxyError::UpstreamTimeout(format!("exchange exceeded {limit}")),
            ));
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let started = session.response_written().is_some();
        let error = match ctx.error.take() {
            Some(error) => Some(error),
            None if e.esource() == &ErrorSource::Upstream => {
                let error = match e.etype() {
                    ErrorType::ReadTimedout | ErrorType::ConnectTimedout => {
                        ProxyError::UpstreamTimeout(e.to_string())
                    }
                    _ if started => ProxyError::StreamBroken(e.to_string()),
                    _ => ProxyError::UpstreamUnreachable(e.to_string()),
                };
                count_upstream_failure(ctx, &error);
                Some(error)
            }
            None => None,
        };
        if started {
            // The client already has a status and part of the body: report the failure
            // inside the stream, then cut the connection so no SDK mistakes the
            // truncated reply for a whole one.
            if let Some(error) = &error {
                report_in_stream(session, ctx, error).await;
            }
            ctx.error = error;
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        let error_code = match &error {
            Some(error) => {
                if let Err(write) = error.respond(session, ctx.dialect).await {
                    tracing::debug!(error = %write, "could not write error response");
                }
                error.status()
            }
            // The client went away (or an internal fault): nothing useful to write.
            None if e.esource() == &ErrorSource::Downstream => 0,
            None => {
                let rendered = llm::dialect::error_response(
                    ctx.dialect,
                    500,
                    ErrorKind::Server,
                    "internal_error",
                    "internal gateway error",
                );
                if let Err(write) = write_json(session, 500, rendered.body).await {
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
        if ctx.observed.is_none() {
            // The stream ended early (the client left, or the upstream broke): what the
            // provider reported so far.
            ctx.observed = ctx.observer.take().map(ResponseObserver::finish);
        }
        let (provider, api) = ctx.labels();
        let profile = ctx.profile.as_ref().map(|p| p.id.to_string());
        let usage = ctx.observed.as_ref().and_then(|o| o.usage);
        let elapsed = ctx.started.elapsed();
        let (tools_allowed, tools_blocked) = {
            let tally = ctx.tool_calls.lock().unwrap_or_else(|p| p.into_inner());
            (tally.allowed, tally.blocked)
        };
        let cost = match (usage, ctx.provider) {
            (Some(u), Some(p)) => self.cost(p, ctx, u).await,
            _ => None,
        };
        if let Some(m) = metrics() {
            record_request(m, ctx, status, profile.as_deref(), elapsed, cost);
        }
        let mut record = ctx.interaction(&self.budgets, status, e, cost, elapsed);
        record.tool_calls_allowed = tools_allowed;
        record.tool_calls_blocked = tools_blocked;
        tracing::info!(
            request_id = %ctx.request_id,
            interaction_id = %record.id,
            virtual_key = record.virtual_key_id.map(|id| id.to_string()).as_deref().unwrap_or("-"),
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
            untrusted = ctx.untrusted,
            tool_calls_allowed = tools_allowed,
            tool_calls_blocked = tools_blocked,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            overhead_us = ctx.overhead.as_micros() as u64,
            error = record.error.as_deref(),
            "access"
        );
        match ctx.span.take() {
            Some(span) if span.is_recording() => end_span(span, ctx, &record),
            Some(span) => span.end(String::new(), status),
            None => {}
        }
        self.records.record(record);
    }
}

/// Headers telling the client where the tightest limit it was admitted against stands
/// (as far as this worker knows: other workers may have spent some since).
fn limit_headers(admissions: &[Admission]) -> Vec<(&'static str, String)> {
    let tightest = admissions.iter().min_by(|a, b| {
        let share = |x: &Admission| x.remaining / x.limit.max;
        share(a).total_cmp(&share(b))
    });
    let Some(a) = tightest else {
        return Vec::new();
    };
    let mut headers = vec![
        ("x-gatehouse-limit-id", a.limit.id.to_string()),
        (
            "x-gatehouse-limit-metric",
            a.limit.metric.as_str().to_owned(),
        ),
        ("x-gatehouse-limit-max", a.limit.max.to_string()),
        ("x-gatehouse-limit-remaining", a.remaining.to_string()),
    ];
    if let Some(at) = a.resets_at {
        headers.push((
            "x-gatehouse-limit-reset",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ));
    }
    headers
}

impl RequestCtx {
    /// The request's interaction record, with its usage charged to the limits it was
    /// admitted against.
    fn interaction(
        &self,
        budgets: &Budgets,
        status: u16,
        e: Option<&Error>,
        cost: Option<f64>,
        elapsed: Duration,
    ) -> api_types::Interaction {
        use api_types::{CredentialMode, LimitMetric, LogBodies, TokenCounts};
        let observed = self.observed.as_ref();
        let usage = observed.and_then(|o| o.usage);
        let client_aborted = e.is_some_and(|e| e.esource() == &ErrorSource::Downstream);
        let error = match (&self.error, e) {
            (Some(error), _) => Some(error.code().to_owned()),
            (None, Some(_)) if client_aborted => Some("client_disconnected".to_owned()),
            (None, Some(e)) => Some(e.etype().as_str().to_owned()),
            (None, None) => None,
        };
        let finished = chrono::Utc::now();
        let charges = self
            .admissions
            .iter()
            .map(|a| {
                let amount = match a.limit.metric {
                    LimitMetric::Requests => 1.0,
                    LimitMetric::Tokens => usage
                        .map(|u| (u.input_tokens + u.output_tokens) as f64)
                        .unwrap_or(0.0),
                    LimitMetric::CostUsd => cost.unwrap_or(0.0),
                };
                budgets.charge(a, amount, finished)
            })
            .collect();
        let log_bodies = self
            .profile
            .as_ref()
            .map(|p| p.log_bodies)
            .unwrap_or_default();
        let metadata = (log_bodies != LogBodies::None).then(|| api_types::BodyMetadata {
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            finish_reasons: observed
                .map(|o| o.finish_reasons.clone())
                .unwrap_or_default(),
            tool_calls: observed.map(|o| o.tool_calls.clone()).unwrap_or_default(),
        });
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        api_types::Interaction {
            id: Uuid::now_v7(),
            occurred_at: self.arrived_at,
            request_id: self.request_id.clone(),
            provider: self.provider,
            api: self.endpoint.map(|e| e.as_str().to_owned()),
            model: self.model.clone(),
            response_model: observed.and_then(|o| o.model.clone()),
            profile_id: self.profile.as_ref().map(|p| p.id),
            team_id: self.profile.as_ref().and_then(|p| p.team_id),
            virtual_key_id: match &self.credential {
                Credential::Virtual(vk) => Some(vk.id),
                Credential::Passthrough => None,
            },
            credential: match self.credential {
                Credential::Virtual(_) => CredentialMode::Virtual,
                Credential::Passthrough => CredentialMode::Passthrough,
            },
            status,
            error,
            stream: self.framing.is_some_and(Framing::is_stream),
            client_aborted,
            tokens: usage.map(|u| TokenCounts {
                input: u.input_tokens,
                output: u.output_tokens,
                cached_read: u.cached_input_tokens,
                cache_write: u.cache_write_input_tokens,
                reasoning: u.reasoning_tokens,
            }),
            cost_usd: cost,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            time_to_first_token_ms: self.first_byte_after.map(|d| d.as_secs_f64() * 1000.0),
            gateway_overhead_us: u64::try_from(self.overhead.as_micros()).unwrap_or(u64::MAX),
            tool_calls_allowed: 0,
            tool_calls_blocked: 0,
            untrusted: self.untrusted,
            charges,
            metadata,
            request_body: self.request_capture.as_deref().map(text),
            response_body: self.response_capture.as_deref().map(text),
        }
    }
}

/// Fills in the GenAI attributes (and Gatehouse's own) and ends the span.
fn end_span(mut span: RequestSpan, ctx: &RequestCtx, record: &api_types::Interaction) {
    use opentelemetry::{Array, KeyValue, StringValue, Value};
    let (status, cost) = (record.status, record.cost_usd);
    let profile = record.profile_id.map(|p| p.to_string());
    let profile = profile.as_deref();
    span.set(KeyValue::new(
        "gatehouse.interaction.id",
        record.id.to_string(),
    ));
    if let Some(vk) = record.virtual_key_id {
        span.set(KeyValue::new("gatehouse.virtual_key.id", vk.to_string()));
    }
    if let Some(error) = &record.error {
        span.set(KeyValue::new("error.type", error.clone()));
    }
    let outcome = match (record.tool_calls_blocked, record.tool_calls_allowed) {
        (0, 0) => "none",
        (0, _) => "allowed",
        _ => "blocked",
    };
    span.set(KeyValue::new("gatehouse.policy.outcome", outcome));
    span.set(KeyValue::new(
        "gatehouse.policy.untrusted",
        record.untrusted,
    ));
    span.set(KeyValue::new(
        "gatehouse.policy.tool_calls_allowed",
        i64::from(record.tool_calls_allowed),
    ));
    span.set(KeyValue::new(
        "gatehouse.policy.tool_calls_blocked",
        i64::from(record.tool_calls_blocked),
    ));
    let (provider, _) = ctx.labels();
    let operation = ctx.endpoint.map(Endpoint::operation).unwrap_or("-");
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
    let virtual_key = match &ctx.credential {
        Credential::Virtual(vk) => vk.id.to_string(),
        Credential::Passthrough => "-".to_owned(),
    };
    if m.virtual_key_labels() {
        labels.push(&virtual_key);
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

/// Why a request sent by [`Gateway::serve_signed`] ended early.
enum SignedFailure {
    /// The gateway refuses or the upstream failed: reported to the client.
    Proxy(ProxyError),
    /// The client went away or broke the exchange: nothing more to tell it.
    Client(Box<Error>),
}

impl From<ProxyError> for SignedFailure {
    fn from(e: ProxyError) -> Self {
        SignedFailure::Proxy(e)
    }
}

impl Gateway {
    /// Whether this request is signed over its body (Bedrock with SigV4), which pingora's
    /// upstream path cannot do: it writes the upstream header before reading the body.
    fn signs_body(&self, ctx: &RequestCtx) -> bool {
        ctx.server_auth
            && ctx.provider == Some(Provider::Bedrock)
            && self.server.bedrock_api_key.is_none()
            && self.server.bedrock_sigv4.is_some()
    }

    /// Serves a SigV4-signed request with the gateway's own HTTP client: reads the whole
    /// body, checks it like any other, signs it, and streams the response back through
    /// the same side parser. Returns `Ok(true)`: the response is written.
    async fn serve_signed(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        match self.send_signed(session, ctx).await {
            Ok(()) => Ok(true),
            Err(SignedFailure::Client(e)) => Err(e),
            Err(SignedFailure::Proxy(e)) if session.response_written().is_some() => {
                // Reported in-band (and the connection cut) by `fail_to_proxy`.
                Err(fail(ctx, e))
            }
            Err(SignedFailure::Proxy(e)) => {
                count_upstream_failure(ctx, &e);
                e.respond(session, ctx.dialect).await?;
                ctx.error = Some(e);
                Ok(true)
            }
        }
    }

    async fn send_signed(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<(), SignedFailure> {
        let (Some(sigv4), Some(base), Some(endpoint)) = (
            &self.server.bedrock_sigv4,
            ctx.upstream.clone(),
            ctx.endpoint,
        ) else {
            return Err(SignedFailure::Client(Error::explain(
                ErrorType::InternalError,
                "signed request without signing settings",
            )));
        };
        let mut body = BytesMut::new();
        while let Some(chunk) = session
            .read_request_body()
            .await
            .map_err(SignedFailure::Client)?
        {
            if (body.len() + chunk.len()) as u64 > self.body_limit {
                return Err(ProxyError::BodyTooLarge {
                    limit: self.body_limit,
                }
                .into());
            }
            body.extend_from_slice(&chunk);
        }
        let inspecting = Instant::now();
        ctx.body_done = Some(inspecting);
        let body = inspect_body(ctx, endpoint, body.freeze())?;
        self.check_limits(ctx).await?;

        let scheme = if base.tls { "https" } else { "http" };
        let query = upstream_query(session.req_header().uri.query(), None);
        let url = format!(
            "{scheme}://{}{}{}{query}",
            base.authority(),
            base.path,
            ctx.upstream_path
        );
        let header = |name: &str| {
            session
                .req_header()
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_else(|| "application/json".into());
        let authority = base.authority();
        let signed = sigv4
            .sign(
                &url,
                &[("host", &authority), ("content-type", &content_type)],
                &body,
            )
            .await
            .map_err(ProxyError::UpstreamCredentials)?;
        let mut request = self
            .signed_http
            .post(&url)
            .header("content-type", &content_type)
            .header("accept-encoding", "identity")
            .body(body);
        // The client's other headers go along as they would through the proxy path;
        // its credentials, its own signature and the framing do not.
        for (name, value) in &session.req_header().headers {
            if !NOT_FORWARDED_BY_SIGNED.contains(&name.as_str()) {
                request = request.header(name, value);
            }
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        if let Some(span) = &ctx.span {
            for (name, value) in span.upstream_headers().0 {
                request = request.header(name, value);
            }
        }
        ctx.overhead += inspecting.elapsed();
        let mut response = request.send().await.map_err(upstream_error)?;

        let status = response.status().as_u16();
        let mut head =
            pingora::http::ResponseHeader::build(status, Some(4)).map_err(SignedFailure::Client)?;
        for name in ["content-type", "x-amzn-errortype", "x-amzn-requestid"] {
            if let Some(value) = response.headers().get(name) {
                head.insert_header(name, value.clone())
                    .map_err(SignedFailure::Client)?;
            }
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ctx.response_started(status, &content_type);
        for (name, value) in limit_headers(&ctx.admissions) {
            head.insert_header(name, value)
                .map_err(SignedFailure::Client)?;
        }
        session
            .write_response_header(Box::new(head), false)
            .await
            .map_err(SignedFailure::Client)?;
        loop {
            match response.chunk().await.map_err(upstream_error)? {
                Some(bytes) => {
                    let out = ctx.response_chunk(Some(bytes), false)?;
                    session
                        .write_response_body(out, false)
                        .await
                        .map_err(SignedFailure::Client)?;
                }
                None => {
                    let out = ctx.response_chunk(None, true)?;
                    return session
                        .write_response_body(Some(out.unwrap_or_default()), true)
                        .await
                        .map_err(SignedFailure::Client);
                }
            }
        }
    }
}

/// Client headers a signed request does not pass on: credentials, the client's own
/// signature, framing and hop-by-hop headers, and what the gateway sets itself.
const NOT_FORWARDED_BY_SIGNED: [&str; 15] = [
    "host",
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "accept-encoding",
];

/// An upstream failure of the gateway's own HTTP client, as a proxy error.
fn upstream_error(e: reqwest::Error) -> SignedFailure {
    let (timeout, broken) = (e.is_timeout(), e.is_body() || e.is_decode());
    let detail = e.without_url().to_string();
    SignedFailure::Proxy(if timeout {
        ProxyError::UpstreamTimeout(detail)
    } else if broken {
        ProxyError::StreamBroken(detail)
    } else {
        ProxyError::UpstreamUnreachable(detail)
    })
}

/// Counts an upstream failure (unreachable, timed out, broken) by provider and kind.
fn count_upstream_failure(ctx: &RequestCtx, error: &ProxyError) {
    let kind = match error {
        ProxyError::UpstreamTimeout(_) => "timeout",
        ProxyError::UpstreamUnreachable(_) => "unreachable",
        ProxyError::StreamBroken(_) => "stream_broken",
        _ => return,
    };
    if let Some(m) = metrics() {
        m.upstream_errors
            .with_label_values(&[ctx.provider.map(Provider::as_str).unwrap_or("-"), kind])
            .inc();
    }
}

/// Reads what the gateway needs from a whole request body and checks it: the model
/// (allowed for this profile and key?), streaming; returns the body to send upstream
/// (with stream usage asked for where the client did not).
fn inspect_body(
    ctx: &mut RequestCtx,
    endpoint: Endpoint,
    whole: Bytes,
) -> Result<Bytes, ProxyError> {
    let peek = llm::request::peek(endpoint, ctx.path_model.as_deref(), &whole)
        .map_err(ProxyError::InvalidBody)?;
    ctx.model = Some(peek.model.clone());
    if !ctx.allows_model(&peek.model) {
        return Err(ProxyError::ModelNotAllowed(peek.model));
    }
    let mut whole = whole;
    if let Some(profile) = ctx.profile.clone() {
        whole = screen_tools(ctx, &profile, endpoint, whole)?;
    }
    if asks_for_hidden_usage(ctx.provider, endpoint, &peek) {
        if let Some(rewritten) = llm::request::ask_for_usage(&whole) {
            whole = rewritten;
            ctx.usage_filter = Some(UsageChunkFilter::new());
        }
    }
    if ctx.span.is_some() && telemetry::capture_content() {
        ctx.prompt = prompt_text(&whole);
    }
    ctx.request_bytes = whole.len() as u64;
    if ctx
        .profile
        .as_ref()
        .is_some_and(|p| p.log_bodies == api_types::LogBodies::Full)
    {
        ctx.request_capture = Some(whole.slice(..whole.len().min(api_types::BODY_CAP)));
        ctx.response_capture = Some(BytesMut::new());
    }
    Ok(whole)
}

/// Screens the conversation's tool results with the profile's policies (rewriting the
/// body when one is withheld) and prepares the judge for the response's tool calls.
fn screen_tools(
    ctx: &mut RequestCtx,
    profile: &ServedProfile,
    endpoint: Endpoint,
    whole: Bytes,
) -> Result<Bytes, ProxyError> {
    if !endpoint.has_tools() {
        return Ok(whole);
    }
    let mut value: serde_json::Value = serde_json::from_slice(&whole)
        .map_err(|e| ProxyError::InvalidBody(llm::request::RequestError::MalformedJson(e)))?;
    let untrusted = profile.consider_context_untrusted || ctx.client_says_untrusted;
    let (screened, changed) =
        guard::screen_request(&profile.policies, endpoint, &mut value, untrusted);
    if screened.results_withheld > 0 {
        tracing::info!(
            request_id = %ctx.request_id,
            withheld = screened.results_withheld,
            "tool results withheld by policy"
        );
    }
    ctx.untrusted = screened.untrusted;
    ctx.judge = Some(Judge {
        policies: profile.policies.clone(),
        declared: screened.declared,
        untrusted: screened.untrusted,
        tally: ctx.tool_calls.clone(),
    });
    if !changed {
        return Ok(whole);
    }
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|e| ProxyError::InvalidBody(llm::request::RequestError::MalformedJson(e)))
}

/// `a` then `b`, copied only when both have bytes.
fn concat(a: Bytes, b: Bytes) -> Bytes {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let mut joined = BytesMut::with_capacity(a.len() + b.len());
    joined.extend_from_slice(&a);
    joined.extend_from_slice(&b);
    joined.freeze()
}

/// Whether to ask an OpenAI-compatible upstream for stream usage the client did not ask
/// for (and hide it again): streamed chat completions without `include_usage`.
fn asks_for_hidden_usage(
    provider: Option<Provider>,
    endpoint: Endpoint,
    peek: &llm::request::RequestPeek,
) -> bool {
    provider.is_some_and(llm::dialect::asks_for_stream_usage)
        && endpoint == Endpoint::ChatCompletions
        && peek.stream
        && !peek.include_usage
}

/// The request's conversation for a trace that captures content (bounded): the field
/// each format keeps it in.
fn prompt_text(body: &[u8]) -> Option<String> {
    let body = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let conversation = ["messages", "input", "contents"]
        .iter()
        .map(|field| &body[*field])
        .find(|v| !v.is_null())?;
    Some(conversation.to_string().chars().take(16 * 1024).collect())
}

/// Writes the in-band error for a stream that broke after its response started.
async fn report_in_stream(session: &mut Session, ctx: &RequestCtx, error: &ProxyError) {
    let sse = ctx.framing == Some(Framing::Sse);
    let kind = match error {
        ProxyError::UpstreamTimeout(_) => ErrorKind::Timeout,
        _ => ErrorKind::BadGateway,
    };
    if let Some(event) = llm::dialect::stream_error(ctx.dialect, sse, kind, &error.to_string()) {
        if let Err(e) = session.write_response_body(Some(event), false).await {
            tracing::debug!(error = %e, "could not write the in-stream error");
        }
    }
    tracing::warn!(
        request_id = %ctx.request_id,
        error = %error,
        "stream ended early; reported in-band and the connection cut"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_keys_are_found_in_every_providers_convention() {
        let vk = "gh_vk_abc123";
        let cases: [(&str, String); 5] = [
            ("authorization", format!("Bearer {vk}")),
            ("x-api-key", vk.to_owned()),
            ("x-goog-api-key", vk.to_owned()),
            ("api-key", vk.to_owned()),
            (
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential={vk}/20261122/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=ab"),
            ),
        ];
        for (name, value) in cases {
            let mut req = pingora::http::RequestHeader::build("POST", b"/v1/x/p/y", None).unwrap();
            req.insert_header(name, value.as_str()).unwrap();
            assert_eq!(virtual_key_token(&req), Some(vk), "{name}: {value}");
        }
        let req = pingora::http::RequestHeader::build(
            "POST",
            b"/v1/gemini/p/x?alt=sse&key=gh_vk_q",
            None,
        )
        .unwrap();
        assert_eq!(virtual_key_token(&req), Some("gh_vk_q"));
        let mut own = pingora::http::RequestHeader::build("POST", b"/v1/x/p/y", None).unwrap();
        own.insert_header("x-api-key", "sk-ant-own").unwrap();
        assert_eq!(
            virtual_key_token(&own),
            None,
            "a provider key is passed through"
        );
    }

    #[test]
    fn upstream_queries_drop_virtual_keys_and_add_api_versions() {
        assert_eq!(
            upstream_query(Some("alt=sse&key=gh_vk_x"), None),
            "?alt=sse"
        );
        assert_eq!(upstream_query(Some("key=AIza"), None), "?key=AIza");
        assert_eq!(
            upstream_query(None, Some("2024-10-21")),
            "?api-version=2024-10-21"
        );
        assert_eq!(
            upstream_query(Some("api-version=2025-01-01"), Some("2024-10-21")),
            "?api-version=2025-01-01"
        );
        assert_eq!(upstream_query(Some(""), None), "");
    }
}
