//! **Test connection**: signs in to a mailbox's IMAP and SMTP servers with the poller's and the
//! outbox's own connection code, and reports what the servers answered, without secrets.

use std::time::Duration;

use serde::Serialize;

use super::tls::certificate_problem;
use super::{ImapUrl, MailTls, SmtpUrl};

/// How long each of the two checks may take in all (connect, TLS, greeting, login, command).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of one check: `message` is for people ("IMAP: 27 messages in INBOX, IDLE
/// supported", "SMTP: 535 5.7.8 authentication failed") and never holds a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub ok: bool,
    pub message: String,
}

fn fail(message: String) -> CheckResult {
    CheckResult { ok: false, message }
}

/// Removes `secret` from a message, in case a server echoes it back.
fn scrub(message: String, secret: &str) -> String {
    if secret.len() >= 3 {
        message.replace(secret, "********")
    } else {
        message
    }
}

/// Signs in to the IMAP server (as the poller does: `ingest::imap::connect`), counts the
/// messages of the first folder (EXAMINE, read-only) and looks for IDLE in CAPABILITY.
/// `allow_plaintext` is the node's `FRONTDESK_IMAP_ALLOW_PLAINTEXT`; `trust` its CAs
/// (`FRONTDESK_EXTRA_CA_FILE`), so a refused certificate is reported as the poller meets it.
pub async fn check_imap(imap_url: &str, allow_plaintext: bool, trust: &MailTls) -> CheckResult {
    let url = match ImapUrl::parse(imap_url) {
        Ok(u) => u,
        Err(e) => return fail(format!("IMAP: the URL is not usable: {e}")),
    };
    let run = async {
        let mut session = crate::ingest::imap::connect(&url, allow_plaintext, trust).await?;
        let idle = session.capabilities().await?.has_str("IDLE");
        let folder = url.folders.first().map_or("INBOX", String::as_str);
        let mailbox = session
            .examine(folder)
            .await
            .map_err(|e| anyhow::Error::from(e).context(format!("EXAMINE {folder} failed")))?;
        session.logout().await.ok();
        anyhow::Ok(format!(
            "IMAP: {} message{} in {folder}, IDLE {}",
            mailbox.exists,
            if mailbox.exists == 1 { "" } else { "s" },
            if idle { "supported" } else { "not supported" }
        ))
    };
    let result = match tokio::time::timeout(CHECK_TIMEOUT, run).await {
        Ok(Ok(message)) => CheckResult { ok: true, message },
        Ok(Err(e)) => fail(format!("IMAP: {e:#}")),
        Err(_) => fail(format!(
            "IMAP: no answer from {}:{} within {} s",
            url.host,
            url.port,
            CHECK_TIMEOUT.as_secs()
        )),
    };
    CheckResult {
        message: scrub(result.message, &url.password),
        ..result
    }
}

/// Connects to the SMTP server with the outbox's transport (`SmtpUrl::transport`), and signs
/// in when the URL has a user. `None` (no SMTP server set) is not ok: replies cannot be sent.
/// TLS certificates are checked against `trust`, as the outbox does.
pub async fn check_smtp(smtp_url: Option<&str>, trust: &MailTls) -> CheckResult {
    let Some(smtp_url) = smtp_url.filter(|s| !s.trim().is_empty()) else {
        return fail("SMTP: no SMTP server is set, so replies cannot be sent".into());
    };
    let url = match SmtpUrl::parse(smtp_url) {
        Ok(u) => u,
        Err(e) => return fail(format!("SMTP: the URL is not usable: {e}")),
    };
    let transport = match url.transport(trust) {
        Ok(t) => t,
        Err(e) => return fail(format!("SMTP: cannot set up {}: {e}", url.redacted())),
    };
    let result = match tokio::time::timeout(CHECK_TIMEOUT, transport.test_connection()).await {
        Ok(Ok(true)) => CheckResult {
            ok: true,
            message: match &url.username {
                Some(u) => format!("SMTP: signed in to {}:{} as {u}", url.host, url.port),
                None => format!(
                    "SMTP: connected to {}:{} (no user set, so no sign-in)",
                    url.host, url.port
                ),
            },
        },
        Ok(Ok(false)) => fail(format!(
            "SMTP: {}:{} closed the connection",
            url.host, url.port
        )),
        Ok(Err(e)) => fail(smtp_error(&e, &url)),
        Err(_) => fail(format!(
            "SMTP: no answer from {}:{} within {} s",
            url.host,
            url.port,
            CHECK_TIMEOUT.as_secs()
        )),
    };
    CheckResult {
        message: scrub(result.message, &url.password),
        ..result
    }
}

/// "SMTP: 535 5.7.8 authentication failed" for a server's reply, "SMTP: the TLS certificate
/// of HOST:PORT is not trusted: ..." for a refused certificate, else lettre's description.
fn smtp_error(e: &lettre::transport::smtp::Error, url: &SmtpUrl) -> String {
    if let Some(problem) = certificate_problem(e, &format!("{}:{}", url.host, url.port)) {
        return format!("SMTP: {problem}");
    }
    match (e.status(), std::error::Error::source(e)) {
        (Some(code), Some(text)) => format!("SMTP: {code} {text}"),
        (Some(code), None) => format!("SMTP: {code}"),
        _ => {
            let mut s = format!("SMTP: {e}");
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(&format!(": {t}"));
                }
                src = inner.source();
            }
            s
        }
    }
}
