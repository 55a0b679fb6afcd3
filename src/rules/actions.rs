//! The pure part of applying rules: actions in words for the timeline, the firing-mode
//! decision, the loop cap, and the automatic-reply guard. Applying an action (writing the
//! ticket) is the DB layer's, through `tickets::`.
//!
//! # Loops
//! Changes made by rules do not trigger rules: when the caller applies a rule's actions it
//! records the resulting timeline events with [`ChangeOrigin::Rule`], and the hook that runs
//! rules after a change asks [`triggers_rules`] first, which is false for that origin. So a rule
//! that adds a tag on `tags_changed` does not run again because of its own tag. What slips
//! through (e.g. a rule that fires on `customer_replied` and sends a saved reply that bounces
//! back) is stopped by the per-ticket cap: count the ticket's firings (all rules) in the last
//! hour from the firing record and skip evaluation when [`within_loop_cap`] says no.

use super::model::{Action, Automated, Mode};

/// Most rule firings on one ticket in one hour (all rules together).
pub const MAX_FIRINGS_PER_TICKET_PER_HOUR: u32 = 10;

/// At most one automatic reply per customer per ticket in this many minutes.
pub const AUTO_REPLY_INTERVAL_MINUTES: f64 = 24.0 * 60.0;

/// Who made a change to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// Mail from the customer (the poller).
    Customer,
    /// An agent in the web UI or the API.
    Agent,
    /// The system (snooze wake-up, SLA scheduler, ...).
    System,
    /// A rule's action.
    Rule,
}

/// Whether a change triggers rules: everything but a rule's own change.
pub fn triggers_rules(origin: ChangeOrigin) -> bool {
    origin != ChangeOrigin::Rule
}

/// True while the ticket has had fewer than [`MAX_FIRINGS_PER_TICKET_PER_HOUR`] firings in the
/// last hour; when false, no rule is evaluated for this ticket (log it once).
pub fn within_loop_cap(firings_in_last_hour: u32) -> bool {
    firings_in_last_hour < MAX_FIRINGS_PER_TICKET_PER_HOUR
}

/// What the firing record says about one rule on one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FiringRecord {
    /// The rule has fired on this ticket before.
    pub fired_before: bool,
    /// The conditions held at the previous evaluation of this rule on this ticket (false when
    /// never evaluated).
    pub held_before: bool,
}

/// The firing decision, and what to store for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Apply the actions now.
    pub fire: bool,
    /// Store as `held_before` for the next evaluation (only `on_state_entry` needs it; it is
    /// the current match result).
    pub held_now: bool,
}

/// Whether a rule whose conditions evaluated to `matched` fires, by its mode:
/// - `once_per_ticket`: matched and never fired on this ticket;
/// - `on_state_entry`: matched now and not at the previous evaluation (so it fires again after
///   the conditions stop holding and hold again: the 12/24/48 h ladders);
/// - `every_time`: matched.
///
/// The caller stores `held_now` (with `on_state_entry`, also when not firing) and, when firing,
/// marks `fired_before` in the same transaction as the actions.
pub fn decide(mode: Mode, matched: bool, record: FiringRecord) -> Decision {
    let fire = matched
        && match mode {
            Mode::OncePerTicket => !record.fired_before,
            Mode::OnStateEntry => !record.held_before,
            Mode::EveryTime => true,
        };
    Decision {
        fire,
        held_now: matched,
    }
}

/// Whether `send_saved_reply` may send now: never to automated mail (auto-replies, bounces,
/// lists), and at most once per customer per ticket per [`AUTO_REPLY_INTERVAL_MINUTES`].
/// `minutes_since_last_auto_reply`: since the last automatic reply to this customer on this
/// ticket (`None`: never).
pub fn auto_reply_allowed(
    automated: Option<Automated>,
    minutes_since_last_auto_reply: Option<f64>,
) -> bool {
    automated.is_none()
        && minutes_since_last_auto_reply.is_none_or(|m| m >= AUTO_REPLY_INTERVAL_MINUTES)
}

