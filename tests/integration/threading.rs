//! Threading of replies that carry no usable In-Reply-To/References and no `[#N]` token: the
//! subject fallback (same sender, same mailbox, reply prefix, same base subject, 30 days),
//! through Dovecot and the real poller.

use crate::support::*;

/// A plain-text mail without Date (so its time is the receipt time), In-Reply-To or
/// References.
fn mail(from: &str, to: &str, subject: &str, id: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.org>\r\n\
         {extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Text of {id}.\r\n"
    )
    .into_bytes()
}

const JANA: &str = "Jana Roth <jana.roth@example.org>";

fn to_support() -> String {
    format!("Example Support <{SUPPORT}>")
}

/// Delivers one mail and runs the poller over it.
async fn deliver(
    db: &TestDb,
    mb: &TestMailbox,
    raw: &[u8],
) -> frontdesk::ingest::store::IngestCounts {
    mb.deliver("INBOX", &[raw]).await;
    ingest(&db.pool).await
}

async fn ticket_of(db: &TestDb, message_id: &str) -> i64 {
    scalar_for(
        &db.pool,
        "select ticket_id from message where header_message_id = $1",
        format!("{message_id}@example.org"),
    )
    .await
}

async fn set_last_activity(db: &TestDb, ticket: i64, days_ago: i32) {
    sqlx::query(
        "update ticket set last_message_at = now() - make_interval(days => $2) where ticket_id = $1",
    )
    .bind(ticket)
    .bind(days_ago)
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_reply_without_headers_joins_the_senders_latest_ticket_with_that_subject_and_reopens_it()
{
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let to = to_support();
    deliver(
        db,
        mb,
        &mail(JANA, &to, "Drucker druckt nicht", "t1-old", ""),
    )
    .await;
    deliver(
        db,
        mb,
        &mail(JANA, &to, "Drucker druckt nicht", "t1-new", ""),
    )
    .await;
    deliver(db, mb, &mail(JANA, &to, "Rechnung 7781", "t1-other", "")).await;
    let (older, newer, other) = (
        ticket_of(db, "t1-old").await,
        ticket_of(db, "t1-new").await,
        ticket_of(db, "t1-other").await,
    );
    assert_eq!(ticket_count(&db.pool).await, 3, "no prefix, no threading");
    set_last_activity(db, older, 3).await;
    set_last_activity(db, newer, 2).await;
    execute_for(
        &db.pool,
        "update ticket set status = 'closed' where ticket_id = $1",
        newer,
    )
    .await;

    let c = deliver(
        db,
        mb,
        &mail(
            "Jana Roth <Jana.Roth@example.org>",
            &to,
            "AW: RE:  drucker druckt nicht",
            "t1-reply",
            "",
        ),
    )
    .await;

    assert_eq!((c.threaded, c.new_tickets), (1, 0), "{c}");
    assert_eq!(ticket_count(&db.pool).await, 3);
    assert_eq!(
        ticket_of(db, "t1-reply").await,
        newer,
        "the most recent match"
    );
    let t = ticket_json(&db.pool, newer).await;
    assert_eq!(t["status"], "open", "a closed ticket reopens");
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
    assert_ne!(newer, older);
    assert_ne!(newer, other);
    app.finish().await;
}

#[tokio::test]
async fn a_reply_subject_from_another_sender_or_an_auto_reply_opens_no_thread() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let to = to_support();
    deliver(db, mb, &mail(JANA, &to, "Drucker druckt nicht", "t2-a", "")).await;
    let jana_ticket = ticket_of(db, "t2-a").await;

    let c = deliver(
        db,
        mb,
        &mail(
            "Eve <eve@example.net>",
            &to,
            "Re: Drucker druckt nicht",
            "t2-eve",
            "",
        ),
    )
    .await;
    assert_eq!(
        (c.threaded, c.new_tickets),
        (0, 1),
        "never across senders: {c}"
    );
    assert_ne!(ticket_of(db, "t2-eve").await, jana_ticket);

    let c = deliver(
        db,
        mb,
        &mail(
            JANA,
            &to,
            "Re: Drucker druckt nicht",
            "t2-ooo",
            "Auto-Submitted: auto-replied\r\n",
        ),
    )
    .await;
    assert_eq!(
        (c.threaded, c.skipped_automated),
        (0, 1),
        "an auto-reply is never threaded by subject: {c}"
    );
    assert_eq!(ticket_count(&db.pool).await, 2);
    app.finish().await;
}

#[tokio::test]
async fn the_same_subject_without_a_reply_prefix_opens_a_new_ticket() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let to = to_support();
    deliver(db, mb, &mail(JANA, &to, "Drucker druckt nicht", "t3-a", "")).await;
    for (subject, id) in [
        ("Drucker druckt nicht", "t3-again"),
        ("Fwd: Drucker druckt nicht", "t3-fwd"),
    ] {
        let c = deliver(db, mb, &mail(JANA, &to, subject, id, "")).await;
        assert_eq!((c.threaded, c.new_tickets), (0, 1), "{subject:?}: {c}");
    }
    assert_eq!(ticket_count(&db.pool).await, 3);
    app.finish().await;
}

