//! Evaluating a rule's conditions against a snapshot of a ticket ([`TicketFacts`]).
//!
//! A [`CompiledRule`] is built once from a rule (checked by [`super::validate::check`]; regular
//! expressions compiled, values lowercased, "why" texts prepared) and evaluated many times;
//! [`TicketFacts::prepare`] lowercases a ticket's texts once for all the rules.
//!
//! Semantics:
//! - Text comparison ignores case: both sides go through Unicode `str::to_lowercase` (not full
//!   case folding: `ß` does not equal `SS`). The ticket's texts are trimmed, and so are `is` /
//!   `in` values; `contains` / `starts_with` / `ends_with` values are kept as given (so
//!   `contains " ref"` can ask for a word start). `matches` uses a case-insensitive regex on
//!   the original, untrimmed text.
//! - Address fields (`mailbox`, `from`, `to`, `cc`, `assignee`): a value starting with `@`
//!   means the domain: `from is @example.com` holds for `ann@example.com` (not for
//!   `ann@sub.example.com`). Applies to `is`, `is_not`, `in` and, for `to`/`cc`, `contains`.
//! - Unset: an absent text or an empty / whitespace-only one is unset, an empty list is unset,
//!   an unknown bool or number (`None`) is unset. Every positive test (`is`, `contains`,
//!   `starts_with`, `ends_with`, `matches`, `in`, `gt`, `lt`) is false on an unset value.
//! - Negations are exact: `is_not` = not `is`, `not_contains` = not `contains`, `is_not_set` =
//!   not `is_set`, also on unset values (`assignee is_not dana@` holds for an unassigned ticket).
//! - Lists (`to`, `cc`, `tags`): `contains v` holds when some element EQUALS `v` (ignoring case;
//!   or is at `v`'s domain for `@domain`): `tags contains refund` does not hold for a tag
//!   `refunds`. `in [..]` holds when some element equals some entry; `matches` when some element
//!   matches. Use `matches` for substrings of list elements.
//! - Enums: `priority`, `status` and `automated` (`none` for a message that is not automated).
//! - Numbers compare as `f64`; `is` is exact equality.
//! - Groups: all of none holds; any of none does not hold (validation refuses it anyway).

use regex::Regex;
use serde_json::Value;

use super::model::{
    Automated, Condition, ConditionGroup, ConditionNode, Field, FieldType, GroupKind, Op, Priority,
    Rule, RuleError, Status,
};
use super::validate::{check, compile_pattern};

/// Everything a condition can read about a ticket, at the moment of the event. Texts as stored
/// (any case); addresses bare (`ann@example.com`). The DB layer fills it from the ticket, its
/// first (or triggering) message, its tags, assignee, team and customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFacts {
    /// The mailbox's address the mail came to.
    pub mailbox: String,
    /// The customer's address (the triggering message's sender).
    pub from: String,
    /// To addresses of the triggering message.
    pub to: Vec<String>,
    /// Cc addresses of the triggering message.
    pub cc: Vec<String>,
    /// The ticket's subject.
    pub subject: String,
    /// The triggering message's text body (plain text).
    pub body: String,
    /// The triggering message has attachments.
    pub has_attachment: bool,
    /// The ticket's tags.
    pub tags: Vec<String>,
    /// The ticket's priority.
    pub priority: Priority,
    /// The ticket's status.
    pub status: Status,
    /// The assignee's email, if assigned.
    pub assignee: Option<String>,
    /// Whether the assignee is available (their switch, not disabled); `None`: unassigned.
    pub assignee_available: Option<bool>,
    /// The team's name, if any.
    pub team: Option<String>,
    /// What kind of automated mail the triggering message is (`None`: not automated).
    pub automated: Option<Automated>,
    /// Whether now is within the mailbox's business hours (`None`: no business hours defined).
    pub within_business_hours: Option<bool>,
    /// The customer's VIP flag, their own else their company's (`crate::customers`); `None`:
    /// the ticket has no customer.
    pub customer_vip: Option<bool>,
    /// The name of the customer's lifecycle stage (`at risk`, ...), own else their company's.
    pub customer_lifecycle_stage: Option<String>,
    /// The customer's company: its domain (`acme.example`); `None` for none.
    pub customer_company: Option<String>,
    /// Messages on the ticket (customer, agent; notes excluded).
    pub message_count: i64,
    /// Minutes since the ticket was created (for the `time` trigger; all minutes are wall-clock
    /// minutes, fractional, computed by the caller from UTC timestamps).
    pub minutes_since_created: Option<f64>,
    /// Minutes since the ticket became unassigned (`None` while assigned).
    pub minutes_unassigned: Option<f64>,
    /// Minutes since the status last changed.
    pub minutes_in_status: Option<f64>,
    /// Minutes since the last customer message (`None`: none yet).
    pub minutes_since_customer_reply: Option<f64>,
    /// Minutes since the last agent reply (`None`: none yet).
    pub minutes_since_agent_reply: Option<f64>,
    /// The rating of the `csat_rated` event being evaluated (`None` for other events).
    pub csat: Option<crate::csat::Rating>,
}

