//! `/api/v1/profiles`.

use api_types::{ListQuery, Page, Problem, Profile, ProfileInput};
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use super::validate;
use crate::auth::Admin;
use crate::db::{self, PageRequest};
use crate::error::{conflict_or, no_content_or_not_found, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

const WHAT: &str = "profile";

fn check(input: &ProfileInput) -> Result<(), ApiError> {
    validate::name(&input.name)
}

/// Create a profile.
#[utoipa::path(post, path = "/api/v1/profiles", tag = "profiles", request_body = ProfileInput,
    responses((status = 201, body = Profile), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<(StatusCode, ApiJson<Profile>), ApiError> {
    check(&input)?;
    let profile = db::profiles::create(&state.db, &input)
        .await
        .map_err(|e| conflict_or(e, WHAT))?;
    Ok((StatusCode::CREATED, ApiJson(profile)))
}

/// Read a profile.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles",
    params(("id" = Uuid, Path, description = "Profile id")),
    responses((status = 200, body = Profile), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn read(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<Profile>, ApiError> {
    db::profiles::get(&state.db, id)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// List profiles, ordered by id.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", params(ListQuery),
    responses((status = 200, body = Page<Profile>)), security(("api_key" = [])))]
pub async fn list(
    _: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<Profile>>, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let rows = db::profiles::list(&state.db, &page).await?;
    Ok(ApiJson(page.page(rows, |p| p.id)))
}

/// Replace a profile's settings.
#[utoipa::path(put, path = "/api/v1/profiles/{id}", tag = "profiles", request_body = ProfileInput,
    params(("id" = Uuid, Path, description = "Profile id")),
    responses((status = 200, body = Profile), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<ApiJson<Profile>, ApiError> {
    check(&input)?;
    db::profiles::update(&state.db, id, &input)
        .await
        .map_err(|e| conflict_or(e, WHAT))?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// Delete a profile and, with it, its virtual keys.
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", tag = "profiles",
    params(("id" = Uuid, Path, description = "Profile id")),
    responses((status = 204), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn delete(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    no_content_or_not_found(db::profiles::delete(&state.db, id).await?, WHAT)
}
