//! Customers and companies through the real poller, the real API and the real pages: companies
//! found from the sender's domain (never a free-mail provider's), the API contract with its
//! 400s naming the field and the audit of every change, VIP / stage / health falling back to
//! the company's, customer and company pages that never show a ticket of a mailbox the agent
//! cannot see, the sidebar's account form, the inbox views, the admin page for lifecycle
//! stages, and a rule on `customer.vip` / `customer.lifecycle_stage` firing on new mail.

use axum::http::StatusCode;
use frontdesk::mailboxes::{self, ImapUrl};
use serde_json::{Value, json};

use crate::support::*;

/// A plain customer mail.
fn mail(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{}@example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello from {from}.\r\n",
        random_name("customers-")
    )
    .into_bytes()
}

async fn deliver(app: &TestApp, mails: &[Vec<u8>]) {
    let raw: Vec<&[u8]> = mails.iter().map(Vec::as_slice).collect();
    app.mb.deliver("INBOX", &raw).await;
}

/// An agent with `role` and their API token.
async fn token_for(app: &TestApp, email: &str, role: Role) -> (i64, String) {
    let id = app.agent(email, email, role).await;
    let token = frontdesk::auth::create_api_token(app.pool(), id)
        .await
        .unwrap();
    (id, token)
}

async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    api_json(&app.db, method, path, token, body).await
}

/// A second polled mailbox, `billing@example.com`, on a Dovecot user of its own: its id and
/// IMAP URL (for [`deliver_to`]).
async fn billing_mailbox(app: &TestApp) -> (i64, String) {
    let user = random_name("u");
    let url = format!("imap://{user}:secret@{}/INBOX", imap_addr());
    let id = mailboxes::upsert_mailbox(app.pool(), "Billing", "billing@example.com", &url, None)
        .await
        .unwrap();
    (id, url)
}

async fn deliver_to(url: &str, mails: &[Vec<u8>]) {
    let mut s =
        frontdesk::ingest::imap::connect(&ImapUrl::parse(url).unwrap(), false, &Default::default())
            .await
            .unwrap();
    for m in mails {
        s.append("INBOX", None, None, m).await.unwrap();
    }
    s.logout().await.ok();
}

