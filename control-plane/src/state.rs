//! Shared state handed to every handler.

use std::sync::Arc;

use secrecy::SecretString;
use sqlx::PgPool;

use crate::crypto::SecretBox;

/// Cheap to clone: a pool handle and `Arc`s.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub secrets: Arc<SecretBox>,
    /// `GATEHOUSE_INTERNAL_TOKEN_SECRET`; `None` disables `/internal/v1`.
    pub internal_secret: Option<Arc<SecretString>>,
    pub watch: crate::watch::Hub,
    /// `GATEHOUSE_METRICS_SECRET`: when set, `/metrics` needs it as a bearer token.
    pub metrics_secret: Option<Arc<SecretString>>,
}
