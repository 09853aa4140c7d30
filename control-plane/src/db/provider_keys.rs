//! Provider keys; the secret column holds ciphertext only.

use api_types::{Provider, ProviderKey};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::PageRequest;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    provider: String,
    base_url: Option<String>,
    secret_last_four: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A stored provider name that this build does not know (written by a newer version).
#[derive(Debug, thiserror::Error)]
#[error("stored provider key {0} has an unknown provider")]
pub struct UnknownStoredProvider(Uuid);

impl TryFrom<Row> for ProviderKey {
    type Error = sqlx::Error;

    fn try_from(r: Row) -> Result<Self, sqlx::Error> {
        let provider: Provider = r
            .provider
            .parse()
            .map_err(|_| sqlx::Error::Decode(Box::new(UnknownStoredProvider(r.id))))?;
        Ok(ProviderKey {
            id: r.id,
            name: r.name,
            provider,
            base_url: r.base_url,
            secret_last_four: r.secret_last_four,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str = "id, name, provider, base_url, secret_last_four, created_at, updated_at";

/// What is written for a key; `secret` is `None` on an update that keeps the stored one.
pub struct Write<'a> {
    pub name: &'a str,
    pub provider: Provider,
    pub base_url: Option<&'a str>,
    pub secret: Option<SealedSecret>,
}

/// A sealed secret and the last four characters of its plaintext.
pub struct SealedSecret {
    pub ciphertext: Vec<u8>,
    pub last_four: String,
}

pub async fn create(db: &PgPool, w: Write<'_>) -> Result<ProviderKey, sqlx::Error> {
    let Some(secret) = w.secret else {
        return Err(sqlx::Error::Protocol(
            "provider key created without a secret".into(),
        ));
    };
    let sql = format!(
        "INSERT INTO provider_keys (id, name, provider, base_url, secret_encrypted, \
         secret_last_four) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row: Row = sqlx::query_as(&sql)
        .bind(Uuid::new_v4())
        .bind(w.name)
        .bind(w.provider.as_str())
        .bind(w.base_url)
        .bind(secret.ciphertext)
        .bind(secret.last_four)
        .fetch_one(db)
        .await?;
    row.try_into()
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<ProviderKey>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM provider_keys WHERE id = $1");
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    row.map(TryInto::try_into).transpose()
}

pub async fn list(db: &PgPool, page: &PageRequest) -> Result<Vec<ProviderKey>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM provider_keys WHERE ($1::uuid IS NULL OR id > $1) \
         ORDER BY id LIMIT $2"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(page.after)
        .bind(page.limit + 1)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

pub async fn update(
    db: &PgPool,
    id: Uuid,
    w: Write<'_>,
) -> Result<Option<ProviderKey>, sqlx::Error> {
    let (ciphertext, last_four) = match w.secret {
        Some(s) => (Some(s.ciphertext), Some(s.last_four)),
        None => (None, None),
    };
    let sql = format!(
        "UPDATE provider_keys SET name = $2, provider = $3, base_url = $4, \
         secret_encrypted = COALESCE($5, secret_encrypted), \
         secret_last_four = COALESCE($6, secret_last_four), updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .bind(w.name)
        .bind(w.provider.as_str())
        .bind(w.base_url)
        .bind(ciphertext)
        .bind(last_four)
        .fetch_optional(db)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM provider_keys WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The provider of each of `ids` that exists.
pub async fn providers_of(db: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, provider FROM provider_keys WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Whether a virtual key maps provider key `id` under a provider other than `provider`.
pub async fn mapped_under_other_provider(
    db: &PgPool,
    id: Uuid,
    provider: Provider,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM virtual_key_provider_keys \
         WHERE provider_key_id = $1 AND provider <> $2)",
    )
    .bind(id)
    .bind(provider.as_str())
    .fetch_one(db)
    .await
}
