//! OpenTelemetry traces: one span per proxied request, following the GenAI semantic
//! conventions, exported over OTLP — HTTP/protobuf or gRPC — to
//! `GATEHOUSE_OTEL_EXPORTER_OTLP_ENDPOINT`.
//!
//! The client's `traceparent` becomes the span's parent, and the span's own context goes
//! upstream in `traceparent`, so one trace runs from the client through the gateway to the
//! provider. Spans are queued for a background exporter thread; when the queue is full they
//! are dropped, so export never blocks or slows a request.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use base64::Engine;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, Span, Tracer};
use opentelemetry_sdk::Resource;
use secrecy::{ExposeSecret, SecretString};

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`: POST to `<endpoint>/v1/traces`.
    HttpProtobuf,
    /// `grpc`: the collector's `TraceService/Export` at `<endpoint>`.
    Grpc,
}

/// Where and how to export.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// Base URL of the collector's OTLP receiver.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub bearer: Option<SecretString>,
    /// Put prompts (request messages) on spans.
    pub capture_content: bool,
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("OTLP exporter: {0}")]
pub struct TelemetryError(String);

struct Telemetry {
    provider: SdkTracerProvider,
    /// Drives the gRPC channel's connection for the exporter thread (gRPC only).
    _grpc_runtime: Option<tokio::runtime::Runtime>,
    tracer: Tracer,
    capture_content: bool,
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// Starts the exporter. Without a call, no spans are made (and requests pay nothing).
pub fn init(settings: &TraceSettings) -> Result<(), TelemetryError> {
    let mut headers = HashMap::new();
    if let Some(bearer) = &settings.bearer {
        headers.insert(
            "authorization".to_owned(),
            format!("Bearer {}", bearer.expose_secret()),
        );
    } else if let Some(user) = &settings.username {
        let password = settings
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        headers.insert("authorization".to_owned(), format!("Basic {token}"));
    }
    let error = |e: &dyn std::fmt::Display| TelemetryError(e.to_string());
    let (exporter, grpc_runtime) = match settings.protocol {
        OtlpProtocol::HttpProtobuf => {
            let endpoint = format!("{}/v1/traces", settings.endpoint.trim_end_matches('/'));
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .with_timeout(Duration::from_secs(10))
                .with_headers(headers)
                .build()
                .map_err(|e| error(&e))?;
            (exporter, None)
        }
        OtlpProtocol::Grpc => {
            // The channel's connection task lives on a small runtime of its own, so the
            // exporter thread can use it whatever else the process runs.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-grpc")
                .enable_all()
                .build()
                .map_err(|e| error(&e))?;
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (name, value) in &headers {
                let value = value.parse().map_err(|e| error(&e))?;
                metadata.insert(
                    tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
                        .map_err(|e| error(&e))?,
                    value,
                );
            }
            let exporter = {
                let _entered = runtime.enter();
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(settings.endpoint.clone())
                    .with_timeout(Duration::from_secs(10))
                    .with_metadata(metadata)
                    .build()
                    .map_err(|e| error(&e))?
            };
            (exporter, Some(runtime))
        }
    };
    let processor = BatchSpanProcessor::builder(exporter).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name("gatehouse-data-plane")
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "gatehouse");
    let telemetry = Telemetry {
        provider,
        _grpc_runtime: grpc_runtime,
        tracer,
        capture_content: settings.capture_content,
    };
    TELEMETRY
        .set(telemetry)
        .map_err(|_| TelemetryError("initialised twice".into()))
}

/// Exports what is queued (at shutdown).
pub fn shutdown() {
    if let Some(t) = TELEMETRY.get() {
        if let Err(e) = t.provider.shutdown() {
            tracing::warn!(error = %e, "flushing spans failed");
        }
    }
}

/// Whether prompts may be put on spans.
pub fn capture_content() -> bool {
    TELEMETRY.get().is_some_and(|t| t.capture_content)
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Collects the headers a propagator writes.
#[derive(Default)]
pub struct Carrier(pub Vec<(String, String)>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// The span of one request.
pub struct RequestSpan {
    span: Span,
}

impl RequestSpan {
    /// Starts a client span for a request that arrived at `started`, as a child of the
    /// client's `traceparent` when it sent one. `None` when tracing is off.
    pub fn start(headers: &http::HeaderMap, started: SystemTime) -> Option<RequestSpan> {
        let t = TELEMETRY.get()?;
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let span = t
            .tracer
            .span_builder("chat")
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .start_with_context(&t.tracer, &parent);
        Some(RequestSpan { span })
    }

    /// The `traceparent` (and `tracestate`) headers to send upstream.
    pub fn upstream_headers(&self) -> Carrier {
        let cx = Context::new().with_remote_span_context(self.span.span_context().clone());
        let mut carrier = Carrier::default();
        TraceContextPropagator::new().inject_context(&cx, &mut carrier);
        carrier
    }

    /// Whether the sampler kept this span: attributes of a span that is not recorded are
    /// not worth building.
    pub fn is_recording(&self) -> bool {
        self.span.is_recording()
    }

    pub fn set(&mut self, attribute: KeyValue) {
        self.span.set_attribute(attribute);
    }

    /// Names the span `{operation} {model}` as the conventions ask, marks errors, ends it.
    pub fn end(mut self, name: String, status: u16) {
        self.span.update_name(name);
        if status >= 500 || status == 0 {
            self.span
                .set_status(Status::error(format!("status {status}")));
        }
        self.span.end();
    }
}