/// An action in words for the timeline: `assigned to Dana`, `added tag refund`.
/// `agent_name` turns an agent's email into their display name (`None`: the email is shown).
pub fn describe_action(action: &Action, agent_name: &dyn Fn(&str) -> Option<String>) -> String {
    let agent = |email: &str| agent_name(email).unwrap_or_else(|| email.to_owned());
    match action {
        Action::AssignAgent { agent: a } => format!("assigned to {}", agent(a)),
        Action::AssignTeam { team } => format!("assigned to team {team}"),
        Action::Unassign => "unassigned".to_owned(),
        Action::AddTag { tag } => format!("added tag {tag}"),
        Action::RemoveTag { tag } => format!("removed tag {tag}"),
        Action::SetPriority { priority } => format!("set priority to {priority}"),
        Action::SetStatus { status } => format!("set status to {status}"),
        Action::Snooze { minutes } => format!("snoozed for {}", duration(*minutes)),
        Action::SendSavedReply { saved_reply } => format!("sent saved reply {saved_reply}"),
        Action::AddNote { .. } => "added a note".to_owned(),
        Action::Notify { agents, .. } => format!(
            "notified {}",
            agents
                .iter()
                .map(|a| agent(a))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::ApplySla { policy } => format!("applied SLA policy {policy}"),
        Action::SetCustomerVip { vip } => vip_text(Account::Customer, *vip),
        Action::SetLifecycleStage { stage } => lifecycle_stage_text(Account::Customer, stage),
        Action::SetHealth { health } => health_text(Account::Customer, *health),
        Action::SetCompanyVip { vip } => vip_text(Account::Company, *vip),
        Action::SetCompanyLifecycleStage { stage } => lifecycle_stage_text(Account::Company, stage),
        Action::SetCompanyHealth { health } => health_text(Account::Company, *health),
        Action::Webhook { url, .. } => format!("called webhook {}", origin_of(url)),
    }
}

/// Whose account attribute a `set_*` action changes: the ticket's customer, or their company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Customer,
    Company,
}

impl Account {
    fn noun(self) -> &'static str {
        match self {
            Account::Customer => "the customer",
            Account::Company => "the company",
        }
    }
}

/// `set_customer_vip` / `set_company_vip` in words: `marked the customer VIP` (the timeline and
/// the dry run say the same).
pub fn vip_text(account: Account, vip: bool) -> String {
    format!(
        "marked {} {}",
        account.noun(),
        if vip { "VIP" } else { "not VIP" }
    )
}

/// `set_lifecycle_stage` in words: `set the customer's lifecycle stage to At risk`.
pub fn lifecycle_stage_text(account: Account, stage: &str) -> String {
    format!(
        "set {}'s lifecycle stage to {}",
        account.noun(),
        stage.trim()
    )
}

/// `set_health` in words: `set the customer's health to 40`.
pub fn health_text(account: Account, health: i64) -> String {
    format!("set {}'s health to {health}", account.noun())
}

/// `90` → `1 hour 30 minutes`, `1440` → `1 day`.
fn duration(minutes: i64) -> String {
    let unit = |n: i64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let parts: Vec<String> = [(d, "day"), (h, "hour"), (m, "minute")]
        .into_iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, w)| unit(n, w))
        .collect();
    if parts.is_empty() {
        unit(0, "minute")
    } else {
        parts.join(" ")
    }
}

