//! One integration-test binary: real PostgreSQL (`DATABASE_URL`), real Dovecot
//! (`FRONTDESK_TEST_IMAP`), the mail fixtures (`tests/fixtures/mail`), a real SMTP
//! sink (`FRONTDESK_TEST_SMTP`), TLS on both with a private test CA (`tls.rs`), and headless
//! Chromium over WebDriver (`FRONTDESK_TEST_WEBDRIVER`).
//! Run through `scripts/test`, which starts all of them.

mod admin;
mod admin_agents;
mod admin_console;
mod admin_mailboxes;
mod admin_rules;
mod analytics;
mod api;
mod backup;
mod browser;
mod bulk;
mod cases;
mod crash;
mod csat;
mod customers;
mod live;
mod mentions;
mod metrics;
mod openapi;
mod outbox;
mod poller;
mod replica;
mod replies;
mod rules;
mod search;
mod security;
mod settings;
mod sla_admin;
mod sla_clocks;
mod support;
mod threading;
mod timeline;
mod tls;
mod views;
mod web;
mod webhooks;
