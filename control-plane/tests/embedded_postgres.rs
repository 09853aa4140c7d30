//! The embedded Postgres: initialised and started from the machine's Postgres binaries (as an
//! unprivileged user when the test runs as root), usable over its private socket, stopped by
//! `stop`, and started again over the same data directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::os::unix::fs::PermissionsExt;

use control_plane::db::embedded::EmbeddedPostgres;

#[tokio::test]
async fn embedded_postgres_starts_serves_stops_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded server may run as `postgres`: it must be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut pg = EmbeddedPostgres::start(dir.path(), None).unwrap();
    let url = pg.url("gatehouse");
    let db = control_plane::db::connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&db).await.unwrap();
    assert_eq!(one, 1);
    sqlx::query("CREATE TABLE kept (v int)")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    pg.stop();
    assert!(
        control_plane::db::connect(&url).await.is_err(),
        "stopped means stopped"
    );

    let mut again = EmbeddedPostgres::start(dir.path(), None).unwrap();
    let db = control_plane::db::connect(&again.url("gatehouse"))
        .await
        .unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM kept")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(kept, 0, "the table survived the restart");
    db.close().await;
    again.stop();
}
