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
    pub internal_token: Option<Arc<SecretString>>,
}
