//! The admin console's tags, saved replies, quarantine and audit log (issue #10): each page
//! and POST route refused to agents and leads, every change leaving exactly one audit entry
//! with the right actor, and what each change does to tickets (timeline, open tag counts).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::*;
use frontdesk::audit::{self, AuditActor};
use frontdesk::tickets::actions;
use frontdesk::tickets::timeline::Actor;

const ADMIN: &str = "ada@example.com";

/// Open tickets in `mailbox`, with the given subjects; their numbers.
async fn tickets(db: &TestDb, mailbox_id: i64, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for i in 0..n {
        let t: i64 = sqlx::query_scalar(
            "insert into ticket (mailbox_id, subject) values ($1, $2) returning ticket_id",
        )
        .bind(mailbox_id)
        .bind(format!("Question {i}"))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        out.push(t);
    }
    out
}

async fn tag(db: &TestDb, number: i64, tags: &[&str]) {
    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    actions::set_tags(&db.pool, Actor::System, None, number, &tags)
        .await
        .unwrap();
}

async fn tag_id(db: &TestDb, name: &str) -> i64 {
    scalar_for(&db.pool, "select tag_id from tag where name = $1", name).await
}

/// The audit entries as `(actor, action, target)`, oldest first.
async fn audit_rows(db: &TestDb) -> Vec<(String, String, String)> {
    sqlx::query_as("select actor_label, action, target from audit_event order by audit_event_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// `tag_open_count` agrees with a recount from `ticket_tag` (zero rows count as absent).
async fn assert_open_counts_right(db: &TestDb) {
    let wrong: i64 = scalar(
        &db.pool,
        "with truth as (
            select tt.tag_id, t.mailbox_id, count(*) as n
            from ticket_tag tt join ticket t using (ticket_id)
            where t.status = 'open' and not t.spam group by 1, 2
         ), kept as (select tag_id, mailbox_id, n from tag_open_count where n <> 0)
         select count(*) from ((select * from truth except select * from kept)
                               union all (select * from kept except select * from truth)) x",
    )
    .await;
    assert_eq!(wrong, 0, "tag_open_count disagrees with ticket_tag");
}

async fn open_count(db: &TestDb, tag: i64) -> i64 {
    scalar_for(
        &db.pool,
        "select coalesce(sum(n), 0)::bigint from tag_open_count where tag_id = $1",
        tag,
    )
    .await
}

async fn api_get(db: &TestDb, path: &str, token: &str) -> (StatusCode, Value) {
    api_json(db, "GET", path, token, Value::Null).await
}

async fn token_for(db: &TestDb, agent_id: i64) -> String {
    frontdesk::auth::create_api_token(&db.pool, agent_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_console_route_of_tags_replies_quarantine_and_audit_refuses_agents_and_leads() {
    let db = TestDb::new().await;
    let mailbox = offline_mailbox(&db.pool, SUPPORT, None).await;
    let t = tickets(&db, mailbox, 1).await[0];
    tag(&db, t, &["billing", "urgent"]).await;
    let billing = tag_id(&db, "billing").await;
    let urgent = tag_id(&db, "urgent").await;
    let reply: i64 = scalar(
        &db.pool,
        "insert into saved_reply (name, body) values ('Hi', 'Hello') returning saved_reply_id",
    )
    .await;
    let q: i64 = scalar_for(
        &db.pool,
        "insert into quarantine (mailbox_id, raw, reason) values ($1, 'x', 'bad') returning quarantine_id",
        mailbox,
    )
    .await;
    let agent_id = agent(&db, "alex@example.com", "Alex", Role::Agent).await;
    let lead_id = agent(&db, "lee@example.com", "Lee", Role::Lead).await;
    let gets = [
        "/admin/tags".to_string(),
        format!("/admin/tags/{billing}"),
        format!("/admin/tags/{billing}/delete"),
        "/admin/saved-replies".into(),
        "/admin/saved-replies/new".into(),
        format!("/admin/saved-replies/{reply}"),
        "/admin/quarantine".into(),
        format!("/admin/quarantine/{q}/raw"),
        "/admin/audit".into(),
    ];
    let posts: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("/admin/tags/{billing}/rename"),
            vec![("name", "x".into())],
        ),
        (
            format!("/admin/tags/{billing}/colour"),
            vec![("colour", "red".into())],
        ),
        (
            format!("/admin/tags/{billing}/merge"),
            vec![("into", urgent.to_string())],
        ),
        (format!("/admin/tags/{billing}/delete"), vec![]),
        (
            "/admin/saved-replies".into(),
            vec![
                ("name", "N".into()),
                ("body", "B".into()),
                ("visibility", "shared".into()),
            ],
        ),
        (
            format!("/admin/saved-replies/{reply}"),
            vec![
                ("name", "N".into()),
                ("body", "B".into()),
                ("visibility", "shared".into()),
            ],
        ),
        (format!("/admin/saved-replies/{reply}/delete"), vec![]),
        (format!("/admin/quarantine/{q}/retry"), vec![]),
        (format!("/admin/quarantine/{q}/delete"), vec![]),
    ];
    for (email, id) in [("alex@example.com", agent_id), ("lee@example.com", lead_id)] {
        let mut b = Browser::signed_in(&db, email).await;
        for path in &gets {
            let p = b.get(path).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "GET {path} as {email}");
            assert!(p.body.contains("for admins"), "{}", p.body);
        }
        for (path, form) in &posts {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let p = b.post(path, &form).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "POST {path} as {email}");
        }
        let token = token_for(&db, id).await;
        let (status, body) = api_get(&db, "/api/v1/audit", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
    // Nothing changed, nothing logged.
    assert!(audit_rows(&db).await.is_empty());
    let names: Vec<String> = sqlx::query_scalar("select name from tag order by name")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(names, ["billing", "urgent"]);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from saved_reply").await,
        1
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from quarantine").await,
        1
    );
    // Signed out: the sign-in page, not the console.
    let p = Browser::new(&db).get("/admin/audit").await;
    assert!(
        p.location.as_deref().unwrap_or("").starts_with("/login"),
        "{:?}",
        p.location
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_header_links_to_the_console_for_admins_only() {
    let db = TestDb::new().await;
    agent(&db, ADMIN, "Ada", Role::Admin).await;
    agent(&db, "alex@example.com", "Alex", Role::Agent).await;
    agent(&db, "lee@example.com", "Lee", Role::Lead).await;
    let page = Browser::signed_in(&db, ADMIN).await.get("/inbox").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/admin\""), "{}", page.body);
    for email in ["alex@example.com", "lee@example.com"] {
        let page = Browser::signed_in(&db, email).await.get("/inbox").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("href=\"/admin"),
            "{email} sees an admin link"
        );
    }
    db.drop_db().await;
}

