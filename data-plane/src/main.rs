//! `gatehouse-data-plane`: serves provider routes until SIGTERM (graceful, bounded by
//! `GATEHOUSE_SHUTDOWN_GRACE_SECS`) or SIGINT (immediate).

use std::sync::Arc;

use clap::Parser;
use data_plane::config::ConfigClient;
use data_plane::proxy::Gateway;
use data_plane::settings::{Settings, Upstreams};
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| "info".into()))
        .init();
    let upstreams = Upstreams::from_lookup(|name| std::env::var(name).ok())?;
    let config = ConfigClient::new(
        &settings.control_plane_url,
        settings.internal_token.clone(),
        settings.config_cache_ttl(),
    )?;
    let gateway = Gateway::new(
        Arc::new(config),
        upstreams,
        settings.api_body_limit.as_u64(),
        settings.upstream_read_timeout(),
    );

    let threads = settings
        .proxy_threads
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(settings.shutdown_grace_secs),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = pingora::proxy::http_proxy_service(&server.configuration, gateway);
    service.add_tcp(&settings.proxy_addr.to_string());
    server.add_service(service);
    tracing::info!(addr = %settings.proxy_addr, threads, "data plane listening");
    server.run_forever()
}
