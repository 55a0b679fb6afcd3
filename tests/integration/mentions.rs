//! @mentions in internal notes: an agent who is offline gets one email through the outbox and
//! a real SMTP server (the shared sink); an agent who is online gets none. The mail is machine
//! mail to a colleague, never part of the customer's conversation.

use axum::http::StatusCode;
use frontdesk::outbox::{self, OutboxError};
use sqlx::PgPool;

use crate::support::smtp::{received_for, sink_dir, sink_url};
use crate::support::*;

/// A mailbox sending through the shared sink, and a ticket on it. Returns the ticket number.
/// The test's one mailbox (made by [`ticket`]).
async fn the_mailbox(pool: &PgPool) -> i64 {
    scalar(pool, "select mailbox_id from mailbox").await
}

async fn ticket(pool: &PgPool) -> i64 {
    let mailbox_id = offline_mailbox(pool, SUPPORT, Some(&sink_url())).await;
    scalar_for(
        pool,
        "insert into ticket (mailbox_id, subject) values ($1, 'Printer on fire') returning ticket_id",
        mailbox_id).await
}

/// Dana (signed in) and Lee, whose address is unique to this run so that the shared sink's
/// mail for Lee is this test's. Returns Dana's browser, Lee's id and Lee's address.
async fn dana_and_lee(db: &TestDb) -> (Browser, i64, String) {
    agent(db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let lee_email = format!("{}@example.com", random_name("lee"));
    let lee = agent(db, &lee_email, "Lee Park", frontdesk::auth::Role::Agent).await;
    let dana = Browser::signed_in(db, "dana@example.com").await;
    (dana, lee, lee_email)
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn an_offline_mentioned_agent_gets_exactly_one_mail_outside_the_customer_thread() {
    let db = TestDb::new().await;
    let n = ticket(&db.pool).await;
    let (mut dana, lee, lee_email) = dana_and_lee(&db).await;
    // Lee is an agent: mentions reach only agents who can see the mailbox.
    grant_through_team(&db.pool, "Support", lee, the_mailbox(&db.pool).await).await;

    let posted = dana
        .post(
            &format!("/tickets/{n}/notes"),
            &[("text", "@lee.park can you check the fuse box?")],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&db.pool, "select count(*) from notification").await,
        1,
        "the in-app notification"
    );
    assert_eq!(count(&db.pool, "select count(*) from outbox").await, 1);

    // Two passes: the mail is sent once, and a later pass sends nothing again.
    outbox::send_due(&db.pool).await.unwrap();
    outbox::send_due(&db.pool).await.unwrap();
    let mails = received_for(&sink_dir(), &lee_email);
    assert_eq!(mails.len(), 1, "exactly one mail for Lee");
    let m = &mails[0];
    assert_eq!(
        m.rcpt_tos,
        [lee_email.as_str()],
        "only Lee, never the customer"
    );
    assert_eq!(m.mail_from, SUPPORT);
    assert!(m.header("From").unwrap().contains(SUPPORT));
    assert!(m.header("To").unwrap().contains(&lee_email));
    assert!(m.header("Reply-To").unwrap().contains("dana@example.com"));
    assert_eq!(
        m.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(m.header("In-Reply-To").is_none());
    assert!(m.header("References").is_none());
    let parsed = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some(format!("[#{n}] Dana Lee mentioned you: Printer on fire").as_str())
    );
    let body = parsed.body_text(0).unwrap();
    assert!(
        body.contains("@lee.park can you check the fuse box?"),
        "{body}"
    );
    let public_url = frontdesk::config::Config::from_env().unwrap().public_url;
    assert!(
        body.contains(&format!("{}/tickets/{n}", public_url.trim_end_matches('/'))),
        "{body}"
    );

    // Not a ticket message: the note is the ticket's only message, its Message-ID is stored
    // nowhere, and the ticket's counters are untouched.
    let (state, message_id): (String, Option<i64>) =
        sqlx::query_as("select state, message_id from outbox")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), message_id), ("sent", None));
    let directions: Vec<String> = column_for(
        &db.pool,
        "select direction from message where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(directions, ["note"]);
    let mid = m.header("Message-ID").unwrap();
    let stored: i64 = scalar_for(
        &db.pool,
        "select count(*) from message where '<' || header_message_id || '>' = $1",
        &mid,
    )
    .await;
    assert_eq!(stored, 0);
    assert_eq!(
        count(&db.pool, "select message_count::bigint from ticket").await,
        0
    );

    // The same notification cannot be queued twice.
    let notification_id: i64 = scalar(&db.pool, "select notification_id from notification").await;
    let again = frontdesk::outbox::NotificationEmail {
        mailbox_id: count(&db.pool, "select mailbox_id from mailbox").await,
        notification_id,
        from_name: "x".into(),
        from_address: SUPPORT.into(),
        to: frontdesk::ingest::parse::EmailAddress {
            email: lee_email.clone(),
            name: None,
        },
        reply_to: None,
        subject: "again".into(),
        header_message_id: format!("{}@example.com", random_name("again")),
        text: "again".into(),
    };
    let mut tx = db.pool.begin().await.unwrap();
    assert!(matches!(
        outbox::enqueue_notification(&mut tx, &again).await,
        Err(OutboxError::NotificationAlreadyQueued(id)) if id == notification_id
    ));
    drop(tx);
    db.drop_db().await;
}

