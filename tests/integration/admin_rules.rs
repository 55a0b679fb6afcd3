//! The Rules page of the admin console: 403 for agents and leads on every route, a rule made
//! from the editor's rows stored as the expected JSON, errors beside the row they name (and
//! nothing stored), Up / Down, the toggle, Delete with its confirmation, "Test on recent
//! tickets" through the form (writes nothing), and one run in real Chromium from the editor to
//! the ticket page of a newly ingested mail.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use frontdesk::audit::AuditActor;
use frontdesk::rules::store;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::*;

/// A plain customer mail to support@example.com.
fn mail(i: usize, from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer {i} <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <admin-rules-{i}-{}@example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, message {i}.\r\n",
        random_name("m")
    )
    .into_bytes()
}

async fn deliver(app: &TestApp, mails: &[Vec<u8>]) {
    let raw: Vec<&[u8]> = mails.iter().map(Vec::as_slice).collect();
    app.mb.deliver("INBOX", &raw).await;
}

/// A rule stored by the CLI actor; returns its id.
async fn rule(db: &TestDb, name: &str) -> i64 {
    store::create(
        &db.pool,
        &AuditActor::Cli,
        &json!({"name": name, "trigger": "ticket_created",
                "conditions": {"all": [{"field": "subject", "op": "contains", "value": name}]},
                "actions": [{"type": "add_tag", "tag": "t"}]}),
    )
    .await
    .unwrap()
    .id
}

async fn order(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("select name from rule order by position, rule_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn stored_json(db: &TestDb, id: i64) -> Value {
    let mut conn = db.pool.acquire().await.unwrap();
    store::get(&mut conn, id)
        .await
        .unwrap()
        .unwrap()
        .rule
        .to_json()
}

/// The text of the element with this id (its opening tag to the next closing `</p>`).
fn element_text<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</").unwrap_or(rest.len())]
}

#[tokio::test]
async fn agents_and_leads_are_refused_on_every_rules_page() {
    let db = TestDb::new().await;
    agent(&db, "lee@example.com", "Lee Lead", Role::Lead).await;
    agent(&db, "max@example.com", "Max Agent", Role::Agent).await;
    let id = rule(&db, "Refunds").await;
    rule(&db, "Second").await;
    let before = stored_json(&db, id).await;
    for email in ["lee@example.com", "max@example.com"] {
        let mut b = Browser::signed_in(&db, email).await;
        for path in [
            "/admin/rules".to_string(),
            "/admin/rules/new".to_string(),
            format!("/admin/rules/{id}"),
        ] {
            let p = b.get(&path).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{email} GET {path}");
        }
        for (path, form) in [
            (
                "/admin/rules/new".to_string(),
                vec![("name", "X"), ("trigger", "ticket_created")],
            ),
            (format!("/admin/rules/{id}"), vec![("name", "Hacked")]),
            (
                format!("/admin/rules/{id}"),
                vec![("name", "X"), ("action", "dry_run")],
            ),
            (format!("/admin/rules/{id}/move"), vec![("by", "1")]),
            (format!("/admin/rules/{id}/toggle"), vec![]),
            (format!("/admin/rules/{id}/delete"), vec![("confirm", "1")]),
        ] {
            let p = b.post(&path, &form).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{email} POST {path}");
        }
    }
    assert_eq!(stored_json(&db, id).await, before);
    assert_eq!(order(&db).await, ["Refunds", "Second"]);
    // signed out: to the login page
    let p = Browser::new(&db).get("/admin/rules").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    db.drop_db().await;
}

