//! INBOUND mail: IMAP mailbox → parsed message → ticket thread, exactly once.
//!
//! `poller` drives IMAP (`imap`), `parse` turns bytes into an [`parse::InboundEmail`]
//! (with `normalize`, `classify`, `sanitize`, `quote`), and `store` threads it
//! (with `subject` for the subject fallback) and writes it. `deleted` remembers mail flagged
//! `\Deleted` that the poller passed over.

pub mod classify;
pub mod deleted;
pub mod imap;
pub mod normalize;
pub mod parse;
pub mod poller;
pub mod quarantine;
pub mod quote;
pub mod sanitize;
pub mod store;
pub mod subject;
