//! `/api/v1/virtual-keys`. The token is generated here, returned once at creation and
//! stored as a SHA-256 digest.

use api_types::{
    ListQuery, Page, Problem, VirtualKey, VirtualKeyCreated, VirtualKeyInput, VIRTUAL_KEY_PREFIX,
};
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use super::validate;
use crate::auth::Admin;
use crate::crypto::{hash_token, random_token};
use crate::db::{self, PageRequest};
use crate::error::{conflict_or, no_content_or_not_found, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

const WHAT: &str = "virtual key";

/// Checks the name, that the profile exists and that each mapped provider key exists and
/// belongs to the provider it is mapped under.
async fn check(state: &AppState, input: &VirtualKeyInput) -> Result<(), ApiError> {
    validate::name(&input.name)?;
    if db::profiles::get(&state.db, input.profile_id)
        .await?
        .is_none()
    {
        return Err(ApiError::Invalid(format!(
            "profile {} does not exist",
            input.profile_id
        )));
    }
    let ids: Vec<Uuid> = input.provider_keys.values().copied().collect();
    let found = db::provider_keys::providers_of(&state.db, &ids).await?;
    for (provider, id) in &input.provider_keys {
        match found.iter().find(|(k, _)| k == id) {
            None => {
                return Err(ApiError::Invalid(format!(
                    "provider_keys.{provider}: provider key {id} does not exist"
                )))
            }
            Some((_, actual)) if actual != provider.as_str() => {
                return Err(ApiError::Invalid(format!(
                    "provider_keys.{provider}: provider key {id} is a {actual} key"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Create a virtual key. The response carries the token; it is never shown again.
#[utoipa::path(post, path = "/api/v1/virtual-keys", tag = "virtual-keys",
    request_body = VirtualKeyInput,
    responses((status = 201, body = VirtualKeyCreated), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<VirtualKeyInput>,
) -> Result<(StatusCode, ApiJson<VirtualKeyCreated>), ApiError> {
    check(&state, &input).await?;
    let token = random_token(VIRTUAL_KEY_PREFIX);
    let prefix: String = token.chars().take(VIRTUAL_KEY_PREFIX.len() + 4).collect();
    let key = db::virtual_keys::create(&state.db, &input, &hash_token(&token), &prefix)
        .await
        .map_err(|e| conflict_or(e, WHAT))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(VirtualKeyCreated { key, token }),
    ))
}

/// Read a virtual key (without its token).
#[utoipa::path(get, path = "/api/v1/virtual-keys/{id}", tag = "virtual-keys",
    params(("id" = Uuid, Path, description = "Virtual key id")),
    responses((status = 200, body = VirtualKey), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn read(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<VirtualKey>, ApiError> {
    db::virtual_keys::get(&state.db, id)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// List virtual keys, ordered by id.
#[utoipa::path(get, path = "/api/v1/virtual-keys", tag = "virtual-keys", params(ListQuery),
    responses((status = 200, body = Page<VirtualKey>)), security(("api_key" = [])))]
pub async fn list(
    _: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<VirtualKey>>, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let rows = db::virtual_keys::list(&state.db, &page).await?;
    Ok(ApiJson(page.page(rows, |k| k.id)))
}

/// Replace a virtual key's settings; the token stays the same.
#[utoipa::path(put, path = "/api/v1/virtual-keys/{id}", tag = "virtual-keys",
    request_body = VirtualKeyInput, params(("id" = Uuid, Path, description = "Virtual key id")),
    responses((status = 200, body = VirtualKey), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<VirtualKeyInput>,
) -> Result<ApiJson<VirtualKey>, ApiError> {
    check(&state, &input).await?;
    db::virtual_keys::update(&state.db, id, &input)
        .await
        .map_err(|e| conflict_or(e, WHAT))?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// Delete (revoke) a virtual key.
#[utoipa::path(delete, path = "/api/v1/virtual-keys/{id}", tag = "virtual-keys",
    params(("id" = Uuid, Path, description = "Virtual key id")),
    responses((status = 204), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn delete(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    no_content_or_not_found(db::virtual_keys::delete(&state.db, id).await?, WHAT)
}
