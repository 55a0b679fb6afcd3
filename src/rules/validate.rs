//! Whole-rule validation, pure: [`check`] looks at the rule alone (operators for the field's
//! type, value types, regular expressions, time fields only with the `time` trigger, actions);
//! [`check_references`] asks a [`Lookup`] whether the teams, agents, saved replies, SLA
//! policies and lifecycle stages it names exist (the DB layer implements it, or fills a [`KnownNames`]).
//! Every error names its path (`conditions.all[1].value: ...`, `actions[0].team: ...`).

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::model::{
    Action, Condition, ConditionGroup, ConditionNode, Field, FieldType, GroupKind, Mode, Op, Rule,
    RuleError, SavedReplyRef, Trigger,
};

/// Longest accepted `matches` pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;
/// Compiled size limit of a `matches` pattern (`RegexBuilder::size_limit`), in bytes.
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// Most entries in an `in` list.
pub const MAX_IN_ENTRIES: usize = 1000;
/// Longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most conditions and groups in a rule (all levels).
pub const MAX_CONDITIONS: usize = 100;
/// Most actions in a rule.
pub const MAX_ACTIONS: usize = 50;

/// What exists in the helpdesk, for [`check_references`]. Names compare as the DB layer sees
/// fit (the [`KnownNames`] implementation ignores case).
pub trait Lookup {
    /// A team with this name exists.
    fn team_exists(&self, name: &str) -> bool;
    /// An active agent with this email exists.
    fn agent_exists(&self, email: &str) -> bool;
    /// A saved reply with this name or id exists.
    fn saved_reply_exists(&self, reply: &SavedReplyRef) -> bool;
    /// An SLA policy with this name exists.
    fn sla_policy_exists(&self, name: &str) -> bool;
    /// A lifecycle stage with this name exists.
    fn lifecycle_stage_exists(&self, name: &str) -> bool;
}

/// A [`Lookup`] from lists of names loaded beforehand (case-insensitive comparison).
#[derive(Debug, Clone, Default)]
pub struct KnownNames {
    /// Team names.
    pub teams: Vec<String>,
    /// Agent emails.
    pub agents: Vec<String>,
    /// Saved replies: (id, name).
    pub saved_replies: Vec<(i64, String)>,
    /// SLA policy names.
    pub sla_policies: Vec<String>,
    /// Lifecycle stage names, in their order.
    pub lifecycle_stages: Vec<String>,
}

fn has(list: &[String], name: &str) -> bool {
    let name = name.trim().to_lowercase();
    list.iter().any(|n| n.trim().to_lowercase() == name)
}

impl Lookup for KnownNames {
    fn team_exists(&self, name: &str) -> bool {
        has(&self.teams, name)
    }
    fn agent_exists(&self, email: &str) -> bool {
        has(&self.agents, email)
    }
    fn saved_reply_exists(&self, reply: &SavedReplyRef) -> bool {
        match reply {
            SavedReplyRef::Id(id) => self.saved_replies.iter().any(|(i, _)| i == id),
            SavedReplyRef::Name(name) => {
                let name = name.trim().to_lowercase();
                self.saved_replies
                    .iter()
                    .any(|(_, n)| n.trim().to_lowercase() == name)
            }
        }
    }
    fn sla_policy_exists(&self, name: &str) -> bool {
        has(&self.sla_policies, name)
    }
    fn lifecycle_stage_exists(&self, name: &str) -> bool {
        has(&self.lifecycle_stages, name)
    }
}

/// [`check`] then [`check_references`]: every error, in rule order (empty when valid).
pub fn validate(rule: &Rule, lookup: &dyn Lookup) -> Vec<RuleError> {
    let mut errors = check(rule);
    errors.extend(check_references(rule, lookup));
    errors
}

