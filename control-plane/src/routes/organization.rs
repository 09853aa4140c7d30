//! `/api/v1/organization`: the organization-wide settings, a singleton every key reads and
//! organization-wide admins change.

use api_types::{GlobalToolPolicy, Organization, OrganizationInput, Problem, Role};
use axum::extract::State;
use axum::http::header::ETAG;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::crud::IfMatch;
use super::validate;
use crate::auth::Principal;
use crate::db::audit::{self, Change};
use crate::db::changes;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;

pub(super) async fn load(conn: &mut PgConnection, lock: bool) -> Result<Organization, ApiError> {
    let sql = if lock {
        "SELECT name, global_tool_policy, version, updated_at FROM organization WHERE id = 1 \
         FOR UPDATE"
    } else {
        "SELECT name, global_tool_policy, version, updated_at FROM organization WHERE id = 1"
    };
    let (name, policy, version, updated_at): (String, String, i64, DateTime<Utc>) =
        sqlx::query_as(sql).fetch_one(conn).await?;
    let global_tool_policy =
        GlobalToolPolicy::parse(&policy).unwrap_or(GlobalToolPolicy::Permissive);
    Ok(Organization {
        name,
        global_tool_policy,
        version,
        updated_at,
    })
}

fn respond(org: Organization) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", org.version))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    let mut response = ApiJson(org).into_response();
    response.headers_mut().insert(ETAG, etag);
    response
}

/// Read the organization settings.
#[utoipa::path(get, path = "/api/v1/organization", tag = "organization",
    operation_id = "read_organization",
    responses(
        (status = 200, description = "The settings", body = Organization,
            headers(("ETag" = String, description = "The settings' version"))),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn read(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    principal.require(Role::Viewer)?;
    let mut conn = state.db.acquire().await?;
    Ok(respond(load(&mut conn, false).await?))
}

/// Replace the organization settings (organization-wide admins only).
#[utoipa::path(put, path = "/api/v1/organization", tag = "organization",
    operation_id = "update_organization",
    request_body = OrganizationInput,
    params(("If-Match" = Option<String>, Header, description = "The `ETag` last read; refused with 412 if the settings changed since")),
    responses(
        (status = 200, description = "The new settings", body = Organization,
            headers(("ETag" = String, description = "The settings' new version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organization-wide admin key", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not name the current version", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than GATEHOUSE_API_BODY_LIMIT", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn update(
    principal: Principal,
    State(state): State<AppState>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<OrganizationInput>,
) -> Result<Response, ApiError> {
    principal.require_organization_admin()?;
    validate::name(&input.name)?;
    let mut tx = state.db.begin().await?;
    let before = load(&mut tx, true).await?;
    if_match.check(before.version)?;
    sqlx::query(
        "UPDATE organization SET name = $1, global_tool_policy = $2, version = version + 1, \
         updated_at = now() WHERE id = 1",
    )
    .bind(&input.name)
    .bind(input.global_tool_policy.as_str())
    .execute(&mut *tx)
    .await?;
    let after = load(&mut tx, false).await?;
    let json = |o: &Organization| serde_json::to_value(o).ok();
    let change = Change {
        action: "update",
        resource_type: "organization",
        resource_id: "organization".into(),
        team_id: None,
        before: json(&before),
        after: json(&after),
        actor: &principal,
    };
    audit::record(&mut tx, change).await?;
    let revision = changes::record(&mut tx, "organization", "organization").await?;
    tx.commit().await?;
    let mut response = respond(after);
    super::crud::add_revision(&mut response, Some(revision));
    Ok(response)
}
