//! Gatehouse control plane: the REST API (`/api/v1`), its OpenAPI document, the internal
//! API the data plane reads (`/internal/v1`), and Postgres, which it owns.

pub mod auth;
pub mod crypto;
pub mod db;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod state;
pub mod watch;

use std::sync::Arc;

use secrecy::ExposeSecret;
use sqlx::PgPool;

pub use settings::Settings;
pub use state::AppState;

/// Why start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Setting(#[from] settings::InvalidSetting),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Runs migrations, bootstraps the admin key and builds the shared state over `db`.
pub async fn prepare(settings: &Settings, db: PgPool) -> Result<AppState, StartupError> {
    db::MIGRATOR.run(&db).await?;
    if let Some(key) = &settings.admin_api_key {
        db::api_keys::ensure_bootstrap(&db, &crypto::hash_token(key.expose_secret())).await?;
    }
    if db::api_keys::count(&db).await? == 0 {
        tracing::warn!("no admin API key exists: set GATEHOUSE_ADMIN_API_KEY to create one");
    }
    let auth_secret =
        crypto::load_or_create_auth_secret(settings.auth_secret.clone(), &settings.data_dir)?;
    if settings.internal_token_secret.is_none() {
        tracing::warn!(
            "GATEHOUSE_INTERNAL_TOKEN_SECRET is unset: the data plane cannot fetch config"
        );
    }
    let secrets = crypto::SecretBox::new(&auth_secret, &settings.previous_auth_secrets)?;
    let stale = db::rotation::count_stale(&db, &secrets).await?;
    if stale > 0 {
        tracing::warn!(
            stale,
            "provider secrets are sealed under an earlier auth secret: run \
             `gatehouse-control-plane rotate-secrets`"
        );
    }
    let watch = watch::Hub::start(db.clone(), settings.change_log_retention);
    Ok(AppState {
        db,
        secrets: Arc::new(secrets),
        internal_secret: settings.internal_token_secret.clone().map(Arc::new),
        metrics_secret: settings.metrics_secret.clone().map(Arc::new),
        watch,
    })
}

/// The router for `state`, with the configured body limit.
pub fn app(settings: &Settings, state: AppState) -> axum::Router {
    let limit = usize::try_from(settings.api_body_limit.as_u64()).unwrap_or(usize::MAX);
    routes::router(state, limit)
}
