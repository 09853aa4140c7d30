//! Checks that an object's references point at objects the caller may see, in a team the
//! object may use. A reference the caller cannot see reads exactly like one that does not
//! exist, so existence does not leak across teams.

use api_types::Provider;
use uuid::Uuid;

use super::crud::Resource;
use super::profiles::Profiles;
use super::virtual_keys::VirtualKeys;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The team of object `id` of resource `R` if the caller sees it; 422 on `field` otherwise.
async fn visible_team<R: Resource>(
    state: &AppState,
    principal: &Principal,
    field: &str,
    id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let sql = format!("SELECT team_id FROM {} WHERE id = $1", R::TABLE);
    let team: Option<Option<Uuid>> = sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_optional(&state.db)
        .await?;
    match team {
        Some(team) if principal.sees(team) => Ok(team),
        _ => Err(ApiError::invalid(
            field,
            format!("{} {id} does not exist", R::WHAT),
        )),
    }
}

/// The team of profile `id` if the caller sees it; 422 on `field` otherwise.
pub async fn profile(
    state: &AppState,
    principal: &Principal,
    field: &str,
    id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    visible_team::<Profiles>(state, principal, field, id).await
}

/// 422 unless profile `id` is visible and owned by `team` (the referring object's team).
pub async fn profile_in_team(
    state: &AppState,
    principal: &Principal,
    field: &str,
    id: Uuid,
    team: Option<Uuid>,
) -> Result<(), ApiError> {
    if profile(state, principal, field, id).await? == team {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("profile {id} belongs to another team"),
        ))
    }
}

/// Provider and team of provider key `id` if the caller sees it; 422 on `field` otherwise.
pub async fn provider_key(
    state: &AppState,
    principal: &Principal,
    field: &str,
    id: Uuid,
) -> Result<(Provider, Option<Uuid>), ApiError> {
    let found: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT provider, team_id FROM provider_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    match found {
        Some((provider, team)) if principal.sees(team) => {
            let provider = provider
                .parse()
                .map_err(|_| ApiError::invalid(field, "refers to a key of an unknown provider"))?;
            Ok((provider, team))
        }
        _ => Err(ApiError::invalid(
            field,
            format!("provider key {id} does not exist"),
        )),
    }
}

/// The team of virtual key `id` if the caller sees it; 422 on `field` otherwise.
pub async fn virtual_key(
    state: &AppState,
    principal: &Principal,
    field: &str,
    id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    visible_team::<VirtualKeys>(state, principal, field, id).await
}
