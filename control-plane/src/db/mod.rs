//! Postgres: connection, embedded migrations, and one module of queries per resource.

pub mod api_keys;
pub mod audit;
pub mod changes;
pub mod embedded;
pub mod interactions;
pub mod leases;
pub mod rotation;
pub mod virtual_keys;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;

/// Migrations compiled into the binary, run at start-up.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects, creating the database first when it does not exist yet.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.log_statements(tracing::log::LevelFilter::Debug);
    create_database_if_missing(&options).await?;
    PgPoolOptions::new()
        .max_connections(16)
        .connect_with(options)
        .await
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await?;
        tracing::info!(database = %name, "created database");
    }
    Ok(())
}

/// Pagination: a page size in 1..=500 (default 100) and the id to continue after.
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<uuid::Uuid>,
}

impl PageRequest {
    pub fn from_query(q: &api_types::ListQuery) -> Result<Self, crate::error::ApiError> {
        let limit = i64::from(q.limit.unwrap_or(100));
        if !(1..=500).contains(&limit) {
            return Err(crate::error::ApiError::invalid(
                "limit",
                "must be between 1 and 500",
            ));
        }
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map_err(|_| crate::error::ApiError::invalid("cursor", "is not valid"))?,
            ),
        };
        Ok(Self { limit, after })
    }

    /// Builds the page from up to `limit + 1` rows ordered by id.
    pub fn page<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> uuid::Uuid) -> api_types::Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        api_types::Page {
            data: rows,
            next_cursor,
        }
    }
}