/// [`TicketFacts`] with its texts lowercased once, for evaluating many rules.
#[derive(Debug, Clone)]
pub struct PreparedFacts {
    facts: TicketFacts,
    mailbox: String,
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    body: String,
    tags: Vec<String>,
    assignee: Option<String>,
    team: Option<String>,
    lifecycle_stage: Option<String>,
    company: Option<String>,
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

impl TicketFacts {
    /// Lowercases the texts once (see the module's notes on case).
    pub fn prepare(self) -> PreparedFacts {
        let opt = |o: &Option<String>| o.as_deref().map(lower);
        let list = |l: &[String]| l.iter().map(|s| lower(s)).collect::<Vec<_>>();
        PreparedFacts {
            mailbox: lower(&self.mailbox),
            from: lower(&self.from),
            to: list(&self.to),
            cc: list(&self.cc),
            subject: lower(&self.subject),
            body: lower(&self.body),
            tags: list(&self.tags),
            assignee: opt(&self.assignee),
            team: opt(&self.team),
            lifecycle_stage: opt(&self.customer_lifecycle_stage),
            company: opt(&self.customer_company),
            facts: self,
        }
    }
}

impl PreparedFacts {
    /// The facts as given.
    pub fn facts(&self) -> &TicketFacts {
        &self.facts
    }

    /// Sets the rating a `csat_rated` event carries.
    pub fn set_csat(&mut self, rating: Option<crate::csat::Rating>) {
        self.facts.csat = rating;
    }
}

/// What a field holds for one ticket, lowercased texts beside the originals (for regexes).
enum Read<'a> {
    Text(Option<(&'a str, &'a str)>),
    Set(&'a [String], &'a [String]),
    Bool(Option<bool>),
    Number(Option<f64>),
}

fn text<'a>(lowered: &'a str, original: &'a str) -> Read<'a> {
    if lowered.trim().is_empty() {
        Read::Text(None)
    } else {
        Read::Text(Some((lowered, original)))
    }
}

fn opt_text<'a>(lowered: &'a Option<String>, original: &'a Option<String>) -> Read<'a> {
    match (lowered, original) {
        (Some(l), Some(o)) => text(l, o),
        _ => Read::Text(None),
    }
}

impl PreparedFacts {
    fn read(&self, field: Field) -> Read<'_> {
        let f = &self.facts;
        match field {
            Field::Mailbox => text(&self.mailbox, &f.mailbox),
            Field::From => text(&self.from, &f.from),
            Field::To => Read::Set(&self.to, &f.to),
            Field::Cc => Read::Set(&self.cc, &f.cc),
            Field::Subject => text(&self.subject, &f.subject),
            Field::Body => text(&self.body, &f.body),
            Field::HasAttachment => Read::Bool(Some(f.has_attachment)),
            Field::Tags => Read::Set(&self.tags, &f.tags),
            Field::Priority => Read::Text(Some((f.priority.as_str(), f.priority.as_str()))),
            Field::Status => Read::Text(Some((f.status.as_str(), f.status.as_str()))),
            Field::Assignee => opt_text(&self.assignee, &f.assignee),
            Field::AssigneeAvailable => Read::Bool(f.assignee_available),
            Field::Team => opt_text(&self.team, &f.team),
            Field::Automated => {
                let s = f.automated.map_or("none", Automated::as_str);
                Read::Text(Some((s, s)))
            }
            Field::WithinBusinessHours => Read::Bool(f.within_business_hours),
            Field::CustomerVip => Read::Bool(f.customer_vip),
            Field::CustomerLifecycleStage => {
                opt_text(&self.lifecycle_stage, &f.customer_lifecycle_stage)
            }
            Field::CustomerCompany => opt_text(&self.company, &f.customer_company),
            Field::MessageCount => Read::Number(Some(f.message_count as f64)),
            Field::MinutesSinceCreated => Read::Number(f.minutes_since_created),
            Field::MinutesUnassigned => Read::Number(f.minutes_unassigned),
            Field::MinutesInStatus => Read::Number(f.minutes_in_status),
            Field::MinutesSinceCustomerReply => Read::Number(f.minutes_since_customer_reply),
            Field::MinutesSinceAgentReply => Read::Number(f.minutes_since_agent_reply),
            Field::Csat => match f.csat {
                Some(r) => Read::Text(Some((r.as_str(), r.as_str()))),
                None => Read::Text(None),
            },
        }
    }
}

/// One entry to compare a text with: the exact (lowercased) text, or `@domain`.
#[derive(Debug, Clone)]
enum Needle {
    Exact(String),
    /// Lowercased, with the leading `@`.
    Domain(String),
}

impl Needle {
    fn new(field: Field, value: &str) -> Needle {
        let v = lower(value);
        if field.is_address() && v.starts_with('@') {
            Needle::Domain(v)
        } else {
            Needle::Exact(v)
        }
    }

