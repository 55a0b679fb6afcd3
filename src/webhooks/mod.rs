//! Signed webhooks: admins register endpoints (URL, events, secret); ticket changes become
//! deliveries in a durable queue written in the same transaction as the change (the outbox
//! pattern, [`queue::on_events`], called from the timeline's hook); a worker POSTs them, signed
//! with HMAC-SHA256, and retries with backoff for a day ([`deliver`]).
//!
//! - [`url`]: which URLs may be called (https, or http to loopback; no private addresses).
//! - [`endpoints`]: the registered endpoints and their delivery log.
//! - [`queue`]: writing deliveries, claiming them across nodes (`SKIP LOCKED` plus a lease),
//!   recording outcomes, disabling endpoints that fail for a day.
//! - [`deliver`]: the HTTP side: signature, client without redirects, DNS check, the worker.

pub mod deliver;
pub mod endpoints;
pub mod queue;
pub mod url;

pub use deliver::{Deliverer, deliver_due, run, signature};

use crate::tickets::timeline::TimelineEvent;

/// Every event an endpoint may subscribe to, in the documented order.
pub const EVENTS: &[&str] = &[
    "ticket.created",
    "message.received",
    "reply.sent",
    "ticket.updated",
    "note.added",
    "sla.breached",
    "csat.rated",
];

/// The event a rule's `webhook` action sends (not subscribable: the rule decides).
pub const RULE_EVENT: &str = "rule.webhook";

/// The webhook event a timeline event maps to, if any: `created` → `ticket.created`,
/// `message_received` → `message.received`, `reply_queued` → `reply.sent` (when the reply is
/// queued, not when SMTP accepts it), `note_added` → `note.added`, status / assignee /
/// priority / tags / team changes → `ticket.updated`, `sla_breached` → `sla.breached`,
/// `csat_rated` → `csat.rated`.
pub fn event_name(event: &TimelineEvent) -> Option<&'static str> {
    use TimelineEvent::*;
    Some(match event {
        Created { .. } => "ticket.created",
        MessageReceived { .. } => "message.received",
        ReplyQueued { .. } => "reply.sent",
        NoteAdded { .. } => "note.added",
        StatusChanged { .. }
        | Assigned { .. }
        | PriorityChanged { .. }
        | TagsChanged { .. }
        | TeamChanged { .. } => "ticket.updated",
        SlaBreached { .. } => "sla.breached",
        CsatRated { .. } => "csat.rated",
        _ => return None,
    })
}