#[tokio::test]
async fn companies_come_from_the_senders_domain_and_free_mail_senders_get_none() {
    let app = TestApp::new().await;
    deliver(
        &app,
        &[
            mail("Ann <ann@Acme.example>", "Invoice question"),
            mail("bob@acme.example", "Login trouble"),
            mail("Jana <jana@gmail.com>", "Hello"),
            mail("jo@GMX.de", "Hallo"),
        ],
    )
    .await;
    app.ingest().await;

    let companies: Vec<String> = sqlx::query_scalar("select domain from company order by domain")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(
        companies,
        ["acme.example"],
        "one company, none for free mail"
    );
    let acme: i64 = scalar(app.pool(), "select company_id from company").await;
    for (email, company) in [
        ("ann@Acme.example", Some(acme)),
        ("bob@acme.example", Some(acme)),
        ("jana@gmail.com", None),
        ("jo@GMX.de", None),
    ] {
        let got: Option<i64> = scalar_for(
            app.pool(),
            "select company_id from customer where lower(email) = lower($1)",
            email,
        )
        .await;
        assert_eq!(got, company, "{email}");
    }
    let jana = ticket_json(app.pool(), ticket_by_subject(&app.db, "Hello").await).await;
    assert_eq!(
        jana["customer"],
        json!({"email": "jana@gmail.com", "name": "Jana", "vip": false, "lifecycle_stage": null,
               "health": null, "company": null})
    );
    let ann = ticket_json(app.pool(), ticket_by_subject(&app.db, "Invoice%").await).await;
    assert_eq!(ann["customer"]["company"], "acme.example");

    // The sidebar says so, with a link to the company page.
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = app.browser_for("dana@example.com").await;
    let page = b
        .get(&format!(
            "/tickets/{}",
            ticket_by_subject(&app.db, "Hello").await
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"<dd id="account-company">None</dd>"#),
        "{}",
        page.body
    );
    let page = b
        .get(&format!(
            "/tickets/{}",
            ticket_by_subject(&app.db, "Invoice%").await
        ))
        .await;
    assert!(page.body.contains(r#"href="/companies/acme.example""#));
    let company = b.get("/companies/acme.example").await;
    assert_eq!(company.status, StatusCode::OK);
    assert!(company.body.contains("Invoice question") && company.body.contains("Login trouble"));
    assert_eq!(
        b.get("/companies/gmail.com").await.status,
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

#[tokio::test]
async fn the_api_reads_and_changes_customers_and_companies_with_fallback_errors_and_audit() {
    let app = TestApp::new().await;
    deliver(
        &app,
        &[
            mail("Ann <ann@acme.example>", "Invoice question"),
            mail("bob@acme.example", "Login trouble"),
        ],
    )
    .await;
    app.ingest().await;
    // Agents (not only admins) may edit.
    let (_, token) = token_for(&app, "lee@example.com", Role::Agent).await;
    grant_through_team(
        app.pool(),
        "Support",
        scalar(app.pool(), "select agent_id from agent").await,
        app.mb.mailbox_id,
    )
    .await;

    let (s, ann) = api(
        &app,
        "GET",
        "/api/v1/customers/ANN@acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ann}");
    assert_eq!(ann["email"], "ann@acme.example");
    assert_eq!(ann["name"], "Ann");
    assert_eq!(ann["vip"], false);
    assert_eq!(ann["lifecycle_stage"], Value::Null);
    assert_eq!(ann["health"], Value::Null);
    assert_eq!(ann["company"], "acme.example");

    // The company's attributes are its customers' unless they have their own.
    let (s, co) = api(
        &app,
        "PATCH",
        "/api/v1/companies/acme.example",
        &token,
        json!({"vip": true, "lifecycle_stage": "AT RISK", "health": 35}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{co}");
    assert_eq!(co["vip"], true);
    assert_eq!(co["lifecycle_stage"], "at risk");
    assert_eq!(co["health"], 35);
    assert_eq!(
        co["customers"],
        json!([{"email": "ann@acme.example", "name": "Ann"}, {"email": "bob@acme.example", "name": null}])
    );
    let (_, bob) = api(
        &app,
        "GET",
        "/api/v1/customers/bob@acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(
        (&bob["vip"], &bob["lifecycle_stage"], &bob["health"]),
        (&json!(true), &json!("at risk"), &json!(35))
    );
    assert_eq!(
        bob["own"],
        json!({"vip": null, "lifecycle_stage": null, "health": null})
    );

    // Bob's own values win; the rest still comes from the company.
    let (s, bob) = api(
        &app,
        "PATCH",
        "/api/v1/customers/bob@acme.example",
        &token,
        json!({"name": "Bob Stone", "vip": false, "health": 90}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{bob}");
    assert_eq!(bob["name"], "Bob Stone");
    assert_eq!(bob["vip"], false);
    assert_eq!(bob["health"], 90);
    assert_eq!(bob["lifecycle_stage"], "at risk");
    let t = ticket_json(app.pool(), ticket_by_subject(&app.db, "Login%").await).await;
    assert_eq!(
        t["customer"],
        json!({"email": "bob@acme.example", "name": "Bob Stone", "vip": false,
               "lifecycle_stage": "at risk", "health": 90, "company": "acme.example"})
    );
    // The ticket list carries the same customer object.
    let (_, list) = api(&app, "GET", "/api/v1/tickets", &token, Value::Null).await;
    let row = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Login trouble")
        .unwrap();
    assert_eq!(row["customer"], t["customer"]);

    // Bad input is a 400 naming the field, and changes nothing.
    for (body, field) in [
        (json!({"health": 101}), "health"),
        (json!({"health": "high"}), "health"),
        (json!({"vip": "yes"}), "vip"),
        (json!({"lifecycle_stage": "golden"}), "lifecycle_stage"),
        (json!({"company": "gmail.com"}), "company"),
        (json!({"company": "no domain"}), "company"),
        (json!({"colour": "red"}), "colour"),
        (json!({"name": "Robert", "health": -3}), "health"),
        (
            json!({"name": "Robert", "lifecycle_stage": "golden"}),
            "lifecycle_stage",
        ),
    ] {
        let (s, e) = api(
            &app,
            "PATCH",
            "/api/v1/customers/bob@acme.example",
            &token,
            body.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{body}: {e}"
        );
    }
    let name: Option<String> = scalar(
        app.pool(),
        "select name from customer where email = 'bob@acme.example'",
    )
    .await;
    assert_eq!(
        name.as_deref(),
        Some("Bob Stone"),
        "a refused PATCH changes nothing"
    );
    let (s, e) = api(
        &app,
        "PATCH",
        "/api/v1/companies/acme.example",
        &token,
        json!({"vip": null}),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str().unwrap().starts_with("vip:")),
        (StatusCode::BAD_REQUEST, true),
        "{e}"
    );

    // null gives the company's value back; a new company domain is created on the way.
    let (_, bob) = api(
        &app,
        "PATCH",
        "/api/v1/customers/bob@acme.example",
        &token,
        json!({"vip": null, "company": "Stone.example"}),
    )
    .await;
    assert_eq!(
        (&bob["company"], &bob["vip"], &bob["lifecycle_stage"]),
        (&json!("stone.example"), &json!(false), &Value::Null)
    );
    let (s, stone) = api(
        &app,
        "GET",
        "/api/v1/companies/stone.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{stone}");
    assert_eq!(stone["name"], "stone.example");

    // Every change is in the audit log with who and the fields before → after.
    let entries: Vec<(String, String, String, Value, Value)> = sqlx::query_as(
        "select actor_label, action, target, before, after from audit_event order by audit_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(
        entries[0],
        (
            "lee@example.com".into(),
            "company.update".into(),
            "acme.example".into(),
            json!({"vip": false, "lifecycle_stage": null, "health": null}),
            json!({"vip": true, "lifecycle_stage": "at risk", "health": 35})
        )
    );
    assert_eq!(entries[1].1, "customer.update");
    assert_eq!(entries[1].2, "bob@acme.example");
    assert_eq!(
        entries[1].4,
        json!({"name": "Bob Stone", "vip": false, "health": 90})
    );
    assert_eq!(
        entries[2].4,
        json!({"vip": null, "company": "stone.example"})
    );

    let (s, _) = api(
        &app,
        "GET",
        "/api/v1/customers/nobody@acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api(
        &app,
        "GET",
        "/api/v1/customers/ann@acme.example",
        "wrong",
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

#[tokio::test]
async fn an_agent_never_sees_a_ticket_of_a_mailbox_they_cannot_see_on_customer_and_company_pages() {
    let app = TestApp::new().await;
    let (_, billing_url) = billing_mailbox(&app).await;
    deliver(
        &app,
        &[mail("Ann <ann@acme.example>", "Support question from Ann")],
    )
    .await;
    deliver_to(
        &billing_url,
        &[
            mail("Ann <ann@acme.example>", "Billing secret from Ann"),
            mail("Dave <dave@acme.example>", "Billing secret from Dave"),
        ],
    )
    .await;
    assert_eq!(app.ingest().await.new_tickets, 3);
    let lee = app.agent("lee@example.com", "Lee Park", Role::Agent).await;
    grant_through_team(app.pool(), "Support", lee, app.mb.mailbox_id).await;
    app.agent("ada@example.com", "Ada Admin", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(app.pool(), lee)
        .await
        .unwrap();

    let mut b = app.browser_for("lee@example.com").await;
    let page = b.get("/customers/ann@acme.example").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Support question from Ann"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Billing secret"), "{}", page.body);
    let page = b.get("/companies/acme.example").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Support question from Ann"));
    assert!(!page.body.contains("Billing secret"), "{}", page.body);
    assert!(
        !page.body.contains("dave@acme.example"),
        "a customer out of sight is not listed"
    );

    // A customer with tickets only in mailboxes Lee cannot see does not exist for Lee.
    assert_eq!(
        b.get("/customers/dave@acme.example").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post("/customers/dave@acme.example", &[("vip", "yes")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let (s, _) = api(
        &app,
        "GET",
        "/api/v1/customers/dave@acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api(
        &app,
        "PATCH",
        "/api/v1/customers/dave@acme.example",
        &token,
        json!({"vip": true}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let vip: Option<bool> = scalar(
        app.pool(),
        "select vip from customer where email = 'dave@acme.example'",
    )
    .await;
    assert_eq!(vip, None, "nothing changed");
    let (_, co) = api(
        &app,
        "GET",
        "/api/v1/companies/acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(
        co["customers"],
        json!([{"email": "ann@acme.example", "name": "Ann"}])
    );

    // An admin sees everything.
    let mut a = app.browser_for("ada@example.com").await;
    let page = a.get("/customers/ann@acme.example").await;
    assert!(
        page.body.contains("Support question from Ann")
            && page.body.contains("Billing secret from Ann")
    );
    assert_eq!(
        a.get("/customers/dave@acme.example").await.status,
        StatusCode::OK
    );
    app.finish().await;
}

#[tokio::test]
async fn the_sidebar_form_and_customer_page_edit_the_account_and_inbox_views_follow() {
    let app = TestApp::new().await;
    deliver(
        &app,
        &[
            mail("Ann <ann@acme.example>", "Ann waits"),
            mail("bob@globex.example", "Bob waits"),
            mail("carol@initech.example", "Carol waits"),
        ],
    )
    .await;
    app.ingest().await;
    let lee = app.agent("lee@example.com", "Lee Park", Role::Agent).await;
    grant_through_team(app.pool(), "Support", lee, app.mb.mailbox_id).await;
    let mut b = app.browser_for("lee@example.com").await;
    let ann_ticket = ticket_by_subject(&app.db, "Ann%").await;

    // The sidebar's form (a plain post, and the page script's JSON post).
    let page = b
        .post(
            &format!("/tickets/{ann_ticket}/customer"),
            &[
                ("vip", "yes"),
                ("lifecycle_stage", ""),
                ("health", "72"),
                ("company", "acme.example"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(&*format!("/tickets/{ann_ticket}"))
    );
    let page = b.get(&format!("/tickets/{ann_ticket}")).await;
    assert!(
        page.body.contains(r#"<dd id="account-vip">Yes</dd>"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("72 / 100"));
    let (s, e) = b
        .post_json(
            &format!("/tickets/{ann_ticket}/customer"),
            &[("vip", "yes"), ("health", "abc")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().starts_with("health:"), "{e}");
    let audit: i64 = scalar(app.pool(), "select count(*) from audit_event where action = 'customer.update' and actor_label = 'lee@example.com'").await;
    assert_eq!(audit, 1);

    // The customer page edits name and notes too; the company page sets the stage.
    let page = b
        .post(
            "/customers/bob@globex.example",
            &[
                ("name", "Bob Globex"),
                ("vip", ""),
                ("lifecycle_stage", ""),
                ("health", ""),
                ("company", "globex.example"),
                ("notes", "Renewal in March"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = b
        .post(
            "/companies/globex.example",
            &[
                ("name", "Globex"),
                ("vip", "no"),
                ("lifecycle_stage", "at risk"),
                ("health", "20"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = b.get("/customers/bob@globex.example").await;
    assert!(page.body.contains("Renewal in March") && page.body.contains("Globex"));
    assert!(
        page.body
            .contains("at risk <span class=\"meta\">(from the company)</span>"),
        "{}",
        page.body
    );

    // Views: "VIP waiting" holds Ann's ticket, "At-risk accounts" Bob's (through Globex).
    let inbox = b.get("/inbox").await;
    assert!(inbox.body.contains("At-risk accounts") && inbox.body.contains("VIP waiting"));
    let vip = b
        .get("/inbox?folder=open&vip=yes&waiting=yes&sort=oldest")
        .await;
    assert_eq!(vip.status, StatusCode::OK);
    assert!(
        vip.body.contains("Ann waits")
            && !vip.body.contains("Bob waits")
            && !vip.body.contains("Carol waits")
    );
    assert!(
        vip.body.contains("<h1>VIP waiting</h1>"),
        "the view is named"
    );
    let at_risk: i64 = scalar(
        app.pool(),
        "select lifecycle_stage_id from lifecycle_stage where builtin = 'at_risk'",
    )
    .await;
    let risk = b
        .get(&format!("/inbox?folder=open&stage={at_risk}&sort=oldest"))
        .await;
    assert!(
        risk.body.contains("Bob waits")
            && !risk.body.contains("Ann waits")
            && !risk.body.contains("Carol waits")
    );
    assert!(risk.body.contains("<h1>At-risk accounts</h1>"));
    // Counts beside the views.
    let counts = frontdesk::tickets::inbox::view_counts(
        app.pool(),
        Some(&[app.mb.mailbox_id]),
        Some(at_risk),
    )
    .await
    .unwrap();
    assert_eq!(counts, (1, 1));
    let page = b.get("/inbox/sidebar-counts").await;
    let answered: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(
        (&answered["at-risk"], &answered["vip-waiting"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "what the page's script fills in"
    );
    assert_eq!(
        frontdesk::tickets::inbox::view_counts(app.pool(), Some(&[]), Some(at_risk))
            .await
            .unwrap(),
        (0, 0),
        "no mailbox, nothing counted"
    );
    assert_eq!(
        b.get("/inbox?vip=maybe").await.status,
        StatusCode::BAD_REQUEST
    );
    // Answering Ann ends her wait: she leaves "VIP waiting".
    execute_for(
        app.pool(),
        "update ticket set waiting_since = null where ticket_id = $1",
        ann_ticket,
    )
    .await;
    let vip = b
        .get("/inbox?folder=open&vip=yes&waiting=yes&sort=oldest")
        .await;
    assert!(!vip.body.contains("Ann waits"));
    app.finish().await;
}

#[tokio::test]
async fn admins_rename_and_add_lifecycle_stages_and_agents_cannot() {
    let app = TestApp::new().await;
    let ada = app.agent("ada@example.com", "Ada Admin", Role::Admin).await;
    // a rule naming the stage, which the rename must carry along
    let token = frontdesk::auth::create_api_token(app.pool(), ada)
        .await
        .unwrap();
    let (status, rule) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        serde_json::json!({"name": "At-risk customers", "trigger": "ticket_created",
            "conditions": {"any": [{"field": "customer.lifecycle_stage", "op": "is", "value": "At Risk"},
                                   {"field": "subject", "op": "contains", "value": "at risk"}]},
            "actions": [{"type": "set_lifecycle_stage", "stage": "at risk"}, {"type": "add_tag", "tag": "at risk"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    app.agent("lee@example.com", "Lee Park", Role::Lead).await;
    let mut lead = app.browser_for("lee@example.com").await;
    assert_eq!(
        lead.get("/admin/lifecycle-stages").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        lead.post("/admin/lifecycle-stages", &[("name", "prospect")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let mut b = app.browser_for("ada@example.com").await;
    let page = b.get("/admin/lifecycle-stages").await;
    assert_eq!(page.status, StatusCode::OK);
    for s in ["onboarding", "active", "renewal", "at risk", "churned"] {
        assert!(page.body.contains(&format!("value=\"{s}\"")), "{s}");
    }
    let at_risk: i64 = scalar(
        app.pool(),
        "select lifecycle_stage_id from lifecycle_stage where builtin = 'at_risk'",
    )
    .await;
    let p = b
        .post(
            &format!("/admin/lifecycle-stages/{at_risk}/rename"),
            &[("name", "  needs   love ")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // the rule now names the new name where it named the stage, and nowhere else
    let (_, rules) = api_json(
        &app.db,
        "GET",
        "/api/v1/rules",
        &token,
        serde_json::Value::Null,
    )
    .await;
    let r = &rules["rules"][0];
    assert_eq!(r["conditions"]["any"][0]["value"], "needs love", "{r}");
    assert_eq!(r["conditions"]["any"][1]["value"], "at risk", "{r}");
    assert_eq!(r["actions"][0]["stage"], "needs love", "{r}");
    assert_eq!(r["actions"][1]["tag"], "at risk", "{r}");
    let audited: i64 = scalar(
        app.pool(),
        "select count(*) from audit_event where action = 'rule.update'",
    )
    .await;
    assert_eq!(audited, 1);
    let p = b
        .post("/admin/lifecycle-stages", &[("name", "prospect")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b
        .post("/admin/lifecycle-stages", &[("name", "PROSPECT")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("already a stage called"), "{}", p.body);
    let p = b
        .post(
            &format!("/admin/lifecycle-stages/{at_risk}/rename"),
            &[("name", "Active")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);

    let names: Vec<String> =
        sqlx::query_scalar("select name from lifecycle_stage order by position")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(
        names,
        [
            "onboarding",
            "active",
            "renewal",
            "needs love",
            "churned",
            "prospect"
        ]
    );
    let audit: Vec<(String, Value)> = sqlx::query_as(
        "select action, after from audit_event where action like 'lifecycle_stage.%' order by audit_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            (
                "lifecycle_stage.rename".to_string(),
                json!({"name": "needs love"})
            ),
            (
                "lifecycle_stage.create".to_string(),
                json!({"name": "prospect"})
            ),
        ]
    );
    // The view follows the renamed stage.
    let inbox = b.get("/inbox").await;
    assert!(
        inbox.body.contains(&format!("stage={at_risk}")),
        "{}",
        inbox.body
    );
    app.finish().await;
}

#[tokio::test]
async fn rules_on_customer_vip_and_lifecycle_stage_fire_on_new_mail() {
    let app = TestApp::new().await;
    let (_, token) = token_for(&app, "ada@example.com", Role::Admin).await;
    for rule in [
        json!({"name": "VIPs first", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "customer.vip", "op": "is", "value": true}]},
               "actions": [{"type": "add_tag", "tag": "vip"}], "mode": "once_per_ticket"}),
        json!({"name": "At risk is urgent", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "customer.lifecycle_stage", "op": "is", "value": "At Risk"},
                                      {"field": "customer.company", "op": "is", "value": "vip.example"}]},
               "actions": [{"type": "set_priority", "priority": "urgent"}], "mode": "once_per_ticket"}),
    ] {
        let (s, body) = api(&app, "POST", "/api/v1/rules", &token, rule).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    deliver(
        &app,
        &[mail("ann@vip.example", "Before the company was VIP")],
    )
    .await;
    app.ingest().await;
    let (s, _) = api(
        &app,
        "PATCH",
        "/api/v1/companies/vip.example",
        &token,
        json!({"vip": true, "lifecycle_stage": "at risk"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Bob is new: his company is vip.example, so he is VIP and at risk through it.
    deliver(
        &app,
        &[
            mail("bob@vip.example", "Bob of a VIP company"),
            mail("carol@other.example", "Carol of another"),
        ],
    )
    .await;
    app.ingest().await;

    let before = ticket_json(app.pool(), ticket_by_subject(&app.db, "Before%").await).await;
    assert_eq!(before["tags"], json!([]));
    let bob = ticket_json(app.pool(), ticket_by_subject(&app.db, "Bob%").await).await;
    assert_eq!(bob["tags"], json!(["vip"]), "{bob}");
    assert_eq!(bob["priority"], "urgent");
    let fired: Vec<&Value> = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "rule_fired")
        .collect();
    assert_eq!(fired.len(), 2, "{bob}");
    assert_eq!(
        fired[0]["detail"]["matched"],
        json!(["customer VIP is true"])
    );
    let carol = ticket_json(app.pool(), ticket_by_subject(&app.db, "Carol%").await).await;
    assert_eq!(
        (&carol["tags"], &carol["priority"]),
        (&json!([]), &json!("normal"))
    );

    // The dry run reads the same facts.
    let (s, dry) = api(
        &app,
        "POST",
        "/api/v1/rules/dry-run",
        &token,
        json!({"rule": {"name": "x", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "customer.company", "op": "is", "value": "other.example"}]},
               "actions": [{"type": "add_tag", "tag": "x"}], "mode": "once_per_ticket"}, "last": 10}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    let matched: Vec<i64> = dry["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{dry}"))
        .iter()
        .filter(|r| r["matched"] == true)
        .map(|r| r["number"].as_i64().unwrap())
        .collect();
    assert_eq!(matched, [carol["number"].as_i64().unwrap()], "{dry}");
    app.finish().await;
}

#[tokio::test]
async fn customer_and_company_pages_list_every_ticket_page_by_page() {
    let app = TestApp::new().await;
    deliver(&app, &[mail("Ann <ann@acme.example>", "Ann's first")]).await;
    app.ingest().await;
    app.agent("ada@example.com", "Ada Admin", Role::Admin).await;
    // 201 more tickets of Ann, older than the first
    sqlx::query(
        "insert into ticket (mailbox_id, customer_id, subject, created_at, last_message_at)
         select t.mailbox_id, t.customer_id, 'Old ' || i, now() - make_interval(days => i),
                now() - make_interval(days => i)
         from ticket t, generate_series(1, 201) i",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let mut b = app.browser_for("ada@example.com").await;
    for base in ["/customers/ann@acme.example", "/companies/acme.example"] {
        let first = b.get(base).await;
        assert_eq!(first.status, StatusCode::OK, "{base}");
        assert!(first.body.contains("Ann&#39;s first") || first.body.contains("Ann's first"));
        assert!(
            first.body.contains(">Old 199<"),
            "{base}: the 200th ticket is on page 1"
        );
        assert!(!first.body.contains(">Old 200<"));
        assert!(first.body.contains("?page=1\">Older tickets"), "{base}");
        assert!(!first.body.contains("Newer tickets"));
        let second = b.get(&format!("{base}?page=1")).await;
        assert!(second.body.contains(">Old 200<") && second.body.contains(">Old 201<"));
        assert!(!second.body.contains("Older tickets"));
        assert!(second.body.contains("Newer tickets"), "a link back");
    }
    app.finish().await;
}