#[tokio::test]
async fn an_online_mentioned_agent_gets_no_mail_and_one_away_for_long_does() {
    let db = TestDb::new().await;
    let n = ticket(&db.pool).await;
    let (mut dana, lee, lee_email) = dana_and_lee(&db).await;
    execute_for(
        &db.pool,
        "update agent set role = 'admin' where agent_id = $1",
        lee,
    )
    .await;
    // Lee has the inbox open: a signed-in request marks Lee as seen.
    let mut lee_browser = Browser::new(&db);
    lee_browser.login(&lee_email, "correct horse battery").await;
    assert_eq!(lee_browser.get("/inbox").await.status, StatusCode::OK);

    let note = dana
        .post(&format!("/tickets/{n}/notes"), &[("text", "@lee.park fyi")])
        .await;
    assert_eq!(note.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&db.pool, "select count(*) from notification").await,
        1
    );
    assert_eq!(count(&db.pool, "select count(*) from outbox").await, 0);
    outbox::send_due(&db.pool).await.unwrap();
    assert!(received_for(&sink_dir(), &lee_email).is_empty());

    // Lee was last seen ten minutes ago: offline now, so the next mention is mailed.
    execute_for(
        &db.pool,
        "update agent set last_seen_at = now() - interval '10 minutes' where agent_id = $1",
        lee,
    )
    .await;
    dana.post(
        &format!("/tickets/{n}/notes"),
        &[("text", "@lee.park now?")],
    )
    .await;
    assert_eq!(count(&db.pool, "select count(*) from outbox").await, 1);
    outbox::send_due(&db.pool).await.unwrap();
    assert_eq!(received_for(&sink_dir(), &lee_email).len(), 1);
    db.drop_db().await;
}

