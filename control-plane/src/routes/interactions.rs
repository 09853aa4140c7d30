//! `/api/v1/interactions` and `/api/v1/usage` (read-only): the interaction log the data
//! planes write, and aggregates over it. Any role may read; a team-scoped key sees its
//! team's records only.

use api_types::{
    Interaction, InteractionFilter, ListQuery, Page, Problem, Role, UsageQuery, UsageReport,
};
use axum::extract::State;
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::{self, PageRequest};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// List interaction records, newest first, without bodies.
#[utoipa::path(get, path = "/api/v1/interactions", tag = "interactions",
    operation_id = "list_interactions",
    params(ListQuery, InteractionFilter),
    responses(
        (status = 200, description = "One page, newest first", body = Page<Interaction>),
        (status = 400, description = "A malformed query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(filter): ApiQuery<InteractionFilter>,
) -> Result<ApiJson<Page<Interaction>>, ApiError> {
    principal.require(Role::Viewer)?;
    let page = PageRequest::from_query(&query)?;
    let mut conn = state.db.acquire().await?;
    let rows = db::interactions::list(&mut conn, &filter, principal.team_id, &page).await?;
    Ok(ApiJson(page.page(rows, |r| r.id)))
}

/// Read one interaction record, with its bodies when the profile kept them.
#[utoipa::path(get, path = "/api/v1/interactions/{id}", tag = "interactions",
    operation_id = "read_interaction",
    params(("id" = Uuid, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record", body = Interaction),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record in the key's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn read(
    principal: Principal,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<Interaction>, ApiError> {
    principal.require(Role::Viewer)?;
    let mut conn = state.db.acquire().await?;
    db::interactions::get(&mut conn, id)
        .await?
        .filter(|r| principal.sees(r.team_id))
        .map(ApiJson)
        .ok_or(ApiError::NotFound("interaction"))
}

/// Usage aggregated by team, profile, virtual key, model or day (UTC), largest cost first.
#[utoipa::path(get, path = "/api/v1/usage", tag = "interactions",
    operation_id = "read_usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "The aggregates", body = UsageReport),
        (status = 400, description = "A malformed or missing query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn usage(
    principal: Principal,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<ApiJson<UsageReport>, ApiError> {
    principal.require(Role::Viewer)?;
    let mut conn = state.db.acquire().await?;
    let data = db::interactions::usage(&mut conn, &query, principal.team_id).await?;
    Ok(ApiJson(UsageReport {
        group_by: query.group_by,
        data,
    }))
}
