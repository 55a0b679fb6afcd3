//! `/settings`: an agent sets their time zone, and pages show times in it.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::*;

/// A ticket whose only message arrived at 2026-03-29 01:00 UTC, the moment Berlin switched to
/// summer time (03:00 CEST). Returns its number.
async fn ticket_at_the_dst_change(db: &TestDb) -> i64 {
    let mailbox_id = offline_mailbox(&db.pool, SUPPORT, None).await;
    let n: i64 = scalar_for(
        &db.pool,
        "insert into ticket (mailbox_id, subject, created_at, last_message_at, message_count)
         values ($1, 'Clocks changed', '2026-03-29 01:00+00', '2026-03-29 01:00+00', 1)
         returning ticket_id",
        mailbox_id,
    )
    .await;
    execute_for(
        &db.pool,
        "insert into message (ticket_id, direction, from_email, text_body, created_at)
         values ($1, 'inbound', 'jana@example.org', 'Hello', '2026-03-29 01:00+00')",
        n,
    )
    .await;
    n
}

#[tokio::test]
async fn an_agent_sets_a_time_zone_and_pages_show_local_times() {
    let db = TestDb::new().await;
    let n = ticket_at_the_dst_change(&db).await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;

    // Default UTC.
    let inbox = b.get("/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(
        inbox
            .body
            .contains("title=\"Last activity 2026-03-29 01:00 UTC\""),
        "{}",
        inbox.body
    );
    let settings = b.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.body.contains("<option value=\"UTC\" selected>"));
    assert!(settings.body.contains("<option value=\"Europe/Berlin\">"));

    // Unknown names are refused; cross-site posts too.
    let bad = b
        .post("/settings", &[("time_zone", "Mars/Olympus_Mons")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("unknown time zone"), "{}", bad.body);
    let forged = b
        .send(
            Request::post("/settings")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .header("origin", "https://evil.example.net"),
            Body::from("time_zone=Asia%2FTokyo"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let stored = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select time_zone from agent where agent_id = $1")
                .bind(dana)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(stored(&db).await, "UTC");

    // Saved in canonical form, post/redirect/get.
    let saved = b.post("/settings", &[("time_zone", "europe/berlin")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location.as_deref(), Some("/settings?saved=1"));
    assert_eq!(stored(&db).await, "Europe/Berlin");
    let settings = b.get("/settings?saved=1").await;
    assert!(
        settings
            .body
            .contains("<option value=\"Europe/Berlin\" selected>")
    );

    // 01:00 UTC is 03:00 summer time in Berlin: inbox row, ticket page.
    let inbox = b.get("/inbox").await;
    assert!(
        inbox.body.contains(
            "<time datetime=\"2026-03-29T03:00:00+02:00\" title=\"Last activity 2026-03-29 03:00 CEST\">"
        ),
        "{}",
        inbox.body
    );
    assert!(!inbox.body.contains("01:00 UTC"));
    let page = b.get(&format!("/tickets/{n}")).await;
    assert!(
        page.body.contains("title=\"2026-03-29 03:00 CEST\""),
        "{}",
        page.body
    );

    // A snooze time typed on the ticket page is Berlin time: 09:00 CEST is 07:00 UTC.
    let snoozed = b
        .post(
            &format!("/tickets/{n}/status"),
            &[("status", "snoozed"), ("snooze_until", "2026-07-01T09:00")],
        )
        .await;
    assert_eq!(snoozed.status, StatusCode::SEE_OTHER);
    let until: time::OffsetDateTime = scalar_for(
        &db.pool,
        "select snoozed_until from ticket where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(until, time::macros::datetime!(2026-07-01 07:00 UTC));
    db.drop_db().await;
}
