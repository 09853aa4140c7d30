//! The config revision and change log the data plane's watch stream is served from.

use api_types::internal::ConfigChange;
use sqlx::{PgConnection, PgPool};

/// The Postgres channel change notifications go out on.
pub const CHANNEL: &str = "gatehouse_config";

/// Records that object `id` of `kind` changed: takes the next revision (serialised by the
/// counter row's lock, so revisions follow commit order) and queues a notification that
/// Postgres delivers when the transaction commits.
pub async fn record(conn: &mut PgConnection, kind: &str, id: &str) -> Result<i64, sqlx::Error> {
    let revision: i64 = sqlx::query_scalar(
        "WITH r AS (UPDATE config_revision SET revision = revision + 1 WHERE id = 1 \
         RETURNING revision) \
         INSERT INTO config_changes (revision, kind, object_id) \
         SELECT revision, $1, $2 FROM r RETURNING revision",
    )
    .bind(kind)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(revision.to_string())
        .execute(conn)
        .await?;
    Ok(revision)
}

/// The current revision.
pub async fn current(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT revision FROM config_revision WHERE id = 1")
        .fetch_one(db)
        .await
}

/// Changes after `since`, oldest first (at most `limit`).
pub async fn since(db: &PgPool, since: i64, limit: i64) -> Result<Vec<ConfigChange>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT revision, kind, object_id FROM config_changes WHERE revision > $1 \
         ORDER BY revision LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(revision, kind, id)| ConfigChange { revision, kind, id })
        .collect())
}

/// Whether every change after `since` is still in the log (so a worker at `since` can
/// catch up by replay rather than dropping its cache).
pub async fn replayable(db: &PgPool, since: i64) -> Result<bool, sqlx::Error> {
    let (oldest, current): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT min(revision) FROM config_changes), \
         (SELECT revision FROM config_revision WHERE id = 1)",
    )
    .fetch_one(db)
    .await?;
    Ok(since <= current && (since == current || oldest.is_some_and(|o| o <= since + 1)))
}

/// Drops change events older than `keep` revisions behind the current one.
pub async fn prune(db: &PgPool, keep: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM config_changes WHERE revision <= \
         (SELECT revision FROM config_revision WHERE id = 1) - $1",
    )
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