/// Scheme and host of a URL, without user info, path or query (which may hold secrets).
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::{Priority, SavedReplyRef, Status};

    fn names(email: &str) -> Option<String> {
        (email == "dana@example.com").then(|| "Dana".to_owned())
    }

    #[test]
    fn actions_in_words() {
        let d = |a: Action| describe_action(&a, &names);
        assert_eq!(
            d(Action::AssignAgent {
                agent: "dana@example.com".into()
            }),
            "assigned to Dana"
        );
        assert_eq!(
            d(Action::AssignAgent {
                agent: "lee@example.com".into()
            }),
            "assigned to lee@example.com"
        );
        assert_eq!(
            d(Action::AssignTeam {
                team: "Billing".into()
            }),
            "assigned to team Billing"
        );
        assert_eq!(d(Action::Unassign), "unassigned");
        assert_eq!(
            d(Action::AddTag {
                tag: "refund".into()
            }),
            "added tag refund"
        );
        assert_eq!(
            d(Action::RemoveTag {
                tag: "refund".into()
            }),
            "removed tag refund"
        );
        assert_eq!(
            d(Action::SetPriority {
                priority: Priority::High
            }),
            "set priority to high"
        );
        assert_eq!(
            d(Action::SetStatus {
                status: Status::Pending
            }),
            "set status to pending"
        );
        assert_eq!(
            d(Action::Snooze { minutes: 90 }),
            "snoozed for 1 hour 30 minutes"
        );
        assert_eq!(d(Action::Snooze { minutes: 1440 }), "snoozed for 1 day");
        assert_eq!(d(Action::Snooze { minutes: 1 }), "snoozed for 1 minute");
        assert_eq!(
            d(Action::SendSavedReply {
                saved_reply: SavedReplyRef::Name("Refunds".into())
            }),
            "sent saved reply 'Refunds'"
        );
        assert_eq!(
            d(Action::SendSavedReply {
                saved_reply: SavedReplyRef::Id(4)
            }),
            "sent saved reply #4"
        );
        assert_eq!(d(Action::AddNote { body: "x".into() }), "added a note");
        assert_eq!(
            d(Action::Notify {
                agents: vec!["dana@example.com".into(), "lee@example.com".into()],
                message: None
            }),
            "notified Dana, lee@example.com"
        );
        assert_eq!(
            d(Action::ApplySla {
                policy: "Gold".into()
            }),
            "applied SLA policy Gold"
        );
        assert_eq!(
            d(Action::SetCustomerVip { vip: true }),
            "marked the customer VIP"
        );
        assert_eq!(
            d(Action::SetCustomerVip { vip: false }),
            "marked the customer not VIP"
        );
        assert_eq!(
            d(Action::SetLifecycleStage {
                stage: " At risk ".into()
            }),
            "set the customer's lifecycle stage to At risk"
        );
        assert_eq!(
            d(Action::SetHealth { health: 40 }),
            "set the customer's health to 40"
        );
        assert_eq!(
            d(Action::SetCompanyVip { vip: true }),
            "marked the company VIP"
        );
        assert_eq!(
            d(Action::SetCompanyLifecycleStage {
                stage: "renewal".into()
            }),
            "set the company's lifecycle stage to renewal"
        );
        assert_eq!(
            d(Action::SetCompanyHealth { health: 90 }),
            "set the company's health to 90"
        );
        assert_eq!(
            d(Action::Webhook {
                url: "https://user:secret@hooks.example.com/x?token=abc".into(),
                secret: Some("s".into()),
            }),
            "called webhook https://hooks.example.com"
        );
    }

    #[test]
    fn firing_modes() {
        let r = |fired_before, held_before| FiringRecord {
            fired_before,
            held_before,
        };
        for record in [
            r(false, false),
            r(true, false),
            r(false, true),
            r(true, true),
        ] {
            for mode in Mode::ALL {
                assert_eq!(
                    decide(*mode, false, record),
                    Decision {
                        fire: false,
                        held_now: false
                    }
                );
            }
            assert!(decide(Mode::EveryTime, true, record).fire);
            assert_eq!(
                decide(Mode::OncePerTicket, true, record).fire,
                !record.fired_before
            );
            assert_eq!(
                decide(Mode::OnStateEntry, true, record).fire,
                !record.held_before
            );
            assert!(decide(Mode::OnStateEntry, true, record).held_now);
        }
        // A ladder: holds, holds, stops holding, holds again → fires twice.
        let mut record = FiringRecord::default();
        let mut fired = 0;
        for matched in [true, true, false, true, true] {
            let d = decide(Mode::OnStateEntry, matched, record);
            fired += d.fire as u32;
            record.held_before = d.held_now;
            record.fired_before |= d.fire;
        }
        assert_eq!(fired, 2);
    }

    #[test]
    fn loop_cap_and_origin() {
        assert!(within_loop_cap(0));
        assert!(within_loop_cap(9));
        assert!(!within_loop_cap(10));
        assert!(!triggers_rules(ChangeOrigin::Rule));
        assert!(triggers_rules(ChangeOrigin::Customer));
        assert!(triggers_rules(ChangeOrigin::Agent));
        assert!(triggers_rules(ChangeOrigin::System));
    }

    #[test]
    fn automatic_replies() {
        assert!(auto_reply_allowed(None, None));
        assert!(!auto_reply_allowed(Some(Automated::AutoReply), None));
        assert!(!auto_reply_allowed(Some(Automated::Bounce), None));
        assert!(!auto_reply_allowed(Some(Automated::List), None));
        assert!(!auto_reply_allowed(None, Some(60.0)));
        assert!(auto_reply_allowed(None, Some(1440.0)));
    }
}
