//! `/api/v1/profiles`: what an application is pointed at, and the rules that apply to it.

use std::collections::BTreeMap;

use api_types::{ListFilter, LogBodies, Profile, ProfileInput, Provider, Role};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::validate;
use crate::auth::Principal;
use crate::error::{conflict_or, ApiError};
use crate::state::AppState;

pub struct Profiles;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    name: String,
    description: Option<String>,
    team_id: Option<Uuid>,
    labels: Json<BTreeMap<String, String>>,
    consider_context_untrusted: bool,
    require_virtual_key: bool,
    allowed_models: Json<BTreeMap<String, Vec<String>>>,
    log_bodies: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Resource for Profiles {
    const WHAT: &'static str = "profile";
    const PATH: &'static str = "profiles";
    const TABLE: &'static str = "profiles";
    const SELECT: &'static str = "SELECT id, name, description, team_id, labels, \
         consider_context_untrusted, require_virtual_key, allowed_models, log_bodies, version, \
         created_at, updated_at FROM profiles";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("profile");

    type Row = Row;
    type Output = Profile;
    type Created = Profile;
    type Input = ProfileInput;

    fn output(r: Row) -> Result<Profile, sqlx::Error> {
        // A provider this build does not know (written by a newer version) is left out.
        let allowed_models = r
            .allowed_models
            .0
            .into_iter()
            .filter_map(|(p, models)| Some((p.parse::<Provider>().ok()?, models)))
            .collect();
        Ok(Profile {
            id: r.id,
            name: r.name,
            description: r.description,
            team_id: r.team_id,
            labels: r.labels.0,
            consider_context_untrusted: r.consider_context_untrusted,
            require_virtual_key: r.require_virtual_key,
            allowed_models,
            // Unknown to this build (a newer version wrote it): the default.
            log_bodies: LogBodies::parse(&r.log_bodies).unwrap_or_default(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(p: &Profile) -> Meta {
        Meta {
            id: p.id,
            team_id: p.team_id,
            version: p.version,
        }
    }

    fn created(p: Profile, _: Option<String>) -> Profile {
        p
    }

    fn input_team(input: &ProfileInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut ProfileInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        if let Some((key, value)) = filter.label.as_deref().and_then(|l| l.split_once('=')) {
            let wanted = serde_json::json!({ key: value });
            qb.push(" AND r.labels @> ").push_bind(Json(wanted));
        }
    }

    async fn check(
        _: &AppState,
        _: &Principal,
        input: &ProfileInput,
        _: Option<&Profile>,
    ) -> Result<(), ApiError> {
        validate::name(&input.name)?;
        validate::description(input.description.as_deref())?;
        validate::labels(&input.labels)?;
        for (provider, models) in &input.allowed_models {
            validate::models(&format!("allowed_models.{provider}"), models)?;
        }
        Ok(())
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &ProfileInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO profiles (id, name, description, team_id, labels, \
             consider_context_untrusted, require_virtual_key, allowed_models, log_bodies) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(input.team_id)
        .bind(Json(&input.labels))
        .bind(input.consider_context_untrusted)
        .bind(input.require_virtual_key)
        .bind(Json(&input.allowed_models))
        .bind(input.log_bodies.as_str())
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &ProfileInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE profiles SET name = $2, description = $3, labels = $4, \
             consider_context_untrusted = $5, require_virtual_key = $6, allowed_models = $7, \
             log_bodies = $8, version = version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(Json(&input.labels))
        .bind(input.consider_context_untrusted)
        .bind(input.require_virtual_key)
        .bind(Json(&input.allowed_models))
        .bind(input.log_bodies.as_str())
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok(())
    }
}

crate::crud_handlers! {
    resource: Profiles,
    tag: "profiles",
    collection: "/api/v1/profiles",
    item: "/api/v1/profiles/{id}",
    what: "profile",
    operation: ("profile", "profiles"),
    create_body: ProfileInput,
    update_body: ProfileInput,
    output: Profile,
    created: Profile,
    filters: [
        ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's profiles"),
        ("label" = Option<String>, Query, description = "`key=value`: only profiles with this label"),
    ],
}