    fn hits(&self, t: &str) -> bool {
        match self {
            Needle::Exact(v) => t == v,
            Needle::Domain(d) => t.ends_with(d.as_str()),
        }
    }
}

/// The positive test of a condition (its negation is a flag beside it).
#[derive(Debug, Clone)]
enum Test {
    /// Equal to one of (is, in, and contains on lists).
    OneOf(Vec<Needle>),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    Regex(Regex),
    IsSet,
    Bool(bool),
    Eq(f64),
    Gt(f64),
    Lt(f64),
}

/// A condition ready to evaluate.
#[derive(Debug, Clone)]
struct Compiled {
    field: Field,
    negate: bool,
    test: Test,
    description: String,
    source: Condition,
}

impl Compiled {
    fn new(c: &Condition) -> Result<Compiled, String> {
        let ft = c.field.field_type();
        let s = || c.value.as_ref().and_then(Value::as_str).unwrap_or("");
        let n = || c.value.as_ref().and_then(Value::as_f64).unwrap_or(f64::NAN);
        let negate = matches!(c.op, Op::IsNot | Op::NotContains | Op::IsNotSet);
        let test = match c.op {
            Op::IsSet | Op::IsNotSet => Test::IsSet,
            Op::Is | Op::IsNot => match ft {
                FieldType::Bool => Test::Bool(c.value == Some(Value::Bool(true))),
                FieldType::Number => Test::Eq(n()),
                _ => Test::OneOf(vec![Needle::new(c.field, s())]),
            },
            Op::Contains | Op::NotContains if ft == FieldType::Set => {
                Test::OneOf(vec![Needle::new(c.field, s())])
            }
            Op::Contains | Op::NotContains => Test::Contains(s().to_lowercase()),
            Op::StartsWith => Test::StartsWith(s().to_lowercase()),
            Op::EndsWith => Test::EndsWith(s().to_lowercase()),
            Op::Matches => Test::Regex(compile_pattern(s())?),
            Op::In => Test::OneOf(
                c.value
                    .as_ref()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|v| Needle::new(c.field, v))
                    .collect(),
            ),
            Op::Gt => Test::Gt(n()),
            Op::Lt => Test::Lt(n()),
        };
        Ok(Compiled {
            field: c.field,
            negate,
            test,
            description: describe_condition(c),
            source: c.clone(),
        })
    }

    fn holds(&self, facts: &PreparedFacts) -> bool {
        self.positive(facts) != self.negate
    }

    fn positive(&self, facts: &PreparedFacts) -> bool {
        match (facts.read(self.field), &self.test) {
            (Read::Text(None), _) => false,
            (Read::Text(Some((lowered, original))), test) => text_test(test, lowered, original),
            (Read::Set(lowered, _), Test::IsSet) => !lowered.is_empty(),
            (Read::Set(lowered, originals), test) => lowered
                .iter()
                .zip(originals)
                .any(|(l, o)| text_test(test, l, o)),
            (Read::Bool(v), Test::IsSet) => v.is_some(),
            (Read::Bool(v), Test::Bool(b)) => v == Some(*b),
            (Read::Number(v), Test::IsSet) => v.is_some(),
            (Read::Number(Some(x)), Test::Eq(y)) => x == *y,
            (Read::Number(Some(x)), Test::Gt(y)) => x > *y,
            (Read::Number(Some(x)), Test::Lt(y)) => x < *y,
            _ => false,
        }
    }
}

fn text_test(test: &Test, lowered: &str, original: &str) -> bool {
    match test {
        Test::IsSet => !lowered.trim().is_empty(),
        Test::OneOf(needles) => needles.iter().any(|n| n.hits(lowered)),
        Test::Contains(v) => lowered.contains(v.as_str()),
        Test::StartsWith(v) => lowered.starts_with(v.as_str()),
        Test::EndsWith(v) => lowered.ends_with(v.as_str()),
        Test::Regex(re) => re.is_match(original),
        _ => false,
    }
}

