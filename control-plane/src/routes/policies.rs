//! `/api/v1/tool-invocation-policies` and `/api/v1/trusted-data-policies`: stored and
//! validated here; the data plane evaluates them.

use api_types::{
    Condition, ListFilter, Role, ToolAction, ToolInvocationPolicy, ToolInvocationPolicyInput,
    TrustedDataAction, TrustedDataPolicy, TrustedDataPolicyInput,
};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::{references, validate};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// What both policy kinds share: where they apply and which tool calls they match.
struct Scope<'a> {
    team_id: Option<Uuid>,
    profile_id: Option<Uuid>,
    tool_name: &'a str,
    conditions: &'a [Condition],
}

async fn check_scope(
    state: &AppState,
    principal: &Principal,
    scope: Scope<'_>,
) -> Result<(), ApiError> {
    validate::tool_name(scope.tool_name)?;
    validate::conditions(scope.conditions)?;
    // The data plane compiles policies with this crate: what it refuses never gets stored.
    policy::validate(scope.tool_name, scope.conditions)
        .map_err(|e| ApiError::invalid("conditions", e.to_string()))?;
    if let Some(profile) = scope.profile_id {
        references::profile_in_team(state, principal, "profile_id", profile, scope.team_id).await?;
    }
    Ok(())
}

fn push_profile_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
    if let Some(profile) = filter.profile_id {
        qb.push(" AND r.profile_id = ").push_bind(profile);
    }
}

/// The policies of kind `R` that apply to a profile: its own, its team's that name no
/// profile, and the organization's that name neither; oldest first.
pub async fn applying_to<R: Resource>(
    conn: &mut PgConnection,
    profile_id: Uuid,
    team_id: Option<Uuid>,
) -> Result<Vec<R::Output>, sqlx::Error> {
    let sql = format!(
        "SELECT * FROM ({}) r WHERE r.profile_id = $1 OR (r.profile_id IS NULL AND \
         (r.team_id IS NULL OR r.team_id = $2)) ORDER BY r.created_at, r.id",
        R::SELECT
    );
    let rows: Vec<R::Row> = sqlx::query_as(&sql)
        .bind(profile_id)
        .bind(team_id)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(R::output).collect()
}

/// A stored action this build does not know (written by a newer version).
#[derive(Debug, thiserror::Error)]
#[error("stored policy {0} has an unknown action")]
pub struct UnknownStoredAction(Uuid);

pub struct ToolInvocationPolicies;