#[tokio::test]
async fn a_rule_made_from_the_rows_is_stored_as_the_expected_json() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    sqlx::query("insert into team (name) values ('Billing')")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut b = Browser::signed_in(&db, "ada@example.com").await;
    let empty = b.get("/admin/rules").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No rules yet"), "{}", empty.body);
    assert!(empty.body.contains("aria-current=\"page\">Rules</a>"));
    let new = b.get("/admin/rules/new").await;
    assert_eq!(new.status, StatusCode::OK);
    assert!(new.body.contains("id=\"condition-4-field\""));
    assert!(!new.body.contains("id=\"condition-5-field\""));
    assert!(new.body.contains("aria-label=\"Condition 2 field\""));

    let form = [
        ("name", "Refunds to Billing"),
        ("enabled", "1"),
        ("trigger", "customer_replied"),
        ("mode", "on_state_entry"),
        ("stop", "1"),
        ("match", "any"),
        ("condition_rows", "6"),
        ("condition_0_field", "subject"),
        ("condition_0_op", "contains"),
        ("condition_0_value", "refund"),
        // a blank row is ignored
        ("condition_1_field", ""),
        ("condition_1_op", "is"),
        ("condition_1_value", "ignored"),
        ("condition_2_field", "tags"),
        ("condition_2_op", "in"),
        ("condition_2_value", "vip, gold ,,"),
        ("condition_3_field", "message_count"),
        ("condition_3_op", "gt"),
        ("condition_3_value", "2"),
        ("condition_4_field", "has_attachment"),
        ("condition_4_op", "is"),
        ("condition_4_value", "true"),
        ("condition_5_field", "customer.company"),
        ("condition_5_op", "is_set"),
        ("condition_5_value", "whatever"),
        ("conditions_json", "  "),
        ("action_rows", "4"),
        ("action_0_type", "assign_team"),
        ("action_0_value", "Billing"),
        ("action_1_type", ""),
        ("action_2_type", "set_priority"),
        ("action_2_value", "high"),
        ("action_3_type", "notify"),
        ("action_3_value", "ada@example.com, "),
    ];
    // "Add condition row" re-renders with one more row and keeps what was typed
    let mut more = form.to_vec();
    more.push(("action", "add_condition"));
    let p = b.post("/admin/rules/new", &more).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("id=\"condition-6-field\""));
    assert!(p.body.contains("value=\"vip, gold ,,\""));
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from rule").await,
        0
    );
    let mut more = form.to_vec();
    more.push(("action", "add_action"));
    let p = b.post("/admin/rules/new", &more).await;
    assert!(p.body.contains("id=\"action-4-type\""));
    assert!(!p.body.contains("id=\"action-5-type\""));

    let mut save = form.to_vec();
    save.push(("action", "save"));
    let p = b.post("/admin/rules/new", &save).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/rules?saved=Refunds%20to%20Billing")
    );
    let id: i64 = scalar(&db.pool, "select rule_id from rule").await;
    assert_eq!(
        stored_json(&db, id).await,
        json!({"name": "Refunds to Billing", "enabled": true, "trigger": "customer_replied",
               "conditions": {"any": [
                   {"field": "subject", "op": "contains", "value": "refund"},
                   {"field": "tags", "op": "in", "value": ["vip", "gold"]},
                   {"field": "message_count", "op": "gt", "value": 2},
                   {"field": "has_attachment", "op": "is", "value": true},
                   {"field": "customer.company", "op": "is_set"}]},
               "actions": [{"type": "assign_team", "team": "Billing"},
                           {"type": "set_priority", "priority": "high"},
                           {"type": "notify", "agents": ["ada@example.com"]}],
               "mode": "on_state_entry", "stop": true})
    );
    let list = b.get("/admin/rules?saved=Refunds%20to%20Billing").await;
    assert!(list.body.contains("Saved rule Refunds to Billing."));
    assert!(list.body.contains("Each time the conditions become true"));
    assert!(list.body.contains("The customer replies"));

    // The editor shows the stored rule in its rows; a change saves through update.
    let edit = b.get(&format!("/admin/rules/{id}")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("value=\"vip, gold\""), "{}", edit.body);
    assert!(edit.body.contains("<option value=\"any\" selected>"));
    let mut changed: Vec<(&str, &str)> = form
        .iter()
        .copied()
        .filter(|(k, _)| !k.starts_with("condition_"))
        .collect();
    changed.retain(|(k, _)| !matches!(*k, "stop" | "name" | "conditions_json"));
    changed.extend([
        ("name", "Refunds"),
        ("condition_rows", "1"),
        ("condition_0_field", "from"),
        ("condition_0_op", "is"),
        ("condition_0_value", "@example.net"),
    ]);
    let p = b.post(&format!("/admin/rules/{id}"), &changed).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let j = stored_json(&db, id).await;
    assert_eq!(j["name"], "Refunds");
    assert_eq!(j["stop"], false);
    assert_eq!(
        j["conditions"],
        json!({"any": [{"field": "from", "op": "is", "value": "@example.net"}]})
    );

    // A nested rule shows its conditions as JSON, and the JSON box replaces the rows.
    let nested = json!({"all": [{"field": "subject", "op": "contains", "value": "refund"},
                                {"any": [{"field": "tags", "op": "contains", "value": "vip"},
                                         {"field": "customer.vip", "op": "is", "value": true}]}]});
    let nested_text = nested.to_string();
    let mut with_json = changed.clone();
    with_json.push(("conditions_json", &nested_text));
    let p = b.post(&format!("/admin/rules/{id}"), &with_json).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(stored_json(&db, id).await["conditions"], nested);
    let edit = b.get(&format!("/admin/rules/{id}")).await;
    assert!(
        edit.body.contains("&#34;customer.vip&#34;"),
        "{}",
        edit.body
    );
    let audits: i64 = scalar(
        &db.pool,
        "select count(*) from audit_event where action like 'rule.%' and actor_label = 'ada@example.com'",
    )
    .await;
    assert_eq!(audits, 3);
    db.drop_db().await;
}