/// A condition in words, for the "why" on tickets: `mailbox is billing@example.com`,
/// `subject contains 'refund'`, `minutes unassigned is more than 30`, `tags is set`.
pub fn describe_condition(c: &Condition) -> String {
    let field = c.field.label();
    let quoted = c.field.field_type() == FieldType::Set && !c.field.is_address()
        || c.field.field_type() == FieldType::Text && !c.field.is_address();
    let show = |v: &Value| match v {
        Value::String(s) if quoted => format!("'{s}'"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let value = c.value.as_ref().map(show).unwrap_or_default();
    match c.op {
        Op::Is => format!("{field} is {value}"),
        Op::IsNot => format!("{field} is not {value}"),
        Op::Contains => format!("{field} contains {value}"),
        Op::NotContains => format!("{field} does not contain {value}"),
        Op::StartsWith => format!("{field} starts with {value}"),
        Op::EndsWith => format!("{field} ends with {value}"),
        Op::Matches => format!(
            "{field} matches /{}/",
            c.value.as_ref().and_then(Value::as_str).unwrap_or("")
        ),
        Op::In => {
            let list: Vec<String> = c
                .value
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(show)
                .collect();
            format!("{field} is one of {}", list.join(", "))
        }
        Op::Gt => format!("{field} is more than {value}"),
        Op::Lt => format!("{field} is less than {value}"),
        Op::IsSet => format!("{field} is set"),
        Op::IsNotSet => format!("{field} is not set"),
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Compiled),
    Group(GroupKind, Vec<Node>, ConditionGroup),
}

/// The result of evaluating a rule's conditions on one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The conditions hold.
    pub matched: bool,
    /// When matched: the conditions that held, in words (for the "why"). In an `any` group only
    /// the first that held is listed. Empty when not matched.
    pub matched_conditions: Vec<String>,
    /// When not matched: in an `all` group, the first item that did not hold (a condition, or a
    /// nested `any` group none of whose conditions held); for a top-level `any`, the whole
    /// group. `None` when matched.
    pub failed_condition: Option<ConditionNode>,
}

/// A rule checked and compiled once (regexes, lowercased values, "why" texts), to evaluate on
/// many tickets.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    rule: Rule,
    root: Node,
}

impl CompiledRule {
    /// Checks the rule with [`super::validate::check`] (not the references: a rule saved
    /// earlier stays usable after a team is renamed; its actions then fail at apply time) and
    /// compiles it.
    pub fn new(rule: Rule) -> Result<CompiledRule, Vec<RuleError>> {
        let errors = check(&rule);
        if !errors.is_empty() {
            return Err(errors);
        }
        let root =
            compile_group(&rule.conditions).map_err(|m| vec![RuleError::new("conditions", m)])?;
        Ok(CompiledRule { rule, root })
    }

    /// The rule as given.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// Whether the conditions hold, without building texts (the fast path for events).
    pub fn matches(&self, facts: &PreparedFacts) -> bool {
        holds(&self.root, facts)
    }

    /// The conditions' result with the "why" ([`Evaluation`]).
    pub fn evaluate(&self, facts: &PreparedFacts) -> Evaluation {
        let Node::Group(kind, items, group) = &self.root else {
            unreachable!("the root is a group")
        };
        let mut matched_conditions = Vec::new();
        match kind {
            GroupKind::All => {
                for item in items {
                    if !explain(item, facts, &mut matched_conditions) {
                        return failed(Some(source(item)));
                    }
                }
            }
            GroupKind::Any => {
                if !items
                    .iter()
                    .any(|i| explain(i, facts, &mut matched_conditions))
                {
                    return failed(Some(ConditionNode::Group(group.clone())));
                }
            }
        }
        Evaluation {
            matched: true,
            matched_conditions,
            failed_condition: None,
        }
    }
}

fn failed(failed_condition: Option<ConditionNode>) -> Evaluation {
    Evaluation {
        matched: false,
        matched_conditions: Vec::new(),
        failed_condition,
    }
}

fn source(node: &Node) -> ConditionNode {
    match node {
        Node::Leaf(c) => ConditionNode::Condition(c.source.clone()),
        Node::Group(_, _, g) => ConditionNode::Group(g.clone()),
    }
}

