//! Security regressions (issue 14): each test here failed before its fix.

use axum::http::StatusCode;

use crate::support::*;
use crate::web::{Browser, agent};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_in_follows_only_local_paths_and_never_fails_on_a_hostile_next() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", frontdesk::auth::Role::Agent).await;
    for (next, to) in [
        ("/\t/evil.example", "/inbox"),
        ("/\n/x", "/inbox"),
        ("/\r\nSet-Cookie: x=1", "/inbox"),
        ("//evil.example", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("https://evil.example/", "/inbox"),
        ("/search?q=x", "/search?q=x"),
    ] {
        let mut b = Browser::new(&db);
        let form = b.get(&format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
        ))
        .await;
        assert_eq!(form.status, StatusCode::OK, "{next:?}");
        assert!(!form.body.contains("evil.example"), "{next:?} kept in the form");
        let signed_in = b
            .post(
                "/login",
                &[("email", "dana@example.com"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(signed_in.location.as_deref(), Some(to), "{next:?}");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn healthz_tells_anonymous_callers_only_the_status_and_admins_the_details() {
    let db = TestDb::new().await;
    let mailbox = frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Billing",
        "billing@example.com",
        "imap://billing-user:pw@imap.internal.example/INBOX",
        None,
    )
    .await
    .unwrap();
    sqlx::query(
        "insert into mailbox_health (mailbox_id, polled_by, last_poll_at, last_error, last_error_at, consecutive_failures)
         values ($1, 'node-a:4242', now(), 'login failed for billing-user at imap.internal.example', now(), 3)",
    )
    .bind(mailbox)
    .execute(&db.pool)
    .await
    .unwrap();
    let admin = agent(&db, "ops@example.com", "Ops", frontdesk::auth::Role::Admin).await;
    let plain = agent(&db, "dana@example.com", "Dana", frontdesk::auth::Role::Agent).await;
    let admin_token = frontdesk::auth::create_api_token(&db.pool, admin).await.unwrap();
    let plain_token = frontdesk::auth::create_api_token(&db.pool, plain).await.unwrap();

    let leaks = |body: &str| {
        ["billing", "imap.internal", "node-a", "4242", "mailboxes", "database"]
            .iter()
            .any(|s| body.contains(s))
    };
    let healthz = |token: Option<&str>| {
        let mut req = axum::http::Request::get("/healthz");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req
    };

    let mut anonymous = Browser::new(&db);
    let p = anonymous.send(healthz(None), axum::body::Body::empty()).await;
    assert_eq!(p.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(body, serde_json::json!({"status": "degraded"}));

    for (who, token) in [("bad token", Some("nope")), ("agent token", Some(plain_token.as_str()))] {
        let p = Browser::new(&db).send(healthz(token), axum::body::Body::empty()).await;
        assert_eq!(p.status, StatusCode::OK, "{who}");
        assert!(!leaks(&p.body), "{who}: {}", p.body);
    }
    let mut dana = Browser::new(&db);
    dana.login("dana@example.com", PASSWORD).await;
    let p = dana.send(healthz(None), axum::body::Body::empty()).await;
    assert!(!leaks(&p.body), "a non-admin session: {}", p.body);

    let p = Browser::new(&db)
        .send(healthz(Some(&admin_token)), axum::body::Body::empty())
        .await;
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["mailboxes"][0]["address"], "billing@example.com");
    assert_eq!(body["mailboxes"][0]["polled_by"], "node-a:4242");

    let mut ops = Browser::new(&db);
    ops.login("ops@example.com", PASSWORD).await;
    let p = ops.send(healthz(None), axum::body::Body::empty()).await;
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert!(
        body["mailboxes"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("imap.internal.example"),
        "{body}"
    );
    db.drop_db().await;
}