#[tokio::test]
async fn errors_are_shown_beside_their_row_and_nothing_is_stored() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "ada@example.com").await;
    let form = [
        ("name", "Broken"),
        ("trigger", "ticket_created"),
        ("mode", "once_per_ticket"),
        ("match", "all"),
        ("condition_rows", "5"),
        ("condition_0_field", "subject"),
        ("condition_0_op", "contains"),
        ("condition_0_value", "refund"),
        ("condition_1_field", ""),
        ("condition_2_field", "body"),
        ("condition_2_op", "matches"),
        ("condition_2_value", "(unclosed"),
        ("action_rows", "3"),
        ("action_0_type", "add_tag"),
        ("action_0_value", "refund"),
        ("action_1_type", "assign_team"),
        ("action_1_value", "No Such Team"),
        ("action", "save"),
    ];
    let p = b.post("/admin/rules/new", &form).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    // the third row is the rule's second condition
    let row = element_text(&p.body, "condition-2-error");
    assert!(row.contains("conditions.all[1].value"), "{row}");
    assert!(!p.body.contains("id=\"condition-0-error\""));
    assert!(!p.body.contains("id=\"condition-1-error\""));
    assert!(p.body.contains("aria-describedby=\"condition-2-error\""));
    let row = element_text(&p.body, "action-1-error");
    assert!(row.contains("actions[1].team"), "{row}");
    assert!(row.contains("No Such Team"), "{row}");
    // at the top too, and the form keeps what was typed
    let top = &p.body[p.body.find("id=\"rule-errors\"").unwrap()..];
    assert!(top.contains("conditions.all[1].value"));
    assert!(p.body.contains("value=\"(unclosed\""));
    // the dry run refuses the same way
    let mut dry = form.to_vec();
    dry.retain(|(k, _)| *k != "action");
    dry.push(("action", "dry_run"));
    let p = b.post("/admin/rules/new", &dry).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(element_text(&p.body, "condition-2-error").contains("conditions.all[1].value"));
    // bad JSON in the advanced box is an error at the conditions
    let mut bad_json = form.to_vec();
    bad_json.push(("conditions_json", "{\"all\": ["));
    let p = b.post("/admin/rules/new", &bad_json).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(element_text(&p.body, "conditions-error").contains("not valid JSON"));
    // a blank name
    let p = b
        .post(
            "/admin/rules/new",
            &[
                ("name", " "),
                ("trigger", "ticket_created"),
                ("mode", "once_per_ticket"),
                ("action_rows", "1"),
                ("action_0_type", "unassign"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"name-error\""), "{}", p.body);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from rule").await,
        0
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from audit_event").await,
        0
    );
    db.drop_db().await;
}