#[tokio::test]
async fn an_admin_renames_colours_merges_and_deletes_tags() {
    let db = TestDb::new().await;
    let ada = agent(&db, ADMIN, "Ada", Role::Admin).await;
    let mailbox = offline_mailbox(&db.pool, SUPPORT, None).await;
    let t = tickets(&db, mailbox, 4).await;
    tag(&db, t[0], &["billing"]).await;
    tag(&db, t[1], &["billing", "invoices"]).await;
    tag(&db, t[2], &["billing"]).await;
    tag(&db, t[3], &["invoices"]).await;
    execute_for(
        &db.pool,
        "update ticket set status = 'closed' where ticket_id = $1",
        t[2],
    )
    .await;
    let billing = tag_id(&db, "billing").await;
    let invoices = tag_id(&db, "invoices").await;
    let mut b = Browser::signed_in(&db, ADMIN).await;

    // The list shows open and all counts.
    let list = b.get("/admin/tags").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains("#billing</span></td>\n      <td>2</td>\n      <td>3</td>"),
        "{}",
        list.body
    );

    // Rename: a name that exists (any case) is refused at the field; then renamed.
    let taken = b
        .post(
            &format!("/admin/tags/{invoices}/rename"),
            &[("name", "BILLING")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.body.contains("id=\"name-error\""), "{}", taken.body);
    assert!(taken.body.contains("exists already"), "{}", taken.body);
    let ok = b
        .post(
            &format!("/admin/tags/{invoices}/rename"),
            &[("name", "Invoice")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(tag_id(&db, "Invoice").await, invoices);

    // Colour: only the palette.
    let bad = b
        .post(
            &format!("/admin/tags/{billing}/colour"),
            &[("colour", "chartreuse")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("id=\"colour-error\""), "{}", bad.body);
    let ok = b
        .post(
            &format!("/admin/tags/{billing}/colour"),
            &[("colour", "red")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let colour: Option<String> = scalar_for(
        &db.pool,
        "select colour from tag where tag_id = $1",
        billing,
    )
    .await;
    assert_eq!(colour.as_deref(), Some("red"));
    assert!(b.get("/admin/tags").await.body.contains("tag-colour-red"));

    // Merge billing into Invoice: every billing ticket has Invoice, billing is gone.
    let merged = b
        .post(
            &format!("/admin/tags/{billing}/merge"),
            &[("into", &invoices.to_string())],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let gone: i64 = scalar_for(
        &db.pool,
        "select count(*) from tag where tag_id = $1",
        billing,
    )
    .await;
    assert_eq!(gone, 0);
    let with_invoice: Vec<i64> = column_for(
        &db.pool,
        "select ticket_id from ticket_tag where tag_id = $1 order by ticket_id",
        invoices,
    )
    .await;
    assert_eq!(with_invoice, t);
    assert_eq!(open_count(&db, invoices).await, 3);
    assert_open_counts_right(&db).await;
    // One tags_changed event per billing ticket, by the admin.
    let events: Vec<(i64, Value, Option<i64>)> = sqlx::query_as(
        "select ticket_id, detail, agent_id from ticket_event
         where kind = 'tags_changed' and actor_kind = 'agent' order by ticket_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].0, t[0]);
    assert_eq!(
        events[0].1,
        json!({"added": ["Invoice"], "removed": ["billing"]})
    );
    assert_eq!(events[1].1, json!({"added": [], "removed": ["billing"]}));
    assert_eq!(events[2].0, t[2]);
    assert!(events.iter().all(|e| e.2 == Some(ada)));

    // Delete: the confirmation states the count; the tag leaves every ticket.
    let confirm = b.get(&format!("/admin/tags/{invoices}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("<strong>4 tickets</strong>"),
        "{}",
        confirm.body
    );
    let deleted = b.post(&format!("/admin/tags/{invoices}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(scalar::<i64>(&db.pool, "select count(*) from tag").await, 0);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from ticket_tag").await,
        0
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from tag_open_count where n <> 0").await,
        0
    );
    let removed: i64 = scalar(
        &db.pool,
        "select count(*) from ticket_event where kind = 'tags_changed' and detail->'removed' ? 'Invoice'",
    )
    .await;
    assert_eq!(removed, 4);

    // Exactly one audit entry per change, by the admin; refusals left none.
    assert_eq!(
        audit_rows(&db).await,
        [
            (ADMIN.into(), "tag.rename".into(), "Invoice".into()),
            (ADMIN.into(), "tag.colour".into(), "billing".into()),
            (ADMIN.into(), "tag.merge".into(), "billing".into()),
            (ADMIN.into(), "tag.delete".into(), "Invoice".into()),
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn an_admin_creates_previews_edits_and_deletes_saved_replies() {
    let db = TestDb::new().await;
    let ada = agent(&db, ADMIN, "Ada", Role::Admin).await;
    let alex = agent(&db, "alex@example.com", "Alex", Role::Agent).await;
    let mut b = Browser::signed_in(&db, ADMIN).await;

    let editor = b.get("/admin/saved-replies/new").await;
    assert_eq!(editor.status, StatusCode::OK);
    for v in [
        "customer.first_name",
        "customer.name",
        "agent.name",
        "ticket.number",
    ] {
        assert!(
            editor.body.contains(&format!("{{{{{v}}}}}")),
            "{v} not listed"
        );
    }

    // Preview fills sample values and saves nothing.
    let body = "Hello {{customer.first_name}}, {{agent.name}} here about #{{ticket.number}}.";
    let preview = b
        .post(
            "/admin/saved-replies",
            &[
                ("name", "Refund"),
                ("body", body),
                ("visibility", "shared"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview.body.contains("Hello Jana, Ada here about #1042."),
        "{}",
        preview.body
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from saved_reply").await,
        0
    );

    // A missing name is refused at its field.
    let refused = b
        .post(
            "/admin/saved-replies",
            &[("name", " "), ("body", body), ("visibility", "shared")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("id=\"name-error\""),
        "{}",
        refused.body
    );

    // Create a shared and a personal reply.
    let created = b
        .post(
            "/admin/saved-replies",
            &[
                ("name", "Refund"),
                ("body", body),
                ("visibility", "shared"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let personal = b
        .post(
            "/admin/saved-replies",
            &[
                ("name", "My sign-off"),
                ("body", "Cheers, Ada"),
                ("visibility", "personal"),
            ],
        )
        .await;
    assert_eq!(personal.status, StatusCode::SEE_OTHER);
    let refund: i64 = scalar(
        &db.pool,
        "select saved_reply_id from saved_reply where name = 'Refund'",
    )
    .await;
    let owner: Option<i64> = scalar(
        &db.pool,
        "select owner_agent_id from saved_reply where name = 'My sign-off'",
    )
    .await;
    assert_eq!(owner, Some(ada));
    let list = b.get("/admin/saved-replies").await;
    assert!(
        list.body.contains("Every agent") && list.body.contains("Personal (Ada)"),
        "{}",
        list.body
    );
    // The composer offers Alex the shared one only, Ada both.
    let for_alex = frontdesk::tickets::reply::saved_replies(&db.pool, alex)
        .await
        .unwrap();
    assert_eq!(for_alex.len(), 1);
    let for_ada = frontdesk::tickets::reply::saved_replies(&db.pool, ada)
        .await
        .unwrap();
    assert_eq!(for_ada.len(), 2);

    // Edit: the page shows the preview; saving logs only what changed.
    let edit = b.get(&format!("/admin/saved-replies/{refund}")).await;
    assert!(
        edit.body.contains("Hello Jana, Ada here about #1042."),
        "{}",
        edit.body
    );
    let saved = b
        .post(
            &format!("/admin/saved-replies/{refund}"),
            &[
                ("name", "Refund issued"),
                ("body", body),
                ("visibility", "shared"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let (before, after): (Value, Value) =
        sqlx::query_as("select before, after from audit_event where action = 'saved_reply.update'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(before, json!({"name": "Refund"}));
    assert_eq!(after, json!({"name": "Refund issued"}));

    let deleted = b
        .post(&format!("/admin/saved-replies/{refund}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from saved_reply").await,
        1
    );

    assert_eq!(
        audit_rows(&db).await,
        [
            (ADMIN.into(), "saved_reply.create".into(), "Refund".into()),
            (
                ADMIN.into(),
                "saved_reply.create".into(),
                "My sign-off".into()
            ),
            (
                ADMIN.into(),
                "saved_reply.update".into(),
                "Refund issued".into()
            ),
            (
                ADMIN.into(),
                "saved_reply.delete".into(),
                "Refund issued".into()
            ),
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_cli_adds_saved_replies_with_actor_cli() {
    let db = TestDb::new().await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args([
            "saved-reply",
            "add",
            "--name",
            "Thanks",
            "--body",
            "Thank you!",
        ])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        audit_rows(&db).await,
        [("cli".into(), "saved_reply.create".into(), "Thanks".into())]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn try_again_turns_quarantined_mail_into_a_ticket_and_delete_removes_it() {
    let db = TestDb::new().await;
    agent(&db, ADMIN, "Ada", Role::Admin).await;
    let mailbox = offline_mailbox(&db.pool, SUPPORT, None).await;
    let good = std::fs::read(fixtures_dir().join("23-reply-in-reply-to-only-a.eml")).unwrap();
    let insert = |raw: Vec<u8>, reason: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "insert into quarantine (mailbox_id, folder, uid_validity, uid, raw, reason)
                 values ($1, 'INBOX', 1, 7, $2, $3) returning quarantine_id",
            )
            .bind(mailbox)
            .bind(raw)
            .bind(reason)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let fixed = insert(good.clone(), "unparseable: a bug fixed since").await;
    let garbage = insert(b"garbage without headers\r\n".to_vec(), "old reason").await;
    let mut b = Browser::signed_in(&db, ADMIN).await;

    let list = b.get("/admin/quarantine").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("unparseable: a bug fixed since"));
    assert!(list.body.contains(SUPPORT));
    assert!(
        list.body
            .contains(&format!("/admin/quarantine/{fixed}/raw"))
    );

    // The raw mail downloads as .eml, byte for byte.
    let raw = b
        .send(
            Request::get(format!("/admin/quarantine/{fixed}/raw")),
            Body::empty(),
        )
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.body.as_bytes(), &good[..]);

    // Garbage still fails: the page says why, the row stays with the new reason.
    let again = b
        .post(&format!("/admin/quarantine/{garbage}/retry"), &[])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.body.contains("still cannot be stored"),
        "{}",
        again.body
    );
    let reason: String = scalar_for(
        &db.pool,
        "select reason from quarantine where quarantine_id = $1",
        garbage,
    )
    .await;
    assert_ne!(reason, "old reason");
    assert!(again.body.contains(&reason));
    assert_eq!(ticket_count(&db.pool).await, 0);

    // The valid mail becomes a ticket; its quarantine row is gone.
    let ok = b
        .post(&format!("/admin/quarantine/{fixed}/retry"), &[])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ticket_count(&db.pool).await, 1);
    let number = ticket_by_subject(&db, "Rechnung doppelt%").await;
    assert_eq!(
        ok.location,
        Some(format!("/admin/quarantine?ticket={number}"))
    );
    let left: Vec<i64> = sqlx::query_scalar("select quarantine_id from quarantine")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, [garbage]);
    assert!(
        b.get(ok.location.as_deref().unwrap())
            .await
            .body
            .contains(&format!("ticket #{number}"))
    );

    // Delete.
    let del = b
        .post(&format!("/admin/quarantine/{garbage}/delete"), &[])
        .await;
    assert_eq!(del.status, StatusCode::SEE_OTHER);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from quarantine").await,
        0
    );
    assert_eq!(
        b.post(&format!("/admin/quarantine/{garbage}/delete"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        audit_rows(&db).await,
        [
            (
                ADMIN.into(),
                "quarantine.retry".into(),
                format!("quarantine #{fixed}")
            ),
            (
                ADMIN.into(),
                "quarantine.delete".into(),
                format!("quarantine #{garbage}")
            ),
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_audit_log_filters_by_actor_and_kind_and_pages_newest_first() {
    let db = TestDb::new().await;
    let ada_id = agent(&db, ADMIN, "Ada", Role::Admin).await;
    execute_for(
        &db.pool,
        "update agent set time_zone = 'Europe/Berlin' where agent_id = $1",
        ada_id,
    )
    .await;
    let ada = AuditActor::Agent {
        agent_id: ada_id,
        email: ADMIN.into(),
    };
    for i in 0..55 {
        audit::record(
            &db.pool,
            &ada,
            "tag.rename",
            &format!("tag{i}"),
            Some(json!({"name": format!("old{i}")})),
            Some(json!({"name": format!("tag{i}")})),
        )
        .await
        .unwrap();
    }
    audit::record(
        &db.pool,
        &AuditActor::Cli,
        "saved_reply.create",
        "Thanks",
        None,
        Some(json!({"name": "Thanks", "shared": true})),
    )
    .await
    .unwrap();
    audit::record(
        &db.pool,
        &AuditActor::Cli,
        "mailbox.update",
        "support@example.com",
        Some(json!({"password": "changed"})),
        Some(json!({"password": "changed"})),
    )
    .await
    .unwrap();
    // A fixed time for the newest entry, to check the viewer's zone.
    execute_for(
        &db.pool,
        "update audit_event set at = '2026-03-29 01:00+00' where audit_event_id = (select max(audit_event_id) from audit_event where $1::bigint is not null)",
        0_i64,
    )
    .await;
    let mut b = Browser::signed_in(&db, ADMIN).await;

    let first = b.get("/admin/audit").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(
        first.body.contains("2026-03-29 03:00 CEST"),
        "{}",
        first.body
    );
    assert!(
        first.body.find("mailbox.update").unwrap() < first.body.find("saved_reply.create").unwrap()
    );
    assert!(
        first
            .body
            .contains("old54</span> → <span class=\"audit-after\">tag54"),
        "{}",
        first.body
    );
    assert_eq!(first.body.matches("<tr id=\"audit-").count(), 50);
    // The next page: the rest, then no further link.
    let next = first
        .body
        .split("href=\"/admin/audit?")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = b.get(&format!("/admin/audit?{next}")).await;
    assert_eq!(second.body.matches("<tr id=\"audit-").count(), 7);
    assert!(second.body.contains(">tag0<"));
    assert!(!second.body.contains("rel=\"next\""));

    let cli = b.get("/admin/audit?actor=cli").await;
    assert_eq!(cli.body.matches("<tr id=\"audit-").count(), 2);
    assert!(!cli.body.contains("tag.rename"));
    let kind = b.get("/admin/audit?kind=saved_reply").await;
    assert_eq!(kind.body.matches("<tr id=\"audit-").count(), 1);
    assert!(
        kind.body
            .contains("<option value=\"saved_reply\" selected>")
    );
    let bad = b.get("/admin/audit?cursor=x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // The API: newest first, cursor paging, actor filter, 400s naming the parameter.
    let token = token_for(&db, ada_id).await;
    let (s, page1) = api_get(&db, "/api/v1/audit?limit=2", &token).await;
    assert_eq!(s, StatusCode::OK, "{page1}");
    let events = page1["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["action"], "mailbox.update");
    assert_eq!(events[0]["actor"], "cli");
    assert_eq!(events[0]["at"], "2026-03-29T01:00:00Z");
    assert_eq!(events[0]["before"], json!({"password": "changed"}));
    assert_eq!(events[1]["action"], "saved_reply.create");
    assert_eq!(events[1]["before"], Value::Null);
    for k in ["id", "at", "actor", "action", "target", "before", "after"] {
        assert!(events[0].get(k).is_some(), "{k} missing");
    }
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    let (_, page2) = api_get(
        &db,
        &format!("/api/v1/audit?limit=2&cursor={cursor}"),
        &token,
    )
    .await;
    assert_eq!(page2["events"][0]["target"], "tag54");
    assert_eq!(page2["events"][1]["target"], "tag53");
    let (_, all) = api_get(&db, "/api/v1/audit?limit=500", &token).await;
    assert_eq!(all["events"].as_array().unwrap().len(), 57);
    assert_eq!(all["next_cursor"], Value::Null);
    let (_, cli) = api_get(&db, "/api/v1/audit?actor=cli", &token).await;
    assert_eq!(cli["events"].as_array().unwrap().len(), 2);
    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("limit=501", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-3", "cursor"),
    ] {
        let (s, body) = api_get(&db, &format!("/api/v1/audit?{q}"), &token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert!(
            body["error"].as_str().unwrap().contains(param),
            "{q}: {body}"
        );
    }
    // No token: 401.
    let resp = Browser::new(&db)
        .send(
            Request::get("/api/v1/audit").header(header::ACCEPT, "application/json"),
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    db.drop_db().await;
}
