//! Routing rules and auto-assignment, the pure core (no database, no HTTP): the rule's JSON
//! contract ([`model`]), whole-rule validation ([`validate`]), condition evaluation with the
//! "why" ([`conditions`]), the firing decision and action texts ([`actions`]) and the choice of
//! an agent within a team ([`assignment`]). Semantics: `shared/domain-notes.md` sections 3–4.
//!
//! # Wiring (what the DB and web layers do)
//! - **API / editor**: read the body as `serde_json::Value`, [`model::Rule::from_json`] (first
//!   shape error, 400 `"path: message"`), then [`validate::validate`] with a
//!   [`validate::Lookup`] over teams, agents, saved replies, SLA policies (400 with the first
//!   or all errors). Store [`model::Rule::to_json`] (one `jsonb` column, or columns).
//! - **Evaluation** (timeline hook, after a change whose origin [`actions::triggers_rules`]):
//!   build a [`conditions::TicketFacts`], `prepare()` it once; if
//!   [`actions::within_loop_cap`] (the ticket's firings in the last hour), for each enabled
//!   [`conditions::CompiledRule`] with that trigger, in order: `evaluate`, then
//!   [`actions::decide`] with the rule's firing record for the ticket; store `held_now`; when it
//!   fires, apply the actions through `tickets::` with origin "rule", record the `rule_fired`
//!   event (`matched_conditions` and [`actions::describe_action`] texts), mark it fired, and
//!   re-read the facts if a later rule may see the change; stop after a firing rule with
//!   `stop`. Cache `CompiledRule`s per rule version (regexes compile once).
//! - **Dry run**: `CompiledRule::new` on the unsaved rule, `evaluate` on each recent ticket's
//!   facts: `matched`, `failed_condition` and the described actions; nothing written.
//! - **Assignment**: [`assignment::choose`] under the team row's lock.

/// Firing decision, loop protection, actions in words.
pub mod actions;
/// Round robin and least loaded.
pub mod assignment;
/// Rules over a batch of events (ingest), set-based.
pub mod batch;
/// Evaluating conditions against a ticket snapshot.
pub mod conditions;
/// Running rules against the database: the timeline hook, the `time` scheduler, the dry run.
pub mod engine;
/// The rule's JSON contract.
pub mod model;
/// Waiting tickets handed out when capacity frees up.
pub mod pull;
/// The `rule` table: list, create, update, delete, reorder (audited).
pub mod store;
/// Whole-rule validation.
pub mod validate;

pub use conditions::{CompiledRule, Evaluation, PreparedFacts, TicketFacts};
pub use model::{Action, Condition, ConditionGroup, ConditionNode, Rule, RuleError};
pub use validate::{KnownNames, Lookup};
