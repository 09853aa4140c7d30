//! Virtual keys as the data plane needs them: resolved by token digest, with the sealed
//! secrets of their provider keys. (The REST resource lives in `routes::virtual_keys`.)

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// A virtual key with the sealed secrets of its mapped provider keys, for the data plane.
pub struct Resolved {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub team_id: Option<Uuid>,
    pub allowed_models: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub provider_keys: Vec<ResolvedProviderKey>,
}

#[derive(sqlx::FromRow)]
pub struct ResolvedProviderKey {
    pub provider: String,
    pub id: Uuid,
    pub secret_encrypted: Vec<u8>,
    pub secret_key_id: String,
    pub base_url: Option<String>,
    pub extra_headers: Json<BTreeMap<String, String>>,
}

/// The live (not revoked) key with digest `token_hash`, recording its use. Its provider keys
/// are the ones it maps and, for every other provider, its team's default key.
pub async fn resolve(db: &PgPool, token_hash: &[u8]) -> Result<Option<Resolved>, sqlx::Error> {
    type Head = (
        Uuid,
        Uuid,
        Option<Uuid>,
        Json<Vec<String>>,
        Option<DateTime<Utc>>,
    );
    let head: Option<Head> = sqlx::query_as(
        "UPDATE virtual_keys SET last_used_at = now() \
         WHERE token_hash = $1 AND revoked_at IS NULL \
         RETURNING id, profile_id, team_id, allowed_models, expires_at",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    let Some((id, profile_id, team_id, allowed_models, expires_at)) = head else {
        return Ok(None);
    };
    let provider_keys: Vec<ResolvedProviderKey> = sqlx::query_as(
        "SELECT m.provider, k.id, k.secret_encrypted, k.secret_key_id, k.base_url, \
         k.extra_headers \
         FROM virtual_key_provider_keys m JOIN provider_keys k ON k.id = m.provider_key_id \
         WHERE m.virtual_key_id = $1 \
         UNION ALL \
         SELECT k.provider, k.id, k.secret_encrypted, k.secret_key_id, k.base_url, \
         k.extra_headers FROM provider_keys k \
         WHERE k.is_default AND k.team_id IS NOT DISTINCT FROM $2 AND NOT EXISTS \
         (SELECT 1 FROM virtual_key_provider_keys m \
          WHERE m.virtual_key_id = $1 AND m.provider = k.provider)",
    )
    .bind(id)
    .bind(team_id)
    .fetch_all(db)
    .await?;
    Ok(Some(Resolved {
        id,
        profile_id,
        team_id,
        allowed_models: allowed_models.0,
        expires_at,
        provider_keys,
    }))
}
