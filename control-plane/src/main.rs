//! `gatehouse-control-plane`: starts Postgres (embedded unless `GATEHOUSE_DATABASE_URL` is
//! set), runs migrations and serves the API until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use control_plane::db::embedded::EmbeddedPostgres;
use control_plane::{app, prepare, Settings};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // `gatehouse-control-plane openapi` prints the OpenAPI document (see `make openapi`).
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        print!("{}", control_plane::openapi::document());
        return Ok(());
    }
    let settings = Settings::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| "info".into()))
        .init();
    settings.validate()?;
    let mut embedded = match &settings.database_url {
        Some(_) => None,
        None => Some(EmbeddedPostgres::start(
            &settings.data_dir,
            settings.postgres_bin_dir.as_deref(),
        )?),
    };
    let result = tokio::runtime::Runtime::new()?.block_on(serve(&settings, embedded.as_ref()));
    if let Some(pg) = embedded.as_mut() {
        pg.stop();
    }
    result
}

async fn serve(settings: &Settings, embedded: Option<&EmbeddedPostgres>) -> anyhow::Result<()> {
    let url = match (&settings.database_url, embedded) {
        (Some(url), _) => url.expose_secret().to_owned(),
        (None, Some(pg)) => pg.url("gatehouse"),
        (None, None) => anyhow::bail!("no database configured"),
    };
    let db = control_plane::db::connect(&url)
        .await
        .context("connecting to Postgres")?;
    let state = prepare(settings, db).await?;
    let listener = tokio::net::TcpListener::bind(settings.api_addr)
        .await
        .with_context(|| format!("binding {}", settings.api_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "control plane listening");
    axum::serve(listener, app(settings, state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("control plane stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
