//! Admin API keys: stored as SHA-256 digests.

use api_types::Role;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Principal;

/// `last_used_at` is written at most this often per key, off the request path.
const LAST_USED_PRECISION_SECS: i64 = 60;

/// The live (not revoked, not expired) key with digest `key_hash`. Records its use at most
/// once a minute, in the background.
pub async fn authenticate(db: &PgPool, key_hash: &[u8]) -> Result<Option<Principal>, sqlx::Error> {
    type Found = (Uuid, String, String, Option<Uuid>, Option<DateTime<Utc>>);
    let found: Option<Found> = sqlx::query_as(
        "SELECT id, name, role, team_id, last_used_at FROM api_keys WHERE key_hash = $1 \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(key_hash)
    .fetch_optional(db)
    .await?;
    let Some((key_id, name, role, team_id, last_used_at)) = found else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&role) else {
        return Ok(None);
    };
    let stale =
        last_used_at.is_none_or(|t| (Utc::now() - t).num_seconds() >= LAST_USED_PRECISION_SECS);
    if stale {
        let db = db.clone();
        tokio::spawn(async move {
            let done = sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
                .bind(key_id)
                .execute(&db)
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "recording API key use failed");
            }
        });
    }
    Ok(Some(Principal {
        key_id,
        name,
        role,
        team_id,
    }))
}

/// Makes the key from `GATEHOUSE_ADMIN_API_KEY` the one bootstrap key: a changed value
/// replaces (revokes) the previous one, so rotating the variable rotates the key.
pub async fn ensure_bootstrap(db: &PgPool, key_hash: &[u8]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM api_keys WHERE name = 'bootstrap' AND key_hash <> $1")
        .bind(key_hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, role) VALUES ($1, 'bootstrap', $2, 'admin') \
         ON CONFLICT (key_hash) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(key_hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Number of stored keys.
pub async fn count(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(db)
        .await
}
