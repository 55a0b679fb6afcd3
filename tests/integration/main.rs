//! One integration-test binary: real PostgreSQL (`DATABASE_URL`), real Dovecot
//! (`FRONTDESK_TEST_IMAP`), the shared real-world cases (`FRONTDESK_TEST_SHARED`).
//! Run through `scripts/test`, which starts all of them.

mod api;
mod cases;
mod crash;
mod outbox;
mod poller;
mod replies;
mod support;
mod web;