#[derive(sqlx::FromRow)]
pub struct ToolRow {
    id: Uuid,
    team_id: Option<Uuid>,
    profile_id: Option<Uuid>,
    tool_name: String,
    conditions: Json<Vec<Condition>>,
    action: String,
    reason: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Resource for ToolInvocationPolicies {
    const WHAT: &'static str = "tool invocation policy";
    const PATH: &'static str = "tool-invocation-policies";
    const TABLE: &'static str = "tool_invocation_policies";
    const SELECT: &'static str = "SELECT id, team_id, profile_id, tool_name, conditions, \
         action, reason, version, created_at, updated_at FROM tool_invocation_policies";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("tool_invocation_policy");

    type Row = ToolRow;
    type Output = ToolInvocationPolicy;
    type Created = ToolInvocationPolicy;
    type Input = ToolInvocationPolicyInput;

    fn output(r: ToolRow) -> Result<ToolInvocationPolicy, sqlx::Error> {
        let action = ToolAction::parse(&r.action)
            .ok_or_else(|| sqlx::Error::Decode(Box::new(UnknownStoredAction(r.id))))?;
        Ok(ToolInvocationPolicy {
            id: r.id,
            team_id: r.team_id,
            profile_id: r.profile_id,
            tool_name: r.tool_name,
            conditions: r.conditions.0,
            action,
            reason: r.reason,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(p: &ToolInvocationPolicy) -> Meta {
        Meta {
            id: p.id,
            team_id: p.team_id,
            version: p.version,
        }
    }

    fn created(p: ToolInvocationPolicy, _: Option<String>) -> ToolInvocationPolicy {
        p
    }

    fn input_team(input: &ToolInvocationPolicyInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut ToolInvocationPolicyInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        push_profile_filter(qb, filter);
    }

    async fn check(
        state: &AppState,
        principal: &Principal,
        input: &ToolInvocationPolicyInput,
        _: Option<&ToolInvocationPolicy>,
    ) -> Result<(), ApiError> {
        validate::optional_text("reason", input.reason.as_deref())?;
        let scope = Scope {
            team_id: input.team_id,
            profile_id: input.profile_id,
            tool_name: &input.tool_name,
            conditions: &input.conditions,
        };
        check_scope(state, principal, scope).await
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &ToolInvocationPolicyInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO tool_invocation_policies (id, team_id, profile_id, tool_name, \
             conditions, action, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(input.team_id)
        .bind(input.profile_id)
        .bind(&input.tool_name)
        .bind(Json(&input.conditions))
        .bind(input.action.as_str())
        .bind(&input.reason)
        .execute(conn)
        .await?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &ToolInvocationPolicyInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE tool_invocation_policies SET profile_id = $2, tool_name = $3, \
             conditions = $4, action = $5, reason = $6, version = version + 1, \
             updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(input.profile_id)
        .bind(&input.tool_name)
        .bind(Json(&input.conditions))
        .bind(input.action.as_str())
        .bind(&input.reason)
        .execute(conn)
        .await?;
        Ok(())
    }
}

pub struct TrustedDataPolicies;

#[derive(sqlx::FromRow)]
pub struct TrustedRow {
    id: Uuid,
    team_id: Option<Uuid>,
    profile_id: Option<Uuid>,
    tool_name: String,
    conditions: Json<Vec<Condition>>,
    action: String,
    description: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Resource for TrustedDataPolicies {
    const WHAT: &'static str = "trusted data policy";
    const PATH: &'static str = "trusted-data-policies";
    const TABLE: &'static str = "trusted_data_policies";
    const SELECT: &'static str = "SELECT id, team_id, profile_id, tool_name, conditions, \
         action, description, version, created_at, updated_at FROM trusted_data_policies";
    const OWNERSHIP: Ownership = Ownership::Team;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Editor;
    const CHANGE_KIND: Option<&'static str> = Some("trusted_data_policy");

    type Row = TrustedRow;
    type Output = TrustedDataPolicy;
    type Created = TrustedDataPolicy;
    type Input = TrustedDataPolicyInput;

    fn output(r: TrustedRow) -> Result<TrustedDataPolicy, sqlx::Error> {
        let action = TrustedDataAction::parse(&r.action)
            .ok_or_else(|| sqlx::Error::Decode(Box::new(UnknownStoredAction(r.id))))?;
        Ok(TrustedDataPolicy {
            id: r.id,
            team_id: r.team_id,
            profile_id: r.profile_id,
            tool_name: r.tool_name,
            conditions: r.conditions.0,
            action,
            description: r.description,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(p: &TrustedDataPolicy) -> Meta {
        Meta {
            id: p.id,
            team_id: p.team_id,
            version: p.version,
        }
    }

    fn created(p: TrustedDataPolicy, _: Option<String>) -> TrustedDataPolicy {
        p
    }

    fn input_team(input: &TrustedDataPolicyInput) -> Option<Uuid> {
        input.team_id
    }

    fn set_input_team(input: &mut TrustedDataPolicyInput, team: Option<Uuid>) {
        input.team_id = team;
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        push_profile_filter(qb, filter);
    }

    async fn check(
        state: &AppState,
        principal: &Principal,
        input: &TrustedDataPolicyInput,
        _: Option<&TrustedDataPolicy>,
    ) -> Result<(), ApiError> {
        validate::description(input.description.as_deref())?;
        let scope = Scope {
            team_id: input.team_id,
            profile_id: input.profile_id,
            tool_name: &input.tool_name,
            conditions: &input.conditions,
        };
        check_scope(state, principal, scope).await
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &TrustedDataPolicyInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO trusted_data_policies (id, team_id, profile_id, tool_name, \
             conditions, action, description) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(input.team_id)
        .bind(input.profile_id)
        .bind(&input.tool_name)
        .bind(Json(&input.conditions))
        .bind(input.action.as_str())
        .bind(&input.description)
        .execute(conn)
        .await?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &TrustedDataPolicyInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE trusted_data_policies SET profile_id = $2, tool_name = $3, \
             conditions = $4, action = $5, description = $6, version = version + 1, \
             updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(input.profile_id)
        .bind(&input.tool_name)
        .bind(Json(&input.conditions))
        .bind(input.action.as_str())
        .bind(&input.description)
        .execute(conn)
        .await?;
        Ok(())
    }
}

pub mod tool_invocation {
    use super::*;

    crate::crud_handlers! {
        resource: ToolInvocationPolicies,
        tag: "policies",
        collection: "/api/v1/tool-invocation-policies",
        item: "/api/v1/tool-invocation-policies/{id}",
        what: "tool invocation policy",
        operation: ("tool_invocation_policy", "tool_invocation_policies"),
        create_body: ToolInvocationPolicyInput,
        update_body: ToolInvocationPolicyInput,
        output: ToolInvocationPolicy,
        created: ToolInvocationPolicy,
        filters: [
            ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's policies"),
            ("profile_id" = Option<uuid::Uuid>, Query, description = "Only this profile's policies"),
        ],
    }
}

pub mod trusted_data {
    use super::*;

    crate::crud_handlers! {
        resource: TrustedDataPolicies,
        tag: "policies",
        collection: "/api/v1/trusted-data-policies",
        item: "/api/v1/trusted-data-policies/{id}",
        what: "trusted data policy",
        operation: ("trusted_data_policy", "trusted_data_policies"),
        create_body: TrustedDataPolicyInput,
        update_body: TrustedDataPolicyInput,
        output: TrustedDataPolicy,
        created: TrustedDataPolicy,
        filters: [
            ("team_id" = Option<uuid::Uuid>, Query, description = "Only this team's policies"),
            ("profile_id" = Option<uuid::Uuid>, Query, description = "Only this profile's policies"),
        ],
    }
}