/// The operators a field type accepts.
pub fn ops_for(field_type: FieldType) -> &'static [Op] {
    use Op::*;
    match field_type {
        FieldType::Text => &[
            Is,
            IsNot,
            Contains,
            NotContains,
            StartsWith,
            EndsWith,
            Matches,
            In,
            IsSet,
            IsNotSet,
        ],
        FieldType::Set => &[Contains, NotContains, Matches, In, IsSet, IsNotSet],
        FieldType::Bool => &[Is, IsNot, IsSet, IsNotSet],
        FieldType::Enum => &[Is, IsNot, In],
        FieldType::Number => &[Is, IsNot, Gt, Lt, IsSet, IsNotSet],
    }
}

/// Compiles a `matches` pattern: case-insensitive, at most [`MAX_PATTERN_CHARS`] characters and
/// [`REGEX_SIZE_LIMIT`] bytes compiled. The error is a message for the `value` path.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!(
            "regular expression longer than {MAX_PATTERN_CHARS} characters"
        ));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                "regular expression too large once compiled".to_owned()
            }
            e => format!(
                "regular expression does not compile: {}",
                one_line(&e.to_string())
            ),
        })
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks the rule alone: everything but the existence of what it names.
pub fn check(rule: &Rule) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let name = rule.name.trim();
    if name.is_empty() {
        errors.push(RuleError::new("name", "must not be blank"));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(RuleError::new(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if rule.trigger == Trigger::Time && rule.mode == Mode::EveryTime {
        errors.push(RuleError::new(
            "mode",
            "every_time would fire at every pass of the scheduler: use once_per_ticket or on_state_entry with the time trigger",
        ));
    }
    let mut count = 0;
    check_group(
        &rule.conditions,
        "conditions",
        true,
        rule.trigger,
        &mut count,
        &mut errors,
    );
    if count > MAX_CONDITIONS {
        errors.push(RuleError::new(
            "conditions",
            format!("at most {MAX_CONDITIONS} conditions"),
        ));
    }
    if rule.actions.is_empty() {
        errors.push(RuleError::new("actions", "at least one action"));
    } else if rule.actions.len() > MAX_ACTIONS {
        errors.push(RuleError::new(
            "actions",
            format!("at most {MAX_ACTIONS} actions"),
        ));
    }
    for (i, action) in rule.actions.iter().enumerate() {
        check_action(action, &format!("actions[{i}]"), &mut errors);
    }
    errors
}

fn check_group(
    group: &ConditionGroup,
    path: &str,
    top: bool,
    trigger: Trigger,
    count: &mut usize,
    errors: &mut Vec<RuleError>,
) {
    let list_path = format!("{path}.{}", group.kind.as_str());
    if group.items.is_empty() && !(top && group.kind == GroupKind::All) {
        // All of none holds (a rule for every ticket) and is fine at the top; an empty "any"
        // never holds and an empty nested group is a mistake.
        errors.push(RuleError::new(
            list_path.clone(),
            if group.kind == GroupKind::Any {
                "\"any\" of no conditions never holds: add a condition"
            } else {
                "an empty nested group: add a condition or remove the group"
            },
        ));
    }
    for (i, item) in group.items.iter().enumerate() {
        *count += 1;
        let item_path = format!("{list_path}[{i}]");
        match item {
            ConditionNode::Condition(c) => check_condition(c, &item_path, trigger, errors),
            ConditionNode::Group(g) if top => {
                check_group(g, &item_path, false, trigger, count, errors)
            }
            ConditionNode::Group(_) => errors.push(RuleError::new(
                item_path,
                "groups nest one level only (a group inside a group inside the top group)",
            )),
        }
    }
}

/// Checks one condition at `path` (operator for the field, value type, pattern, trigger).
pub fn check_condition(c: &Condition, path: &str, trigger: Trigger, errors: &mut Vec<RuleError>) {
    let ft = c.field.field_type();
    if c.field.is_time() && trigger != Trigger::Time {
        errors.push(RuleError::new(
            format!("{path}.field"),
            format!(
                "{} is a time field: only with the \"time\" trigger",
                c.field.as_str()
            ),
        ));
    }
    if !ops_for(ft).contains(&c.op) {
        let allowed: Vec<&str> = ops_for(ft).iter().map(|o| o.as_str()).collect();
        errors.push(RuleError::new(
            format!("{path}.op"),
            format!(
                "operator \"{}\" does not apply to {} (use {})",
                c.op,
                c.field,
                allowed.join(", ")
            ),
        ));
        return;
    }
    let vpath = format!("{path}.value");
    if let Err(message) = check_value(c.field, c.op, c.value.as_ref()) {
        errors.push(RuleError::new(vpath, message));
    }
}

/// The value's type for `field` and `op`; `Err(message)` for the `value` path.
fn check_value(field: Field, op: Op, value: Option<&Value>) -> Result<(), String> {
    let ft = field.field_type();
    let known = |s: &str| -> Result<(), String> {
        if ft == FieldType::Enum && !field.enum_values().contains(&s) {
            Err(format!(
                "unknown {field} {s:?} (one of {})",
                field.enum_values().join(", ")
            ))
        } else {
            Ok(())
        }
    };
    match op {
        Op::IsSet | Op::IsNotSet => match value {
            None => Ok(()),
            Some(_) => Err(format!("\"{op}\" takes no value")),
        },
        Op::In => {
            let Some(Value::Array(list)) = value else {
                return Err("\"in\" takes a list of values".to_owned());
            };
            if list.is_empty() {
                return Err("\"in\" takes at least one value".to_owned());
            }
            if list.len() > MAX_IN_ENTRIES {
                return Err(format!("\"in\" takes at most {MAX_IN_ENTRIES} values"));
            }
            for (i, v) in list.iter().enumerate() {
                match v.as_str() {
                    Some(s) if !s.trim().is_empty() => {
                        known(s).map_err(|m| format!("[{i}] {m}"))?;
                    }
                    _ => return Err(format!("[{i}] expected a non-empty text")),
                }
            }
            Ok(())
        }
        Op::Gt | Op::Lt => match value.and_then(Value::as_f64) {
            Some(x) if x.is_finite() => Ok(()),
            _ => Err(format!("\"{op}\" takes a number")),
        },
        Op::Matches => match value.and_then(Value::as_str) {
            Some(p) if !p.is_empty() => compile_pattern(p).map(|_| ()),
            _ => Err("\"matches\" takes a regular expression (a non-empty text)".to_owned()),
        },
        Op::Is | Op::IsNot if ft == FieldType::Bool => match value {
            Some(Value::Bool(_)) => Ok(()),
            _ => Err(format!("{field} is true or false")),
        },
        Op::Is | Op::IsNot if ft == FieldType::Number => match value.and_then(Value::as_f64) {
            Some(x) if x.is_finite() => Ok(()),
            _ => Err(format!("{field} is a number")),
        },
        _ => match value.and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => known(s),
            _ => Err(format!("\"{op}\" takes a non-empty text")),
        },
    }
}

fn check_action(action: &Action, path: &str, errors: &mut Vec<RuleError>) {
    let blank = |errors: &mut Vec<RuleError>, key: &str, s: &str| {
        if s.trim().is_empty() {
            errors.push(RuleError::new(format!("{path}.{key}"), "must not be blank"));
        }
    };
    match action {
        Action::AssignAgent { agent } => blank(errors, "agent", agent),
        Action::AssignTeam { team } => blank(errors, "team", team),
        Action::AddTag { tag } | Action::RemoveTag { tag } => blank(errors, "tag", tag),
        Action::AddNote { body } => blank(errors, "body", body),
        Action::ApplySla { policy } => blank(errors, "policy", policy),
        Action::SetLifecycleStage { stage } | Action::SetCompanyLifecycleStage { stage } => {
            blank(errors, "stage", stage)
        }
        Action::SetHealth { health } | Action::SetCompanyHealth { health } => {
            if !(0..=100).contains(health) {
                errors.push(RuleError::new(
                    format!("{path}.health"),
                    "must be a whole number from 0 to 100",
                ));
            }
        }
        Action::SendSavedReply {
            saved_reply: SavedReplyRef::Name(name),
        } => blank(errors, "saved_reply", name),
        Action::Notify { agents, .. } => {
            if agents.is_empty() {
                errors.push(RuleError::new(
                    format!("{path}.agents"),
                    "at least one agent",
                ));
            }
            for (i, a) in agents.iter().enumerate() {
                blank(errors, &format!("agents[{i}]"), a);
            }
        }
        Action::Snooze { minutes } => {
            if *minutes <= 0 {
                errors.push(RuleError::new(
                    format!("{path}.minutes"),
                    "must be more than 0",
                ));
            }
        }
        Action::Webhook { url, secret } => {
            // The webhook policy without the private-address check, which needs the
            // configuration: a private address is refused at every delivery instead.
            if url.chars().any(char::is_whitespace) {
                errors.push(RuleError::new(format!("{path}.url"), "expected a URL"));
            } else if let Err(e) = crate::webhooks::url::check_url(url, true) {
                errors.push(RuleError::new(format!("{path}.url"), e.0));
            }
            if secret.as_deref().is_some_and(|s| s.trim().is_empty()) {
                errors.push(RuleError::new(
                    format!("{path}.secret"),
                    "must not be empty (leave it out for unsigned deliveries)",
                ));
            }
        }
        Action::Unassign
        | Action::SetPriority { .. }
        | Action::SetStatus { .. }
        | Action::SetCustomerVip { .. }
        | Action::SetCompanyVip { .. } => {}
        Action::SendSavedReply {
            saved_reply: SavedReplyRef::Id(_),
        } => {}
    }
}

/// Checks that the teams, agents, saved replies, SLA policies and lifecycle stages the rule
/// names exist, in its
/// actions and in `team` / `assignee` conditions with `is`, `is_not` or `in` (an `@domain`
/// assignee value is not an agent).
pub fn check_references(rule: &Rule, lookup: &dyn Lookup) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let mut conditions = Vec::new();
    collect(&rule.conditions, "conditions", &mut conditions);
    for (c, path) in conditions {
        let exists = |s: &str| match c.field {
            Field::Team => lookup.team_exists(s),
            Field::Assignee => s.starts_with('@') || lookup.agent_exists(s),
            _ => true,
        };
        let what = if c.field == Field::Team {
            "team"
        } else {
            "agent"
        };
        match (c.op, &c.value) {
            (Op::Is | Op::IsNot, Some(Value::String(s))) if !exists(s) => errors.push(
                RuleError::new(format!("{path}.value"), format!("no {what} {s:?}")),
            ),
            (Op::In, Some(Value::Array(list))) => {
                for (i, v) in list.iter().enumerate() {
                    if let Some(s) = v.as_str().filter(|s| !exists(s)) {
                        errors.push(RuleError::new(
                            format!("{path}.value[{i}]"),
                            format!("no {what} {s:?}"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for (i, action) in rule.actions.iter().enumerate() {
        let path = format!("actions[{i}]");
        let mut missing = |key: &str, message: String| {
            errors.push(RuleError::new(format!("{path}.{key}"), message));
        };
        match action {
            Action::AssignAgent { agent } if !lookup.agent_exists(agent) => {
                missing("agent", format!("no agent {agent:?}"))
            }
            Action::AssignTeam { team } if !lookup.team_exists(team) => {
                missing("team", format!("no team {team:?}"))
            }
            Action::SendSavedReply { saved_reply } if !lookup.saved_reply_exists(saved_reply) => {
                missing("saved_reply", format!("no saved reply {saved_reply}"))
            }
            Action::ApplySla { policy } if !lookup.sla_policy_exists(policy) => {
                missing("policy", format!("no SLA policy {policy:?}"))
            }
            Action::SetLifecycleStage { stage } | Action::SetCompanyLifecycleStage { stage }
                if !stage.trim().is_empty() && !lookup.lifecycle_stage_exists(stage) =>
            {
                missing("stage", format!("unknown lifecycle stage {stage:?}"))
            }
            Action::Notify { agents, .. } => {
                for (j, a) in agents.iter().enumerate() {
                    if !lookup.agent_exists(a) {
                        missing(&format!("agents[{j}]"), format!("no agent {a:?}"));
                    }
                }
            }
            _ => {}
        }
    }
    errors
}

fn collect<'r>(group: &'r ConditionGroup, path: &str, out: &mut Vec<(&'r Condition, String)>) {
    for (i, item) in group.items.iter().enumerate() {
        let item_path = format!("{path}.{}[{i}]", group.kind.as_str());
        match item {
            ConditionNode::Condition(c) => out.push((c, item_path)),
            ConditionNode::Group(g) => collect(g, &item_path, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> KnownNames {
        KnownNames {
            teams: vec!["Billing".into()],
            agents: vec!["dana@example.com".into(), "lee@example.com".into()],
            saved_replies: vec![(12, "Refund policy".into())],
            sla_policies: vec!["Gold".into()],
            lifecycle_stages: vec!["Onboarding".into(), "At risk".into()],
        }
    }

    fn rule(trigger: &str, conditions: Value, actions: Value) -> Rule {
        Rule::from_json(
            &json!({"name": "r", "trigger": trigger, "conditions": conditions,
            "actions": actions}),
        )
        .unwrap()
    }

    fn cond(field: &str, op: &str, value: Value) -> Vec<String> {
        let mut c = json!({"field": field, "op": op});
        if !value.is_null() {
            c["value"] = value;
        }
        let r = rule("time", json!({"all": [c]}), json!([{"type": "unassign"}]));
        check(&r).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_complete_rule_is_valid() {
        let r = rule(
            "ticket_created",
            json!({"all": [{"field": "subject", "op": "contains", "value": "refund"},
                {"any": [{"field": "team", "op": "is", "value": "billing"},
                         {"field": "assignee", "op": "in", "value": ["dana@example.com", "@example.com"]}]}]}),
            json!([{"type": "assign_team", "team": "Billing"},
                {"type": "assign_agent", "agent": "Dana@Example.com"},
                {"type": "send_saved_reply", "saved_reply": 12},
                {"type": "send_saved_reply", "saved_reply": "refund policy"},
                {"type": "apply_sla", "policy": "Gold"},
                {"type": "notify", "agents": ["lee@example.com"]},
                {"type": "webhook", "url": "https://hooks.example.com/x"},
                {"type": "set_customer_vip", "vip": false},
                {"type": "set_lifecycle_stage", "stage": "at RISK"},
                {"type": "set_health", "health": 0},
                {"type": "set_health", "health": 100},
                {"type": "set_company_vip", "vip": true},
                {"type": "set_company_lifecycle_stage", "stage": "onboarding"},
                {"type": "set_company_health", "health": 50}]),
        );
        assert_eq!(validate(&r, &names()), vec![]);
    }

    #[test]
    fn operator_must_suit_the_field_type() {
        assert_eq!(
            cond("has_attachment", "contains", json!("x")),
            vec![
                "conditions.all[0].op: operator \"contains\" does not apply to has_attachment (use is, is_not, is_set, is_not_set)"
            ]
        );
        assert_eq!(cond("tags", "is", json!("x")).len(), 1);
        assert_eq!(cond("priority", "gt", json!(1)).len(), 1);
        assert_eq!(cond("priority", "contains", json!("hi")).len(), 1);
        assert_eq!(cond("message_count", "contains", json!("1")).len(), 1);
        assert_eq!(cond("subject", "gt", json!(1)).len(), 1);
        // Every accepted pair is accepted with a right value.
        for f in Field::ALL {
            for op in ops_for(f.field_type()) {
                let value = match (op, f.field_type()) {
                    (Op::IsSet | Op::IsNotSet, _) => Value::Null,
                    (Op::In, FieldType::Enum) => json!([f.enum_values()[0]]),
                    (Op::In, _) => json!(["a"]),
                    (Op::Gt | Op::Lt, _) | (_, FieldType::Number) => json!(3),
                    (_, FieldType::Bool) => json!(true),
                    (_, FieldType::Enum) => json!(f.enum_values()[0]),
                    _ => json!("a"),
                };
                assert_eq!(
                    cond(f.as_str(), op.as_str(), value),
                    Vec::<String>::new(),
                    "{f} {op}"
                );
            }
        }
    }

    #[test]
    fn value_types() {
        let e = |f, o, v| cond(f, o, v).join("; ");
        assert_eq!(
            e("subject", "in", json!("x")),
            "conditions.all[0].value: \"in\" takes a list of values"
        );
        assert_eq!(
            e("subject", "in", json!([])),
            "conditions.all[0].value: \"in\" takes at least one value"
        );
        assert_eq!(
            e("subject", "in", json!(["a", 3])),
            "conditions.all[0].value: [1] expected a non-empty text"
        );
        assert_eq!(
            e("subject", "is_set", json!("x")),
            "conditions.all[0].value: \"is_set\" takes no value"
        );
        assert_eq!(
            e("message_count", "gt", json!("3")),
            "conditions.all[0].value: \"gt\" takes a number"
        );
        assert_eq!(
            e("minutes_unassigned", "lt", Value::Null),
            "conditions.all[0].value: \"lt\" takes a number"
        );
        assert_eq!(
            e("has_attachment", "is", json!("yes")),
            "conditions.all[0].value: has_attachment is true or false"
        );
        assert_eq!(
            e("message_count", "is", json!("2")),
            "conditions.all[0].value: message_count is a number"
        );
        assert_eq!(
            e("subject", "contains", json!("  ")),
            "conditions.all[0].value: \"contains\" takes a non-empty text"
        );
        assert_eq!(
            e("subject", "is", json!(4)),
            "conditions.all[0].value: \"is\" takes a non-empty text"
        );
        assert_eq!(
            e("priority", "is", json!("hgh")),
            "conditions.all[0].value: unknown priority \"hgh\" (one of low, normal, high, urgent)"
        );
        assert_eq!(
            e("status", "in", json!(["open", "done"])),
            "conditions.all[0].value: [1] unknown status \"done\" (one of open, pending, snoozed, closed)"
        );
        assert_eq!(e("automated", "is", json!("none")), "");
    }

    #[test]
    fn regular_expressions() {
        let e = |v| cond("subject", "matches", v).join("; ");
        assert_eq!(e(json!("^re(fund|turn)s?$")), "");
        assert!(
            e(json!("(unclosed"))
                .starts_with("conditions.all[0].value: regular expression does not compile: ")
        );
        assert!(!e(json!("(unclosed")).contains('\n'));
        assert_eq!(
            e(json!("a".repeat(1001))),
            "conditions.all[0].value: regular expression longer than 1000 characters"
        );
        assert_eq!(
            e(json!(r"\w{500}\w{500}")),
            "conditions.all[0].value: regular expression too large once compiled"
        );
        assert_eq!(
            e(json!("")),
            "conditions.all[0].value: \"matches\" takes a regular expression (a non-empty text)"
        );
    }

    #[test]
    fn time_fields_need_the_time_trigger() {
        let r = rule(
            "ticket_created",
            json!({"any": [{"field": "subject", "op": "is_set"}, {"all": [{"field": "minutes_unassigned", "op": "gt", "value": 30}]}]}),
            json!([{"type": "unassign"}]),
        );
        assert_eq!(
            check(&r)[0].to_string(),
            "conditions.any[1].all[0].field: minutes_unassigned is a time field: only with the \"time\" trigger"
        );
        let mut r = r;
        r.trigger = Trigger::Time;
        assert_eq!(check(&r), vec![]);
        r.mode = Mode::EveryTime;
        assert!(
            check(&r)[0]
                .to_string()
                .starts_with("mode: every_time would fire")
        );
    }

    #[test]
    fn groups_and_actions() {
        let r = rule("note_added", json!({"all": []}), json!([]));
        assert_eq!(
            check(&r)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["actions: at least one action"]
        );
        let r = rule(
            "note_added",
            json!({"any": []}),
            json!([{"type": "unassign"}]),
        );
        assert_eq!(
            check(&r)[0].to_string(),
            "conditions.any: \"any\" of no conditions never holds: add a condition"
        );
        let r = rule(
            "note_added",
            json!({"all": [{"all": []}]}),
            json!([{"type": "unassign"}]),
        );
        assert_eq!(
            check(&r)[0].to_string(),
            "conditions.all[0].all: an empty nested group: add a condition or remove the group"
        );
        let r = rule(
            "note_added",
            json!({"all": []}),
            json!([{"type": "snooze", "minutes": 0}, {"type": "add_tag", "tag": " "},
                {"type": "notify", "agents": []}, {"type": "webhook", "url": "ftp://x"},
                {"type": "webhook", "url": "https:///x"}, {"type": "assign_team", "team": ""},
                {"type": "set_health", "health": 101}, {"type": "set_health", "health": -1},
                {"type": "set_lifecycle_stage", "stage": " "},
                {"type": "set_company_health", "health": 200},
                {"type": "webhook", "url": "http://hooks.example.com/x"},
                {"type": "webhook", "url": "http://127.0.0.1:9000/x", "secret": " "}]),
        );
        let errors: Vec<String> = check(&r).iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            vec![
                "actions[0].minutes: must be more than 0",
                "actions[1].tag: must not be blank",
                "actions[2].agents: at least one agent",
                "actions[3].url: scheme ftp: only https:// (or http:// to loopback)",
                "actions[4].url: the URL has no host",
                "actions[5].team: must not be blank",
                "actions[6].health: must be a whole number from 0 to 100",
                "actions[7].health: must be a whole number from 0 to 100",
                "actions[8].stage: must not be blank",
                "actions[9].health: must be a whole number from 0 to 100",
                "actions[10].url: only https:// URLs, or http:// to a loopback address (127.0.0.1, ::1, localhost)",
                "actions[11].secret: must not be empty (leave it out for unsigned deliveries)",
            ]
        );
        let mut r = r;
        r.name = " ".into();
        assert_eq!(check(&r)[0].to_string(), "name: must not be blank");
    }

    #[test]
    fn references_must_exist() {
        let r = rule(
            "ticket_created",
            json!({"all": [{"field": "team", "op": "is", "value": "Sales"},
                {"field": "assignee", "op": "in", "value": ["dana@example.com", "ghost@example.com"]}]}),
            json!([{"type": "assign_team", "team": "Sales"},
                {"type": "assign_agent", "agent": "ghost@example.com"},
                {"type": "send_saved_reply", "saved_reply": 13},
                {"type": "send_saved_reply", "saved_reply": "Nope"},
                {"type": "apply_sla", "policy": "Silver"},
                {"type": "notify", "agents": ["lee@example.com", "x@example.com"]},
                {"type": "set_lifecycle_stage", "stage": "Renewal"},
                {"type": "set_company_lifecycle_stage", "stage": "Gone"}]),
        );
        let errors: Vec<String> = validate(&r, &names())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            vec![
                "conditions.all[0].value: no team \"Sales\"",
                "conditions.all[1].value[1]: no agent \"ghost@example.com\"",
                "actions[0].team: no team \"Sales\"",
                "actions[1].agent: no agent \"ghost@example.com\"",
                "actions[2].saved_reply: no saved reply #13",
                "actions[3].saved_reply: no saved reply 'Nope'",
                "actions[4].policy: no SLA policy \"Silver\"",
                "actions[5].agents[1]: no agent \"x@example.com\"",
                "actions[6].stage: unknown lifecycle stage \"Renewal\"",
                "actions[7].stage: unknown lifecycle stage \"Gone\"",
            ]
        );
    }
}
