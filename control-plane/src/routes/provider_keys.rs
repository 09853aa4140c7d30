//! `/api/v1/provider-keys`. The secret is write-only: sealed before it is stored, never
//! returned (only its last four characters and a fingerprint).

use std::collections::BTreeMap;

use api_types::{ListFilter, Provider, ProviderKey, ProviderKeyInput, ProviderKeyUpdate, Role};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::validate;
use crate::auth::Principal;
use crate::crypto;
use crate::error::{conflict_or, ApiError};
use crate::state::AppState;

pub struct ProviderKeys;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    name: String,
    provider: String,
    team_id: Option<Uuid>,
    base_url: Option<String>,
    extra_headers: Json<BTreeMap<String, String>>,
    is_default: bool,
    secret_last_four: String,
    secret_fingerprint: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A stored provider name that this build does not know (written by a newer version).
#[derive(Debug, thiserror::Error)]
#[error("stored provider key {0} has an unknown provider")]
pub struct UnknownStoredProvider(Uuid);

impl UnknownStoredProvider {
    pub fn new(id: Uuid) -> Self {
        UnknownStoredProvider(id)
    }
}

/// A secret ready to store: ciphertext, key id, last four characters, fingerprint.
struct SealedSecret {
    sealed: crypto::Sealed,
    last_four: String,
    fingerprint: String,
}

fn seal(state: &AppState, secret: &str) -> Result<SealedSecret, ApiError> {
    let sealed = state
        .secrets
        .seal(secret)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let skip = secret.chars().count().saturating_sub(4);
    Ok(SealedSecret {
        sealed,
        last_four: secret.chars().skip(skip).collect(),
        fingerprint: crypto::fingerprint(secret),
    })
}

impl Resource for ProviderKeys {
    const WHAT: &'static str = "provider key";
    const PATH: &'static str = "provider-keys";
    const TABLE: &'static str = "provider_keys";
    const SELECT: &'static str = "SELECT id, name, provider, team_id, base_url, extra_headers, \
         is_default, secret_last_four, secret_fingerprint, version, created_at, updated_at \
         FROM provider_keys";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("provider_key");

    type Row = Row;
    type Output = ProviderKey;
    type Created = ProviderKey;
    type Input = ProviderKeyUpdate;

    fn output(r: Row) -> Result<ProviderKey, sqlx::Error> {
        let provider: Provider = r
            .provider
            .parse()
            .map_err(|_| sqlx::Error::Decode(Box::new(UnknownStoredProvider(r.id))))?;
        Ok(ProviderKey {
            id: r.id,
            name: r.name,
            provider,
            team_id: r.team_id,
            base_url: r.base_url,
            extra_headers: r.extra_headers.0,
            is_default: r.is_default,
            secret_last_four: r.secret_last_four,
            secret_fingerprint: r.secret_fingerprint,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(k: &ProviderKey) -> Meta {
        Meta {
            id: k.id,
            team_id: k.team_id,
            version: k.version,
        }
    }

    fn created(k: ProviderKey, _: Option<String>) -> ProviderKey {
        k
    }

    fn input_team(input: &ProviderKeyUpdate) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut ProviderKeyUpdate, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        if let Some(provider) = filter.provider {
            qb.push(" AND r.provider = ").push_bind(provider.as_str());
        }
    }

    async fn check(
        state: &AppState,
        _: &Principal,
        input: &ProviderKeyUpdate,
        existing: Option<&ProviderKey>,
    ) -> Result<(), ApiError> {
        validate::name(&input.name)?;
        input
            .base_url
            .as_deref()
            .map(validate::base_url)
            .transpose()?;
        validate::extra_headers(&input.extra_headers)?;
        match (&input.secret, existing) {
            (Some(secret), _) => validate::secret(secret)?,
            (None, None) => return Err(ApiError::invalid("secret", "is required")),
            (None, Some(_)) => {}
        }
        if let Some(existing) = existing {
            if existing.provider != input.provider
                && mapped_under_other_provider(state, existing.id, input.provider).await?
            {
                return Err(ApiError::Conflict(format!(
                    "virtual keys use this key for another provider; it cannot become a {} key",
                    input.provider
                )));
            }
        }
        Ok(())
    }

    async fn insert(
        conn: &mut PgConnection,
        state: &AppState,
        input: &ProviderKeyUpdate,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let secret = input
            .secret
            .as_deref()
            .ok_or_else(|| ApiError::invalid("secret", "is required"))?;
        let secret = seal(state, secret)?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO provider_keys (id, name, provider, team_id, base_url, extra_headers, \
             is_default, secret_encrypted, secret_key_id, secret_last_four, secret_fingerprint) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(&input.name)
        .bind(input.provider.as_str())
        .bind(input.team_id)
        .bind(&input.base_url)
        .bind(Json(&input.extra_headers))
        .bind(input.is_default)
        .bind(secret.sealed.ciphertext)
        .bind(secret.sealed.key_id)
        .bind(secret.last_four)
        .bind(secret.fingerprint)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        state: &AppState,
        id: Uuid,
        input: &ProviderKeyUpdate,
    ) -> Result<(), ApiError> {
        let secret = input
            .secret
            .as_deref()
            .map(|s| seal(state, s))
            .transpose()?;
        let (ciphertext, key_id, last_four, fingerprint) = match secret {
            Some(s) => (
                Some(s.sealed.ciphertext),
                Some(s.sealed.key_id),
                Some(s.last_four),
                Some(s.fingerprint),
            ),
            None => (None, None, None, None),
        };
        sqlx::query(
            "UPDATE provider_keys SET name = $2, provider = $3, base_url = $4, \
             extra_headers = $5, is_default = $6, \
             secret_encrypted = COALESCE($7, secret_encrypted), \
             secret_key_id = COALESCE($8, secret_key_id), \
             secret_last_four = COALESCE($9, secret_last_four), \
             secret_fingerprint = COALESCE($10, secret_fingerprint), \
             version = version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(input.provider.as_str())
        .bind(&input.base_url)
        .bind(Json(&input.extra_headers))
        .bind(input.is_default)
        .bind(ciphertext)
        .bind(key_id)
        .bind(last_four)
        .bind(fingerprint)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok(())
    }
}

/// Whether a virtual key maps provider key `id` under a provider other than `provider`.
async fn mapped_under_other_provider(
    state: &AppState,
    id: Uuid,
    provider: Provider,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM virtual_key_provider_keys \
         WHERE provider_key_id = $1 AND provider <> $2)",
    )
    .bind(id)
    .bind(provider.as_str())
    .fetch_one(&state.db)
    .await
}

crate::crud_handlers! {
    resource: ProviderKeys,
    tag: "provider-keys",
    collection: "/api/v1/provider-keys",
    item: "/api/v1/provider-keys/{id}",
    what: "provider key",
    operation: ("provider_key", "provider_keys"),
    create_body: ProviderKeyInput,
    update_body: ProviderKeyUpdate,
    output: ProviderKey,
    created: ProviderKey,
    filters: [
        ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's keys"),
        ("provider" = Option<api_types::Provider>, Query, description = "Only keys for this provider"),
    ],
}
