//! `/api/v1/audit-events` (read-only): every change made through the API. Admins only; a
//! team-scoped admin sees its team's events.

use api_types::{AuditEvent, ListFilter, ListQuery, Page, Problem, Role};
use axum::extract::State;
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::{self, PageRequest};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// List audit events, oldest first.
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit-events",
    operation_id = "list_audit_events",
    params(ListQuery,
        ("resource_type" = Option<String>, Query, description = "Only events on this kind of resource (`profiles`, `provider-keys`, …)"),
        ("resource_id" = Option<String>, Query, description = "Only events on this object"),
    ),
    responses(
        (status = 200, description = "One page", body = Page<AuditEvent>),
        (status = 400, description = "A malformed query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> Result<ApiJson<Page<AuditEvent>>, ApiError> {
    principal.require(Role::Admin)?;
    let page = PageRequest::from_query(&query)?;
    let mut conn = state.db.acquire().await?;
    let filter = db::audit::Filter {
        team: principal.team_id,
        resource_type: filter.resource_type.as_deref(),
        resource_id: filter.resource_id.as_deref(),
    };
    let rows = db::audit::list(&mut conn, filter, &page).await?;
    Ok(ApiJson(page.page(rows, |e| e.id)))
}

/// Read one audit event.
#[utoipa::path(get, path = "/api/v1/audit-events/{id}", tag = "audit-events",
    operation_id = "read_audit_event",
    params(("id" = Uuid, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = AuditEvent),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event in the key's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn read(
    principal: Principal,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<AuditEvent>, ApiError> {
    principal.require(Role::Admin)?;
    let mut conn = state.db.acquire().await?;
    db::audit::get(&mut conn, id)
        .await?
        .filter(|e| principal.sees(e.team_id))
        .map(ApiJson)
        .ok_or(ApiError::NotFound("audit event"))
}
