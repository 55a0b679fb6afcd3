//! TLS side of the harness: the private test CA and the servers that present its certificate
//! (`scripts/test-certs`; the test Dovecot and SMTP sink), and the same servers on
//! [`untrusted_host`] presenting a certificate of a CA that nothing trusts.

use frontdesk::config::Config;
use frontdesk::mailboxes::{ImapUrl, MailTls};

use super::client::{Browser, PASSWORD};
use super::{TestDb, TestMailbox, env};

/// What a node with `FRONTDESK_EXTRA_CA_FILE` set to the test CA trusts.
pub fn test_ca() -> MailTls {
    let path = env("FRONTDESK_TEST_TLS_CA");
    MailTls::from_pem_file(std::path::Path::new(&path)).expect("the test CA (scripts/test-certs)")
}

/// The address (127.0.0.2) where the test servers present the untrusted certificate.
pub fn untrusted_host() -> String {
    env("FRONTDESK_TEST_UNTRUSTED_HOST")
}

/// The port of `FRONTDESK_TEST_<name>` (`IMAP`, `IMAPS`, `SMTP`, `SMTPS`).
pub fn port(name: &str) -> u16 {
    let addr = env(&format!("FRONTDESK_TEST_{name}"));
    addr.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// The test mailbox's IMAP URL over implicit TLS (`imaps://`) on `host`.
pub fn imaps_url(mb: &TestMailbox, host: &str) -> String {
    let u = ImapUrl::parse(&mb.url).unwrap();
    format!(
        "imaps://{}:secret@{host}:{}/INBOX",
        u.username,
        port("IMAPS")
    )
}

/// The test mailbox's IMAP URL with STARTTLS on `host`.
pub fn starttls_url(mb: &TestMailbox, host: &str) -> String {
    let u = ImapUrl::parse(&mb.url).unwrap();
    format!(
        "imap://{}:secret@{host}:{}/INBOX?starttls=true",
        u.username,
        port("IMAP")
    )
}

/// A browser tab signed in as `email`, on a router whose node trusts the test CA.
pub async fn browser_trusting_test_ca(db: &TestDb, email: &str) -> Browser {
    let mut config = Config::from_env().unwrap();
    config.db.url = Some(db.url.clone());
    config.mail_tls = test_ca();
    let state = frontdesk::web::AppState::new(db.pool.clone(), std::sync::Arc::new(config));
    let mut b = Browser {
        router: frontdesk::web::router(state),
        cookie: None,
    };
    b.login(email, PASSWORD).await;
    b
}
