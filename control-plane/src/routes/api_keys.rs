//! `/api/v1/api-keys`: the admin REST keys. Only admins see or change them; a team-scoped
//! admin manages its own team's keys. The token is returned once and stored hashed.

use api_types::{ApiKey, ApiKeyCreated, ApiKeyInput, Role, API_KEY_PREFIX};
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::crud::{self, Meta, Ownership, Resource};
use super::validate;
use crate::auth::Principal;
use crate::crypto::{hash_token, random_token};
use crate::error::{conflict_or, ApiError, ApiPath};
use crate::state::AppState;

pub struct ApiKeys;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    name: String,
    role: String,
    team_id: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    token_prefix: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A stored role this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("stored API key {0} has an unknown role")]
pub struct UnknownStoredRole(Uuid);

impl Resource for ApiKeys {
    const WHAT: &'static str = "API key";
    const PATH: &'static str = "api-keys";
    const TABLE: &'static str = "api_keys";
    const SELECT: &'static str = "SELECT id, name, role, team_id, expires_at, revoked_at, \
         last_used_at, token_prefix, version, created_at, updated_at FROM api_keys";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Admin;
    const WRITE: Role = Role::Admin;
    const CHANGE_KIND: Option<&'static str> = None;

    type Row = Row;
    type Output = ApiKey;
    type Created = ApiKeyCreated;
    type Input = ApiKeyInput;

    fn output(r: Row) -> Result<ApiKey, sqlx::Error> {
        let role = Role::parse(&r.role)
            .ok_or_else(|| sqlx::Error::Decode(Box::new(UnknownStoredRole(r.id))))?;
        Ok(ApiKey {
            id: r.id,
            name: r.name,
            role,
            team_id: r.team_id,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            token_prefix: r.token_prefix,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(k: &ApiKey) -> Meta {
        Meta {
            id: k.id,
            team_id: k.team_id,
            version: k.version,
        }
    }

    fn created(key: ApiKey, token: Option<String>) -> ApiKeyCreated {
        ApiKeyCreated {
            key,
            token: token.unwrap_or_default(),
        }
    }

    fn input_team(input: &ApiKeyInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut ApiKeyInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    async fn check(
        _: &AppState,
        _: &Principal,
        input: &ApiKeyInput,
        _: Option<&ApiKey>,
    ) -> Result<(), ApiError> {
        validate::name(&input.name)
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &ApiKeyInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let token = random_token(API_KEY_PREFIX);
        let prefix: String = token.chars().take(API_KEY_PREFIX.len() + 4).collect();
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, role, team_id, expires_at, token_prefix) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&input.name)
        .bind(hash_token(&token))
        .bind(input.role.as_str())
        .bind(input.team_id)
        .bind(input.expires_at)
        .bind(prefix)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok((id, Some(token)))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &ApiKeyInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE api_keys SET name = $2, role = $3, expires_at = $4, version = version + 1, \
             updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(input.role.as_str())
        .bind(input.expires_at)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok(())
    }
}

crate::crud_handlers! {
    resource: ApiKeys,
    tag: "api-keys",
    collection: "/api/v1/api-keys",
    item: "/api/v1/api-keys/{id}",
    what: "API key",
    operation: ("api_key", "api_keys"),
    create_body: ApiKeyInput,
    update_body: ApiKeyInput,
    output: ApiKey,
    created: ApiKeyCreated,
    filters: [
        ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's keys"),
    ],
}

/// Revoke an API key: it is refused from then on. Idempotent; cannot be undone.
#[utoipa::path(post, path = "/api/v1/api-keys/{id}/revoke", tag = "api-keys",
    operation_id = "revoke_api_key",
    params(("id" = Uuid, Path, description = "Object id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
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
    crud::revoke::<ApiKeys>(principal, state, id).await
}
