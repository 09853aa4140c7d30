//! `/api/v1/limits`: usage limits, stored and validated here; the data plane enforces them.

use api_types::{Limit, LimitInput, LimitMetric, LimitScope, LimitWindow, ListFilter, Role};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::references;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

pub struct Limits;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    team_id: Option<Uuid>,
    scope: String,
    subject_id: Option<Uuid>,
    metric: String,
    window: String,
    max_value: f64,
    model: Option<String>,
    rolling: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A stored enum value this build does not know (written by a newer version).
#[derive(Debug, thiserror::Error)]
#[error("stored limit {0} has an unknown scope, metric or window")]
pub struct UnknownStoredValue(Uuid);

impl Resource for Limits {
    const WHAT: &'static str = "limit";
    const PATH: &'static str = "limits";
    const TABLE: &'static str = "limits";
    const SELECT: &'static str = "SELECT id, team_id, scope, subject_id, metric, \"window\", \
         max_value, model, rolling, version, created_at, updated_at FROM limits";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("limit");

    type Row = Row;
    type Output = Limit;
    type Created = Limit;
    type Input = LimitInput;

    fn output(r: Row) -> Result<Limit, sqlx::Error> {
        let unknown = || sqlx::Error::Decode(Box::new(UnknownStoredValue(r.id)));
        Ok(Limit {
            id: r.id,
            team_id: r.team_id,
            scope: LimitScope::parse(&r.scope).ok_or_else(unknown)?,
            subject_id: r.subject_id,
            metric: LimitMetric::parse(&r.metric).ok_or_else(unknown)?,
            window: LimitWindow::parse(&r.window).ok_or_else(unknown)?,
            max: r.max_value,
            model: r.model,
            rolling: r.rolling,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(l: &Limit) -> Meta {
        Meta {
            id: l.id,
            team_id: l.team_id,
            version: l.version,
        }
    }

    fn created(l: Limit, _: Option<String>) -> Limit {
        l
    }

    fn input_team(input: &LimitInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut LimitInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        if let Some(profile) = filter.profile_id {
            qb.push(" AND r.subject_id = ").push_bind(profile);
        }
    }

    async fn check(
        state: &AppState,
        principal: &Principal,
        input: &LimitInput,
        _: Option<&Limit>,
    ) -> Result<(), ApiError> {
        if !(input.max.is_finite() && input.max > 0.0) {
            return Err(ApiError::invalid("max", "must be a number greater than 0"));
        }
        if input.rolling && input.window == LimitWindow::Total {
            return Err(ApiError::invalid(
                "rolling",
                "a total window never resets, so it cannot slide",
            ));
        }
        if let Some(model) = &input.model {
            super::validate::models("model", std::slice::from_ref(model))?;
        }
        let subject_team = match (input.scope, input.subject_id) {
            (LimitScope::Organization, None) => None,
            (LimitScope::Organization, Some(_)) => {
                return Err(ApiError::invalid(
                    "subject_id",
                    "must be omitted for organization scope",
                ))
            }
            (_, None) => return Err(ApiError::invalid("subject_id", "is required")),
            (LimitScope::Team, Some(team)) => Some(team),
            (LimitScope::Profile, Some(id)) => {
                references::profile(state, principal, "subject_id", id).await?
            }
            (LimitScope::VirtualKey, Some(id)) => {
                references::virtual_key(state, principal, "subject_id", id).await?
            }
        };
        if subject_team != input.team_id {
            return Err(ApiError::invalid(
                "team_id",
                "must be the team of the subject (null for the organization)",
            ));
        }
        Ok(())
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &LimitInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO limits (id, team_id, scope, subject_id, metric, \"window\", max_value, \
             model, rolling) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(input.team_id)
        .bind(input.scope.as_str())
        .bind(input.subject_id)
        .bind(input.metric.as_str())
        .bind(input.window.as_str())
        .bind(input.max)
        .bind(&input.model)
        .bind(input.rolling)
        .execute(conn)
        .await?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &LimitInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE limits SET scope = $2, subject_id = $3, metric = $4, \"window\" = $5, \
             max_value = $6, model = $7, rolling = $8, version = version + 1, \
             updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(input.scope.as_str())
        .bind(input.subject_id)
        .bind(input.metric.as_str())
        .bind(input.window.as_str())
        .bind(input.max)
        .bind(&input.model)
        .bind(input.rolling)
        .execute(conn)
        .await?;
        Ok(())
    }
}

crate::crud_handlers! {
    resource: Limits,
    tag: "limits",
    collection: "/api/v1/limits",
    item: "/api/v1/limits/{id}",
    what: "limit",
    operation: ("limit", "limits"),
    create_body: LimitInput,
    update_body: LimitInput,
    output: Limit,
    created: Limit,
    filters: [
        ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's limits"),
        ("profile_id" = Option<uuid::Uuid>, Query, description = "Only limits on this profile"),
    ],
}

/// Where a limit stands: what stored records counted in the current window, and what is
/// reserved by workers.
#[utoipa::path(get, path = "/api/v1/limits/{id}/status", tag = "limits",
    operation_id = "read_limit_status",
    params(("id" = Uuid, Path, description = "Limit id")),
    responses(
        (status = 200, description = "The limit's standing", body = api_types::LimitStatus),
        (status = 400, description = "The id is not a UUID", body = api_types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such limit in the key's scope", body = api_types::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn status(
    principal: Principal,
    axum::extract::State(state): axum::extract::State<AppState>,
    crate::error::ApiPath(id): crate::error::ApiPath<Uuid>,
) -> Result<crate::error::ApiJson<api_types::LimitStatus>, ApiError> {
    principal.require(Role::Viewer)?;
    let mut conn = state.db.acquire().await?;
    let limit = super::crud::fetch::<Limits>(&mut conn, id)
        .await?
        .filter(|l| principal.sees(l.team_id))
        .ok_or(ApiError::NotFound("limit"))?;
    let status = crate::db::leases::status(&mut conn, &limit).await?;
    Ok(crate::error::ApiJson(status))
}
