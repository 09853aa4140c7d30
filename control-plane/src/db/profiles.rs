//! Profiles.

use api_types::{Profile, ProfileInput};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::PageRequest;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Profile {
    fn from(r: Row) -> Self {
        Profile {
            id: r.id,
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, name, description, created_at, updated_at";

pub async fn create(db: &PgPool, input: &ProfileInput) -> Result<Profile, sqlx::Error> {
    let sql = format!(
        "INSERT INTO profiles (id, name, description) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    );
    let row: Row = sqlx::query_as(&sql)
        .bind(Uuid::new_v4())
        .bind(&input.name)
        .bind(&input.description)
        .fetch_one(db)
        .await?;
    Ok(row.into())
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<Profile>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM profiles WHERE id = $1");
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(Into::into))
}

pub async fn list(db: &PgPool, page: &PageRequest) -> Result<Vec<Profile>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM profiles WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(page.after)
        .bind(page.limit + 1)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn update(
    db: &PgPool,
    id: Uuid,
    input: &ProfileInput,
) -> Result<Option<Profile>, sqlx::Error> {
    let sql = format!(
        "UPDATE profiles SET name = $2, description = $3, updated_at = now() WHERE id = $1 \
         RETURNING {COLUMNS}"
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Into::into))
}

/// `true` when a row was deleted.
pub async fn delete(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM profiles WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
