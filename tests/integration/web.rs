//! The agent web UI over HTTP: sign-in, access, CSRF, the inbox and ticket pages, and the
//! actions on a ticket, at the HTTP level (`browser.rs` drives real Chromium).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::support::*;

async fn seeded() -> (TestDb, TestMailbox) {
    let app = TestApp::with_mail(&[
        "12-xss-html-body.eml",
        "13-inline-cid-no-disposition.eml",
        "23-reply-in-reply-to-only-a.eml",
    ])
    .await;
    (app.db, app.mb)
}

#[tokio::test]
async fn pages_need_a_session_and_wrong_passwords_say_nothing_about_the_account() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::new(&db);
    let p = b.get("/inbox").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location.unwrap().starts_with("/login?next="));
    let n = ticket_by_subject(&db, "Rechnung%").await;
    for path in [
        format!("/tickets/{n}"),
        "/notifications".into(),
        "/attachments/1".into(),
        "/messages/1/body".into(),
    ] {
        assert_eq!(b.get(&path).await.status, StatusCode::SEE_OTHER, "{path}");
    }
    assert_eq!(
        b.post(&format!("/tickets/{n}/notes"), &[("text", "x")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    let wrong = b.login("dana@example.com", "nope").await;
    let unknown = b.login("nobody@example.com", "nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Invalid email or password."));
    assert!(unknown.body.contains("Invalid email or password."));

    let ok = b.login("Dana@Example.com", "correct horse battery").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/inbox"));
    let inbox = b.get("/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.body.contains("Dana Lee"));
    db.drop_db().await;
}

#[tokio::test]
async fn logins_are_rate_limited_per_account() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::new(&db);
    for _ in 0..frontdesk::auth::MAX_FAILED_PER_EMAIL {
        assert_eq!(
            b.login("dana@example.com", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = b.login("dana@example.com", "correct horse battery").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung%").await;
    let req = Request::post(format!("/tickets/{n}/status"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example.net");
    let p = b.send(req, Body::from("status=closed")).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let status: String = scalar_for(
        &db.pool,
        "select status from ticket where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(status, "open");
    db.drop_db().await;
}

#[tokio::test]
async fn the_inbox_lists_tickets_and_hostile_subjects_stay_text() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let p = b.get("/inbox?folder=unassigned").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body
            .contains("Rechnung &#60;script&#62;alert(1)&#60;/script&#62; offen")
            || p.body
                .contains("Rechnung &lt;script&gt;alert(1)&lt;/script&gt; offen"),
        "escaped subject"
    );
    assert!(!p.body.contains("<script>alert(1)"));
    assert!(p.body.contains("Rechnung doppelt abgebucht"));
    assert_eq!(
        b.get("/inbox?folder=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.get("/inbox?priority=extreme").await.status,
        StatusCode::BAD_REQUEST
    );
    let csp = {
        let resp = b
            .router
            .clone()
            .oneshot(Request::get("/login").body(Body::empty()).unwrap())
            .await
            .unwrap();
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn message_html_is_served_sandboxed_without_scripts_and_remote_images_blocked() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let id: i64 = scalar(
        &db.pool,
        "select message_id from message where subject like 'Rechnung%'",
    )
    .await;
    let req = Request::get(format!("/messages/{id}/body"));
    let resp = {
        let mut r = req;
        r = r.header(header::COOKIE, b.cookie.clone().unwrap());
        b.router
            .clone()
            .oneshot(r.body(Body::empty()).unwrap())
            .await
            .unwrap()
    };
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("img-src 'self' data:;")
            && csp.contains("sandbox"),
        "{csp}"
    );
    assert!(!csp.contains("allow-scripts"));
    let body = String::from_utf8_lossy(
        &axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .to_lowercase();
    assert!(
        !body.contains("<script") && !body.contains("onerror") && !body.contains("javascript:")
    );

    // The inline image of case 13 resolves to its stored part.
    let id13: i64 = scalar(
        &db.pool,
        "select message_id from message where header_message_id = 'c13-cid@example.org'",
    )
    .await;
    let p = b.get(&format!("/messages/{id13}/body")).await;
    let att: i64 = scalar_for(
        &db.pool,
        "select attachment_id from attachment where message_id = $1",
        id13,
    )
    .await;
    assert!(
        p.body.contains(&format!("/attachments/{att}?inline=1")),
        "{}",
        p.body
    );
    let img = b.get(&format!("/attachments/{att}?inline=1")).await;
    assert_eq!(img.status, StatusCode::OK);
    db.drop_db().await;
}

#[tokio::test]
async fn an_html_replys_quoted_history_is_folded_below_its_new_text_on_the_ticket_page() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let raw = "From: Jana Roth <jana.roth@example.org>\r\nTo: support@example.com\r\n\
        Subject: Re: Drucker\r\nMessage-ID: <fold-1@example.org>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/html; charset=utf-8\r\n\r\n\
        <div dir=\"ltr\">Neuer Text: der Drucker geht wieder.</div><br>\
        <div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">Am Mo., 3. März 2026 \
        um 10:00 schrieb Support &lt;support@example.com&gt;:<br></div>\
        <blockquote class=\"gmail_quote\">Alte Frage: ist er eingeschaltet?</blockquote></div>\r\n";
    mb.deliver("INBOX", &[raw.as_bytes()]).await;
    ingest(&db.pool).await;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = app.browser_for("dana@example.com").await;
    let number = ticket_by_subject(db, "Re: Drucker").await;
    let message: i64 = scalar_for(
        &db.pool,
        "select message_id from message where ticket_id = $1",
        number,
    )
    .await;

    let page = b.get(&format!("/tickets/{number}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let frame = format!("src=\"/messages/{message}/body\"");
    assert!(
        page.body.contains(&frame),
        "the page frames the message body"
    );
    let body = b.get(&format!("/messages/{message}/body")).await.body;

    let open = body
        .find("<details>")
        .unwrap_or_else(|| panic!("no fold: {body}"));
    let close = body.rfind("</details>").expect("the fold is closed");
    let at = |needle: &str| {
        body.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing: {body}"))
    };
    assert!(
        at("Neuer Text: der Drucker geht wieder.") < open,
        "new text first, unfolded: {body}"
    );
    for history in ["schrieb Support", "Alte Frage: ist er eingeschaltet?"] {
        assert!(
            (open..close).contains(&at(history)),
            "{history:?} folded: {body}"
        );
    }
    assert!(body[open..].starts_with("<details><summary>Show quoted text</summary>"));
    app.finish().await;
}

#[tokio::test]
async fn agents_work_a_ticket_and_every_change_is_on_the_timeline() {
    let (db, _) = seeded().await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let lee = agent(&db, "lee.park@example.com", "Lee Park", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let t = format!("/tickets/{n}");

    let page = b.get(&t).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Die Rechnung R-20931 wurde zweimal"));

    assert_eq!(
        b.post(&format!("{t}/assign"), &[("assignee", &lee.to_string())])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(&format!("{t}/priority"), &[("priority", "urgent")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(
            &format!("{t}/tags"),
            &[("tags", "billing, Refund ,billing")]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(
            &format!("{t}/notes"),
            &[(
                "text",
                "@lee.park can you check the refund? mail bob@example.com"
            )]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(
            &format!("{t}/status"),
            &[("status", "pending"), ("snooze_until", "")]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post(&format!("{t}/status"), &[("status", "flying")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.post(&format!("{t}/priority"), &[("priority", "extreme")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.post(&format!("{t}/notes"), &[("text", "   ")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let (assignee, priority, status): (Option<i64>, String, String) = sqlx::query_as(
        "select assignee_agent_id, priority, status from ticket where ticket_id = $1",
    )
    .bind(n)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (assignee, priority.as_str(), status.as_str()),
        (Some(lee), "urgent", "pending")
    );
    let tags: Vec<String> = column_for(
        &db.pool,
        "select g.name from ticket_tag join tag g using (tag_id) where ticket_id = $1 order by lower(g.name)",
        n,
    )
    .await;
    assert_eq!(tags, ["billing", "Refund"]);
    let kinds: Vec<String> = sqlx::query_scalar("select kind from ticket_event where ticket_id = $1 and agent_id = $2 order by ticket_event_id").bind(n).bind(dana).fetch_all(&db.pool).await.unwrap();
    assert_eq!(
        kinds,
        [
            "assigned",
            "priority_changed",
            "tags_changed",
            "note_added",
            "status_changed"
        ]
    );

    // Lee got exactly one notification, and the note shows as a note.
    let notes: i64 = sqlx::query_scalar(
        "select count(*) from notification where agent_id = $1 and ticket_id = $2",
    )
    .bind(lee)
    .bind(n)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(notes, 1);
    let page = b.get(&t).await;
    assert!(page.body.contains("Internal note"));
    assert!(page.body.contains("assigned this to Lee Park"));
    let mut lee_browser = Browser::new(&db);
    lee_browser
        .login("lee.park@example.com", "correct horse battery")
        .await;
    let notif = lee_browser.get("/notifications").await;
    assert!(
        notif.body.contains("Dana Lee mentioned you"),
        "{}",
        notif.body
    );
    let mine = lee_browser.get("/inbox?folder=mine").await;
    assert!(mine.body.contains("Rechnung doppelt abgebucht"));
    db.drop_db().await;
}

#[tokio::test]
async fn an_agent_without_access_gets_404_on_every_ticket_route() {
    let (db, _) = seeded().await;
    agent(&db, "outsider@example.com", "Out Sider", Role::Agent).await;
    let mut b = Browser::signed_in(&db, "outsider@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let msg: i64 = scalar_for(
        &db.pool,
        "select message_id from message where ticket_id = $1",
        n,
    )
    .await;
    let att: i64 = scalar(&db.pool, "select attachment_id from attachment limit 1").await;
    for path in [
        format!("/tickets/{n}"),
        format!("/messages/{msg}/body"),
        format!("/attachments/{att}"),
        format!("/attachments/{att}?inline=1"),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.body.contains("Jana"), "{path} leaked data");
    }
    for (path, form) in [
        ("assign", vec![("assignee", "me")]),
        ("status", vec![("status", "closed")]),
        ("priority", vec![("priority", "high")]),
        ("tags", vec![("tags", "x")]),
        ("notes", vec![("text", "hi")]),
        ("spam", vec![("spam", "true")]),
    ] {
        let p = b.post(&format!("/tickets/{n}/{path}"), &form).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
    }
    let inbox = b.get("/inbox?folder=all").await;
    assert!(
        !inbox.body.contains("Rechnung doppelt"),
        "inbox leaked a ticket"
    );
    assert!(
        inbox.body.contains("You have no mailboxes yet"),
        "an agent without mailboxes is told how to get one"
    );
    let events: i64 = scalar(
        &db.pool,
        "select count(*) from ticket_event where agent_id is not null",
    )
    .await;
    assert_eq!(events, 0, "nothing was changed");
    db.drop_db().await;
}

/// A ticket cannot be given to an agent who could not open it: the single assignment says so
/// (400, by name), a bulk assignment skips it, and once a team grants the mailbox it works.
#[tokio::test]
async fn a_ticket_is_not_assigned_to_an_agent_who_cannot_see_its_mailbox() {
    let (db, mb) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let outsider = agent(&db, "outsider@example.com", "Out Sider", Role::Agent).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let assignee = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>(
                "select assignee_agent_id from ticket where ticket_id = $1",
            )
            .bind(n)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    let option = format!("<option value=\"{outsider}\"");
    let page = b.get(&format!("/tickets/{n}")).await.body;
    assert!(!page.contains(&option), "the picker does not offer him");
    let p = b
        .post(
            &format!("/tickets/{n}/assign"),
            &[("assignee", &outsider.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body
            .contains("Out Sider cannot see this ticket&#39;s mailbox")
            || p.body
                .contains("Out Sider cannot see this ticket's mailbox"),
        "{}",
        p.body
    );
    assert_eq!(assignee(&db).await, None);

    let ids: Vec<String> = sqlx::query_scalar("select ticket_id::text from ticket order by 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let p = bulk_assign(&mut b, &ids, &outsider.to_string()).await;
    assert!(p.status.is_redirection(), "{} {}", p.status, p.body);
    let given: i64 = scalar_for(
        &db.pool,
        "select count(*) from ticket where assignee_agent_id = $1",
        outsider,
    )
    .await;
    assert_eq!(
        given, 0,
        "bulk assignment skipped what the assignee cannot see"
    );
    let list = b.get("/inbox?folder=open").await.body;
    assert!(
        list.contains("2 tickets not assigned: Out Sider cannot see their mailbox."),
        "the list says why: {list}"
    );

    grant_through_team(&db.pool, "Support", outsider, mb.mailbox_id).await;
    let p = b
        .post(
            &format!("/tickets/{n}/assign"),
            &[("assignee", &outsider.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(assignee(&db).await, Some(outsider));
    let page = b.get(&format!("/tickets/{n}")).await.body;
    assert!(page.contains(&option), "granted, he is offered");
    db.drop_db().await;
}

#[tokio::test]
async fn search_finds_bodies_notes_and_addresses_escapes_hits_and_respects_access() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    agent(&db, "outsider@example.com", "Out Sider", Role::Agent).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    b.post(
        &format!("/tickets/{n}/notes"),
        &[("text", "Rückbuchung veranlasst, Vorgang Zebrafink")],
    )
    .await;
    // The background indexer's step, as the running server does it every second.
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}

    let body = b.get("/search?q=zweimal").await;
    assert_eq!(body.status, StatusCode::OK);
    assert!(
        body.body.contains(&format!("/tickets/{n}")),
        "a body word finds the ticket"
    );
    assert!(body.body.contains("<mark>zweimal</mark>"), "{}", body.body);
    assert!(
        b.get("/search?q=zebrafink")
            .await
            .body
            .contains(&format!("/tickets/{n}")),
        "notes are searched"
    );
    assert!(
        b.get("/search?q=jana.roth%40example.org")
            .await
            .body
            .contains(&format!("/tickets/{n}")),
        "sender addresses are searched"
    );
    assert!(
        !b.get("/search?q=wortdasnirgendsvorkommt")
            .await
            .body
            .contains("/tickets/")
    );
    // Case 12's subject holds markup: the hit list shows it as text.
    let hostile = b.get("/search?q=Kundenkonto").await;
    assert!(hostile.body.contains("<mark>Kundenkonto</mark>"));
    assert!(!hostile.body.contains("<script>alert(1)"));

    let mut out = Browser::signed_in(&db, "outsider@example.com").await;
    assert!(
        !out.get("/search?q=zweimal")
            .await
            .body
            .contains("/tickets/"),
        "no hits outside granted mailboxes"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn bulk_actions_change_only_selected_visible_tickets() {
    let (db, _) = seeded().await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let (a, bb, c) = (ids[0].to_string(), ids[1].to_string(), ids[2].to_string());
    let p = b
        .post(
            "/inbox/bulk",
            &[
                ("ticket", &a),
                ("ticket", &bb),
                ("action", "assign"),
                ("value", "me"),
                ("back", "/inbox?folder=open"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/inbox?folder=open"));
    b.post(
        "/inbox/bulk",
        &[
            ("ticket", &a),
            ("ticket", &bb),
            ("action", "status"),
            ("value", "closed"),
        ],
    )
    .await;
    b.post(
        "/inbox/bulk",
        &[("ticket", &a), ("action", "tag"), ("value", "vip")],
    )
    .await;
    let rows: Vec<(Option<i64>, String)> =
        sqlx::query_as("select assignee_agent_id, status from ticket order by ticket_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (Some(dana), "closed".into()),
            (Some(dana), "closed".into()),
            (None, "open".into())
        ]
    );
    let tagged: i64 = scalar(&db.pool, "select count(*) from ticket_tag").await;
    assert_eq!(tagged, 1);
    assert_eq!(
        b.post("/inbox/bulk", &[("action", "spam")]).await.status,
        StatusCode::BAD_REQUEST,
        "nothing selected"
    );
    assert_eq!(
        b.post(
            "/inbox/bulk",
            &[("ticket", &c), ("action", "status"), ("value", "gone")]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    db.drop_db().await;
}

/// Bulk-assigns the first two of `ids` as the inbox's bar posts it: every field of the bar is
/// sent, and the chosen action's own field is the one that counts.
async fn bulk_assign(b: &mut Browser, ids: &[String], assignee: &str) -> Page {
    b.post(
        "/inbox/bulk",
        &[
            ("ticket", &ids[0]),
            ("ticket", &ids[1]),
            ("action", "assign"),
            ("assignee", assignee),
            ("status", "open"),
            ("tag", ""),
            ("back", "/inbox?folder=open"),
        ],
    )
    .await
}

#[tokio::test]
async fn bulk_assign_offers_agents_by_name_and_refuses_a_wrong_value_with_a_400() {
    let (db, _) = seeded().await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    // A lead: leads see every mailbox, so the tickets can be given to him.
    let lee = agent(&db, "lee@example.com", "Lee Park", Role::Lead).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;

    // The bar names agents: a select of names whose values are ids, "me" and "Unassigned".
    let inbox = b.get("/inbox").await.body;
    let bar = &inbox[inbox.find("id=\"bulk\"").unwrap()..inbox.find("</form>\n  <table").unwrap()];
    assert!(
        bar.contains("<select id=\"bulk-assignee\" name=\"assignee\">"),
        "{bar}"
    );
    assert!(
        bar.contains(&format!("<option value=\"{lee}\">Lee Park</option>")),
        "{bar}"
    );
    assert!(
        bar.contains("<option value=\"me\">Me (Dana Lee)</option>"),
        "{bar}"
    );
    assert!(
        bar.contains("<option value=\"none\">Unassigned</option>"),
        "{bar}"
    );
    assert!(!bar.contains("an agent id"), "no free-text agent id: {bar}");

    let ids: Vec<String> =
        sqlx::query_scalar("select ticket_id::text from ticket order by ticket_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let lee_id = lee.to_string();
    let p = bulk_assign(&mut b, &ids, &lee_id).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/inbox?folder=open"));
    let assignees = || async {
        sqlx::query_scalar::<_, Option<i64>>(
            "select assignee_agent_id from ticket order by ticket_id",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    assert_eq!(assignees().await, [Some(lee), Some(lee), None]);

    // A name, an unknown id, a made-up word: a 400 naming the value, and nothing changes.
    for wrong in ["Lee Park", "999999", "-1", "everyone"] {
        let p = bulk_assign(&mut b, &ids, wrong).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{wrong:?}: {}", p.body);
        assert!(
            p.body.contains("choose an assignee from the list"),
            "{wrong:?}: {}",
            p.body
        );
        assert_eq!(assignees().await, [Some(lee), Some(lee), None], "{wrong:?}");
    }

    // "Me" and "Unassigned".
    bulk_assign(&mut b, &ids, "me").await;
    assert_eq!(assignees().await, [Some(dana), Some(dana), None]);
    bulk_assign(&mut b, &ids, "none").await;
    assert_eq!(assignees().await, [None, None, None]);
    db.drop_db().await;
}

/// The three seeded tickets, oldest activity first (made 3, 2 and 1 hours old).
async fn tickets_by_age(db: &TestDb) -> Vec<i64> {
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        sqlx::query("update ticket set last_message_at = now() - make_interval(hours => $2) where ticket_id = $1")
            .bind(id)
            .bind(3 - i as i32)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    ids
}

async fn status_of(db: &TestDb, n: i64) -> String {
    scalar_for(
        &db.pool,
        "select status from ticket where ticket_id = $1",
        n,
    )
    .await
}

#[tokio::test]
async fn closing_with_e_goes_on_to_the_next_ticket_of_the_list_it_was_opened_from() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let ids = tickets_by_age(&db).await;
    let oldest = "folder=open&sort=oldest";
    let in_oldest = |n: i64| format!("/tickets/{n}?list=folder%3Dopen%26sort%3Doldest");

    // The inbox links each ticket with its list; the ticket page carries it in its forms
    // and its way back.
    let inbox = b.get(&format!("/inbox?{oldest}")).await.body;
    for n in &ids {
        assert!(
            inbox.contains(&format!("href=\"{}\"", in_oldest(*n))),
            "{inbox}"
        );
    }
    let page = b.get(&in_oldest(ids[0])).await.body;
    assert!(
        page.contains("<a href=\"/inbox?folder=open&#38;sort=oldest\" id=\"back-to-list\">"),
        "{page}"
    );
    let close_form = &page[page.find("id=\"close-ticket\"").unwrap()..];
    let close_form = &close_form[..close_form.find("</form>").unwrap()];
    assert!(
        close_form.contains("name=\"then\" value=\"next\"")
            && close_form.contains("name=\"list\" value=\"folder=open&#38;sort=oldest\""),
        "{close_form}"
    );

    // e on each ticket in turn: the next one of the list (oldest first), then the list.
    let close = |n: i64, list: &'static str| {
        let path = format!("/tickets/{n}/status");
        (
            path,
            [("status", "closed"), ("then", "next"), ("list", list)],
        )
    };
    let (path, form) = close(ids[0], oldest);
    let p = b.post(&path, &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, Some(in_oldest(ids[1])));
    assert_eq!(status_of(&db, ids[0]).await, "closed");
    let next = b.get(&in_oldest(ids[1])).await.body;
    assert!(
        next.contains(&format!("#{} is now closed.", ids[0])),
        "the next page says what happened: {next}"
    );
    let (path, form) = close(ids[1], oldest);
    assert_eq!(b.post(&path, &form).await.location, Some(in_oldest(ids[2])));
    let (path, form) = close(ids[2], oldest);
    assert_eq!(
        b.post(&path, &form).await.location.as_deref(),
        Some("/inbox?folder=open&sort=oldest"),
        "the last one goes back to the list"
    );

    // The list's own order decides: newest activity first, the next is the older one. Without
    // a list (or with a broken one) e goes back to the inbox.
    sqlx::query("update ticket set status = 'open'")
        .execute(&db.pool)
        .await
        .unwrap();
    let (path, form) = close(ids[2], "folder=open");
    assert_eq!(
        b.post(&path, &form).await.location,
        Some(format!(
            "/tickets/{}?list=folder%3Dopen%26sort%3Drecent",
            ids[1]
        ))
    );
    for list in ["", "folder=nope"] {
        let (path, form) = close(ids[1], list);
        assert_eq!(
            b.post(&path, &form).await.location.as_deref(),
            Some("/inbox"),
            "list {list:?}"
        );
    }

    // "Send and close" goes on the same way; plain "Send" stays, in the list.
    sqlx::query("update ticket set status = 'open'")
        .execute(&db.pool)
        .await
        .unwrap();
    let reply = |after: &'static str| {
        [
            ("to", "customer@example.org"),
            ("text", "Done, thanks."),
            ("after", after),
            ("list", oldest),
        ]
    };
    let p = b
        .post(&format!("/tickets/{}/reply", ids[1]), &reply("closed"))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location, Some(in_oldest(ids[2])));
    assert_eq!(status_of(&db, ids[1]).await, "closed");
    let p = b
        .post(&format!("/tickets/{}/reply", ids[0]), &reply("keep"))
        .await;
    assert!(
        p.location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}#m", in_oldest(ids[0]))),
        "{:?}",
        p.location
    );
    // A field saved without JavaScript comes back to the ticket in its list.
    let p = b
        .post(
            &format!("/tickets/{}/priority", ids[0]),
            &[("priority", "high"), ("list", oldest)],
        )
        .await;
    assert_eq!(p.location, Some(in_oldest(ids[0])));
    db.drop_db().await;
}

#[tokio::test]
async fn sidebar_fields_are_saved_one_by_one_and_answer_the_script_in_json() {
    let (db, _) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let lee = agent(&db, "lee@example.com", "Lee Park", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;

    // Each field is its own form that saves itself; Save buttons only without JavaScript.
    let page = b.get(&format!("/tickets/{n}")).await.body;
    let sidebar = &page[page.find("<aside").unwrap()..page.find("</aside>").unwrap()];
    // assignee, status, priority, SLA policy, tags
    assert_eq!(sidebar.matches("data-autosave").count(), 5, "{sidebar}");
    assert_eq!(
        sidebar
            .matches("<button type=\"submit\">Save</button>")
            .count(),
        sidebar
            .matches("<noscript><button type=\"submit\">Save</button></noscript>")
            .count(),
        "every Save button is in <noscript>: {sidebar}"
    );
    assert_eq!(sidebar.matches("class=\"saved\"").count(), 5, "{sidebar}");

    let at = |what: &str| format!("/tickets/{n}/{what}");
    let lee_id = lee.to_string();
    let (s, j) = b.post_json(&at("assign"), &[("assignee", &lee_id)]).await;
    assert_eq!(
        (s, j),
        (
            StatusCode::OK,
            serde_json::json!({"assignee": lee, "assignee_name": "Lee Park"})
        )
    );
    let (s, j) = b
        .post_json(&at("priority"), &[("priority", "urgent")])
        .await;
    assert_eq!(
        (s, j),
        (StatusCode::OK, serde_json::json!({"priority": "urgent"}))
    );
    let (s, j) = b
        .post_json(&at("tags"), &[("tags", " billing, #refund,Billing ,")])
        .await;
    assert_eq!(
        (s, j),
        (
            StatusCode::OK,
            serde_json::json!({"tags": ["billing", "refund"]})
        )
    );
    let (s, j) = b
        .post_json(
            &at("status"),
            &[("status", "pending"), ("snooze_until", "2030-01-01T09:00")],
        )
        .await;
    assert_eq!(
        (s, j),
        (
            StatusCode::OK,
            serde_json::json!({"status": "pending", "snoozed_until": null})
        )
    );
    let row: (Option<i64>, String, String) = sqlx::query_as(
        "select assignee_agent_id, priority, status from ticket where ticket_id = $1",
    )
    .bind(n)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row, (Some(lee), "urgent".into(), "pending".into()));

    // Wrong values: the script gets the status and a message to show, not a page.
    let wrong: [(&str, &[(&str, &str)]); 4] = [
        ("priority", &[("priority", "asap")]),
        ("status", &[("status", "done")]),
        ("assign", &[("assignee", "Lee")]),
        (
            "status",
            &[("status", "snoozed"), ("snooze_until", "tomorrow")],
        ),
    ];
    for (what, form) in wrong {
        let (s, j) = b.post_json(&at(what), form).await;
        assert!(s.is_client_error(), "{what} {form:?}: {s}");
        assert!(
            j["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {j}"
        );
    }
    // Without the JSON ask, the same post redirects (no JavaScript) or shows an error page.
    let p = b.post(&at("priority"), &[("priority", "low")]).await;
    assert_eq!(p.location, Some(format!("/tickets/{n}")));
    let p = b.post(&at("priority"), &[("priority", "asap")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body.contains("<!doctype html>") || p.body.contains("<html"),
        "{}",
        p.body
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_snoozed_ticket_reopens_when_its_time_comes_or_the_customer_writes() {
    let (db, mb) = seeded().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::signed_in(&db, "dana@example.com").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let p = b
        .post(
            &format!("/tickets/{n}/status"),
            &[("status", "snoozed"), ("snooze_until", "2099-01-01T09:00")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        frontdesk::tickets::actions::wake_snoozed(&db.pool)
            .await
            .unwrap(),
        0,
        "not yet"
    );
    execute_for(
        &db.pool,
        "update ticket set snoozed_until = now() - interval '1 minute' where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(
        frontdesk::tickets::actions::wake_snoozed(&db.pool)
            .await
            .unwrap(),
        1
    );
    let status: String = scalar_for(
        &db.pool,
        "select status from ticket where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(status, "open");

    // Snoozed until the customer writes: their reply wakes it.
    b.post(
        &format!("/tickets/{n}/status"),
        &[("status", "snoozed"), ("snooze_until", "2099-01-01T09:00")],
    )
    .await;
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-b.eml")])
        .await;
    ingest(&db.pool).await;
    let (status, until): (String, Option<time::OffsetDateTime>) =
        sqlx::query_as("select status, snoozed_until from ticket where ticket_id = $1")
            .bind(n)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), until), ("open", None));
    assert_eq!(
        b.post(
            &format!("/tickets/{n}/status"),
            &[("status", "snoozed"), ("snooze_until", "tomorrow")]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    db.drop_db().await;
}

#[tokio::test]
async fn merging_moves_the_conversation_and_closes_the_duplicate() {
    let app = TestApp::with_mail(&[
        "23-reply-in-reply-to-only-a.eml",
        "28-unknown-ticket-token.eml",
    ])
    .await;
    let (db, mb) = (&app.db, &app.mb);
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = app.browser_for("dana@example.com").await;
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let (target, source) = (ids[0], ids[1]);
    assert_eq!(
        b.post(
            &format!("/tickets/{source}/merge"),
            &[("into", &format!("#{source}"))]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.post(&format!("/tickets/{source}/merge"), &[("into", "999999")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let p = b
        .post(
            &format!("/tickets/{source}/merge"),
            &[("into", &target.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (count, status): (i32, String) =
        sqlx::query_as("select message_count, status from ticket where ticket_id = $1")
            .bind(target)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((count, status.as_str()), (2, "open"));
    let (count, status): (i32, String) =
        sqlx::query_as("select message_count, status from ticket where ticket_id = $1")
            .bind(source)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((count, status.as_str()), (0, "closed"));
    let page = b.get(&format!("/tickets/{target}")).await;
    assert!(
        page.body.contains("Garantieverlaengerung") || page.body.contains("Netzteil"),
        "the merged message shows"
    );
    assert!(
        page.body
            .contains(&format!("merged #{source} into this ticket"))
    );
    // A later reply to the merged ticket's message threads into the target.
    let followup = "From: Hugo Brandl <h.brandl@example.org>\r\nTo: support@example.com\r\nSubject: Re\r\nMessage-ID: <c28-f@example.org>\r\nIn-Reply-To: <c28-unknown@example.org>\r\n\r\nNoch eine Frage.\r\n";
    mb.deliver("INBOX", &[followup.as_bytes()]).await;
    ingest(&db.pool).await;
    let on_target: i64 = scalar_for(
        &db.pool,
        "select count(*) from message where ticket_id = $1",
        target,
    )
    .await;
    assert_eq!(on_target, 3);
    app.finish().await;
}

#[tokio::test]
async fn tag_counts_follow_tags_statuses_and_spam() {
    let (db, _) = seeded().await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let count = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            frontdesk::tickets::inbox::tag_entries(&pool, None)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.name, e.open))
                .collect::<Vec<_>>()
        }
    };
    use frontdesk::tickets::actions;
    use frontdesk::tickets::{TicketStatus, timeline::Actor};
    let dana = Actor::Agent(dana);
    for id in &ids {
        actions::set_tags(&db.pool, dana, None, *id, &["vip".into()])
            .await
            .unwrap();
    }
    assert_eq!(count(&db).await, [("vip".to_string(), 3)]);
    let mut tx = db.pool.begin().await.unwrap();
    actions::set_status(&mut tx, dana, None, ids[0], TicketStatus::Closed, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    actions::set_spam(&db.pool, dana, None, ids[1], true)
        .await
        .unwrap();
    assert_eq!(count(&db).await, [("vip".to_string(), 1)]);
    let mut tx = db.pool.begin().await.unwrap();
    actions::set_status(&mut tx, dana, None, ids[0], TicketStatus::Open, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    actions::set_tags(&db.pool, dana, None, ids[2], &["billing".into()])
        .await
        .unwrap();
    assert_eq!(
        count(&db).await,
        [("billing".to_string(), 1), ("vip".to_string(), 1)]
    );
    db.drop_db().await;
}

/// Snoozes that end together are woken in several small transactions, all of them in one
/// call, each with its timeline event; ones not yet due stay snoozed.
#[tokio::test]
async fn many_snoozes_ending_together_are_all_woken_in_batches() {
    let db = TestDb::new().await;
    run_seeder(
        &db,
        &[
            "--tickets",
            "300",
            "--messages-per-ticket",
            "1",
            "--mailboxes",
            "1",
            "--agents",
            "1",
            "--seed",
            "5",
        ],
    )
    .await;
    // 250 due (more than two batches), the rest snoozed into the future.
    sqlx::query(
        "update ticket set status = 'snoozed',
                snoozed_until = case when ticket_id <= (select min(ticket_id) + 249 from ticket)
                                     then now() - interval '1 minute' else now() + interval '1 day' end",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let woken = frontdesk::tickets::actions::wake_snoozed(&db.pool)
        .await
        .unwrap();
    assert_eq!(woken, 250);
    let (open, snoozed, events): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from ticket where status = 'open' and snoozed_until is null),
                (select count(*) from ticket where status = 'snoozed'),
                (select count(*) from ticket_event where detail->>'reason' = 'snooze_ended')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((open, snoozed, events), (250, 50, 250));
    assert_eq!(
        frontdesk::tickets::actions::wake_snoozed(&db.pool)
            .await
            .unwrap(),
        0
    );
    db.drop_db().await;
}

/// The sidebar counts come from counter tables kept by triggers; after a bulk load and any mix
/// of changes they must equal counts over the tickets themselves.
#[tokio::test]
async fn folder_mailbox_and_tag_counts_follow_every_kind_of_ticket_change() {
    use frontdesk::tickets::inbox;
    let db = TestDb::new().await;
    run_seeder(
        &db,
        &[
            "--tickets",
            "400",
            "--messages-per-ticket",
            "1",
            "--mailboxes",
            "3",
            "--agents",
            "4",
            "--seed",
            "11",
        ],
    )
    .await;
    let me: i64 = scalar(
        &db.pool,
        "select min(agent_id) from agent where role = 'agent'",
    )
    .await;
    let mailboxes: Vec<i64> = sqlx::query_scalar("select mailbox_id from mailbox order by 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();

    async fn check(db: &TestDb, me: i64, mailboxes: &[i64], when: &str) {
        for visible in [None, Some(&mailboxes[..1]), Some(&mailboxes[1..])] {
            let c = inbox::folder_counts(&db.pool, me, visible).await.unwrap();
            let truth: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
                "select count(*) filter (where not spam and status = 'open' and assignee_agent_id is null),
                        count(*) filter (where not spam and status <> 'closed' and assignee_agent_id = $1),
                        count(*) filter (where not spam and status = 'open'),
                        count(*) filter (where not spam and status = 'pending'),
                        count(*) filter (where not spam and status = 'snoozed'),
                        count(*) filter (where not spam and status = 'closed'),
                        count(*) filter (where spam),
                        count(*) filter (where not spam)
                 from ticket where ($2::bigint[] is null or mailbox_id = any($2))",
            )
            .bind(me)
            .bind(visible)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert_eq!(
                (
                    c.unassigned,
                    c.mine,
                    c.open,
                    c.pending,
                    c.snoozed,
                    c.closed,
                    c.spam,
                    c.all
                ),
                truth,
                "folder counts {when} (visible {visible:?})"
            );
            let entries = inbox::mailbox_entries(&db.pool, visible).await.unwrap();
            for e in entries {
                let n: i64 = scalar_for(
                    &db.pool,
                    "select count(*) from ticket where mailbox_id = $1 and status = 'open' and not spam",
                    e.id,
                )
                .await;
                assert_eq!(e.open, n, "mailbox {} open count {when}", e.name);
            }
            let tags = inbox::tag_entries(&db.pool, visible).await.unwrap();
            let truth: Vec<(i64, i64)> = sqlx::query_as(
                "select tt.tag_id, count(*) from ticket_tag tt join ticket t using (ticket_id)
                 where t.status = 'open' and not t.spam and ($1::bigint[] is null or t.mailbox_id = any($1))
                 group by 1 order by 1",
            )
            .bind(visible)
            .fetch_all(&db.pool)
            .await
            .unwrap();
            let mut got: Vec<(i64, i64)> = tags.iter().map(|t| (t.id, t.open)).collect();
            got.sort();
            assert_eq!(got, truth, "tag counts {when}");
        }
    }

    check(&db, me, &mailboxes, "after the bulk load").await;
    let steps = [
        "update ticket set assignee_agent_id = $1 where ticket_id % 7 = 0",
        "update ticket set status = 'closed' where ticket_id % 5 = 0",
        "update ticket set status = 'open', assignee_agent_id = null where ticket_id % 11 = 0",
        "update ticket set spam = true where ticket_id % 13 = 0",
        "update ticket set mailbox_id = (select max(mailbox_id) from mailbox) where ticket_id % 3 = 0",
        "update ticket set last_message_at = now(), message_count = message_count + 1 where ticket_id % 2 = 0",
        "delete from ticket where ticket_id % 17 = 0",
    ];
    for step in steps {
        let q = sqlx::query(step);
        let q = if step.contains("$1") { q.bind(me) } else { q };
        q.execute(&db.pool).await.unwrap();
        check(&db, me, &mailboxes, &format!("after `{step}`")).await;
    }
    db.drop_db().await;
}

/// Paths no route knows get the app's own 404 page, signed in or not, the same page as a
/// ticket that does not exist; under /api/ they get the API's JSON error.
#[tokio::test]
async fn unknown_paths_show_the_apps_own_not_found_page_and_the_api_answers_json() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let mut b = Browser::new(&db);
    let check_page = |p: &Page, path: &str| {
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(p.body.starts_with("<!doctype html>"), "{path}: {}", p.body);
        assert!(
            p.body.contains("<h1>404</h1>") && p.body.contains("Back to the inbox"),
            "{path}: {}",
            p.body
        );
    };
    for path in ["/reports", "/admin/users/7", "/inbox/nothing-here"] {
        let p = b.get(path).await;
        check_page(&p, path);
    }
    assert_eq!(
        b.login("dana@example.com", "correct horse battery")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let missing_ticket = b.get("/tickets/9999").await;
    check_page(&missing_ticket, "/tickets/9999");
    for path in ["/reports", "/admin/users/7"] {
        let p = b.get(path).await;
        check_page(&p, path);
        assert_eq!(
            p.body, missing_ticket.body,
            "{path}: the same page as a missing ticket"
        );
    }
    for path in ["/api/v1/nothing", "/api/v2/tickets", "/api"] {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(p.body, r#"{"error":"not found"}"#, "{path}");
    }
    db.drop_db().await;
}

/// The row of ticket `n` in an inbox page.
fn inbox_row(body: &str, n: i64) -> &str {
    let at = body
        .find(&format!("name=\"ticket\" value=\"{n}\""))
        .unwrap_or_else(|| panic!("no row for #{n}"));
    let start = body[..at].rfind("<tr").unwrap();
    let end = at + body[at..].find("</tr>").unwrap();
    &body[start..end]
}

#[tokio::test]
async fn the_inbox_shows_how_long_the_customer_has_waited_and_who_wrote_last() {
    let (db, mb) = seeded().await;
    agent(
        &db,
        "dana@example.com",
        "Dana Lee",
        frontdesk::auth::Role::Admin,
    )
    .await;
    let mut b = Browser::new(&db);
    b.login("dana@example.com", "correct horse battery").await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let waiting = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<time::OffsetDateTime>>(
                "select waiting_since from ticket where ticket_id = $1",
            )
            .bind(n)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    let received = |db: &TestDb, header: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<time::OffsetDateTime>>(
                "select received_at from message where header_message_id = $1",
            )
            .bind(header)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    // Nobody has answered her mail: she waits since we received it.
    assert_eq!(
        waiting(&db).await,
        received(&db, "c23a-0F7E2C1B@example.org").await
    );
    let page = b.get("/inbox?folder=all").await.body;
    let row = inbox_row(&page, n);
    assert!(row.contains("class=\"waiting\""), "{row}");
    assert!(row.contains("Customer · "), "{row}");
    // Six days on, the row says so (not "just now", whatever the last activity).
    sqlx::query(
        "update ticket set waiting_since = now() - interval '6 days 1 hour' where ticket_id = $1",
    )
    .bind(n)
    .execute(&db.pool)
    .await
    .unwrap();
    let page = b.get("/inbox?folder=all").await.body;
    assert!(inbox_row(&page, n).contains(">6 days</time>"), "{page}");

    // We answer: nobody waits, and Dana wrote last.
    let p = b
        .post(
            &format!("/tickets/{n}/reply"),
            &[
                ("to", "jana.roth@example.org"),
                ("text", "Wir erstatten den Betrag."),
                ("after", "keep"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(waiting(&db).await, None);
    let page = b.get("/inbox?folder=all").await.body;
    let row = inbox_row(&page, n);
    assert!(!row.contains("class=\"waiting\""), "{row}");
    assert!(row.contains("Dana Lee · "), "{row}");

    // Her follow-up arrives after our reply, though dated before it: she waits again, since
    // its receipt, and wrote last.
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-b.eml")])
        .await;
    ingest(&db.pool).await;
    let since = received(&db, "c23b-5A91D003@example.org").await;
    assert_eq!(waiting(&db).await, since);
    let page = b.get("/inbox?folder=all").await.body;
    let row = inbox_row(&page, n);
    assert!(row.contains("class=\"waiting\""), "{row}");
    assert!(row.contains(">under 1 min</time>"), "{row}");
    assert!(row.contains("Customer · "), "{row}");

    // Another mail of hers: still waiting since the first unanswered one.
    let again = String::from_utf8(case("23-reply-in-reply-to-only-b.eml"))
        .unwrap()
        .replace("<c23b-", "<c23c-")
        .replace("Nachtrag:", "Noch ein Nachtrag:");
    mb.deliver("INBOX", &[again.as_bytes()]).await;
    ingest(&db.pool).await;
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from message where ticket_id = $1")
            .bind(n)
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        4
    );
    assert_eq!(waiting(&db).await, since);

    // A merge recomputes it from the messages: the same answer.
    sqlx::query(
        "update ticket set waiting_since = null, last_author_agent_id = null where ticket_id = $1",
    )
    .bind(n)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("select ticket_refresh_waiting($1)")
        .bind(n)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(waiting(&db).await, since);
    db.drop_db().await;
}

#[tokio::test]
async fn search_opens_ticket_numbers_filters_by_tag_sender_and_status_and_finds_file_names() {
    let (db, mb) = seeded().await;
    mb.deliver("INBOX", &[&case("08-filename-rfc2231-wrong-charset.eml")])
        .await;
    ingest(&db.pool).await;
    agent(
        &db,
        "dana@example.com",
        "Dana Lee",
        frontdesk::auth::Role::Admin,
    )
    .await;
    agent(
        &db,
        "outsider@example.com",
        "Out Sider",
        frontdesk::auth::Role::Agent,
    )
    .await;
    let mut b = Browser::new(&db);
    b.login("dana@example.com", "correct horse battery").await;
    let jana = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let hostile = ticket_by_subject(&db, "Rechnung <script>%").await;
    let report = ticket_by_subject(&db, "Pruefbericht%").await;
    sqlx::query("insert into tag (name) values ('Refund')")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("insert into ticket_tag (ticket_id, tag_id) select $1, tag_id from tag where name = 'Refund'")
        .bind(jana)
        .execute(&db.pool)
        .await
        .unwrap();
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
    let hits = |body: &str| {
        [jana, hostile, report]
            .into_iter()
            .filter(|n| body.contains(&format!("href=\"/tickets/{n}\"")))
            .collect::<Vec<_>>()
    };

    // `#N` opens the ticket; one the agent may not see, or none, is an empty search.
    let p = b.get(&format!("/search?q=%23{jana}")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, Some(format!("/tickets/{jana}")));
    let p = b.get("/search?q=%23987654").await;
    assert_eq!((p.status, hits(&p.body)), (StatusCode::OK, vec![]));
    let mut out = Browser::new(&db);
    out.login("outsider@example.com", "correct horse battery")
        .await;
    let p = out.get(&format!("/search?q=%23{jana}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("/tickets/"));

    for (q, want) in [
        ("tag:refund", vec![jana]),
        ("tag:%23REFUND", vec![jana]),
        ("rechnung", vec![jana, hostile]),
        ("rechnung+tag:refund", vec![jana]),
        ("Kundenkonto+tag:refund", vec![]),
        ("from:Jana.Roth%40example.org", vec![jana]),
        ("rechnung+from:jana.roth%40example.org", vec![jana]),
        ("status:closed", vec![]),
        ("rechnung+status:open", vec![jana, hostile]),
        // The attachment is `Prüfbericht März 2025.pdf`; the mail itself says "Pruefbericht".
        ("Pr%C3%BCfbericht", vec![report]),
        ("pdf", vec![report]),
    ] {
        let p = b.get(&format!("/search?q={q}")).await;
        assert_eq!(p.status, StatusCode::OK, "{q}");
        let mut got = hits(&p.body);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{q}");
    }
    let p = b.get("/search?q=rechnung+status:bogus").await;
    assert!(
        p.body.contains("Left out of the search: status:bogus"),
        "{}",
        p.body
    );
    assert_eq!(hits(&p.body).len(), 2);
    db.drop_db().await;
}

/// The raw response to a signed-in GET (headers included).
async fn get_response(b: &Browser, path: &str) -> axum::response::Response {
    let r = Request::get(path).header(header::COOKIE, b.cookie.clone().unwrap());
    b.router
        .clone()
        .oneshot(r.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn attachments_show_size_type_and_thumbnails_and_pdfs_and_images_open_sandboxed() {
    let (db, mb) = seeded().await;
    mb.deliver("INBOX", &[&case("08-filename-rfc2231-wrong-charset.eml")])
        .await;
    ingest(&db.pool).await;
    agent(
        &db,
        "dana@example.com",
        "Dana Lee",
        frontdesk::auth::Role::Admin,
    )
    .await;
    let mut b = Browser::new(&db);
    b.login("dana@example.com", "correct horse battery").await;
    let report = ticket_by_subject(&db, "Pruefbericht%").await;
    let screenshot = ticket_by_subject(&db, "Fehlermeldung%").await;
    let att = |ticket: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select a.attachment_id from attachment a join message m using (message_id)
                 where m.ticket_id = $1",
            )
            .bind(ticket)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (pdf, png) = (att(report).await, att(screenshot).await);

    // Size and type for every file; a PDF opens in the viewer, with a download beside it.
    let page = b.get(&format!("/tickets/{report}")).await.body;
    assert!(page.contains("113 B · PDF"), "{page}");
    assert!(
        page.contains(&format!(
            "href=\"/attachments/{pdf}?inline=1\" target=\"_blank\""
        )),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/attachments/{pdf}\" download")));
    // An image has a thumbnail.
    let page = b.get(&format!("/tickets/{screenshot}")).await.body;
    assert!(page.contains("PNG image"), "{page}");
    assert!(
        page.contains(&format!("<img src=\"/attachments/{png}?inline=1\"")),
        "{page}"
    );

    for (id, ty) in [(pdf, "application/pdf"), (png, "image/png")] {
        let resp = get_response(&b, &format!("/attachments/{id}?inline=1")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], ty);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(
            h[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("inline;")
        );
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        // Without ?inline=1 it is a download.
        let resp = get_response(&b, &format!("/attachments/{id}")).await;
        assert!(
            resp.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
    }
    // Anything else is a download even when asked to show it.
    sqlx::query("update attachment set content_type = 'text/html' where attachment_id = $1")
        .bind(pdf)
        .execute(&db.pool)
        .await
        .unwrap();
    let resp = get_response(&b, &format!("/attachments/{pdf}?inline=1")).await;
    assert!(
        resp.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        !b.get(&format!("/tickets/{report}"))
            .await
            .body
            .contains(&format!("/attachments/{pdf}?inline=1"))
    );

    // "Show with remote images" only on a mail that has some.
    assert!(
        !page.contains("Show with remote images"),
        "case 13 has only its cid image"
    );
    sqlx::query(
        "update message set html_body = '<p>Hallo <img src=\"https://tracker.example/p.gif\"></p>'
         where ticket_id = $1",
    )
    .bind(screenshot)
    .execute(&db.pool)
    .await
    .unwrap();
    let page = b.get(&format!("/tickets/{screenshot}")).await.body;
    assert!(page.contains("Show with remote images"), "{page}");
    db.drop_db().await;
}
