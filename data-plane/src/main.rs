//! `gatehouse-data-plane`: serves provider routes until SIGTERM (graceful, bounded by
//! `GATEHOUSE_SHUTDOWN_GRACE_SECS`) or SIGINT (immediate).

use std::sync::Arc;

use clap::Parser;
use data_plane::background;
use data_plane::config::ConfigClient;
use data_plane::credentials::{ServerCredentials, SigV4, TokenSource, Vertex};
use data_plane::proxy::Gateway;
use data_plane::records::{Ingest, RecordSink, Shipper};
use data_plane::settings::{Settings, Upstreams};
use pingora::listeners::ListenerConfig;
use pingora::protocols::l4::stream::L4BufferSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

/// Gatehouse's own provider credentials, from the settings (checked at start-up).
fn server_credentials(settings: &Settings) -> anyhow::Result<ServerCredentials> {
    let vertex = match settings.vertex().map_err(anyhow::Error::msg)? {
        Some(v) => {
            let tokens = TokenSource::service_account(&v.credentials_file)?;
            tracing::info!(project = %v.project, location = %v.location, "Gemini is served through Vertex AI");
            Some(Vertex {
                tokens,
                project: v.project,
                location: v.location,
                base: llm::upstream::BaseUrl::parse(&v.base_url)?,
            })
        }
        None => None,
    };
    let azure =
        settings
            .azure_entra()
            .map_err(anyhow::Error::msg)?
            .map(|(tenant, client, secret)| {
                tracing::info!("Azure OpenAI is authenticated with Entra ID client credentials");
                TokenSource::entra_client(&settings.azure_authority_host, &tenant, &client, secret)
            });
    let bedrock_sigv4 = match (&settings.bedrock_api_key, settings.bedrock_sigv4) {
        (Some(_), true) => {
            anyhow::bail!("set GATEHOUSE_BEDROCK_API_KEY or GATEHOUSE_BEDROCK_SIGV4, not both")
        }
        (None, true) => {
            let region = settings.bedrock_region();
            tracing::info!(%region, "Bedrock requests are signed with SigV4");
            Some(SigV4::new(region))
        }
        (_, false) => None,
    };
    Ok(ServerCredentials {
        vertex,
        azure,
        bedrock_api_key: settings.bedrock_api_key.clone(),
        bedrock_sigv4,
    })
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| "info".into());
    if settings.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_env_filter(filter)
            .init();
    }
    data_plane::metrics::init(
        settings.metrics_profile_labels,
        settings.metrics_virtual_key_labels,
        settings.metrics_enabled,
    );
    if let Some(trace) = settings.trace_settings() {
        // The span exporter's threads start here and take this thread's lowered priority.
        background::on_lowered_thread(|| data_plane::telemetry::init(&trace))?;
        tracing::info!(endpoint = %trace.endpoint, protocol = ?trace.protocol, "exporting traces over OTLP");
    }
    let bedrock_region = settings.bedrock_region();
    let upstreams = Upstreams::from_lookup(|name| {
        std::env::var(name).ok().or_else(|| {
            // Bedrock's default endpoint is regional.
            (name == "GATEHOUSE_BEDROCK_BASE_URL")
                .then(|| format!("https://bedrock-runtime.{bedrock_region}.amazonaws.com"))
        })
    })?;
    if settings
        .internal_token_secret
        .expose_secret()
        .chars()
        .count()
        < 32
    {
        anyhow::bail!("GATEHOUSE_INTERNAL_TOKEN_SECRET: must be at least 32 characters");
    }
    let config = Arc::new(ConfigClient::new(
        &settings.control_plane_url,
        settings.internal_token_secret.clone(),
        settings.sync_settings(),
    )?);
    let ingest = settings
        .usage_ingest_url
        .as_deref()
        .unwrap_or(&settings.control_plane_url);
    let (records, shipper) = RecordSink::new(
        Arc::new(Ingest::at(config.clone(), ingest)),
        settings.sink_settings(),
    );
    let gateway = Gateway::new(
        config.clone(),
        upstreams,
        settings.api_body_limit.as_u64(),
        settings.upstream_options(),
        server_credentials(&settings)?,
        records.clone(),
    );

    let threads = settings
        .proxy_threads
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    // On SIGTERM pingora closes the listeners and sleeps out grace_period_seconds while
    // requests finish; the drain service below ends the process as soon as none is left.
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(settings.shutdown_grace_secs + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let drain = gateway.drain.clone();
    let budgets = gateway.budgets.clone();
    let mut service = pingora::proxy::http_proxy_service(&server.configuration, gateway);
    // No L4 read buffer on client connections: pingora reads headers and bodies into
    // buffers of its own, and the default 64 KiB one in front of them cost a copy of every
    // byte read and zeroed memory on each new connection.
    service.add_listener(
        ListenerConfig::tcp(settings.proxy_addr.to_string())
            .l4_buffer(L4BufferSettings::default().read(0)),
    );
    server.add_service(service);
    if settings.metrics_enabled {
        server.add_service(background_service(
            "metrics",
            MetricsServer {
                addr: settings.metrics_addr,
                config: config.clone(),
                secret: settings.metrics_secret.clone(),
            },
        ));
    }
    server.add_service(background_service("config sync", ConfigSync(config)));
    server.add_service(background_service(
        "interaction records",
        ShipRecords(std::sync::Mutex::new(Some(shipper))),
    ));
    server.add_service(background_service(
        "drain",
        DrainOnShutdown {
            drain,
            budgets,
            records,
            grace: std::time::Duration::from_secs(settings.shutdown_grace_secs),
        },
    ));
    tracing::info!(addr = %settings.proxy_addr, threads, "data plane listening");
    server.run_forever()
}

