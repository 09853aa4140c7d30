//! Admin API keys: stored as SHA-256 digests.

use sqlx::PgPool;
use uuid::Uuid;

/// Looks a key up by digest and records its use; `None` when no such key exists.
pub async fn touch(db: &PgPool, key_hash: &[u8]) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1 RETURNING id")
        .bind(key_hash)
        .fetch_optional(db)
        .await
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
