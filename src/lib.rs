//! Frontdesk: a self-hosted shared-inbox helpdesk. IMAP mailboxes become tickets in
//! PostgreSQL; agents work them in a browser and reply over SMTP.
#![forbid(unsafe_code)]

/// Analytics for leads: per-ticket metric values and the report queries.
pub mod analytics;
/// Every long-running task of `frontdesk serve`.
pub mod app;
/// The audit log of configuration changes.
pub mod audit;
/// Agents, roles, passwords and API tokens.
pub mod auth;
/// The command line (`frontdesk serve`, `migrate`, `agent add`, ...).
pub mod cli;
/// Configuration from the environment.
pub mod config;
/// Customer satisfaction surveys: scheduling, the survey mail worker, ratings.
pub mod csat;
/// Customers and companies: VIP, lifecycle stage, health score.
pub mod customers;
/// The PostgreSQL pool and migrations.
pub mod db;
/// A private PostgreSQL cluster for running without `DATABASE_URL`.
pub mod embedded_pg;
/// Inbound mail: IMAP → tickets.
pub mod ingest;
/// Live events across nodes (LISTEN/NOTIFY) and presence.
pub mod live;
/// The shared mailboxes and their server URLs.
pub mod mailboxes;
/// Outbound mail: the send queue and the SMTP sender.
pub mod outbox;
/// Routing rules and auto-assignment: the rule contract, validation, evaluation (pure core).
pub mod rules;
/// Full-text search over tickets.
pub mod search;
/// Service-level agreements: business-hours calendars and due-time arithmetic.
pub mod sla;
/// Teams: members, the mailboxes they work, assignment mode.
pub mod teams;
/// Logging setup and Prometheus metrics.
pub mod telemetry;
/// Tickets, messages and attachments (read side).
pub mod tickets;
/// Agents' time zones (IANA names) and UTC ↔ wall-clock conversion.
pub mod timezone;
/// The HTTP layer.
pub mod web;
/// Signed webhooks: endpoints, the durable delivery queue and its worker.
pub mod webhooks;

#[cfg(test)]
pub(crate) mod test_cases;
