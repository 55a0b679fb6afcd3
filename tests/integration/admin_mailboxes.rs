//! The admin console's mailboxes and teams: the JSON API contract (400s naming the field,
//! nothing half-applied), write-only passwords (never in a response, a page or the audit log),
//! 403 for agents and leads on every route, Test connection against the real test Dovecot and
//! SMTP sink, the From name format and signature in a sent reply, the CLI's audit entries, and
//! one real-Chromium run through the form.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use frontdesk::auth::Role;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::smtp::{received_with_message_id, sink_dir, sink_url};
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");

/// An agent with this role and a real password, and an API token of theirs.
async fn with_token(db: &TestDb, email: &str, role: Role) -> String {
    let id = agent(db, email, "Test Person", role).await;
    frontdesk::auth::create_api_token(&db.pool, id)
        .await
        .unwrap()
}

/// Everything the audit log holds, as text.
async fn audit_text(db: &TestDb) -> String {
    let rows: Vec<String> = sqlx::query_scalar(
        "select concat_ws(' ', actor_label, action, target, before::text, after::text) from audit_event order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.join("\n")
}

async fn stored_imap_url(db: &TestDb, address: &str) -> String {
    scalar_for(
        &db.pool,
        "select imap_url from mailbox where address = $1",
        address,
    )
    .await
}

#[tokio::test]
async fn mailbox_and_team_api_follow_the_contract_and_never_return_a_password() {
    let db = TestDb::new().await;
    let admin = with_token(&db, "ada@example.com", Role::Admin).await;
    let lead = with_token(&db, "lee@example.com", Role::Lead).await;
    let member = with_token(&db, "max@example.com", Role::Agent).await;

    let body = json!({
        "name": "Example Support",
        "address": "support@example.com",
        "imap_url": "imaps://support%40example.com:Imap-Pw-4711@mail.example.com/INBOX?folder=Spam",
        "smtp_url": "smtps://support%40example.com:Smtp-Pw-0815@mail.example.com",
        "signature": "Example Support\nexample.com",
    });
    // Agents and leads are refused on every route, before anything happens.
    for token in [&lead, &member] {
        for (method, path, b) in [
            ("GET", "/api/v1/mailboxes", Value::Null),
            ("POST", "/api/v1/mailboxes", body.clone()),
            (
                "PATCH",
                "/api/v1/mailboxes/support@example.com",
                json!({"name": "X"}),
            ),
            (
                "POST",
                "/api/v1/mailboxes/support@example.com/test",
                Value::Null,
            ),
            ("GET", "/api/v1/teams", Value::Null),
            ("POST", "/api/v1/teams", json!({"name": "T"})),
            ("PATCH", "/api/v1/teams/T", json!({"assignment": "manual"})),
        ] {
            let (s, v) = api_json(&db, method, path, token, b).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert!(v["error"].is_string(), "{method} {path}: {v}");
        }
    }
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from mailbox").await,
        0
    );

    let (s, created) = api_json(&db, "POST", "/api/v1/mailboxes", &admin, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["imap_url"],
        "imaps://support%40example.com@mail.example.com/INBOX?folder=Spam"
    );
    assert!(
        created["smtp_url"]
            .as_str()
            .unwrap()
            .starts_with("smtps://support%40example.com@mail.example.com"),
        "{created}"
    );
    assert_eq!(created["from_name_format"], "{agent} via {mailbox}");
    assert_eq!(created["enabled"], true);
    assert!(created["health"].is_object());

    // Bad input: 400 naming the field, nothing stored.
    let bad = [
        (json!({"address": "SUPPORT@example.com"}), "address"),
        (
            json!({"address": "new@example.com", "imap_url": "http://a:b@h/"}),
            "imap_url",
        ),
        (
            json!({"address": "new@example.com", "imap_url": "imap://a@mail.example.com/"}),
            "imap_url",
        ),
        (
            json!({"address": "new@example.com", "smtp_url": "smtp://u:p@mail.example.com"}),
            "smtp_url",
        ),
        (
            json!({"address": "new@example.com", "team": "Nobody"}),
            "team",
        ),
        (json!({"address": "not an address"}), "address"),
    ];
    for (patch, field) in bad {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, v) = api_json(&db, "POST", "/api/v1/mailboxes", &admin, b).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{patch}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(field),
            "{patch}: {v}"
        );
    }
    let (s, _) = api_json(
        &db,
        "POST",
        "/api/v1/mailboxes",
        &admin,
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "missing fields");
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from mailbox").await,
        1
    );

    // PATCH: a bad field refuses the whole change.
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"name": "Renamed", "smtp_url": "ftp://x"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().starts_with("smtp_url"), "{v}");
    let name: String = scalar(&db.pool, "select name from mailbox").await;
    assert_eq!(name, "Example Support", "nothing half-applied");

    // The URL as the API returns it, edited, keeps the stored password.
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"imap_url": "imaps://support%40example.com@mail.example.com/INBOX?folder=Junk", "signature": "Thanks"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["signature"], "Thanks");
    let stored = stored_imap_url(&db, "support@example.com").await;
    assert!(
        stored.contains("Imap-Pw-4711") && stored.contains("folder=Junk"),
        "{stored}"
    );
    // A new password replaces it.
    let (s, _) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"imap_url": "imaps://support%40example.com:Imap-New-999@mail.example.com/INBOX", "enabled": false}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        stored_imap_url(&db, "support@example.com")
            .await
            .contains("Imap-New-999")
    );
    let (s, _) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/nobody@example.com",
        &admin,
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, list) = api_json(&db, "GET", "/api/v1/mailboxes", &admin, Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["mailboxes"][0]["enabled"], false);

    // Teams.
    let (s, team) = api_json(
        &db,
        "POST",
        "/api/v1/teams",
        &admin,
        json!({"name": "Billing", "members": ["max@example.com"], "mailboxes": ["support@example.com"], "assignment": "round_robin"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    assert_eq!(
        team,
        json!({"name": "Billing", "assignment": "round_robin", "away_after_minutes": null, "members": ["max@example.com"], "mailboxes": ["support@example.com"]})
    );
    for (b, field) in [
        (json!({"name": "Billing"}), "name"),
        (
            json!({"name": "Ops", "members": ["ghost@example.com"]}),
            "members",
        ),
        (
            json!({"name": "Ops", "mailboxes": ["ghost@example.com"]}),
            "mailboxes",
        ),
        (json!({"name": "Ops", "assignment": "random"}), "assignment"),
        (json!({"members": []}), "name"),
    ] {
        let (s, v) = api_json(&db, "POST", "/api/v1/teams", &admin, b.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}: {v}");
        assert!(v["error"].as_str().unwrap().starts_with(field), "{b}: {v}");
    }
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from team").await,
        1
    );
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/teams/Billing",
        &admin,
        json!({"assignment": "least_loaded", "mailboxes": ["ghost@example.com"]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let mode: String = scalar(&db.pool, "select assignment from team").await;
    assert_eq!(mode, "round_robin", "nothing half-applied");
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/teams/Billing",
        &admin,
        json!({"assignment": "least_loaded", "members": ["lee@example.com", "ada@example.com"], "mailboxes": []}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["members"], json!(["ada@example.com", "lee@example.com"]));
    assert_eq!(v["mailboxes"], json!([]));
    let (_, teams) = api_json(&db, "GET", "/api/v1/teams", &admin, Value::Null).await;
    assert_eq!(teams["teams"][0]["assignment"], "least_loaded");
    let (s, _) = api_json(&db, "PATCH", "/api/v1/teams/Nope", &admin, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // No password anywhere: responses, pages, audit log.
    let mut admin_tab = Browser::signed_in(&db, "ada@example.com").await;
    let id: i64 = scalar(&db.pool, "select mailbox_id from mailbox").await;
    let list_page = admin_tab.get("/admin/mailboxes").await;
    assert_eq!(list_page.status, StatusCode::OK);
    let edit_page = admin_tab.get(&format!("/admin/mailboxes/{id}")).await;
    assert_eq!(edit_page.status, StatusCode::OK);
    assert!(edit_page.body.contains("mail.example.com"));
    let audit = audit_text(&db).await;
    assert!(
        audit.contains("mailbox.create") && audit.contains("team.update"),
        "{audit}"
    );
    assert!(audit.contains("\"imap_password\": \"changed\""), "{audit}");
    let everything = format!("{created}{list}{}{}{audit}", list_page.body, edit_page.body);
    for secret in ["Imap-Pw-4711", "Smtp-Pw-0815", "Imap-New-999"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }

    // The pages refuse agents and leads.
    let team_id: i64 = scalar(&db.pool, "select team_id from team").await;
    for email in ["lee@example.com", "max@example.com"] {
        let mut tab = Browser::signed_in(&db, email).await;
        for path in [
            "/admin/mailboxes".to_string(),
            "/admin/mailboxes/new".into(),
            format!("/admin/mailboxes/{id}"),
            "/admin/teams".into(),
            format!("/admin/teams/{team_id}"),
        ] {
            assert_eq!(
                tab.get(&path).await.status,
                StatusCode::FORBIDDEN,
                "{email} GET {path}"
            );
        }
        for path in [
            "/admin/mailboxes/new".to_string(),
            format!("/admin/mailboxes/{id}"),
            format!("/admin/mailboxes/{id}/test"),
            format!("/admin/mailboxes/{id}/enabled"),
            "/admin/teams".into(),
            format!("/admin/teams/{team_id}"),
        ] {
            let p = tab.post(&path, &[("name", "x"), ("enabled", "true")]).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{email} POST {path}");
        }
    }
    db.drop_db().await;
}

#[tokio::test]
async fn forms_show_errors_next_to_the_field_and_keep_the_password_when_left_empty() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let mut tab = Browser::signed_in(&db, "ada@example.com").await;
    let form = |password: &'static str, port: &'static str| {
        vec![
            ("name", "Example Support"),
            ("address", "support@example.com"),
            ("from_name_format", "{agent} at {mailbox}"),
            ("signature", ""),
            ("team", ""),
            ("imap_host", "mail.example.com"),
            ("imap_port", port),
            ("imap_security", "tls"),
            ("imap_user", "support"),
            ("imap_password", password),
            ("imap_folders", "INBOX\nSpam"),
            ("smtp_host", ""),
            ("smtp_port", ""),
            ("smtp_security", "tls"),
            ("smtp_user", ""),
            ("smtp_password", ""),
        ]
    };
    let p = tab.post("/admin/mailboxes/new", &form("", "")).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"imap_password-error\""), "{}", p.body);
    let p = tab
        .post("/admin/mailboxes/new", &form("PwForm1x", "99999"))
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"imap_port-error\""), "{}", p.body);
    assert!(
        !p.body.contains("PwForm1x"),
        "a typed password is not sent back"
    );
    let p = tab
        .post("/admin/mailboxes/new", &form("PwForm1x", ""))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let to = p.location.unwrap();
    assert!(
        stored_imap_url(&db, "support@example.com")
            .await
            .contains("PwForm1x")
    );
    // Edit with the password left empty: the stored one stays.
    let id = to
        .trim_start_matches("/admin/mailboxes/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let mut edit = form("", "993");
    edit[0] = ("name", "Support Desk");
    let p = tab.post(&format!("/admin/mailboxes/{id}"), &edit).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let url = stored_imap_url(&db, "support@example.com").await;
    assert!(url.contains("PwForm1x"), "{url}");
    let page = tab.get(&format!("/admin/mailboxes/{id}")).await;
    assert!(!page.body.contains("PwForm1x"));
    assert!(page.body.contains("Support Desk"));
    // A team and the mailbox's team.
    let p = tab
        .post("/admin/teams", &[("name", ""), ("assignment", "manual")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"name-error\""));
    let p = tab
        .post(
            "/admin/teams",
            &[("name", "Billing"), ("assignment", "least_loaded")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let team_path = p.location.unwrap();
    let team_path = team_path.split('?').next().unwrap();
    let p = tab
        .post(
            team_path,
            &[
                ("name", "Billing"),
                ("assignment", "round_robin"),
                ("members", "ada@example.com"),
                ("mailboxes", "support@example.com"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let list = tab.get("/admin/teams").await;
    assert!(
        list.body.contains("Round robin") && list.body.contains("ada@example.com"),
        "{}",
        list.body
    );
    let p = tab
        .post(
            &format!("/admin/mailboxes/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let audit = audit_text(&db).await;
    for action in [
        "mailbox.create",
        "mailbox.update",
        "mailbox.disable",
        "team.create",
        "team.update",
    ] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }
    assert!(!audit.contains("PwForm1x"));
    db.drop_db().await;
}

#[tokio::test]
async fn test_connection_shows_the_real_answers_of_dovecot_and_the_smtp_sink() {
    let db = TestDb::new().await;
    let admin = with_token(&db, "ada@example.com", Role::Admin).await;
    agent(&db, "dana@example.com", "Dana", Role::Admin).await;
    let user = random_name("u");
    let (s, v) = api_json(
        &db,
        "POST",
        "/api/v1/mailboxes",
        &admin,
        json!({"name": "Support", "address": "support@example.com",
               "imap_url": format!("imap://{user}:secret@{}/INBOX", imap_addr()),
               "smtp_url": sink_url()}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api_json(
        &db,
        "POST",
        "/api/v1/mailboxes/support@example.com/test",
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["imap"]["ok"], true, "{v}");
    let imap = v["imap"]["message"].as_str().unwrap();
    assert!(
        imap.starts_with("IMAP: 0 messages in INBOX, IDLE supported"),
        "{imap}"
    );
    assert_eq!(v["smtp"]["ok"], true, "{v}");
    assert!(
        v["smtp"]["message"]
            .as_str()
            .unwrap()
            .starts_with("SMTP: connected"),
        "{v}"
    );

    // A wrong password: Dovecot's own answer, without the password.
    let (s, _) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"imap_url": format!("imap://{user}:Wrong-Pass-42@{}/INBOX", imap_addr()),
               "smtp_url": format!("smtp://127.0.0.1:{}", smtp::free_port())}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = api_json(
        &db,
        "POST",
        "/api/v1/mailboxes/support@example.com/test",
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(v["imap"]["ok"], false, "{v}");
    let imap = v["imap"]["message"].as_str().unwrap();
    assert!(
        imap.starts_with("IMAP: ") && imap.contains("AUTHENTICATIONFAILED"),
        "{imap}"
    );
    assert!(!v.to_string().contains("Wrong-Pass-42"));
    assert_eq!(v["smtp"]["ok"], false, "{v}");
    assert!(
        v["smtp"]["message"].as_str().unwrap().starts_with("SMTP: "),
        "{v}"
    );

    // The page shows the same answers.
    let id: i64 = scalar(&db.pool, "select mailbox_id from mailbox").await;
    let mut tab = Browser::signed_in(&db, "dana@example.com").await;
    let p = tab.post(&format!("/admin/mailboxes/{id}/test"), &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("AUTHENTICATIONFAILED"), "{}", p.body);
    assert!(!p.body.contains("Wrong-Pass-42"));
    db.drop_db().await;
}

#[tokio::test]
async fn from_name_format_and_signature_reach_the_customer_in_a_sent_reply() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    app.smtp_to_sink().await;
    let db = &app.db;
    let admin = with_token(db, "ada@example.com", Role::Admin).await;
    let dana = with_token(db, "dana@example.com", Role::Agent).await;
    execute_for(
        &db.pool,
        "update agent set name = 'Dana' where email = $1",
        "dana@example.com",
    )
    .await;
    grant_through_team(
        &db.pool,
        "Support",
        scalar(
            &db.pool,
            "select agent_id from agent where email = 'dana@example.com'",
        )
        .await,
        app.mb.mailbox_id,
    )
    .await;
    let (s, v) = api_json(
        db,
        "PATCH",
        &format!("/api/v1/mailboxes/{SUPPORT}"),
        &admin,
        json!({"from_name_format": "{agent} at {mailbox}", "signature": "Example Support\nhttps://example.com/help"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let n = app.only_ticket_id().await;
    let (s, v) = api_json(
        db,
        "POST",
        &format!("/api/v1/tickets/{n}/replies"),
        &dana,
        json!({"text": "We have refunded the second charge."}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(frontdesk::outbox::send_due(&db.pool).await.unwrap(), 1);
    let message_id: String = scalar(
        &db.pool,
        "select header_message_id from message where direction = 'outbound'",
    )
    .await;
    let got = received_with_message_id(&sink_dir(), &message_id);
    assert_eq!(got.len(), 1);
    let from = got[0].header("From").unwrap();
    assert!(
        from.contains("Dana at Example Support") && from.contains("<support@example.com>"),
        "{from}"
    );
    let raw = String::from_utf8_lossy(&got[0].raw).replace("=\r\n", "");
    assert!(
        raw.contains("-- \r\nExample Support\r\nhttps://example.com/help")
            || raw.contains("--=20\r\nExample Support\r\nhttps://example.com/help"),
        "{raw}"
    );
    app.finish().await;
}

#[tokio::test]
async fn cli_changes_to_mailboxes_and_teams_are_audited_with_actor_cli() {
    let db = TestDb::new().await;
    let run = |args: Vec<&'static str>| {
        let url = db.url.clone();
        async move {
            let out = tokio::process::Command::new(BIN)
                .args(&args)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    run(vec![
        "mailbox",
        "add",
        "--name",
        "Billing",
        "--address",
        "billing@example.com",
        "--imap-url",
        "imap://billing:Cli-Secret-7@127.0.0.1:1/INBOX",
    ])
    .await;
    run(vec![
        "mailbox",
        "disable",
        "--address",
        "billing@example.com",
    ])
    .await;
    run(vec!["team", "add", "Finance"]).await;
    run(vec!["team", "grant", "Finance", "billing@example.com"]).await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select actor_label, action, target from audit_event order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want = [
        ("cli", "mailbox.create", "billing@example.com"),
        ("cli", "mailbox.disable", "billing@example.com"),
        ("cli", "team.create", "Finance"),
        ("cli", "team.update", "Finance"),
    ];
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, want);
    assert!(!audit_text(&db).await.contains("Cli-Secret-7"));
    db.drop_db().await;
}

// --- The form in a real Chromium -------------------------------------------------------

const WAIT: Duration = Duration::from_secs(15);

/// The whole application on a loopback port, as `frontdesk serve` runs it.
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
        config.node_id = "admin-mailboxes-test".into();
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
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

async fn chrome() -> Client {
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
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .unwrap_or_else(|e| panic!("no Chromium session from {webdriver}: {e}"))
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
}

/// Clicks and waits until a new document has loaded.
async fn click_and_wait(c: &Client, css: &str) {
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
        assert!(start.elapsed() < WAIT, "no new page after clicking {css}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let e = find(c, css).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn an_admin_adds_a_mailbox_in_the_browser_tests_it_and_sees_a_wrong_password_fail() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let app = App::start(&db).await;
    let c = chrome().await;
    let result = async {
        c.goto(&format!("{}/login", app.base)).await.unwrap();
        type_into(&c, "#email", "dana@example.com").await;
        type_into(&c, "#password", "correct horse battery").await;
        click_and_wait(&c, "form[action='/login'] button[type=submit]").await;

        c.goto(&format!("{}/admin/mailboxes/new", app.base))
            .await
            .unwrap();
        let (imap_host, imap_port) = imap_addr()
            .split_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .unwrap();
        let sink = sink_url();
        let (smtp_host, smtp_port) = sink
            .trim_start_matches("smtp://")
            .split_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .unwrap();
        let user = random_name("u");
        type_into(&c, "#name", "Example Support").await;
        type_into(&c, "#address", "support@example.com").await;
        type_into(&c, "#imap_host", &imap_host).await;
        type_into(&c, "#imap_port", &imap_port).await;
        find(&c, "#imap_security option[value=none]")
            .await
            .click()
            .await
            .unwrap();
        type_into(&c, "#imap_user", &user).await;
        type_into(&c, "#imap_password", "secret").await;
        type_into(&c, "#smtp_host", &smtp_host).await;
        type_into(&c, "#smtp_port", &smtp_port).await;
        find(&c, "#smtp_security option[value=none]")
            .await
            .click()
            .await
            .unwrap();
        click_and_wait(&c, "#save-mailbox").await;
        let path = c.current_url().await.unwrap().path().to_string();
        assert!(path.starts_with("/admin/mailboxes/"), "{path}");

        click_and_wait(&c, "#test-connection").await;
        let imap = find(&c, "#imap-check").await.text().await.unwrap();
        assert!(imap.starts_with("IMAP: 0 messages in INBOX"), "{imap}");
        let smtp = find(&c, "#smtp-check").await.text().await.unwrap();
        assert!(smtp.starts_with("SMTP: connected"), "{smtp}");

        // Edit with a wrong password: the test shows Dovecot's refusal.
        type_into(&c, "#imap_password", "Wrong-Browser-Pw").await;
        click_and_wait(&c, "#save-mailbox").await;
        click_and_wait(&c, "#test-connection").await;
        let imap = find(&c, "#imap-check").await.text().await.unwrap();
        assert!(
            imap.starts_with("IMAP: ") && imap.contains("AUTHENTICATIONFAILED"),
            "{imap}"
        );
        let source = c.source().await.unwrap();
        assert!(!source.contains("Wrong-Browser-Pw") && !source.contains("value=\"secret\""));
    }
    .await;
    let _ = c.close().await;
    app.stop().await;
    let _: () = result;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select actor_label, action, coalesce(after::text, '') from audit_event order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("dana@example.com", "mailbox.create")
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str()),
        ("dana@example.com", "mailbox.update")
    );
    assert!(
        rows[1].2.contains("\"imap_password\": \"changed\""),
        "{rows:?}"
    );
    assert!(!format!("{rows:?}").contains("Wrong-Browser-Pw"));
    db.drop_db().await;
}
