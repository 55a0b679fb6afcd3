//! List and bulk mail (newsletters, mailing-list posts) through Dovecot and the real poller:
//! kept as a closed ticket, out of the Unassigned/open work queue until a person writes on it.

use frontdesk::tickets::inbox;

use crate::support::*;

fn mail(from: &str, id: &str, headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: Example Support <{SUPPORT}>\r\nSubject: Mail {id}\r\n\
         Message-ID: <{id}@example.net>\r\n{headers}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nText of {id}.\r\n"
    )
    .into_bytes()
}

async fn ticket_of(db: &TestDb, id: &str) -> (i64, String) {
    sqlx::query_as(
        "select t.ticket_id, t.status from message m join ticket t using (ticket_id)
         where m.header_message_id = $1",
    )
    .bind(format!("{id}@example.net"))
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_newsletter_opens_a_closed_ticket_out_of_the_queue_until_a_person_writes_on_it() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let newsletter = mail(
        "ShipFast News <news@shipfast.example.net>",
        "news-1",
        "List-Id: ShipFast customer news <news.shipfast.example.net>\r\n\
         List-Unsubscribe: <mailto:unsubscribe@shipfast.example.net>\r\nPrecedence: bulk\r\n",
    );
    let alert = mail(
        "Monitor <alerts@monitor.example.net>",
        "alert-1",
        "Auto-Submitted: auto-generated\r\n",
    );
    let person = mail("Jana Roth <jana.roth@example.org>", "person-1", "");
    mb.deliver("INBOX", &[&newsletter, &alert, &person]).await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.new_tickets, 3, "{c}");

    let (news, status) = ticket_of(db, "news-1").await;
    assert_eq!(status, "closed", "list mail starts closed");
    assert_eq!(
        ticket_of(db, "alert-1").await.1,
        "open",
        "a notification is not bulk"
    );
    assert_eq!(ticket_of(db, "person-1").await.1, "open");
    let counts = inbox::folder_counts(&db.pool, 0, None).await.unwrap();
    assert_eq!((counts.unassigned, counts.closed), (2, 1));
    let reason: String = scalar_for(
        &db.pool,
        "select detail->>'reason' from ticket_event where ticket_id = $1 and kind = 'status_changed'",
        news,
    )
    .await;
    assert_eq!(reason, "bulk_mail", "the timeline says why it is closed");

    // A person answering the newsletter brings it into the queue like any closed ticket.
    let reply = mail(
        "Jana Roth <jana.roth@example.org>",
        "person-2",
        "In-Reply-To: <news-1@example.net>\r\n",
    );
    mb.deliver("INBOX", &[&reply]).await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.threaded, 1, "{c}");
    assert_eq!(ticket_of(db, "news-1").await, (news, "open".to_string()));
    app.finish().await;
}
