//! The Agents part of the admin console: `/api/v1/agents` and `/api/v1/me` (contract, 400s
//! naming the field, 403 for agents and leads), the `/admin/agents` pages (403 for agents and
//! leads), invitations mailed through the outbox to the real SMTP sink and their one-time
//! links (used, expired), password reset, the last-admin guard, the header's available / away
//! switch, the CLI's audit entries, and one run in real Chromium.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use frontdesk::auth::Role;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::smtp::{self, received_for, sink_dir};
use crate::support::*;

/// The password of every agent made with `support::agent`.
const PASSWORD: &str = "correct horse battery";

/// A database with a mailbox that sends to the SMTP sink, a team "Billing", and Dana (admin),
/// Lee (lead) and Ada (agent), each with an API token: (db, admin, lead, agent token).
async fn setup() -> (TestDb, String, String, String) {
    let db = TestDb::new().await;
    offline_mailbox(&db.pool, "support@example.com", Some(&smtp::sink_url())).await;
    sqlx::query("insert into team (name) values ('Billing')")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for (email, name, role) in [
        ("dana@example.com", "Dana Lee", Role::Admin),
        ("lee@example.com", "Lee Chen", Role::Lead),
        ("ada@example.com", "Ada Park", Role::Agent),
    ] {
        let id = agent(&db, email, name, role).await;
        tokens.push(
            frontdesk::auth::create_api_token(&db.pool, id)
                .await
                .unwrap(),
        );
    }
    let agent_token = tokens.pop().unwrap();
    let lead_token = tokens.pop().unwrap();
    let admin_token = tokens.pop().unwrap();
    (db, admin_token, lead_token, agent_token)
}

async fn agent_count(db: &TestDb) -> i64 {
    scalar(&db.pool, "select count(*) from agent").await
}

async fn audit_count(db: &TestDb, action: &str) -> i64 {
    scalar_for(
        &db.pool,
        "select count(*) from audit_event where action = $1",
        action,
    )
    .await
}

