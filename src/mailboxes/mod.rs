//! The shared mailboxes (support@, billing@): their address and IMAP/SMTP servers.

pub mod check;
pub mod fields;
pub mod settings;
mod smtp_url;
pub mod tls;
mod url;

pub use smtp_url::{SmtpSecurity, SmtpUrl, SmtpUrlError};
pub use tls::MailTls;
pub use url::{ImapUrl, Security, UrlError, check_smtp_url, is_loopback_host};

use sqlx::{FromRow, PgExecutor};

/// A configured shared mailbox.
#[derive(Debug, Clone, FromRow)]
pub struct Mailbox {
    pub mailbox_id: i64,
    pub name: String,
    /// The address customers write to, e.g. `support@example.com`.
    pub address: String,
    /// `imap[s]://user:pass@host:port/FOLDER`; holds a secret, never log it.
    pub imap_url: String,
    pub smtp_url: Option<String>,
    /// A disabled mailbox is not polled.
    pub enabled: bool,
}

impl Mailbox {
    /// The parsed IMAP URL.
    pub fn imap(&self) -> Result<ImapUrl, UrlError> {
        ImapUrl::parse(&self.imap_url)
    }
}

/// Creates a mailbox, or updates the one with the same address (case-insensitive); an
/// update without `smtp_url` keeps the SMTP server already set. Returns its id.
pub async fn upsert_mailbox(
    db: impl PgExecutor<'_>,
    name: &str,
    address: &str,
    imap_url: &str,
    smtp_url: Option<&str>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into mailbox (name, address, imap_url, smtp_url) values ($1, $2, $3, $4)
         on conflict (lower(address)) do update
            set name = excluded.name, imap_url = excluded.imap_url,
                smtp_url = coalesce(excluded.smtp_url, mailbox.smtp_url)
         returning mailbox_id",
    )
    .bind(name)
    .bind(address)
    .bind(imap_url)
    .bind(smtp_url)
    .fetch_one(db)
    .await
}

/// Every mailbox, oldest first.
pub async fn list_mailboxes(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Mailbox>> {
    sqlx::query_as(
        "select mailbox_id, name, address, imap_url, smtp_url, enabled from mailbox order by mailbox_id",
    )
    .fetch_all(db)
    .await
}

/// The mailbox with this address (case-insensitive).
pub async fn find_mailbox_by_address(
    db: impl PgExecutor<'_>,
    address: &str,
) -> sqlx::Result<Option<Mailbox>> {
    sqlx::query_as("select mailbox_id, name, address, imap_url, smtp_url, enabled from mailbox where lower(address) = lower($1)")
        .bind(address)
        .fetch_optional(db)
        .await
}

/// The mailbox with this id.
pub async fn find_mailbox(
    db: impl PgExecutor<'_>,
    mailbox_id: i64,
) -> sqlx::Result<Option<Mailbox>> {
    sqlx::query_as("select mailbox_id, name, address, imap_url, smtp_url, enabled from mailbox where mailbox_id = $1")
        .bind(mailbox_id)
        .fetch_optional(db)
        .await
}

/// Enables or disables polling of a mailbox; false when no mailbox has that address.
pub async fn set_enabled(
    db: impl PgExecutor<'_>,
    address: &str,
    enabled: bool,
) -> sqlx::Result<bool> {
    let r = sqlx::query("update mailbox set enabled = $2 where lower(address) = lower($1)")
        .bind(address)
        .bind(enabled)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// What the poller last recorded for a mailbox (`/healthz`); times in UTC.
#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct MailboxHealth {
    pub address: String,
    /// The node that polled last.
    pub polled_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_ok_at: Option<time::OffsetDateTime>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_error_at: Option<time::OffsetDateTime>,
    /// Failed polls since the last good one (`None`: never polled).
    pub consecutive_failures: Option<i32>,
}

/// Every mailbox with its poll health, oldest mailbox first.
pub async fn health_report(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MailboxHealth>> {
    sqlx::query_as(
        "select m.address, h.polled_by, h.last_ok_at, h.last_error, h.last_error_at, h.consecutive_failures
         from mailbox m left join mailbox_health h on h.mailbox_id = m.mailbox_id order by m.mailbox_id",
    )
    .fetch_all(db)
    .await
}

/// Reduces an address to the form used to recognise our own mail: lower-case, without a
/// `+tag` sub-address (`Support+Billing@Example.com` → `support@example.com`).
pub fn canonical_address(address: &str) -> String {
    let a = address.trim().to_lowercase();
    match a.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => a,
    }
}

/// The canonical form of every mailbox address: mail from these is our own.
pub async fn own_addresses(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    let rows: Vec<String> = sqlx::query_scalar("select address from mailbox")
        .fetch_all(db)
        .await?;
    Ok(rows.iter().map(|a| canonical_address(a)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_address_drops_case_and_subaddress() {
        assert_eq!(
            canonical_address(" Support+Billing@Example.COM"),
            "support@example.com"
        );
        assert_eq!(canonical_address("a@b.c"), "a@b.c");
    }
}
