//! INBOUND mail: IMAP mailbox → parsed message → ticket thread, exactly once.

pub mod classify;
pub mod normalize;
pub mod parse;
pub mod sanitize;
