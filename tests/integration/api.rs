//! The read API: authentication, the documented shapes, and mailbox access on every route.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::*;

struct Api {
    router: axum::Router,
}

impl Api {
    fn new(db: &TestDb) -> Api {
        Api {
            router: test_router(db),
        }
    }

    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap()
            .to_vec();
        (status, headers, body)
    }

    async fn json(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.get(path, Some(token)).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
}

async fn agent_with_token(db: &TestDb, email: &str, role: frontdesk::auth::Role) -> String {
    let id = frontdesk::auth::create_agent(&db.pool, email, "Test Agent", role, "$argon2id$unused")
        .await
        .unwrap();
    frontdesk::auth::create_api_token(&db.pool, id)
        .await
        .unwrap()
}

async fn seeded() -> (TestDb, TestMailbox) {
    let app = TestApp::new().await;
    app.deliver(&[
        "08-filename-rfc2231-wrong-charset.eml",
        "23-reply-in-reply-to-only-a.eml",
        "23-reply-in-reply-to-only-b.eml",
    ])
    .await;
    app.mb
        .deliver("INBOX", &[b"garbage without headers\r\n"])
        .await;
    app.ingest().await;
    (app.db, app.mb)
}

/// The seeded database and mailbox, the API, and the token of a new agent `email` with `role`.
async fn seeded_api_as(email: &str, role: Role) -> (TestDb, TestMailbox, Api, String) {
    let (db, mb) = seeded().await;
    let api = Api::new(&db);
    let token = agent_with_token(&db, email, role).await;
    (db, mb, api, token)
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let db = TestDb::new().await;
    let api = Api::new(&db);
    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/1",
        "/api/v1/attachments/1",
        "/api/v1/quarantine",
    ] {
        let (s, h, body) = api.get(path, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(h["www-authenticate"], "Bearer");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"].is_string());
        let (s, _, _) = api.get(path, Some("fd_wrong")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn ticket_list_and_detail_have_the_documented_shape() {
    let (db, _, api, token) = seeded_api_as("admin@example.com", Role::Admin).await;

    let (s, list) = api.json("/api/v1/tickets", &token).await;
    assert_eq!(s, StatusCode::OK);
    let tickets = list["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let t = &tickets[0];
    for key in [
        "number",
        "subject",
        "status",
        "priority",
        "mailbox",
        "assignee",
        "tags",
        "customer",
        "created_at",
        "last_message_at",
        "message_count",
    ] {
        assert!(t.get(key).is_some(), "missing {key} in {t}");
    }
    assert_eq!(t["mailbox"]["address"], SUPPORT);
    assert!(
        t["created_at"].as_str().unwrap().ends_with('Z'),
        "UTC RFC 3339: {}",
        t["created_at"]
    );
    assert!(list["next_cursor"].is_null());

    // Pagination by cursor covers every ticket once.
    let (_, p1) = api.json("/api/v1/tickets?limit=1", &token).await;
    let cursor = p1["next_cursor"].as_str().expect("a next page").to_string();
    let (_, p2) = api
        .json(&format!("/api/v1/tickets?limit=1&cursor={cursor}"), &token)
        .await;
    assert_ne!(p1["tickets"][0]["number"], p2["tickets"][0]["number"]);
    assert!(p2["next_cursor"].is_null());

    let (s, bad) = api.json("/api/v1/tickets?status=bogus", &token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().contains("bogus"));
    let (s, _) = api.json("/api/v1/tickets?limit=0", &token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let threaded = tickets.iter().find(|t| t["message_count"] == 2).unwrap();
    let (s, detail) = api
        .json(&format!("/api/v1/tickets/{}", threaded["number"]), &token)
        .await;
    assert_eq!(s, StatusCode::OK);
    let m = &detail["messages"][1];
    for key in [
        "id",
        "direction",
        "from",
        "to",
        "cc",
        "reply_to",
        "subject",
        "text",
        "html",
        "message_id",
        "in_reply_to",
        "references",
        "created_at",
        "automated",
        "attachments",
    ] {
        assert!(m.get(key).is_some(), "missing {key} in message");
    }
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["in_reply_to"], "c23a-0F7E2C1B@example.org");
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "created")
    );
    db.drop_db().await;
}

#[tokio::test]
async fn attachments_download_as_attachments_with_nosniff() {
    let (db, _, api, token) = seeded_api_as("admin@example.com", Role::Admin).await;
    let id: i64 = scalar(&db.pool, "select attachment_id from attachment").await;
    let (s, h, body) = api
        .get(&format!("/api/v1/attachments/{id}"), Some(&token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.len(), 113);
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(cd.contains("filename*=UTF-8''Pr%C3%BCfbericht"), "{cd}");
    db.drop_db().await;
}

#[tokio::test]
async fn quarantine_lists_unparseable_mail_with_a_raw_link() {
    let (db, _, api, token) = seeded_api_as("admin@example.com", Role::Admin).await;
    let (s, q) = api.json("/api/v1/quarantine", &token).await;
    assert_eq!(s, StatusCode::OK);
    let entry = &q["quarantine"][0];
    assert!(entry["reason"].as_str().unwrap().contains("RFC 5322"));
    let (s, _, raw) = api
        .get(entry["raw_url"].as_str().unwrap(), Some(&token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(raw, b"garbage without headers\r\n");
    db.drop_db().await;
}

#[tokio::test]
async fn an_agent_without_access_to_the_mailbox_sees_nothing_on_any_route() {
    let (db, mb, api, token) = seeded_api_as("outsider@example.com", Role::Agent).await;
    let number: i64 = scalar(&db.pool, "select min(ticket_id) from ticket").await;
    let att: i64 = scalar(&db.pool, "select attachment_id from attachment").await;
    let q: i64 = scalar(&db.pool, "select quarantine_id from quarantine").await;

    let (s, list) = api.json("/api/v1/tickets", &token).await;
    assert_eq!(
        (s, list["tickets"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    let (s, list) = api
        .json(
            &format!("/api/v1/tickets?mailbox={}", mb.mailbox_id),
            &token,
        )
        .await;
    assert_eq!(
        (s, list["tickets"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    for path in [
        format!("/api/v1/tickets/{number}"),
        format!("/api/v1/attachments/{att}"),
        format!("/api/v1/quarantine/{q}/raw"),
    ] {
        let (s, _, body) = api.get(&path, Some(&token)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !String::from_utf8_lossy(&body).contains("example.org"),
            "{path} leaked data"
        );
    }
    let (_, qlist) = api.json("/api/v1/quarantine", &token).await;
    assert_eq!(qlist["quarantine"].as_array().unwrap().len(), 0);

    // Granted through a team, the same agent sees the mailbox.
    let agent_id: i64 = scalar(
        &db.pool,
        "select agent_id from agent where email = 'outsider@example.com'",
    )
    .await;
    grant_through_team(&db.pool, "Support", agent_id, mb.mailbox_id).await;
    let (_, list) = api.json("/api/v1/tickets", &token).await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 2);
    let (s, _) = api.json(&format!("/api/v1/tickets/{number}"), &token).await;
    assert_eq!(s, StatusCode::OK);
    db.drop_db().await;
}
