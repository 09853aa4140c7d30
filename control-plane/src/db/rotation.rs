//! Re-sealing provider secrets under the current auth secret (`rotate-secrets`).

use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::{fingerprint, CryptoError, SecretBox};

/// Why rotation stopped; nothing is half-written (one transaction).
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("provider key {id}: {source}")]
    Open { id: Uuid, source: CryptoError },
}

/// Re-seals every provider secret not sealed under the current key (and fills in missing
/// fingerprints), in one transaction. Returns how many were re-sealed.
pub async fn rotate(db: &PgPool, secrets: &SecretBox) -> Result<usize, RotationError> {
    let mut tx = db.begin().await?;
    let stale: Vec<(Uuid, Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, secret_encrypted, secret_key_id FROM provider_keys \
         WHERE secret_key_id <> $1 OR secret_fingerprint = '' FOR UPDATE",
    )
    .bind(secrets.current_key_id())
    .fetch_all(&mut *tx)
    .await?;
    for (id, ciphertext, key_id) in &stale {
        let plain = secrets
            .open(key_id, ciphertext)
            .map_err(|source| RotationError::Open { id: *id, source })?;
        let sealed = secrets
            .seal(&plain)
            .map_err(|source| RotationError::Open { id: *id, source })?;
        sqlx::query(
            "UPDATE provider_keys SET secret_encrypted = $2, secret_key_id = $3, \
             secret_fingerprint = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(sealed.ciphertext)
        .bind(sealed.key_id)
        .bind(fingerprint(&plain))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(stale.len())
}

/// How many provider secrets are not sealed under the current key.
pub async fn count_stale(db: &PgPool, secrets: &SecretBox) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM provider_keys WHERE secret_key_id <> $1")
        .bind(secrets.current_key_id())
        .fetch_one(db)
        .await
}