#[tokio::test]
async fn a_reply_to_a_ticket_quiet_for_more_than_30_days_opens_a_new_ticket() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let to = to_support();
    deliver(
        db,
        mb,
        &mail(JANA, &to, "Drucker druckt nicht", "t4-old", ""),
    )
    .await;
    deliver(db, mb, &mail(JANA, &to, "Toner leer", "t4-recent", "")).await;
    set_last_activity(db, ticket_of(db, "t4-old").await, 31).await;
    let recent = ticket_of(db, "t4-recent").await;
    set_last_activity(db, recent, 29).await;

    let c = deliver(
        db,
        mb,
        &mail(JANA, &to, "Re: Drucker druckt nicht", "t4-r1", ""),
    )
    .await;
    assert_eq!((c.threaded, c.new_tickets), (0, 1), "31 days: {c}");
    let c = deliver(db, mb, &mail(JANA, &to, "Re: Toner leer", "t4-r2", "")).await;
    assert_eq!((c.threaded, c.new_tickets), (1, 0), "29 days: {c}");
    assert_eq!(ticket_of(db, "t4-r2").await, recent);
    app.finish().await;
}

#[tokio::test]
async fn a_reply_by_subject_never_crosses_mailboxes() {
    let db = TestDb::new().await;
    let support = TestMailbox::new(&db.pool, &[]).await;
    let billing_url = format!("imap://{}:secret@{}/INBOX", random_name("u"), imap_addr());
    let billing = TestMailbox {
        mailbox_id: frontdesk::mailboxes::upsert_mailbox(
            &db.pool,
            "Billing",
            "billing@example.com",
            &billing_url,
            None,
        )
        .await
        .unwrap(),
        url: billing_url,
    };
    let to = to_support();
    deliver(
        &db,
        &support,
        &mail(JANA, &to, "Drucker druckt nicht", "t5-a", ""),
    )
    .await;

    let reply = mail(
        JANA,
        "billing@example.com",
        "Re: Drucker druckt nicht",
        "t5-r",
        "",
    );
    let c = deliver(&db, &billing, &reply).await;
    assert_eq!((c.threaded, c.new_tickets), (0, 1), "{c}");
    let mailbox: i64 = scalar_for(
        &db.pool,
        "select mailbox_id from ticket where ticket_id = $1",
        ticket_of(&db, "t5-r").await,
    )
    .await;
    assert_eq!(mailbox, billing.mailbox_id);
    db.drop_db().await;
}

/// One poll brings a mail, its reply (by In-Reply-To), a reply by subject alone, another mail of
/// the same new customer, a colleague of theirs, and a reply to a closed ticket: the batch is
/// stored set-based, and each mail still lands as if stored one by one.
#[tokio::test]
async fn one_batch_threads_its_own_replies_and_creates_each_customer_once() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let to = to_support();
    let lea = "Lea Berg <lea@acme.example>";
    deliver(db, mb, &mail(lea, &to, "Old question", "b0", "")).await;
    let old = ticket_of(db, "b0").await;
    execute_for(
        &db.pool,
        "update ticket set status = 'closed' where ticket_id = $1",
        old,
    )
    .await;

    let batch = [
        mail(JANA, &to, "Login fails", "b1", ""),
        mail(
            JANA,
            &to,
            "Re: Login fails",
            "b2",
            "In-Reply-To: <b1@example.org>\r\n",
        ),
        mail(JANA, &to, "Re: Login fails", "b3", ""),
        mail(
            "Jana <jana.roth@example.org>",
            &to,
            "Other question",
            "b4",
            "",
        ),
        mail("Max Berg <max@acme.example>", &to, "Invoice", "b5", ""),
        mail(
            lea,
            &to,
            "Re: Old question",
            "b6",
            "References: <b0@example.org>\r\n",
        ),
    ];
    mb.deliver(
        "INBOX",
        &batch.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )
    .await;
    let c = ingest(&db.pool).await;

    assert_eq!((c.new_tickets, c.threaded), (3, 3), "{c}");
    let login = ticket_of(db, "b1").await;
    assert_eq!(
        ticket_of(db, "b2").await,
        login,
        "In-Reply-To within the batch"
    );
    assert_eq!(
        ticket_of(db, "b3").await,
        login,
        "reply subject within the batch"
    );
    assert_ne!(ticket_of(db, "b4").await, login);
    assert_eq!(ticket_of(db, "b6").await, old);
    let t = ticket_json(&db.pool, login).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 3);
    assert_eq!(
        scalar_for::<i32, _>(
            &db.pool,
            "select message_count from ticket where ticket_id = $1",
            login
        )
        .await,
        3
    );
    let kinds: Vec<String> = sqlx::query_scalar(
        "select kind from ticket_event where ticket_id = $1 order by ticket_event_id",
    )
    .bind(login)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(kinds, ["created", "message_received", "message_received"]);
    let t = ticket_json(&db.pool, old).await;
    assert_eq!(t["status"], "open", "the reply reopened the closed ticket");
    let kinds: Vec<String> = sqlx::query_scalar(
        "select kind from ticket_event where ticket_id = $1 order by ticket_event_id",
    )
    .bind(old)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(kinds, ["created", "message_received", "status_changed"]);
    // One customer per address, in any case; one company for acme.example's two people.
    let customers: Vec<(String, Option<String>)> = sqlx::query_as(
        "select c.email, co.domain from customer c left join company co using (company_id) order by c.email",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        customers,
        [
            (
                "jana.roth@example.org".to_string(),
                Some("example.org".to_string())
            ),
            (
                "lea@acme.example".to_string(),
                Some("acme.example".to_string())
            ),
            (
                "max@acme.example".to_string(),
                Some("acme.example".to_string())
            ),
        ]
    );
    app.finish().await;
}