/// Dana's note names one reachable colleague, one who cannot see the mailbox, one handle of
/// nobody, herself and an email address: it is saved, only the reachable colleague is told,
/// and the page after it says, once, which mentions told nobody. The API says the same.
#[tokio::test]
async fn a_mention_that_reaches_nobody_is_reported_and_the_note_is_still_saved() {
    let db = TestDb::new().await;
    let n = ticket(&db.pool).await;
    // Lee is an agent without access to the mailbox; Sam is an admin (sees every mailbox).
    let (mut dana, _lee, _) = dana_and_lee(&db).await;
    let sam = agent(&db, "sam.ortiz@example.com", "Sam Ortiz", Role::Admin).await;
    let text =
        "@sam.ortiz @lee.park @foo @dana please check; the customer wrote from dana@example.com";
    let posted = dana
        .post(&format!("/tickets/{n}/notes"), &[("text", text)])
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let note_id: i64 = scalar(
        &db.pool,
        "select message_id from message where direction = 'note'",
    )
    .await;
    assert_eq!(
        posted.location.as_deref(),
        Some(format!("/tickets/{n}#m{note_id}").as_str())
    );
    let told: Vec<i64> = sqlx::query_scalar("select agent_id from notification")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(told, [sam], "only Sam can be told");

    let page = dana.get(&format!("/tickets/{n}")).await.body;
    let notices: Vec<&str> = page
        .lines()
        .filter(|l| l.contains("class=\"notice"))
        .collect();
    assert_eq!(notices.len(), 3, "{notices:#?}");
    // Who was told comes first (Sam is offline: never seen in the web UI).
    assert!(
        notices[0].contains("Notified Sam Ortiz (offline: by email too).")
            && notices[0].contains("role=\"status\""),
        "{notices:#?}"
    );
    assert!(
        notices[1]
            .contains("@lee.park is Lee Park, who cannot see this mailbox; nobody was notified.")
            && notices[1].contains("role=\"alert\""),
        "{notices:#?}"
    );
    assert!(
        notices[2].contains("@foo matches no agent; nobody was notified."),
        "{notices:#?}"
    );
    assert!(
        !page.contains("@example.com matches"),
        "an address is no mention"
    );
    assert!(
        !page.contains("@dana matches"),
        "a self-mention is no surprise"
    );
    // The note is on the page, the mention that reached Sam marked, the others plain.
    assert!(
        page.contains(
            "<mark class=\"mention\" title=\"Sam Ortiz was notified\">@sam.ortiz</mark> @lee.park @foo \
             @dana please check; the customer wrote from dana@example.com"
        ),
        "{page}"
    );
    assert_eq!(page.matches("class=\"mention\"").count(), 1);
    // Shown once: a reload has no notice.
    let again = dana.get(&format!("/tickets/{n}")).await.body;
    assert!(
        !again.contains("class=\"notice"),
        "the notice is shown once"
    );

    // The API reports the same mentions.
    let token = frontdesk::auth::create_api_token(&db.pool, sam)
        .await
        .unwrap();
    let resp = dana
        .send(
            axum::http::Request::post(format!("/api/v1/tickets/{n}/notes"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json"),
            axum::body::Body::from(
                serde_json::json!({"text": "@dana.lee @nobody @LeePark, mail bob@example.com"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(resp.status, StatusCode::CREATED, "{}", resp.body);
    let j: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert!(j["id"].as_i64().is_some(), "{j}");
    assert_eq!(
        j["notified"],
        serde_json::json!(["dana@example.com"]),
        "{j}"
    );
    assert_eq!(
        j["unresolved_mentions"],
        serde_json::json!([
            {"handle": "nobody", "reason": "no_such_agent"},
            {"handle": "leepark", "reason": "no_access", "agent": "Lee Park"},
        ]),
        "{j}"
    );
    db.drop_db().await;
}

/// The composer's suggestions: agents who can be told about a note on this ticket, each with
/// a handle that names them, never the agent asking; only for a signed-in agent who sees the
/// ticket.
#[tokio::test]
async fn the_composer_offers_only_agents_a_mention_can_reach() {
    let db = TestDb::new().await;
    let n = ticket(&db.pool).await;
    let (mut dana, lee, lee_email) = dana_and_lee(&db).await;
    agent(&db, "sam+desk@example.com", "Sam Ortiz", Role::Lead).await;
    let path = format!("/tickets/{n}/mentionable");
    let offered = dana.get(&path).await;
    assert_eq!(offered.status, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_str(&offered.body).unwrap();
    // Lee is an agent without a team for this mailbox; "sam+desk" cannot be typed, so his
    // name is the handle.
    assert_eq!(
        list,
        serde_json::json!([{"name": "Sam Ortiz", "handle": "sam.ortiz"}])
    );

    // Once Lee's team is granted the mailbox he is offered, by his address's local part.
    grant_through_team(&db.pool, "Support", lee, the_mailbox(&db.pool).await).await;
    let list: serde_json::Value = serde_json::from_str(&dana.get(&path).await.body).unwrap();
    let lee_handle = lee_email.split('@').next().unwrap();
    assert_eq!(
        list,
        serde_json::json!([
            {"name": "Lee Park", "handle": lee_handle},
            {"name": "Sam Ortiz", "handle": "sam.ortiz"},
        ])
    );
    // Each handle offered is one a note resolves to that agent.
    dana.post(
        &format!("/tickets/{n}/notes"),
        &[("text", &format!("@{lee_handle} @sam.ortiz"))],
    )
    .await;
    assert_eq!(
        count(&db.pool, "select count(*) from notification").await,
        2
    );

    // Anonymous: to the sign-in page. A ticket outside Lee's mailboxes, or none: 404.
    let mut anonymous = Browser::new(&db);
    assert_eq!(anonymous.get(&path).await.status, StatusCode::SEE_OTHER);
    let mut lee_browser = Browser::new(&db);
    lee_browser.login(&lee_email, "correct horse battery").await;
    assert_eq!(lee_browser.get(&path).await.status, StatusCode::OK);
    sqlx::query("delete from team_mailbox")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(lee_browser.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        dana.get("/tickets/999999/mentionable").await.status,
        StatusCode::NOT_FOUND
    );
    db.drop_db().await;
}
