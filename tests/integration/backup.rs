//! Backups: `scripts/backup` (pg_dump) of a database with tickets, `scripts/restore`
//! (pg_restore) into a new database, and the restored instance serves the same tickets, the
//! same messages and attachments, and the same sign-in tokens.

use std::process::Command;
use std::str::FromStr;

use axum::http::StatusCode;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::support::*;

fn script(name: &str, args: &[&str]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/");
    let out = Command::new(format!("{path}{name}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running scripts/{name}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_backup_restored_into_a_new_database_serves_the_same_tickets() {
    let app = TestApp::with_mail(&[
        "42-outlook-thread-index-reply.eml",
        "13-inline-cid-no-disposition.eml",
    ])
    .await;
    let admin = app
        .agent("admin@example.com", "Ada Admin", Role::Admin)
        .await;
    let token = frontdesk::auth::create_api_token(app.pool(), admin)
        .await
        .unwrap();
    let (s, before) = api_json(
        &app.db,
        "GET",
        "/api/v1/tickets",
        &token,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let tickets = before["tickets"].as_array().expect("tickets").clone();
    assert_eq!(tickets.len(), 2, "{before}");

    let dir = std::env::temp_dir().join(random_name("frontdesk-backup-"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("frontdesk.dump");
    script("backup", &[&app.db.url, file.to_str().unwrap()]);

    // a new, empty database, restored from the file
    let restored_name = random_name("frontdesk_restored_");
    let base = PgConnectOptions::from_str(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    let mut admin_conn = base.connect().await.unwrap();
    sqlx::query(&format!("create database {restored_name}"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&app.db.url).unwrap();
    url.set_path(&format!("/{restored_name}"));
    script("restore", &[file.to_str().unwrap(), url.as_str()]);

    let restored = TestDb::attach(url.as_str()).await;
    // start-up migrations find nothing to do
    frontdesk::db::migrate(&restored.pool).await.unwrap();
    let (s, after) = api_json(
        &restored,
        "GET",
        "/api/v1/tickets",
        &token,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the API token works on the restored instance: {after}"
    );
    assert_eq!(after, before);
    for t in &tickets {
        let path = format!("/api/v1/tickets/{}", t["number"]);
        let (_, one) = api_json(&app.db, "GET", &path, &token, serde_json::Value::Null).await;
        let (_, two) = api_json(&restored, "GET", &path, &token, serde_json::Value::Null).await;
        assert_eq!(one, two, "ticket {} differs after the restore", t["number"]);
    }
    let raw = "select count(*) from raw_message";
    assert_eq!(
        scalar::<i64>(&restored.pool, raw).await,
        scalar::<i64>(app.pool(), raw).await
    );
    restored.drop_db().await;
    std::fs::remove_dir_all(&dir).ok();
    app.finish().await;
}
