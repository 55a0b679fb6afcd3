//! The search vector has one definition, the SQL function `message_search_vector`: the
//! background indexer and the benchmark seeder (`frontdesk-seed`) both store what it gives.

use crate::support::*;

/// Messages whose stored vector differs from the function's, and messages without one.
async fn vectors_off_the_function(db: &TestDb) -> (i64, i64, i64) {
    sqlx::query_as(
        "select count(*),
                count(*) filter (where search is distinct from
                    message_search_vector(subject, from_email, from_name, text_body)),
                count(*) filter (where search is null)
         from message",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_indexer_stores_what_the_sql_search_vector_function_gives() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    mb.deliver(
        "INBOX",
        &[
            &case("12-xss-html-body.eml"),
            &case("23-reply-in-reply-to-only-a.eml"),
            &case("23-reply-in-reply-to-only-b.eml"),
        ],
    )
    .await;
    ingest(&db.pool).await;
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
    let (messages, differ, unindexed) = vectors_off_the_function(&db).await;
    assert!(messages >= 3);
    assert_eq!((differ, unindexed), (0, 0), "of {messages} messages");
    // The function is the expression the indexer used before it, so vectors stored by
    // earlier versions stay valid.
    let changed: i64 = sqlx::query_scalar(
        "select count(*) from message
         where message_search_vector(subject, from_email, from_name, text_body) is distinct from
            (setweight(to_tsvector('simple', coalesce(subject, '')), 'A')
             || setweight(to_tsvector('simple', coalesce(from_email, '') || ' ' || coalesce(from_name, '')), 'B')
             || to_tsvector('simple', left(text_body, 20000)))",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(changed, 0);
    db.drop_db().await;
}

#[tokio::test]
async fn the_seeder_and_the_indexer_store_the_same_search_vectors() {
    let db = TestDb::new().await;
    let stdout = run_seeder(&db, &["--tickets", "20", "--agents", "2", "--seed", "3"]).await;
    assert!(stdout.contains("admin-password: "), "{stdout}");
    let (messages, differ, unindexed) = vectors_off_the_function(&db).await;
    assert!(messages >= 20, "{stdout}");
    assert_eq!(
        (differ, unindexed),
        (0, 0),
        "seeded, of {messages} messages"
    );

    // What the seeder stored is what the indexer builds for the same messages.
    sqlx::query("create table seeded_search as select message_id, search from message")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update message set search = null")
        .execute(&db.pool)
        .await
        .unwrap();
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
    let differ: i64 = sqlx::query_scalar(
        "select count(*) from message m join seeded_search s using (message_id)
         where m.search is distinct from s.search",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(differ, 0, "of {messages} messages");
    db.drop_db().await;
}