fn compile_group(g: &ConditionGroup) -> Result<Node, String> {
    let items = g
        .items
        .iter()
        .map(|item| match item {
            ConditionNode::Condition(c) => Compiled::new(c).map(Node::Leaf),
            ConditionNode::Group(inner) => compile_group(inner),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Node::Group(g.kind, items, g.clone()))
}

fn holds(node: &Node, facts: &PreparedFacts) -> bool {
    match node {
        Node::Leaf(c) => c.holds(facts),
        Node::Group(GroupKind::All, items, _) => items.iter().all(|i| holds(i, facts)),
        Node::Group(GroupKind::Any, items, _) => items.iter().any(|i| holds(i, facts)),
    }
}

/// Like [`holds`], pushing the descriptions of what held (only kept when the whole matches).
fn explain(node: &Node, facts: &PreparedFacts, out: &mut Vec<String>) -> bool {
    match node {
        Node::Leaf(c) => {
            let ok = c.holds(facts);
            if ok {
                out.push(c.description.clone());
            }
            ok
        }
        Node::Group(GroupKind::All, items, _) => {
            let mark = out.len();
            let ok = items.iter().all(|i| explain(i, facts, out));
            if !ok {
                out.truncate(mark);
            }
            ok
        }
        Node::Group(GroupKind::Any, items, _) => items.iter().any(|i| explain(i, facts, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn facts() -> TicketFacts {
        TicketFacts {
            mailbox: "Billing@Example.com".into(),
            from: "Ann@Customer.org".into(),
            to: vec!["billing@example.com".into(), "Sales@Example.com".into()],
            cc: vec![],
            subject: "Refund for ÉCOLE order".into(),
            body: "Hello,\nI want my money back.".into(),
            has_attachment: true,
            tags: vec!["VIP".into(), "refund".into()],
            priority: Priority::High,
            status: Status::Open,
            assignee: None,
            assignee_available: None,
            team: Some("Billing".into()),
            automated: None,
            within_business_hours: None,
            customer_vip: Some(true),
            customer_lifecycle_stage: Some("customer".into()),
            customer_company: Some("".into()),
            csat: None,
            message_count: 3,
            minutes_since_created: Some(45.5),
            minutes_unassigned: Some(45.5),
            minutes_in_status: Some(10.0),
            minutes_since_customer_reply: Some(45.5),
            minutes_since_agent_reply: None,
        }
    }

    fn compile(conditions: Value) -> CompiledRule {
        let rule = Rule::from_json(&json!({"name": "r", "trigger": "time",
            "conditions": conditions, "actions": [{"type": "unassign"}]}))
        .unwrap();
        CompiledRule::new(rule).unwrap()
    }

    fn holds_on(f: &TicketFacts, field: &str, op: &str, value: Value) -> bool {
        let mut c = json!({"field": field, "op": op});
        if !value.is_null() {
            c["value"] = value;
        }
        let r = compile(json!({"all": [c]}));
        let prepared = f.clone().prepare();
        let e = r.evaluate(&prepared);
        assert_eq!(e.matched, r.matches(&prepared));
        e.matched
    }

    fn h(field: &str, op: &str, value: Value) -> bool {
        holds_on(&facts(), field, op, value)
    }

    #[test]
    fn text_fields_every_operator() {
        assert!(h("subject", "is", json!("refund for école ORDER")));
        assert!(!h("subject", "is", json!("refund")));
        assert!(h("subject", "is_not", json!("refund")));
        assert!(h("subject", "contains", json!("ÉCOLE")));
        assert!(h("subject", "contains", json!("école")));
        assert!(!h("subject", "contains", json!("invoice")));
        assert!(h("subject", "not_contains", json!("invoice")));
        assert!(h("subject", "starts_with", json!("REFUND")));
        assert!(!h("subject", "starts_with", json!("order")));
        assert!(h("subject", "ends_with", json!("Order")));
        assert!(h("subject", "matches", json!(r"^refund\b")));
        assert!(h("body", "matches", json!("(?m)^i want")));
        assert!(!h("subject", "matches", json!("^order")));
        assert!(h("subject", "in", json!(["x", "Refund for école order"])));
        assert!(!h("subject", "in", json!(["x"])));
        assert!(h("subject", "is_set", Value::Null));
        assert!(!h("subject", "is_not_set", Value::Null));
        assert!(h("customer.lifecycle_stage", "is", json!("Customer")));
    }

    #[test]
    fn unset_texts() {
        // assignee None, customer.company "" (empty counts as unset).
        for field in ["assignee", "customer.company"] {
            assert!(!h(field, "is_set", Value::Null));
            assert!(h(field, "is_not_set", Value::Null));
            assert!(!h(field, "is", json!("x@example.com")));
            assert!(h(field, "is_not", json!("x@example.com")));
            assert!(!h(field, "contains", json!("x")));
            assert!(h(field, "not_contains", json!("x")));
            assert!(!h(field, "starts_with", json!("x")));
            assert!(!h(field, "ends_with", json!("x")));
            assert!(!h(field, "matches", json!(".*")));
            assert!(!h(field, "in", json!(["x"])));
        }
        assert!(h("team", "is", json!("billing")));
    }

    #[test]
    fn addresses_and_domains() {
        assert!(h("from", "is", json!("ann@customer.org")));
        assert!(h("from", "is", json!("@CUSTOMER.org")));
        assert!(!h("from", "is", json!("@org")));
        assert!(h("from", "is_not", json!("@example.com")));
        assert!(h("from", "in", json!(["@example.com", "@customer.org"])));
        assert!(h("mailbox", "is", json!("billing@example.com")));
        assert!(h("to", "contains", json!("@example.com")));
        assert!(h("to", "contains", json!("SALES@example.com")));
        assert!(!h("to", "contains", json!("sales")));
        assert!(h("to", "matches", json!("^sales@")));
        let mut f = facts();
        f.assignee = Some("Dana@Example.com".into());
        assert!(holds_on(&f, "assignee", "is", json!("dana@example.com")));
        assert!(holds_on(&f, "assignee", "is", json!("@example.com")));
        // Not an address field: "@" is literal.
        assert!(!h("subject", "is", json!("@example.com")));
    }

    #[test]
    fn set_fields_every_operator() {
        assert!(h("tags", "contains", json!("vip")));
        assert!(h("tags", "contains", json!("REFUND")));
        assert!(!h("tags", "contains", json!("ref")));
        assert!(h("tags", "not_contains", json!("ref")));
        assert!(!h("tags", "not_contains", json!("vip")));
        assert!(h("tags", "in", json!(["x", "Vip"])));
        assert!(!h("tags", "in", json!(["x"])));
        assert!(h("tags", "matches", json!("^ref")));
        assert!(h("tags", "is_set", Value::Null));
        assert!(!h("cc", "is_set", Value::Null));
        assert!(h("cc", "is_not_set", Value::Null));
        assert!(!h("cc", "contains", json!("@example.com")));
        assert!(h("cc", "not_contains", json!("@example.com")));
    }

    #[test]
    fn bool_fields_every_operator() {
        assert!(h("has_attachment", "is", json!(true)));
        assert!(!h("has_attachment", "is", json!(false)));
        assert!(h("has_attachment", "is_not", json!(false)));
        assert!(h("has_attachment", "is_set", Value::Null));
        assert!(h("customer.vip", "is", json!(true)));
        // within_business_hours unknown: unset, neither true nor false.
        assert!(!h("within_business_hours", "is", json!(true)));
        assert!(!h("within_business_hours", "is", json!(false)));
        assert!(h("within_business_hours", "is_not", json!(true)));
        assert!(h("within_business_hours", "is_not_set", Value::Null));
    }

    #[test]
    fn enum_fields_every_operator() {
        assert!(h("priority", "is", json!("high")));
        assert!(h("priority", "is_not", json!("low")));
        assert!(h("priority", "in", json!(["urgent", "high"])));
        assert!(h("status", "is", json!("open")));
        assert!(!h("status", "in", json!(["closed", "pending"])));
        assert!(h("automated", "is", json!("none")));
        assert!(h("automated", "is_not", json!("bounce")));
        let mut f = facts();
        f.automated = Some(Automated::Bounce);
        assert!(holds_on(&f, "automated", "is", json!("bounce")));
        assert!(holds_on(&f, "automated", "in", json!(["list", "bounce"])));
        assert!(!holds_on(&f, "automated", "is", json!("none")));
    }

    #[test]
    fn number_fields_every_operator() {
        assert!(h("message_count", "is", json!(3)));
        assert!(h("message_count", "is_not", json!(4)));
        assert!(h("message_count", "gt", json!(2)));
        assert!(!h("message_count", "gt", json!(3)));
        assert!(h("message_count", "lt", json!(3.5)));
        assert!(h("message_count", "is_set", Value::Null));
        assert!(h("minutes_unassigned", "gt", json!(45)));
        assert!(!h("minutes_unassigned", "gt", json!(45.5)));
        assert!(h("minutes_in_status", "lt", json!(11)));
        // No agent reply yet: unset; gt and lt both false.
        assert!(!h("minutes_since_agent_reply", "gt", json!(0)));
        assert!(!h("minutes_since_agent_reply", "lt", json!(1e9)));
        assert!(h("minutes_since_agent_reply", "is_not_set", Value::Null));
        assert!(h("minutes_since_agent_reply", "is_not", json!(0)));
    }

    #[test]
    fn evaluation_explains() {
        let r = compile(json!({"all": [
            {"field": "mailbox", "op": "is", "value": "billing@example.com"},
            {"field": "subject", "op": "contains", "value": "refund"},
            {"any": [{"field": "tags", "op": "contains", "value": "nope"},
                     {"field": "priority", "op": "in", "value": ["high", "urgent"]},
                     {"field": "has_attachment", "op": "is", "value": true}]},
            {"field": "minutes_unassigned", "op": "gt", "value": 30}
        ]}));
        let e = r.evaluate(&facts().prepare());
        assert_eq!(
            e,
            Evaluation {
                matched: true,
                matched_conditions: vec![
                    "mailbox is billing@example.com".into(),
                    "subject contains 'refund'".into(),
                    "priority is one of high, urgent".into(),
                    "minutes unassigned is more than 30".into(),
                ],
                failed_condition: None,
            }
        );
        let mut f = facts();
        f.priority = Priority::Low;
        f.has_attachment = false;
        let e = r.evaluate(&f.prepare());
        assert!(!e.matched);
        assert!(e.matched_conditions.is_empty());
        assert_eq!(
            serde_json::to_value(e.failed_condition).unwrap(),
            json!({"any": [{"field": "tags", "op": "contains", "value": "nope"},
                {"field": "priority", "op": "in", "value": ["high", "urgent"]},
                {"field": "has_attachment", "op": "is", "value": true}]})
        );
        let mut f = facts();
        f.subject = "Question".into();
        let e = r.evaluate(&f.prepare());
        assert_eq!(
            serde_json::to_value(e.failed_condition).unwrap(),
            json!({"field": "subject", "op": "contains", "value": "refund"})
        );
    }

    #[test]
    fn top_level_any_and_empty_all() {
        let r = compile(json!({"any": [
            {"field": "subject", "op": "contains", "value": "invoice"},
            {"all": [{"field": "tags", "op": "contains", "value": "vip"}, {"field": "status", "op": "is", "value": "open"}]}
        ]}));
        let e = r.evaluate(&facts().prepare());
        assert!(e.matched);
        assert_eq!(
            e.matched_conditions,
            vec!["tags contains 'vip'", "status is open"]
        );
        let mut f = facts();
        f.tags.clear();
        let e = r.evaluate(&f.prepare());
        assert!(!e.matched);
        assert!(matches!(e.failed_condition, Some(ConditionNode::Group(_))));
        let every = compile(json!({"all": []}));
        let e = every.evaluate(&facts().prepare());
        assert!(e.matched && e.matched_conditions.is_empty());
    }

    #[test]
    fn empty_groups() {
        let p = facts().prepare();
        assert!(holds(
            &Node::Group(
                GroupKind::All,
                vec![],
                ConditionGroup {
                    kind: GroupKind::All,
                    items: vec![]
                }
            ),
            &p
        ));
        assert!(!holds(
            &Node::Group(
                GroupKind::Any,
                vec![],
                ConditionGroup {
                    kind: GroupKind::Any,
                    items: vec![]
                }
            ),
            &p
        ));
    }

    #[test]
    fn trimming_and_spaces() {
        assert!(h("subject", "contains", json!(" for ")));
        assert!(!h("subject", "contains", json!(" refund")));
        assert!(h("subject", "is", json!("  Refund for ÉCOLE order ")));
        let mut f = facts();
        f.body = "  hello\n".into();
        assert!(holds_on(&f, "body", "is", json!("Hello")));
        assert!(holds_on(&f, "body", "starts_with", json!("hell")));
    }

    #[test]
    fn descriptions() {
        let d = |c: Value| {
            let Some(ConditionNode::Condition(c)) = compile(json!({"all": [c]}))
                .rule()
                .conditions
                .items
                .first()
                .cloned()
            else {
                unreachable!()
            };
            describe_condition(&c)
        };
        assert_eq!(
            d(json!({"field": "from", "op": "is_not", "value": "@spam.com"})),
            "from is not @spam.com"
        );
        assert_eq!(
            d(json!({"field": "subject", "op": "not_contains", "value": "x"})),
            "subject does not contain 'x'"
        );
        assert_eq!(
            d(json!({"field": "body", "op": "matches", "value": "a+b"})),
            "body matches /a+b/"
        );
        assert_eq!(
            d(json!({"field": "customer.vip", "op": "is", "value": true})),
            "customer VIP is true"
        );
        assert_eq!(
            d(json!({"field": "tags", "op": "is_not_set"})),
            "tags is not set"
        );
        assert_eq!(
            d(json!({"field": "message_count", "op": "lt", "value": 2})),
            "message count is less than 2"
        );
        assert_eq!(
            d(json!({"field": "subject", "op": "starts_with", "value": "Re"})),
            "subject starts with 'Re'"
        );
        assert_eq!(
            d(json!({"field": "subject", "op": "ends_with", "value": "?"})),
            "subject ends with '?'"
        );
    }

    /// A leaf condition for (field, op, value) drawn from a small alphabet so that hits happen.
    fn arb_condition() -> impl Strategy<Value = Value> {
        let words = prop::sample::select(vec![
            "refund",
            "VIP",
            "@example.com",
            "ann@example.com",
            "é",
            "high",
            "open",
            "none",
        ]);
        (
            prop::sample::select(Field::ALL.to_vec()),
            prop::sample::select(Op::ALL.to_vec()),
            words,
            0i64..100,
            any::<bool>(),
        )
            .prop_filter_map("operator fits the field", |(field, op, word, n, b)| {
                if !super::super::validate::ops_for(field.field_type()).contains(&op) {
                    return None;
                }
                let ft = field.field_type();
                let value = match op {
                    Op::IsSet | Op::IsNotSet => Value::Null,
                    Op::Gt | Op::Lt => json!(n),
                    Op::In if ft == FieldType::Enum => {
                        json!([field.enum_values()[n as usize % field.enum_values().len()]])
                    }
                    Op::In => json!([word, "x"]),
                    Op::Matches => json!(regex::escape(word)),
                    _ if ft == FieldType::Bool => json!(b),
                    _ if ft == FieldType::Number => json!(n),
                    _ if ft == FieldType::Enum => {
                        json!(field.enum_values()[n as usize % field.enum_values().len()])
                    }
                    _ => json!(word),
                };
                let mut c = json!({"field": field.as_str(), "op": op.as_str()});
                if !value.is_null() {
                    c["value"] = value;
                }
                Some(c)
            })
    }

    fn arb_facts() -> impl Strategy<Value = TicketFacts> {
        let text = prop::sample::select(vec![
            "",
            "Refund please",
            "ANN@EXAMPLE.COM",
            "vip",
            "École",
            "  ",
        ]);
        let opt_text = prop::option::of(text.clone());
        let list = prop::collection::vec(text.clone(), 0..3);
        let minutes = prop::option::of(0.0f64..100.0);
        (
            (
                text.clone(),
                text.clone(),
                list.clone(),
                list.clone(),
                text.clone(),
                text.clone(),
                list,
            ),
            (
                any::<bool>(),
                opt_text.clone(),
                opt_text.clone(),
                opt_text.clone(),
                prop::option::of(any::<bool>()),
                prop::option::of(any::<bool>()),
            ),
            (0i64..100, minutes.clone(), minutes.clone(), minutes),
            (
                prop::sample::select(Priority::ALL.to_vec()),
                prop::sample::select(Status::ALL.to_vec()),
                prop::option::of(prop::sample::select(Automated::ALL.to_vec())),
            ),
        )
            .prop_map(
                |(
                    (mailbox, from, to, cc, subject, body, tags),
                    (att, assignee, team, company, vip, bh),
                    (count, m1, m2, m3),
                    (priority, status, automated),
                )| TicketFacts {
                    mailbox: mailbox.into(),
                    from: from.into(),
                    to: to.into_iter().map(String::from).collect(),
                    cc: cc.into_iter().map(String::from).collect(),
                    subject: subject.into(),
                    body: body.into(),
                    has_attachment: att,
                    tags: tags.into_iter().map(String::from).collect(),
                    priority,
                    status,
                    assignee: assignee.map(String::from),
                    assignee_available: assignee.map(|_| true),
                    team: team.map(String::from),
                    automated,
                    within_business_hours: bh,
                    customer_vip: vip,
                    customer_lifecycle_stage: None,
                    customer_company: company.map(String::from),
                    csat: None,
                    message_count: count,
                    minutes_since_created: m1,
                    minutes_unassigned: m2,
                    minutes_in_status: m3,
                    minutes_since_customer_reply: m1,
                    minutes_since_agent_reply: None,
                },
            )
    }

    fn negated(c: &Value) -> Option<Value> {
        let op = match c["op"].as_str()? {
            "is" => "is_not",
            "is_not" => "is",
            "contains" => "not_contains",
            "not_contains" => "contains",
            "is_set" => "is_not_set",
            "is_not_set" => "is_set",
            _ => return None,
        };
        let mut n = c.clone();
        n["op"] = json!(op);
        Some(n)
    }

    proptest! {
        /// `is_not` / `not_contains` / `is_not_set` are exactly the negations of their
        /// positive operators, unset values included.
        #[test]
        fn negations_are_exact(c in arb_condition(), f in arb_facts()) {
            if let Some(n) = negated(&c) {
                let p = f.prepare();
                let a = compile(json!({"all": [c]})).matches(&p);
                let b = compile(json!({"all": [n]})).matches(&p);
                prop_assert_ne!(a, b);
            }
        }

        /// All of one = any of one = that one; nesting it in a group changes nothing;
        /// all of none holds.
        #[test]
        fn groups_of_one(c in arb_condition(), f in arb_facts()) {
            let p = f.prepare();
            let one = compile(json!({"all": [c.clone()]})).matches(&p);
            prop_assert_eq!(compile(json!({"any": [c.clone()]})).matches(&p), one);
            prop_assert_eq!(compile(json!({"all": [{"any": [c.clone()]}]})).matches(&p), one);
            prop_assert_eq!(compile(json!({"any": [{"all": [c]}]})).matches(&p), one);
            let every = compile(json!({"all": []})).matches(&p);
            prop_assert!(every);
        }

        /// all(a, b) = a && b and any(a, b) = a || b; evaluate agrees with matches, lists the
        /// held conditions only when matched, and names a failed part only when not.
        #[test]
        fn groups_combine(a in arb_condition(), b in arb_condition(), f in arb_facts()) {
            let p = f.prepare();
            let ma = compile(json!({"all": [a.clone()]})).matches(&p);
            let mb = compile(json!({"all": [b.clone()]})).matches(&p);
            let all = compile(json!({"all": [a.clone(), b.clone()]}));
            let any = compile(json!({"any": [a, b]}));
            prop_assert_eq!(all.matches(&p), ma && mb);
            prop_assert_eq!(any.matches(&p), ma || mb);
            for r in [all, any] {
                let e = r.evaluate(&p);
                prop_assert_eq!(e.matched, r.matches(&p));
                prop_assert_eq!(e.failed_condition.is_some(), !e.matched);
                prop_assert_eq!(!e.matched_conditions.is_empty(), e.matched);
            }
        }

        /// Case does not matter: upper-casing the ticket's texts changes no result (except for
        /// characters whose upper case does not lower back, which the alphabet avoids).
        #[test]
        fn case_is_ignored(c in arb_condition(), f in arb_facts()) {
            let mut upper = f.clone();
            upper.subject = upper.subject.to_uppercase();
            upper.body = upper.body.to_uppercase();
            upper.from = upper.from.to_uppercase();
            upper.tags = upper.tags.iter().map(|t| t.to_uppercase()).collect();
            upper.to = upper.to.iter().map(|t| t.to_uppercase()).collect();
            let r = compile(json!({"all": [c]}));
            prop_assert_eq!(r.matches(&f.prepare()), r.matches(&upper.prepare()));
        }
    }
}
