//! `/api/v1/teams`: the scopes objects and API keys belong to.

use api_types::{Role, Team, TeamInput};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::validate;
use crate::auth::Principal;
use crate::error::{conflict_or, ApiError};
use crate::state::AppState;

pub struct Teams;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    name: String,
    description: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Resource for Teams {
    const WHAT: &'static str = "team";
    const PATH: &'static str = "teams";
    const TABLE: &'static str = "teams";
    const SELECT: &'static str =
        "SELECT id, name, description, version, created_at, updated_at FROM teams";
    const OWNERSHIP: Ownership = Ownership::TeamItself;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Admin;
    const CHANGE_KIND: Option<&'static str> = None;

    type Row = Row;
    type Output = Team;
    type Created = Team;
    type Input = TeamInput;

    fn output(r: Row) -> Result<Team, sqlx::Error> {
        Ok(Team {
            id: r.id,
            name: r.name,
            description: r.description,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(t: &Team) -> Meta {
        Meta {
            id: t.id,
            team_id: Some(t.id),
            version: t.version,
        }
    }

    fn created(t: Team, _: Option<String>) -> Team {
        t
    }

    async fn check(
        _: &AppState,
        _: &Principal,
        input: &TeamInput,
        _: Option<&Team>,
    ) -> Result<(), ApiError> {
        validate::name(&input.name)?;
        validate::description(input.description.as_deref())
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &TeamInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO teams (id, name, description) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&input.name)
            .bind(&input.description)
            .execute(conn)
            .await
            .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &TeamInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE teams SET name = $2, description = $3, version = version + 1, \
             updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok(())
    }
}

crate::crud_handlers! {
    resource: Teams,
    tag: "teams",
    collection: "/api/v1/teams",
    item: "/api/v1/teams/{id}",
    what: "team",
    operation: ("team", "teams"),
    create_body: TeamInput,
    update_body: TeamInput,
    output: Team,
    created: Team,
    filters: [],
}
