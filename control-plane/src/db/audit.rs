//! The audit trail: one row per change made through the API, written in the transaction of
//! the change itself, so a change and its record commit or roll back together.

use api_types::AuditEvent;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::auth::Principal;

/// One change to record.
pub struct Change<'a> {
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub team_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub actor: &'a Principal,
}

pub async fn record(conn: &mut PgConnection, change: Change<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, actor_key_id, actor_name, action, resource_type, \
         resource_id, team_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(change.actor.key_id)
    .bind(&change.actor.name)
    .bind(change.action)
    .bind(change.resource_type)
    .bind(change.resource_id)
    .bind(change.team_id)
    .bind(change.before)
    .bind(change.after)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_key_id: Option<Uuid>,
    actor_name: Option<String>,
    action: String,
    resource_type: String,
    resource_id: String,
    team_id: Option<Uuid>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> Self {
        AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            actor_key_id: r.actor_key_id,
            actor_name: r.actor_name,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            team_id: r.team_id,
            before: r.before,
            after: r.after,
        }
    }
}

/// Filters of the audit list.
pub struct Filter<'a> {
    pub team: Option<Uuid>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
}

pub async fn list(
    conn: &mut PgConnection,
    filter: Filter<'_>,
    page: &super::PageRequest,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, occurred_at, actor_key_id, actor_name, action, resource_type, resource_id, \
         team_id, before, after FROM audit_events WHERE true",
    );
    if let Some(after) = page.after {
        qb.push(" AND id > ").push_bind(after);
    }
    if let Some(team) = filter.team {
        qb.push(" AND team_id = ").push_bind(team);
    }
    if let Some(t) = filter.resource_type {
        qb.push(" AND resource_type = ").push_bind(t.to_owned());
    }
    if let Some(id) = filter.resource_id {
        qb.push(" AND resource_id = ").push_bind(id.to_owned());
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(page.limit + 1);
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<AuditEvent>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, occurred_at, actor_key_id, actor_name, action, resource_type, resource_id, \
         team_id, before, after FROM audit_events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}
