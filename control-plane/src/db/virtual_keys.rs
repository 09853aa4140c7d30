//! Virtual keys and their provider-key mappings; tokens are stored as SHA-256 digests.

use std::collections::BTreeMap;

use api_types::{Provider, VirtualKey, VirtualKeyInput};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::PageRequest;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    profile_id: Uuid,
    expires_at: Option<DateTime<Utc>>,
    token_prefix: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    providers: Vec<String>,
    provider_key_ids: Vec<Uuid>,
}

impl Row {
    fn into_key(self) -> VirtualKey {
        // Rows hold only providers this build wrote; an unknown one (from a newer
        // version) is left out of the answer rather than failing the whole read.
        let provider_keys = self
            .providers
            .iter()
            .zip(self.provider_key_ids)
            .filter_map(|(p, id)| Some((p.parse::<Provider>().ok()?, id)))
            .collect();
        VirtualKey {
            id: self.id,
            name: self.name,
            profile_id: self.profile_id,
            provider_keys,
            expires_at: self.expires_at,
            token_prefix: self.token_prefix,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const SELECT: &str = "SELECT v.id, v.name, v.profile_id, v.expires_at, v.token_prefix, \
     v.created_at, v.updated_at, \
     COALESCE(array_agg(m.provider ORDER BY m.provider) FILTER (WHERE m.provider IS NOT NULL), '{}') AS providers, \
     COALESCE(array_agg(m.provider_key_id ORDER BY m.provider) FILTER (WHERE m.provider IS NOT NULL), '{}') AS provider_key_ids \
     FROM virtual_keys v LEFT JOIN virtual_key_provider_keys m ON m.virtual_key_id = v.id";

pub async fn create(
    db: &PgPool,
    input: &VirtualKeyInput,
    token_hash: &[u8],
    token_prefix: &str,
) -> Result<VirtualKey, sqlx::Error> {
    let id = Uuid::new_v4();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO virtual_keys (id, name, profile_id, token_hash, token_prefix, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&input.name)
    .bind(input.profile_id)
    .bind(token_hash)
    .bind(token_prefix)
    .bind(input.expires_at)
    .execute(&mut *tx)
    .await?;
    write_mappings(&mut tx, id, &input.provider_keys).await?;
    let key = fetch(&mut tx, id).await?;
    tx.commit().await?;
    key.ok_or(sqlx::Error::RowNotFound)
}

async fn write_mappings(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    mappings: &BTreeMap<Provider, Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM virtual_key_provider_keys WHERE virtual_key_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let providers: Vec<&str> = mappings.keys().map(|p| p.as_str()).collect();
    let key_ids: Vec<Uuid> = mappings.values().copied().collect();
    sqlx::query(
        "INSERT INTO virtual_key_provider_keys (virtual_key_id, provider, provider_key_id) \
         SELECT $1, p, k FROM unnest($2::text[], $3::uuid[]) AS t (p, k)",
    )
    .bind(id)
    .bind(providers)
    .bind(key_ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn fetch(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Option<VirtualKey>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE v.id = $1 GROUP BY v.id");
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(Row::into_key))
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<VirtualKey>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE v.id = $1 GROUP BY v.id");
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(Row::into_key))
}

pub async fn list(db: &PgPool, page: &PageRequest) -> Result<Vec<VirtualKey>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR v.id > $1) GROUP BY v.id ORDER BY v.id LIMIT $2"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(page.after)
        .bind(page.limit + 1)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Row::into_key).collect())
}

pub async fn update(
    db: &PgPool,
    id: Uuid,
    input: &VirtualKeyInput,
) -> Result<Option<VirtualKey>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE virtual_keys SET name = $2, profile_id = $3, expires_at = $4, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&input.name)
    .bind(input.profile_id)
    .bind(input.expires_at)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    write_mappings(&mut tx, id, &input.provider_keys).await?;
    let key = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok(key)
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM virtual_keys WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A virtual key with the sealed secrets of its mapped provider keys, for the data plane.
pub struct Resolved {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    pub provider_keys: Vec<ResolvedProviderKey>,
}

#[derive(sqlx::FromRow)]
pub struct ResolvedProviderKey {
    pub provider: String,
    pub id: Uuid,
    pub secret_encrypted: Vec<u8>,
    pub base_url: Option<String>,
}

pub async fn resolve(db: &PgPool, token_hash: &[u8]) -> Result<Option<Resolved>, sqlx::Error> {
    let head: Option<(Uuid, Uuid, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT id, profile_id, expires_at FROM virtual_keys WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(db)
            .await?;
    let Some((id, profile_id, expires_at)) = head else {
        return Ok(None);
    };
    let provider_keys: Vec<ResolvedProviderKey> = sqlx::query_as(
        "SELECT m.provider, k.id, k.secret_encrypted, k.base_url \
         FROM virtual_key_provider_keys m JOIN provider_keys k ON k.id = m.provider_key_id \
         WHERE m.virtual_key_id = $1",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(Some(Resolved {
        id,
        profile_id,
        expires_at,
        provider_keys,
    }))
}
