//! Security regressions (issue 14): each test here failed before its fix.

use axum::http::StatusCode;

use crate::support::*;
use crate::web::{Browser, agent};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_in_follows_only_local_paths_and_never_fails_on_a_hostile_next() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", frontdesk::auth::Role::Agent).await;
    for (next, to) in [
        ("/\t/evil.example", "/inbox"),
        ("/\n/x", "/inbox"),
        ("/\r\nSet-Cookie: x=1", "/inbox"),
        ("//evil.example", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("https://evil.example/", "/inbox"),
        ("/search?q=x", "/search?q=x"),
    ] {
        let mut b = Browser::new(&db);
        let form = b.get(&format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
        ))
        .await;
        assert_eq!(form.status, StatusCode::OK, "{next:?}");
        assert!(!form.body.contains("evil.example"), "{next:?} kept in the form");
        let signed_in = b
            .post(
                "/login",
                &[("email", "dana@example.com"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(signed_in.location.as_deref(), Some(to), "{next:?}");
    }
    db.drop_db().await;
}
