//! `/api/v1/virtual-keys`. The token is generated here, returned once at creation and
//! stored as a SHA-256 digest.

use std::collections::BTreeMap;

use api_types::{
    ListFilter, Provider, Role, VirtualKey, VirtualKeyCreated, VirtualKeyInput, VIRTUAL_KEY_PREFIX,
};
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{self, Meta, Ownership, Resource};
use super::{references, validate};
use crate::auth::Principal;
use crate::crypto::{hash_token, random_token};
use crate::error::{conflict_or, ApiError, ApiPath};
use crate::state::AppState;

pub struct VirtualKeys;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    name: String,
    profile_id: Uuid,
    team_id: Option<Uuid>,
    allowed_models: Json<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    token_prefix: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    providers: Vec<String>,
    provider_key_ids: Vec<Uuid>,
}

impl Resource for VirtualKeys {
    const WHAT: &'static str = "virtual key";
    const PATH: &'static str = "virtual-keys";
    const TABLE: &'static str = "virtual_keys";
    const SELECT: &'static str = "SELECT v.id, v.name, v.profile_id, v.team_id, \
         v.allowed_models, v.expires_at, v.revoked_at, v.last_used_at, v.token_prefix, \
         v.version, v.created_at, v.updated_at, \
         COALESCE(array_agg(m.provider ORDER BY m.provider) \
             FILTER (WHERE m.provider IS NOT NULL), '{}') AS providers, \
         COALESCE(array_agg(m.provider_key_id ORDER BY m.provider) \
             FILTER (WHERE m.provider IS NOT NULL), '{}') AS provider_key_ids \
         FROM virtual_keys v LEFT JOIN virtual_key_provider_keys m ON m.virtual_key_id = v.id \
         GROUP BY v.id";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("virtual_key");

    type Row = Row;
    type Output = VirtualKey;
    type Created = VirtualKeyCreated;
    type Input = VirtualKeyInput;

    fn output(r: Row) -> Result<VirtualKey, sqlx::Error> {
        // Rows hold only providers this build wrote; an unknown one (from a newer version)
        // is left out of the answer rather than failing the whole read.
        let provider_keys = r
            .providers
            .iter()
            .zip(r.provider_key_ids)
            .filter_map(|(p, id)| Some((p.parse::<Provider>().ok()?, id)))
            .collect();
        Ok(VirtualKey {
            id: r.id,
            name: r.name,
            profile_id: r.profile_id,
            team_id: r.team_id,
            provider_keys,
            allowed_models: r.allowed_models.0,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            token_prefix: r.token_prefix,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(k: &VirtualKey) -> Meta {
        Meta {
            id: k.id,
            team_id: k.team_id,
            version: k.version,
        }
    }

    fn created(key: VirtualKey, token: Option<String>) -> VirtualKeyCreated {
        VirtualKeyCreated {
            key,
            token: token.unwrap_or_default(),
        }
    }

    fn input_team(input: &VirtualKeyInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut VirtualKeyInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        if let Some(profile) = filter.profile_id {
            qb.push(" AND r.profile_id = ").push_bind(profile);
        }
    }

    /// The profile must be visible and in the key's team; each mapped provider key must be
    /// visible, in the key's team or organization-wide, and for the provider it is mapped
    /// under.
    async fn check(
        state: &AppState,
        principal: &Principal,
        input: &VirtualKeyInput,
        _: Option<&VirtualKey>,
    ) -> Result<(), ApiError> {
        validate::name(&input.name)?;
        validate::models("allowed_models", &input.allowed_models)?;
        references::profile_in_team(
            state,
            principal,
            "profile_id",
            input.profile_id,
            input.team_id,
        )
        .await?;
        for (provider, id) in &input.provider_keys {
            let field = format!("provider_keys.{provider}");
            let (actual, team) = references::provider_key(state, principal, &field, *id).await?;
            if actual != *provider {
                return Err(ApiError::invalid(
                    field,
                    format!("provider key {id} is a {actual} key"),
                ));
            }
            if team.is_some() && team != input.team_id {
                return Err(ApiError::invalid(
                    field,
                    format!("provider key {id} belongs to another team"),
                ));
            }
        }
        Ok(())
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &VirtualKeyInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let token = random_token(VIRTUAL_KEY_PREFIX);
        let prefix: String = token.chars().take(VIRTUAL_KEY_PREFIX.len() + 4).collect();
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO virtual_keys (id, name, profile_id, team_id, token_hash, token_prefix, \
             allowed_models, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&input.name)
        .bind(input.profile_id)
        .bind(input.team_id)
        .bind(hash_token(&token))
        .bind(prefix)
        .bind(Json(&input.allowed_models))
        .bind(input.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        write_mappings(conn, id, &input.provider_keys).await?;
        Ok((id, Some(token)))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &VirtualKeyInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE virtual_keys SET name = $2, profile_id = $3, allowed_models = $4, \
             expires_at = $5, version = version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(input.profile_id)
        .bind(Json(&input.allowed_models))
        .bind(input.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        write_mappings(conn, id, &input.provider_keys).await
    }
}

async fn write_mappings(
    conn: &mut PgConnection,
    id: Uuid,
    mappings: &BTreeMap<Provider, Uuid>,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM virtual_key_provider_keys WHERE virtual_key_id = $1")
        .bind(id)
        .execute(&mut *conn)
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
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, VirtualKeys::WHAT))?;
    Ok(())
}

crate::crud_handlers! {
    resource: VirtualKeys,
    tag: "virtual-keys",
    collection: "/api/v1/virtual-keys",
    item: "/api/v1/virtual-keys/{id}",
    what: "virtual key",
    operation: ("virtual_key", "virtual_keys"),
    create_body: VirtualKeyInput,
    update_body: VirtualKeyInput,
    output: VirtualKey,
    created: VirtualKeyCreated,
    filters: [
        ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's keys"),
        ("profile_id" = Option<uuid::Uuid>, Query, description = "Only keys of this profile"),
    ],
}

/// Revoke a virtual key: every worker refuses it from then on. Idempotent; cannot be undone.
#[utoipa::path(post, path = "/api/v1/virtual-keys/{id}/revoke", tag = "virtual-keys",
    operation_id = "revoke_virtual_key",
    params(("id" = Uuid, Path, description = "Object id")),
    responses(
        (status = 200, description = "The revoked key", body = VirtualKey),
        (status = 400, description = "The id is not a UUID", body = api_types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key's role does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in the caller's scope", body = api_types::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn revoke(
    principal: Principal,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    crud::revoke::<VirtualKeys>(principal, state, id).await
}
