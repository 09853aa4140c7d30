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
    // `gatehouse-control-plane rotate-secrets` re-seals provider secrets under the current
    // GATEHOUSE_AUTH_SECRET (see README, "Rotating the auth secret").
    let rotate = std::env::args().nth(1).as_deref() == Some("rotate-secrets");
    let settings = if rotate {
        Settings::parse_from(
            std::env::args()
                .enumerate()
                .filter_map(|(i, a)| (i != 1).then_some(a)),
        )
    } else {
        Settings::parse()
    };
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
    settings.validate()?;
    let mut embedded = match &settings.database_url {
        Some(_) => None,
        None => Some(EmbeddedPostgres::start(
            &settings.data_dir,
            settings.postgres_bin_dir.as_deref(),
        )?),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = if rotate {
        runtime.block_on(rotate_secrets(&settings, embedded.as_ref()))
    } else {
        runtime.block_on(serve(&settings, embedded.as_ref()))
    };
    if let Some(pg) = embedded.as_mut() {
        pg.stop();
    }
    result
}

async fn connect(
    settings: &Settings,
    embedded: Option<&EmbeddedPostgres>,
) -> anyhow::Result<sqlx::PgPool> {
    let url = match (&settings.database_url, embedded) {
        (Some(url), _) => url.expose_secret().to_owned(),
        (None, Some(pg)) => pg.url("gatehouse"),
        (None, None) => anyhow::bail!("no database configured"),
    };
    control_plane::db::connect(&url)
        .await
        .context("connecting to Postgres")
}

async fn rotate_secrets(
    settings: &Settings,
    embedded: Option<&EmbeddedPostgres>,
) -> anyhow::Result<()> {
    let state = prepare(settings, connect(settings, embedded).await?).await?;
    let count = control_plane::db::rotation::rotate(&state.db, &state.secrets).await?;
    println!(
        "re-sealed count={count} provider secrets under key_id={}",
        state.secrets.current_key_id()
    );
    Ok(())
}

async fn serve(settings: &Settings, embedded: Option<&EmbeddedPostgres>) -> anyhow::Result<()> {
    let state = prepare(settings, connect(settings, embedded).await?).await?;
    let listener = tokio::net::TcpListener::bind(settings.api_addr)
        .await
        .with_context(|| format!("binding {}", settings.api_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "control plane listening");
    let watch = state.watch.clone();
    axum::serve(listener, app(settings, state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            watch.close();
        })
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