#[tokio::test]
async fn up_down_toggle_and_delete_with_confirmation() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let a = rule(&db, "Alpha").await;
    let bb = rule(&db, "Beta").await;
    let c = rule(&db, "Gamma").await;
    let mut b = Browser::signed_in(&db, "ada@example.com").await;

    let p = b
        .post(&format!("/admin/rules/{c}/move"), &[("by", "-1")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(order(&db).await, ["Alpha", "Gamma", "Beta"]);
    let p = b
        .post(&format!("/admin/rules/{a}/move"), &[("by", "1")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(order(&db).await, ["Gamma", "Alpha", "Beta"]);
    // the first cannot move up; nothing changes
    b.post(&format!("/admin/rules/{c}/move"), &[("by", "-1")])
        .await;
    assert_eq!(order(&db).await, ["Gamma", "Alpha", "Beta"]);
    let p = b
        .post(&format!("/admin/rules/{c}/move"), &[("by", "7")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let list = b.get("/admin/rules").await;
    let g = list.body.find("Gamma").unwrap();
    let al = list.body.find("Alpha").unwrap();
    assert!(g < al, "the list is in evaluation order");

    let p = b.post(&format!("/admin/rules/{bb}/toggle"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(stored_json(&db, bb).await["enabled"], false);
    let list = b.get(p.location.as_deref().unwrap()).await;
    assert!(list.body.contains("Disabled rule Beta."), "{}", list.body);
    b.post(&format!("/admin/rules/{bb}/toggle"), &[]).await;
    assert_eq!(stored_json(&db, bb).await["enabled"], true);

    // Delete asks first
    let p = b.post(&format!("/admin/rules/{a}/delete"), &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("id=\"confirm-delete\""));
    assert!(p.body.contains("Delete the rule <strong>Alpha</strong>?"));
    assert_eq!(order(&db).await, ["Gamma", "Alpha", "Beta"]);
    let p = b
        .post(&format!("/admin/rules/{a}/delete"), &[("confirm", "1")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(order(&db).await, ["Gamma", "Beta"]);
    let p = b.get(&format!("/admin/rules/{a}")).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_event where actor_label = 'ada@example.com' order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "rule.reorder",
            "rule.reorder",
            "rule.update",
            "rule.update",
            "rule.delete"
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_dry_run_through_the_form_shows_matches_and_writes_nothing() {
    let app = TestApp::new().await;
    app.agent("ada@example.com", "Ada Admin", Role::Admin).await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Refund please"),
            mail(2, "bob@example.net", "Where is my parcel"),
            mail(3, "cy@example.net", "Another refund"),
        ],
    )
    .await;
    app.ingest().await;
    let counts = || async {
        (
            scalar::<i64>(app.pool(), "select count(*) from ticket_event").await,
            scalar::<i64>(app.pool(), "select count(*) from rule").await,
            scalar::<i64>(app.pool(), "select count(*) from audit_event").await,
            scalar::<i64>(app.pool(), "select count(*) from ticket_tag").await,
        )
    };
    let before = counts().await;
    let mut b = app.browser_for("ada@example.com").await;
    let p = b
        .post(
            "/admin/rules/new",
            &[
                ("name", "Refunds"),
                ("trigger", "ticket_created"),
                ("mode", "once_per_ticket"),
                ("match", "all"),
                ("condition_rows", "5"),
                ("condition_0_field", "subject"),
                ("condition_0_op", "contains"),
                ("condition_0_value", "refund"),
                ("action_rows", "3"),
                ("action_0_type", "add_tag"),
                ("action_0_value", "refund"),
                ("action_1_type", "set_priority"),
                ("action_1_value", "high"),
                ("action", "dry_run"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains("The rule matches 2 of 3 tickets."),
        "{}",
        p.body
    );
    let parcel = ticket_by_subject(&app.db, "Where%").await;
    let refund = ticket_by_subject(&app.db, "Refund please").await;
    let row = &p.body[p.body.find(&format!("data-ticket=\"{parcel}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("No match"), "{row}");
    assert!(
        row.contains("failed: subject contains &#39;refund&#39;")
            || row.contains("failed: subject contains 'refund'"),
        "{row}"
    );
    assert!(row.contains(&format!("href=\"/tickets/{parcel}\"")));
    let row = &p.body[p.body.find(&format!("data-ticket=\"{refund}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Match"), "{row}");
    assert!(
        row.contains("added tag refund, set priority to high"),
        "{row}"
    );
    // the form keeps the unsaved rule
    assert!(p.body.contains("value=\"Refunds\""));
    assert_eq!(counts().await, before, "the dry run wrote nothing");
    app.finish().await;
}

// ---------------------------------------------------------------- real Chromium

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
        config.node_id = "admin-rules-test".into();
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

async fn choose(c: &Client, select: &str, value: &str) {
    find(c, &format!("{select} option[value='{value}']"))
        .await
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_tests_and_saves_a_rule_in_the_browser_and_it_fires_on_new_mail() {
    let app = TestApp::new().await;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Refund for order 17"),
            mail(2, "bob@example.net", "Where is my parcel"),
        ],
    )
    .await;
    app.ingest().await;
    let old_refund = ticket_by_subject(&app.db, "Refund for%").await;
    let server = App::start(&app.db).await;
    let c = chrome().await;
    let base = server.base.clone();
    let result = async {
        c.goto(&format!("{base}/login")).await.unwrap();
        type_into(&c, "#email", "dana@example.com").await;
        type_into(&c, "#password", "correct horse battery").await;
        click_and_wait(&c, "form[action='/login'] button[type=submit]").await;

        c.goto(&format!("{base}/admin/rules")).await.unwrap();
        click_and_wait(&c, "#new-rule").await;
        type_into(&c, "#name", "Refunds").await;
        choose(&c, "#trigger", "ticket_created").await;
        choose(&c, "#condition-0-field", "subject").await;
        choose(&c, "#condition-0-op", "contains").await;
        type_into(&c, "#condition-0-value", "refund").await;
        choose(&c, "#action-0-type", "add_tag").await;
        type_into(&c, "#action-0-value", "refund").await;
        choose(&c, "#action-1-type", "set_priority").await;
        type_into(&c, "#action-1-value", "high").await;

        click_and_wait(&c, "#dry-run").await;
        let summary = find(&c, "#dry-run-summary").await.text().await.unwrap();
        assert!(summary.contains("matches 1 of 2"), "{summary}");
        let row = find(
            &c,
            &format!("#dry-run-results tr[data-ticket='{old_refund}']"),
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(row.contains("Match") && !row.contains("No match"), "{row}");
        assert!(
            row.contains("added tag refund, set priority to high"),
            "{row}"
        );
        assert_eq!(
            scalar::<i64>(app.pool(), "select count(*) from rule").await,
            0
        );

        // the unsaved rule is still in the form
        click_and_wait(&c, "#save-rule").await;
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), "/admin/rules");
        let notice = find(&c, ".notice").await.text().await.unwrap();
        assert_eq!(notice, "Saved rule Refunds.");

        deliver(&app, &[mail(3, "cy@example.net", "Refund needed")]).await;
        app.ingest().await;
        let new_ticket = ticket_by_subject(&app.db, "Refund needed").await;
        c.goto(&format!("{base}/tickets/{new_ticket}"))
            .await
            .unwrap();
        let body = find(&c, "body").await.text().await.unwrap();
        assert!(
            body.contains("Refunds")
                && body.contains(
                    "added tag refund, set priority to high, because subject contains 'refund'"
                ),
            "{body}"
        );
    }
    .await;
    let _ = c.close().await;
    server.stop().await;
    let _: () = result;
    let t = ticket_json(
        app.pool(),
        ticket_by_subject(&app.db, "Refund needed").await,
    )
    .await;
    assert_eq!(t["priority"], "high");
    assert_eq!(t["tags"], json!(["refund"]));
    app.finish().await;
}