/// The one-time link's path (`/invite/...`) in the newest mail the sink received for `rcpt`.
async fn link_mailed_to(db: &TestDb, rcpt: &str) -> String {
    frontdesk::outbox::send_due(&db.pool).await.unwrap();
    let start = Instant::now();
    loop {
        if let Some(m) = received_for(&sink_dir(), rcpt).pop() {
            let parsed = mail_parser::MessageParser::default()
                .parse(&m.raw)
                .expect("a mail");
            let text = parsed.body_text(0).expect("a text body").into_owned();
            let at = text.find("/invite/").expect("a link in the mail");
            let path: String = text[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return path;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no mail for {rcpt} in the sink"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_agents_api_lists_invites_and_changes_agents_as_documented() {
    let (db, admin, _, _) = setup().await;
    let (s, list) = api_json(&db, "GET", "/api/v1/agents", &admin, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let dana = &list["agents"][1];
    assert_eq!(dana["email"], "dana@example.com");
    for field in [
        "email",
        "name",
        "role",
        "teams",
        "available",
        "disabled",
        "max_open_tickets",
        "open_tickets",
        "last_seen_at",
    ] {
        assert!(dana.get(field).is_some(), "{field} in {dana}");
    }
    assert_eq!(dana["role"], "admin");
    assert_eq!(dana["available"], true);
    assert_eq!(dana["max_open_tickets"], Value::Null);

    let email = format!("{}@example.com", random_name("new"));
    let (s, created) = api_json(
        &db,
        "POST",
        "/api/v1/agents",
        &admin,
        json!({"email": email, "name": "Noa Berg", "role": "agent", "teams": ["billing"], "time_zone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["email"], email.as_str());
    assert_eq!(created["teams"], json!(["Billing"]));
    assert_eq!(created["role"], "agent");
    assert_eq!(created["open_tickets"], 0);
    let queued: i64 = scalar(
        &db.pool,
        "select count(*) from outbox where invitation_id is not null and state = 'queued'",
    )
    .await;
    assert_eq!(queued, 1, "the invitation mail is in the outbox");
    let zone: String = scalar_for(
        &db.pool,
        "select time_zone from agent where email = $1",
        email.as_str(),
    )
    .await;
    assert_eq!(zone, "Europe/Berlin");
    assert_eq!(audit_count(&db, "agent.invite").await, 1);

    // Each refusal names its field and creates nothing.
    let before = agent_count(&db).await;
    for (body, field) in [
        (
            json!({"email": "x1@example.com", "name": "X", "role": "agent", "teams": ["Nope"]}),
            "teams",
        ),
        (
            json!({"email": "x2@example.com", "name": "X", "role": "boss"}),
            "role",
        ),
        (
            json!({"email": "DANA@example.com", "name": "X", "role": "agent"}),
            "email",
        ),
        (
            json!({"email": "x3@example.com", "name": "X", "role": "agent", "time_zone": "Mars/Base"}),
            "time_zone",
        ),
        (
            json!({"email": "not an address", "name": "X", "role": "agent"}),
            "email",
        ),
        (
            json!({"email": "x4@example.com", "name": " ", "role": "agent"}),
            "name",
        ),
    ] {
        let (s, e) = api_json(&db, "POST", "/api/v1/agents", &admin, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {e}");
        let msg = e["error"].as_str().unwrap();
        assert!(msg.starts_with(&format!("{field}:")), "{body} → {msg}");
    }
    assert_eq!(agent_count(&db).await, before, "nothing half-applied");
    let (s, _) = api_json(&db, "POST", "/api/v1/agents", &admin, json!({"email": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "malformed JSON");

    // PATCH
    let path = format!("/api/v1/agents/{email}");
    let (s, a) = api_json(
        &db,
        "PATCH",
        &path,
        &admin,
        json!({"name": "Noa B.", "role": "lead", "available": false, "max_open_tickets": 5}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["name"], "Noa B.");
    assert_eq!(a["role"], "lead");
    assert_eq!(a["available"], false);
    assert_eq!(a["max_open_tickets"], 5);
    let (s, a) = api_json(
        &db,
        "PATCH",
        &path,
        &admin,
        json!({"max_open_tickets": null}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["max_open_tickets"], Value::Null, "null clears the cap");
    assert_eq!(a["role"], "lead", "absent fields stay");
    let (s, a) = api_json(&db, "PATCH", &path, &admin, json!({"disabled": true})).await;
    assert_eq!((s, &a["disabled"]), (StatusCode::OK, &json!(true)));
    for (body, field) in [
        (json!({"max_open_tickets": 0}), "max_open_tickets"),
        (json!({"role": "owner"}), "role"),
        (json!({"name": ""}), "name"),
    ] {
        let (s, e) = api_json(&db, "PATCH", &path, &admin, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {e}");
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{e}"
        );
    }
    let (s, _) = api_json(
        &db,
        "PATCH",
        "/api/v1/agents/nobody@example.com",
        &admin,
        json!({"name": "X"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (before, after): (Value, Value) = sqlx::query_as(
        "select before, after from audit_event where action = 'agent.update' order by audit_event_id limit 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        before,
        json!({"name": "Noa Berg", "role": "agent", "available": true, "max_open_tickets": null})
    );
    assert_eq!(
        after,
        json!({"name": "Noa B.", "role": "lead", "available": false, "max_open_tickets": 5})
    );
    assert_eq!(audit_count(&db, "agent.update").await, 3);
    let actor: String = scalar(
        &db.pool,
        "select actor_label from audit_event where action = 'agent.update' limit 1",
    )
    .await;
    assert_eq!(actor, "dana@example.com");
    db.drop_db().await;
}

#[tokio::test]
async fn an_invitation_is_refused_while_no_mailbox_can_send_mail() {
    let (db, admin, _, _) = setup().await;
    sqlx::query("update mailbox set smtp_url = null")
        .execute(&db.pool)
        .await
        .unwrap();
    let before = agent_count(&db).await;
    let (s, e) = api_json(
        &db,
        "POST",
        "/api/v1/agents",
        &admin,
        json!({"email": "noa@example.com", "name": "Noa", "role": "agent"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("no mailbox can send mail yet"),
        "{e}"
    );
    assert_eq!(agent_count(&db).await, before);
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let page = b.get("/admin/agents").await;
    assert!(page.body.contains("No mailbox can send mail yet"));
    db.drop_db().await;
}

#[tokio::test]
async fn agents_and_leads_are_refused_every_agents_route_and_any_agent_patches_themselves() {
    let (db, _, lead, agent_token) = setup().await;
    for token in [&lead, &agent_token] {
        for (method, path, body) in [
            ("GET", "/api/v1/agents", Value::Null),
            (
                "POST",
                "/api/v1/agents",
                json!({"email": "z@example.com", "name": "Z", "role": "admin"}),
            ),
            (
                "PATCH",
                "/api/v1/agents/ada@example.com",
                json!({"role": "admin"}),
            ),
        ] {
            let (s, e) = api_json(&db, method, path, token, body).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {e}");
            assert!(e["error"].is_string());
        }
    }
    let (s, _) = api_json(&db, "GET", "/api/v1/agents", "fd_wrong", Value::Null).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let role: String = scalar(
        &db.pool,
        "select role from agent where email = 'ada@example.com'",
    )
    .await;
    assert_eq!(role, "agent");

    let (s, me) = api_json(
        &db,
        "PATCH",
        "/api/v1/me",
        &agent_token,
        json!({"available": false, "time_zone": "Asia/Tokyo"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({"email": "ada@example.com", "available": false, "time_zone": "Asia/Tokyo"})
    );
    let (s, e) = api_json(
        &db,
        "PATCH",
        "/api/v1/me",
        &lead,
        json!({"time_zone": "Nowhere/Land"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().starts_with("time_zone:"));

    for who in ["lee@example.com", "ada@example.com"] {
        let mut b = Browser::signed_in(&db, who).await;
        for path in ["/admin/agents", "/admin/agents/ada@example.com"] {
            assert_eq!(
                b.get(path).await.status,
                StatusCode::FORBIDDEN,
                "{who} GET {path}"
            );
        }
        for (path, form) in [
            (
                "/admin/agents",
                vec![("email", "z@example.com"), ("name", "Z"), ("role", "admin")],
            ),
            (
                "/admin/agents/ada@example.com",
                vec![
                    ("name", "Ada"),
                    ("role", "admin"),
                    ("availability", "available"),
                    ("max_open_tickets", ""),
                ],
            ),
            ("/admin/agents/ada@example.com/disable", vec![]),
            ("/admin/agents/ada@example.com/enable", vec![]),
            ("/admin/agents/ada@example.com/reset-password", vec![]),
        ] {
            let p = b.post(path, &form).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{who} POST {path}");
        }
    }
    let n: i64 = scalar(&db.pool, "select count(*) from audit_event").await;
    assert_eq!(n, 0, "nothing changed");
    db.drop_db().await;
}

#[tokio::test]
async fn an_invitation_mailed_from_the_page_sets_a_password_once_and_signs_in() {
    let (db, _, _, _) = setup().await;
    let email = format!("{}@example.com", random_name("invitee"));
    let mut admin = Browser::signed_in(&db, "dana@example.com").await;
    let page = admin.get("/admin/agents").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Invite an agent"));

    // A refusal comes back next to its field.
    let p = admin
        .post(
            "/admin/agents",
            &[
                ("email", "dana@example.com"),
                ("name", "Again"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"email-error\""), "{}", p.body);

    let p = admin
        .post(
            "/admin/agents",
            &[
                ("email", &email),
                ("name", "Noa Berg"),
                ("role", "agent"),
                ("teams", "Billing"),
                ("time_zone", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let list = admin.get("/admin/agents").await.body;
    assert!(list.contains(&format!("Invited {email}")), "notice");
    assert!(list.contains("Noa Berg") && list.contains("invited"));

    // Nobody can sign in with a password before the link is used.
    let hash: String = scalar_for(
        &db.pool,
        "select password_hash from agent where email = $1",
        email.as_str(),
    )
    .await;
    assert!(!hash.starts_with("$argon2"));

    let link = link_mailed_to(&db, &email).await;
    let mut noa = Browser::new(&db);
    let form = noa.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Welcome to Frontdesk, Noa Berg"));
    let short = noa
        .post(
            &link,
            &[("password", "short"), ("confirm_password", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("at least 8 characters"));
    let done = noa
        .post(
            &link,
            &[
                ("password", "a new long secret"),
                ("confirm_password", "a new long secret"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/inbox"));
    let inbox = noa.get("/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK, "signed in");
    assert!(inbox.body.contains("Noa Berg"));

    // Used once: the link now says so and sets nothing.
    let again = Browser::new(&db).get(&link).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already used"));
    let again = Browser::new(&db)
        .post(
            &link,
            &[
                ("password", "another secret!"),
                ("confirm_password", "another secret!"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    let mut other = Browser::new(&db);
    assert_eq!(
        other.login(&email, "a new long secret").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(audit_count(&db, "agent.invite").await, 1);
    assert_eq!(audit_count(&db, "agent.password_set").await, 1);
    db.drop_db().await;
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let (db, admin, _, _) = setup().await;
    let email = format!("{}@example.com", random_name("late"));
    let (s, _) = api_json(
        &db,
        "POST",
        "/api/v1/agents",
        &admin,
        json!({"email": email, "name": "Late", "role": "agent"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let link = link_mailed_to(&db, &email).await;
    let expires: bool = scalar(
        &db.pool,
        "select expires_at between now() + interval '71 hours 59 minutes' and now() + interval '72 hours'
         from invitation",
    )
    .await;
    assert!(expires, "valid 72 hours");
    sqlx::query("update invitation set expires_at = now() - interval '1 minute'")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut b = Browser::new(&db);
    let p = b.get(&link).await;
    assert_eq!(p.status, StatusCode::GONE);
    assert!(p.body.contains("expired"));
    let p = b
        .post(
            &link,
            &[
                ("password", "a new long secret"),
                ("confirm_password", "a new long secret"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::GONE);
    assert_eq!(
        b.get("/inbox").await.status,
        StatusCode::SEE_OTHER,
        "not signed in"
    );
    assert_eq!(
        Browser::new(&db).get("/invite/0123abcd").await.status,
        StatusCode::NOT_FOUND
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
    let (db, admin, _, _) = setup().await;
    let path = "/api/v1/agents/dana@example.com";
    let (s, e) = api_json(&db, "PATCH", path, &admin, json!({"disabled": true})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().starts_with("disabled:"), "{e}");
    let (s, e) = api_json(&db, "PATCH", path, &admin, json!({"role": "lead"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().starts_with("role:"), "{e}");

    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let p = b.post("/admin/agents/dana@example.com/disable", &[]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("last active admin"));
    let active: bool = scalar(
        &db.pool,
        "select disabled_at is null from agent where email = 'dana@example.com'",
    )
    .await;
    assert!(active);

    // With a second admin, Dana can step down.
    let (s, _) = api_json(
        &db,
        "PATCH",
        "/api/v1/agents/lee@example.com",
        &admin,
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, a) = api_json(&db, "PATCH", path, &admin, json!({"role": "lead"})).await;
    assert_eq!((s, &a["role"]), (StatusCode::OK, &json!("lead")));
    db.drop_db().await;
}

#[tokio::test]
async fn a_password_reset_ends_the_sessions_and_mails_a_link_for_a_new_one() {
    let (db, _, _, _) = setup().await;
    let email = format!("{}@example.com", random_name("reset"));
    agent(&db, &email, "Rae", Role::Agent).await;
    let mut rae = Browser::signed_in(&db, &email).await;
    assert_eq!(rae.get("/inbox").await.status, StatusCode::OK);

    let mut admin = Browser::signed_in(&db, "dana@example.com").await;
    let page = admin.get(&format!("/admin/agents/{email}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Reset password"));
    let p = admin
        .post(&format!("/admin/agents/{email}/reset-password"), &[])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    assert_eq!(
        rae.get("/inbox").await.status,
        StatusCode::SEE_OTHER,
        "session ended"
    );
    assert_eq!(
        Browser::new(&db).login(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let link = link_mailed_to(&db, &email).await;
    let mut b = Browser::new(&db);
    assert!(b.get(&link).await.body.contains("Choose a new password"));
    let p = b
        .post(
            &link,
            &[
                ("password", "fresh password 1"),
                ("confirm_password", "fresh password 1"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/inbox"));
    assert_eq!(audit_count(&db, "agent.password_reset").await, 1);

    // The edit form: cap and away, audited; a bad cap is shown next to the field.
    let p = admin
        .post(
            &format!("/admin/agents/{email}"),
            &[
                ("name", "Rae"),
                ("role", "agent"),
                ("availability", "away"),
                ("max_open_tickets", "-2"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"max_open_tickets-error\""));
    let p = admin
        .post(
            &format!("/admin/agents/{email}"),
            &[
                ("name", "Rae"),
                ("role", "agent"),
                ("availability", "away"),
                ("max_open_tickets", "7"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (available, cap): (bool, Option<i32>) =
        sqlx::query_as("select available, max_open_tickets from agent where email = $1")
            .bind(&email)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((available, cap), (false, Some(7)));
    db.drop_db().await;
}

#[tokio::test]
async fn every_agent_switches_available_and_away_from_the_header() {
    let (db, _, _, _) = setup().await;
    let mut ada = Browser::signed_in(&db, "ada@example.com").await;
    let inbox = ada.get("/inbox").await.body;
    assert!(inbox.contains("action=\"/me/availability\""));
    assert!(inbox.contains(">Available</button>"));
    let p = ada
        .post(
            "/me/availability",
            &[("availability", "away"), ("next", "/inbox?status=open")],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/inbox?status=open"));
    assert!(ada.get("/inbox").await.body.contains(">Away</button>"));
    let p = ada
        .post(
            "/me/availability",
            &[("availability", "available"), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/inbox"), "only local paths");
    let available: bool = scalar(
        &db.pool,
        "select available from agent where email = 'ada@example.com'",
    )
    .await;
    assert!(available);
    db.drop_db().await;
}

#[tokio::test]
async fn cli_changes_are_in_the_audit_log_with_actor_cli() {
    let (db, _, _, _) = setup().await;
    let run = |args: Vec<&'static str>| {
        let url = db.url.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
                .args(args)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    run(vec!["agent", "disable", "ada@example.com"]).await;
    run(vec!["token", "create", "--agent", "lee@example.com"]).await;
    let rows: Vec<(String, String, String, Value)> = sqlx::query_as(
        "select actor_label, action, target, after from audit_event order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("cli", "agent.update", "ada@example.com")
    );
    assert_eq!(rows[0].3, json!({"disabled": true}));
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str()),
        ("cli", "token.create")
    );
    assert_eq!(rows[1].3["token"], "changed", "never the secret");
    let kind: String = scalar(&db.pool, "select distinct actor_kind from audit_event").await;
    assert_eq!(kind, "cli");
    db.drop_db().await;
}

// ---- real Chromium ----

/// The whole application on a loopback port (web server and outbox sender), as `frontdesk
/// serve` runs it.
struct App {
    base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl App {
    async fn start(db: &TestDb) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = frontdesk::config::Config::from_env().unwrap();
        config.db.url = Some(db.url.clone());
        config.public_url = base.clone();
        config.node_id = "admin-agents-browser".into();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(frontdesk::app::run(
            config,
            db.pool.clone(),
            listener,
            shutdown.clone(),
        ));
        App {
            base,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A headless Chromium with a fresh profile (WebDriver at `FRONTDESK_TEST_WEBDRIVER`; a
/// WebDriver that cannot be reached fails the test).
async fn chromium() -> (Client, std::path::PathBuf) {
    let webdriver = std::env::var("FRONTDESK_TEST_WEBDRIVER")
        .expect("FRONTDESK_TEST_WEBDRIVER is not set: run the tests through scripts/test");
    let profile = std::env::temp_dir().join(random_name("frontdesk-chromium-"));
    std::fs::create_dir_all(&profile).unwrap();
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--window-size=1280,900",
                 format!("--user-data-dir={}", profile.display())],
    });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .unwrap_or_else(|e| panic!("no Chromium session from {webdriver}: {e}"));
    (client, profile)
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
}

/// Clicks and waits until a new document has loaded.
async fn click_and_load(c: &Client, css: &str) {
    c.execute("window.__old = true; return null;", vec![])
        .await
        .unwrap();
    find(c, css).await.click().await.unwrap();
    let start = Instant::now();
    loop {
        let v = c
            .execute(
                "return !window.__old && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(v, Ok(Value::Bool(true))) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no new page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

#[tokio::test]
async fn in_chromium_an_admin_invites_an_agent_whose_mailed_link_sets_a_password_and_signs_in() {
    let (db, _, _, _) = setup().await;
    let app = App::start(&db).await;
    let (c, profile) = chromium().await;
    let email = format!("{}@example.com", random_name("chromium"));

    c.goto(&format!("{}/login", app.base)).await.unwrap();
    find(&c, "#email")
        .await
        .send_keys("dana@example.com")
        .await
        .unwrap();
    find(&c, "#password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click_and_load(&c, "form[action='/login'] button[type=submit]").await;
    assert_eq!(path(&c).await, "/inbox");

    c.goto(&format!("{}/admin/agents", app.base)).await.unwrap();
    find(&c, "#invite-email")
        .await
        .send_keys(&email)
        .await
        .unwrap();
    find(&c, "#invite-name")
        .await
        .send_keys("Ines Chromium")
        .await
        .unwrap();
    find(&c, "input[name=teams][value=Billing]")
        .await
        .click()
        .await
        .unwrap();
    click_and_load(&c, "form.invite button[type=submit]").await;
    assert_eq!(path(&c).await, "/admin/agents");
    let table = find(&c, "table.agents").await.text().await.unwrap();
    assert!(
        table.contains("Ines Chromium") && table.contains("Billing"),
        "{table}"
    );

    // The app's own outbox worker mails the invitation to the sink.
    let start = Instant::now();
    let mail = loop {
        if let Some(m) = received_for(&sink_dir(), &email).pop() {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no invitation mail for {email}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(mail.mail_from, "support@example.com");
    let text = mail_parser::MessageParser::default()
        .parse(&mail.raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    let at = text.find(&app.base).expect("the link in the mail");
    let link: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    // A fresh browser (signed out) opens the link from the mail.
    c.delete_all_cookies().await.unwrap();
    c.goto(&link).await.unwrap();
    find(&c, "#password")
        .await
        .send_keys("ines secret 42")
        .await
        .unwrap();
    find(&c, "#confirm_password")
        .await
        .send_keys("ines secret 42")
        .await
        .unwrap();
    click_and_load(&c, "main.invite button[type=submit]").await;
    assert_eq!(path(&c).await, "/inbox");
    let who = find(&c, ".who").await.text().await.unwrap();
    assert_eq!(who, "Ines Chromium");

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_event where target = $1 order by audit_event_id",
    )
    .bind(&email)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["agent.invite", "agent.password_set"]);
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(profile);
    app.stop().await;
    db.drop_db().await;
}
