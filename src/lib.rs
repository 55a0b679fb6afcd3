//! Frontdesk: a self-hosted shared-inbox helpdesk. IMAP mailboxes become tickets in
//! PostgreSQL; agents work them in a browser and reply over SMTP.
#![forbid(unsafe_code)]

pub mod ingest;

#[cfg(test)]
pub(crate) mod test_cases;
