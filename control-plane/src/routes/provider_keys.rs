//! `/api/v1/provider-keys`. The secret is write-only: sealed before it is stored, never
//! returned (only its last four characters).

use api_types::{ListQuery, Page, Problem, ProviderKey, ProviderKeyInput, ProviderKeyUpdate};
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use super::validate;
use crate::auth::Admin;
use crate::db::provider_keys::{SealedSecret, Write};
use crate::db::{self, PageRequest};
use crate::error::{conflict_or, no_content_or_not_found, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

const WHAT: &str = "provider key";

fn seal(state: &AppState, secret: &str) -> Result<SealedSecret, ApiError> {
    validate::secret(secret)?;
    let ciphertext = state
        .secrets
        .seal(secret)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let skip = secret.chars().count().saturating_sub(4);
    Ok(SealedSecret {
        ciphertext,
        last_four: secret.chars().skip(skip).collect(),
    })
}

fn check(name: &str, base_url: Option<&str>) -> Result<(), ApiError> {
    validate::name(name)?;
    base_url.map(validate::base_url).transpose()?;
    Ok(())
}

/// Create a provider key.
#[utoipa::path(post, path = "/api/v1/provider-keys", tag = "provider-keys",
    request_body = ProviderKeyInput,
    responses((status = 201, body = ProviderKey), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ProviderKeyInput>,
) -> Result<(StatusCode, ApiJson<ProviderKey>), ApiError> {
    check(&input.name, input.base_url.as_deref())?;
    let write = Write {
        name: &input.name,
        provider: input.provider,
        base_url: input.base_url.as_deref(),
        secret: Some(seal(&state, &input.secret)?),
    };
    let key = db::provider_keys::create(&state.db, write)
        .await
        .map_err(|e| conflict_or(e, WHAT))?;
    Ok((StatusCode::CREATED, ApiJson(key)))
}

/// Read a provider key (without its secret).
#[utoipa::path(get, path = "/api/v1/provider-keys/{id}", tag = "provider-keys",
    params(("id" = Uuid, Path, description = "Provider key id")),
    responses((status = 200, body = ProviderKey), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn read(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<ProviderKey>, ApiError> {
    db::provider_keys::get(&state.db, id)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// List provider keys, ordered by id.
#[utoipa::path(get, path = "/api/v1/provider-keys", tag = "provider-keys", params(ListQuery),
    responses((status = 200, body = Page<ProviderKey>)), security(("api_key" = [])))]
pub async fn list(
    _: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<ProviderKey>>, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let rows = db::provider_keys::list(&state.db, &page).await?;
    Ok(ApiJson(page.page(rows, |k| k.id)))
}

/// Replace a provider key's settings; an omitted `secret` keeps the stored one.
#[utoipa::path(put, path = "/api/v1/provider-keys/{id}", tag = "provider-keys",
    request_body = ProviderKeyUpdate, params(("id" = Uuid, Path, description = "Provider key id")),
    responses((status = 200, body = ProviderKey), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ProviderKeyUpdate>,
) -> Result<ApiJson<ProviderKey>, ApiError> {
    check(&input.name, input.base_url.as_deref())?;
    if db::provider_keys::mapped_under_other_provider(&state.db, id, input.provider).await? {
        return Err(ApiError::Conflict(format!(
            "virtual keys use this key for another provider; it cannot become a {} key",
            input.provider
        )));
    }
    let write = Write {
        name: &input.name,
        provider: input.provider,
        base_url: input.base_url.as_deref(),
        secret: input
            .secret
            .as_deref()
            .map(|s| seal(&state, s))
            .transpose()?,
    };
    db::provider_keys::update(&state.db, id, write)
        .await
        .map_err(|e| conflict_or(e, WHAT))?
        .map(ApiJson)
        .ok_or(ApiError::NotFound(WHAT))
}

/// Delete a provider key. Refused (409) while a virtual key maps to it.
#[utoipa::path(delete, path = "/api/v1/provider-keys/{id}", tag = "provider-keys",
    params(("id" = Uuid, Path, description = "Provider key id")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])))]
pub async fn delete(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let deleted = db::provider_keys::delete(&state.db, id)
        .await
        .map_err(|e| conflict_or(e, WHAT))?;
    no_content_or_not_found(deleted, WHAT)
}
