//! Analytics on a read replica (`FRONTDESK_REPLICA_URL`): a real primary with a streaming hot
//! standby (`scripts/replica-pair`, started by `scripts/test`; URLs in
//! `FRONTDESK_TEST_REPLICA_PRIMARY` and `FRONTDESK_TEST_REPLICA`).

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgPool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

/// A new customer mail dated now.
fn mail(n: u32) -> Vec<u8> {
    let date = OffsetDateTime::now_utc().format(&Rfc2822).unwrap();
    format!(
        "From: Customer {n} <c{n}@example.org>\r\nTo: support@example.com\r\nSubject: Question {n}\r\n\
         Date: {date}\r\nMessage-ID: <replica-{n}-{}@example.org>\r\n\r\nHello {n}\r\n",
        random_name("m")
    )
    .into_bytes()
}

async fn get(addr: std::net::SocketAddr, token: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn analytics_read_the_hot_standby_while_the_inbox_reads_the_primary() {
    let primary = var("FRONTDESK_TEST_REPLICA_PRIMARY");
    let standby = var("FRONTDESK_TEST_REPLICA");
    // A failed earlier run may have left replay paused: nothing new would reach the standby.
    let mut maintenance = sqlx::postgres::PgConnection::connect(&standby)
        .await
        .expect("connect to the standby");
    sqlx::query("select pg_wal_replay_resume()")
        .execute(&mut maintenance)
        .await
        .ok();
    maintenance.close().await.ok();
    let db = TestDb::new_on(&primary).await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    let admin = agent(&db, "lead@example.com", "Lee", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(&db.pool, admin)
        .await
        .unwrap();

    // The standby's copy of this test's database, once replication has created it.
    let replica_url = with_database(&standby, &db.name);
    let replica: PgPool = {
        let start = Instant::now();
        loop {
            match sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&replica_url)
                .await
            {
                Ok(p) => break p,
                Err(e) => {
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "the standby never got the database: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let in_recovery: bool = sqlx::query_scalar("select pg_is_in_recovery()")
        .fetch_one(&replica)
        .await
        .unwrap();
    assert!(in_recovery, "FRONTDESK_TEST_REPLICA is a hot standby");

    let shutdown = CancellationToken::new();
    let mut cfg = frontdesk::config::Config::from_env().unwrap();
    cfg.db.url = Some(db.url.clone());
    cfg.db.replica_url = Some(replica_url.clone());
    cfg.node_id = "replica-test".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let node = tokio::spawn(frontdesk::app::run(
        cfg,
        db.pool.clone(),
        listener,
        shutdown.clone(),
    ));

    let today = OffsetDateTime::now_utc().date();
    let summary = format!(
        "/api/v1/analytics/summary?tz=UTC&from={}&to={}",
        today.previous_day().unwrap(),
        today
    );
    let created = |body: &Value| body["created"].as_i64();

    mb.deliver("INBOX", &[&mail(1)]).await;
    ingest(&db.pool).await;
    wait_for(
        "the first ticket in the analytics",
        Duration::from_secs(20),
        || async { created(&get(addr, &token, &summary).await.1) == Some(1) },
    )
    .await;

    // Stop the standby replaying: what the primary stores now is not on the replica.
    sqlx::query("select pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .unwrap();
    wait_for("replay to pause", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, String>("select pg_get_wal_replay_pause_state()")
            .fetch_one(&replica)
            .await
            .unwrap()
            == "paused"
    })
    .await;
    mb.deliver("INBOX", &[&mail(2)]).await;
    ingest(&db.pool).await;

    let (status, tickets) = get(addr, &token, "/api/v1/tickets").await;
    assert_eq!(status, 200, "{tickets}");
    assert_eq!(
        tickets["tickets"].as_array().map(Vec::len),
        Some(2),
        "the inbox reads the primary: {tickets}"
    );
    let (status, body) = get(addr, &token, &summary).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        created(&body),
        Some(1),
        "analytics read the paused standby, which has not seen the second ticket: {body}"
    );
    let resp = reqwest::Client::new()
        .get(format!(
            "http://{addr}/api/v1/analytics/tickets.csv?tz=UTC&from={}&to={today}",
            today.previous_day().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let csv = resp.text().await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        csv.lines().count(),
        2,
        "header and the one replicated ticket:\n{csv}"
    );

    sqlx::query("select pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .unwrap();
    wait_for(
        "the second ticket to reach the analytics",
        Duration::from_secs(20),
        || async { created(&get(addr, &token, &summary).await.1) == Some(2) },
    )
    .await;

    shutdown.cancel();
    node.await.unwrap().unwrap();
    replica.close().await;
    db.drop_db().await;
}