/// Keeps the config cache current (watch stream and resync) until shutdown.
struct ConfigSync(Arc<ConfigClient>);

#[async_trait::async_trait]
impl BackgroundService for ConfigSync {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        background::lower_this_thread();
        tokio::select! {
            () = self.0.clone().sync() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Sends interaction records to the control plane. It does not stop on shutdown: the
/// drain service flushes it once the requests in flight have ended.
struct ShipRecords(std::sync::Mutex<Option<Shipper>>);

#[async_trait::async_trait]
impl BackgroundService for ShipRecords {
    async fn start(&self, _shutdown: ShutdownWatch) {
        background::lower_this_thread();
        let shipper = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(shipper) = shipper {
            shipper.run().await;
        }
    }
}

/// On shutdown: waits for the requests in flight (up to the grace period), gives back the
/// unspent budget leases, sends the interaction records still queued (up to the grace period again), exports the spans
/// still queued, and exits.
struct DrainOnShutdown {
    drain: Arc<data_plane::drain::Drain>,
    budgets: Arc<data_plane::budget::Budgets>,
    records: RecordSink,
    grace: std::time::Duration,
}

#[async_trait::async_trait]
impl BackgroundService for DrainOnShutdown {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if shutdown.changed().await.is_err() {
            return;
        }
        tracing::info!(in_flight = self.drain.in_flight(), "SIGTERM: draining");
        let left = self.drain.drain(self.grace).await;
        if left > 0 {
            tracing::warn!(
                left,
                "grace period over; cutting the requests still running"
            );
        } else {
            tracing::info!("drained");
        }
        self.budgets.release_all().await;
        if self
            .records
            .flush(self.grace.max(std::time::Duration::from_secs(5)))
            .await
        {
            tracing::info!("interaction records sent; exiting");
        } else {
            tracing::error!("the control plane did not take the queued interaction records in time; they are lost");
        }
        tokio::task::spawn_blocking(data_plane::telemetry::shutdown)
            .await
            .ok();
        // Pingora would sleep out its whole grace period; nothing is left to wait for.
        std::process::exit(0);
    }
}

/// Serves `/metrics` until shutdown.
struct MetricsServer {
    addr: std::net::SocketAddr,
    config: Arc<ConfigClient>,
    secret: Option<secrecy::SecretString>,
}

#[async_trait::async_trait]
impl BackgroundService for MetricsServer {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        background::lower_this_thread();
        let serve = data_plane::metrics::serve(self.addr, self.config.clone(), self.secret.clone());
        tokio::select! {
            () = serve => {}
            _ = shutdown.changed() => {}
        }
    }
}
