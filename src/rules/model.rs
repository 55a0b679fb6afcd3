//! A routing rule as the API's JSON contract.
//!
//! ```json
//! {"name": "Refunds to Billing", "enabled": true, "trigger": "ticket_created",
//!  "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"},
//!                         {"any": [{"field": "mailbox", "op": "is", "value": "billing@example.com"}]}]},
//!  "actions": [{"type": "assign_team", "team": "Billing"}, {"type": "add_tag", "tag": "refund"}],
//!  "mode": "once_per_ticket", "stop": false}
//! ```
//!
//! [`Rule::from_json`] reads that shape by hand (not with serde's derive) so that every error
//! names the part it is about: `conditions.all[1].op: unknown operator "containz"`. It checks
//! the shape only (known names, right JSON types, one level of nesting); whether an operator
//! suits its field, whether a value has the right type and whether a team exists is
//! [`super::validate`]'s job. `Rule` also implements `Deserialize` through `from_json`, and
//! `Serialize` gives back the same shape.

use std::fmt;

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

/// A rule as stored and as exchanged over the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Shown in the timeline ("by rule 'Refunds to Billing'"). Required, not blank.
    pub name: String,
    /// Disabled rules are kept but never evaluated. Default `true`.
    pub enabled: bool,
    /// The event that makes the rule be evaluated.
    pub trigger: Trigger,
    /// All of / any of, with one level of nesting.
    pub conditions: ConditionGroup,
    /// What the rule does, in order. At least one.
    pub actions: Vec<Action>,
    /// When a matching rule fires (see [`super::actions::decide`]). Default `once_per_ticket`.
    pub mode: Mode,
    /// Stop processing later rules (in order) once this one fires. Default `false`.
    pub stop: bool,
}

/// [`Rule`]'s JSON shape for the OpenAPI document (`Rule` is read by hand with
/// [`Rule::from_json`], so its schema is written here; the module doc shows an example).
#[derive(utoipa::ToSchema)]
pub struct RuleShape {
    /// Required, not blank.
    pub name: String,
    /// Default `true`.
    pub enabled: Option<bool>,
    /// `ticket_created`, `customer_replied`, `agent_replied`, `note_added`,
    /// `status_changed`, `assignee_changed`, `priority_changed`, `tags_changed`,
    /// `sla_warning`, `sla_breached`, `csat_rated` or `time`.
    pub trigger: String,
    /// `{"all": [condition | {"any": [...]}]}` or `{"any": [...]}`; a condition is
    /// `{"field", "op", "value"}`.
    #[schema(value_type = Object)]
    pub conditions: Value,
    /// What the rule does, in order, at least one: `{"type": "assign_team", "team": ...}`, ...
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
    /// `once_per_ticket` (default), `on_state_entry` or `every_time`.
    pub mode: Option<String>,
    /// Stop processing later rules once this one fires. Default `false`.
    pub stop: Option<bool>,
}

/// Top-level keys of a rule that the API may echo back (e.g. in a PATCH body built from a GET)
/// and that [`Rule::from_json`] ignores. Any other unknown key is an error.
pub const READ_ONLY_KEYS: &[&str] = &[
    "id",
    "position",
    "fire_count",
    "last_fired_at",
    "created_at",
    "updated_at",
];

/// A JSON shape or validation error, naming the part: `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Where: `name`, `trigger`, `conditions.all[1].op`, `actions[0].team`, ...
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl RuleError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Defines a fieldless enum with its JSON names, `as_str`, `parse`, `ALL` and `Serialize`.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in the documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The JSON name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// From the JSON name (exact, lower case); `None` when unknown.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// The event that makes a rule be evaluated.
    Trigger {
        TicketCreated = "ticket_created",
        CustomerReplied = "customer_replied",
        AgentReplied = "agent_replied",
        NoteAdded = "note_added",
        StatusChanged = "status_changed",
        AssigneeChanged = "assignee_changed",
        PriorityChanged = "priority_changed",
        TagsChanged = "tags_changed",
        SlaWarning = "sla_warning",
        SlaBreached = "sla_breached",
        CsatRated = "csat_rated",
        /// Evaluated continuously by the scheduler; the only trigger that may use time fields.
        Time = "time",
    }
}

named_enum! {
    /// What a condition reads from the ticket (see [`super::conditions::TicketFacts`]).
    Field {
        Mailbox = "mailbox",
        From = "from",
        To = "to",
        Cc = "cc",
        Subject = "subject",
        Body = "body",
        HasAttachment = "has_attachment",
        Tags = "tags",
        Priority = "priority",
        Status = "status",
        Assignee = "assignee",
        /// Whether the assignee is available (their own switch, and not disabled); not set
        /// for an unassigned ticket.
        AssigneeAvailable = "assignee.available",
        Team = "team",
        Automated = "automated",
        WithinBusinessHours = "within_business_hours",
        CustomerVip = "customer.vip",
        CustomerLifecycleStage = "customer.lifecycle_stage",
        CustomerCompany = "customer.company",
        MessageCount = "message_count",
        MinutesSinceCreated = "minutes_since_created",
        MinutesUnassigned = "minutes_unassigned",
        MinutesInStatus = "minutes_in_status",
        MinutesSinceCustomerReply = "minutes_since_customer_reply",
        MinutesSinceAgentReply = "minutes_since_agent_reply",
        /// The rating of a `csat_rated` event (not set for other events).
        Csat = "csat",
    }
}

named_enum! {
    /// A condition's comparison.
    Op {
        Is = "is",
        IsNot = "is_not",
        Contains = "contains",
        NotContains = "not_contains",
        StartsWith = "starts_with",
        EndsWith = "ends_with",
        /// A regular expression (the `regex` crate's syntax, case-insensitive, size-limited).
        Matches = "matches",
        /// The value is a list; true when the field equals one of its entries.
        In = "in",
        Gt = "gt",
        Lt = "lt",
        IsSet = "is_set",
        IsNotSet = "is_not_set",
    }
}

named_enum! {
    /// When a matching rule fires.
    Mode {
        /// At most once per ticket, ever (the per-ticket firing record).
        OncePerTicket = "once_per_ticket",
        /// Each time the conditions become true after having been false.
        OnStateEntry = "on_state_entry",
        /// On every event for which the conditions hold.
        EveryTime = "every_time",
    }
}

named_enum! {
    /// A ticket's priority (the `ticket.priority` check constraint; default normal).
    #[derive(Default)]
    Priority { Low = "low", #[default] Normal = "normal", High = "high", Urgent = "urgent" }
}

named_enum! {
    /// A ticket's status (the `ticket.status` check constraint; default open).
    #[derive(Default)]
    Status { #[default] Open = "open", Pending = "pending", Snoozed = "snoozed", Closed = "closed" }
}

named_enum! {
    /// What kind of automated mail a message is (`message.automated`; "none" is SQL null).
    Automated { AutoReply = "auto_reply", Bounce = "bounce", List = "list" }
}

/// The type of value a [`Field`] holds, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text or an address; may be unset.
    Text,
    /// A list of texts (`to`, `cc`, `tags`).
    Set,
    /// Yes / no; may be unknown.
    Bool,
    /// One of a fixed list ([`Field::enum_values`]).
    Enum,
    /// A number; the `minutes_*` ones may be unset (e.g. no agent reply yet).
    Number,
}

impl Field {
    /// The type of value this field holds.
    pub fn field_type(self) -> FieldType {
        use Field::*;
        match self {
            Mailbox
            | From
            | Subject
            | Body
            | Assignee
            | Team
            | CustomerLifecycleStage
            | CustomerCompany => FieldType::Text,
            To | Cc | Tags => FieldType::Set,
            HasAttachment | WithinBusinessHours | CustomerVip | AssigneeAvailable => {
                FieldType::Bool
            }
            Priority | Status | Automated | Csat => FieldType::Enum,
            MessageCount
            | MinutesSinceCreated
            | MinutesUnassigned
            | MinutesInStatus
            | MinutesSinceCustomerReply
            | MinutesSinceAgentReply => FieldType::Number,
        }
    }

    /// Fields holding email addresses, where a value `@example.com` means "any address at
    /// that domain" for `is`, `is_not`, `in`, `contains` and `not_contains`.
    pub fn is_address(self) -> bool {
        matches!(
            self,
            Field::Mailbox | Field::From | Field::To | Field::Cc | Field::Assignee
        )
    }

    /// The `minutes_*` fields, allowed only with the `time` trigger.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Field::MinutesSinceCreated
                | Field::MinutesUnassigned
                | Field::MinutesInStatus
                | Field::MinutesSinceCustomerReply
                | Field::MinutesSinceAgentReply
        )
    }

    /// The accepted values of an enum field (`automated` includes `none`); empty otherwise.
    pub fn enum_values(self) -> &'static [&'static str] {
        match self {
            Field::Priority => &["low", "normal", "high", "urgent"],
            Field::Status => &["open", "pending", "snoozed", "closed"],
            Field::Automated => &["auto_reply", "bounce", "list", "none"],
            Field::Csat => &["good", "okay", "bad"],
            _ => &[],
        }
    }

    /// The field's name in "why" texts: `has attachment`, `customer VIP`, `minutes unassigned`.
    pub fn label(self) -> &'static str {
        use Field::*;
        match self {
            Mailbox => "mailbox",
            From => "from",
            To => "to",
            Cc => "cc",
            Subject => "subject",
            Body => "body",
            HasAttachment => "has attachment",
            Tags => "tags",
            Priority => "priority",
            Status => "status",
            Assignee => "assignee",
            AssigneeAvailable => "assignee available",
            Team => "team",
            Automated => "automated",
            WithinBusinessHours => "within business hours",
            CustomerVip => "customer VIP",
            CustomerLifecycleStage => "customer lifecycle stage",
            CustomerCompany => "customer company",
            MessageCount => "message count",
            MinutesSinceCreated => "minutes since created",
            MinutesUnassigned => "minutes unassigned",
            MinutesInStatus => "minutes in status",
            MinutesSinceCustomerReply => "minutes since customer reply",
            MinutesSinceAgentReply => "minutes since agent reply",
            Csat => "CSAT rating",
        }
    }
}

/// How a group combines its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// `{"all": [...]}`: every item holds (all of none holds).
    All,
    /// `{"any": [...]}`: at least one item holds (any of none does not hold).
    Any,
}

impl GroupKind {
    /// `all` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::All => "all",
            GroupKind::Any => "any",
        }
    }
}

/// `{"all": [...]}` or `{"any": [...]}`. The rule's top group may hold groups; those may not.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionGroup {
    /// All of / any of.
    pub kind: GroupKind,
    /// Conditions, and (in the top group only) groups.
    pub items: Vec<ConditionNode>,
}

impl Serialize for ConditionGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.kind.as_str(), &self.items)?;
        map.end()
    }
}

/// An item of a group: a condition or a nested group. Serialises to its own JSON shape, which is
/// also what the dry run's `failed_condition` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConditionNode {
    /// `{"field", "op", "value"}`.
    Condition(Condition),
    /// `{"all": [...]}` / `{"any": [...]}`.
    Group(ConditionGroup),
}

/// `{"field": "subject", "op": "contains", "value": "refund"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// What is read.
    pub field: Field,
    /// How it is compared.
    pub op: Op,
    /// The JSON value as given (a string, number, bool or list; absent for `is_set`);
    /// [`super::validate`] checks its type against the field and operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A saved reply, named or by id (`"saved_reply": "Refund policy"` or `"saved_reply": 12`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SavedReplyRef {
    /// `saved_reply_id`.
    Id(i64),
    /// The saved reply's name.
    Name(String),
}

impl fmt::Display for SavedReplyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedReplyRef::Id(id) => write!(f, "#{id}"),
            SavedReplyRef::Name(name) => write!(f, "'{name}'"),
        }
    }
}

/// What a rule does. Agents are named by email, teams, SLA policies by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Assign to the agent with this email.
    AssignAgent { agent: String },
    /// Set the team; the team's assignment mode then picks the agent.
    AssignTeam { team: String },
    /// Remove the assignee (back to the pool).
    Unassign,
    /// Add a tag.
    AddTag { tag: String },
    /// Remove a tag.
    RemoveTag { tag: String },
    /// Set the priority.
    SetPriority { priority: Priority },
    /// Set the status.
    SetStatus { status: Status },
    /// Snooze for this many minutes (> 0).
    Snooze { minutes: i64 },
    /// Send a saved reply to the customer: never to automated mail, and at most one automatic
    /// reply per customer per ticket per day ([`super::actions::auto_reply_allowed`]).
    SendSavedReply { saved_reply: SavedReplyRef },
    /// Add an internal note.
    AddNote { body: String },
    /// Notify agents (by email), in the app and by mail, with an optional message.
    Notify {
        agents: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Apply an SLA policy (by name).
    ApplySla { policy: String },
    /// Set the VIP flag of the ticket's customer (their own value, which wins over their
    /// company's; see `customers`).
    SetCustomerVip { vip: bool },
    /// Set the lifecycle stage of the ticket's customer (a stage's name, case ignored).
    SetLifecycleStage { stage: String },
    /// Set the health score of the ticket's customer (0-100).
    SetHealth { health: i64 },
    /// Set the VIP flag of the company of the ticket's customer (its customers without a value
    /// of their own follow it).
    SetCompanyVip { vip: bool },
    /// Set the lifecycle stage of the company of the ticket's customer.
    SetCompanyLifecycleStage { stage: String },
    /// Set the health score of the company of the ticket's customer (0-100).
    SetCompanyHealth { health: i64 },
    /// POST the ticket to a URL (`https://`, or `http://` to loopback) through the webhook
    /// queue (`crate::webhooks`), signed with `secret` when it is set.
    Webhook {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
}

impl Action {
    /// The JSON `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::AssignAgent { .. } => "assign_agent",
            Action::AssignTeam { .. } => "assign_team",
            Action::Unassign => "unassign",
            Action::AddTag { .. } => "add_tag",
            Action::RemoveTag { .. } => "remove_tag",
            Action::SetPriority { .. } => "set_priority",
            Action::SetStatus { .. } => "set_status",
            Action::Snooze { .. } => "snooze",
            Action::SendSavedReply { .. } => "send_saved_reply",
            Action::AddNote { .. } => "add_note",
            Action::Notify { .. } => "notify",
            Action::ApplySla { .. } => "apply_sla",
            Action::SetCustomerVip { .. } => "set_customer_vip",
            Action::SetLifecycleStage { .. } => "set_lifecycle_stage",
            Action::SetHealth { .. } => "set_health",
            Action::SetCompanyVip { .. } => "set_company_vip",
            Action::SetCompanyLifecycleStage { .. } => "set_company_lifecycle_stage",
            Action::SetCompanyHealth { .. } => "set_company_health",
            Action::Webhook { .. } => "webhook",
        }
    }
}

/// Every action `type`, in the documented order.
pub const ACTION_TYPES: &[&str] = &[
    "assign_agent",
    "assign_team",
    "unassign",
    "add_tag",
    "remove_tag",
    "set_priority",
    "set_status",
    "snooze",
    "send_saved_reply",
    "add_note",
    "notify",
    "apply_sla",
    "set_customer_vip",
    "set_lifecycle_stage",
    "set_health",
    "set_company_vip",
    "set_company_lifecycle_stage",
    "set_company_health",
    "webhook",
];

impl Rule {
    /// Reads a rule from its JSON shape; the first error names the part (`actions[0].type:
    /// unknown action "asign_team"`). Defaults: `enabled` true, `mode` once_per_ticket,
    /// `stop` false. Keys in [`READ_ONLY_KEYS`] are ignored; other unknown keys are refused.
    /// Does not run [`super::validate`].
    pub fn from_json(v: &Value) -> Result<Rule, RuleError> {
        let obj = object(v, "")?;
        for key in obj.keys() {
            let known = matches!(
                key.as_str(),
                "name" | "enabled" | "trigger" | "conditions" | "actions" | "mode" | "stop"
            ) || READ_ONLY_KEYS.contains(&key.as_str());
            if !known {
                return Err(RuleError::new(key.clone(), "unknown key"));
            }
        }
        let name = string(required(obj, "", "name")?, "name")?.to_owned();
        let enabled = match obj.get("enabled") {
            None | Some(Value::Null) => true,
            Some(v) => boolean(v, "enabled")?,
        };
        let trigger = named(
            required(obj, "", "trigger")?,
            "trigger",
            "trigger",
            Trigger::parse,
        )?;
        let conditions = group(required(obj, "", "conditions")?, "conditions", 0)?;
        let actions = match required(obj, "", "actions")? {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, a)| action(a, &format!("actions[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(RuleError::new("actions", "expected a list of actions")),
        };
        let mode = match obj.get("mode") {
            None | Some(Value::Null) => Mode::OncePerTicket,
            Some(v) => named(v, "mode", "mode", Mode::parse)?,
        };
        let stop = match obj.get("stop") {
            None | Some(Value::Null) => false,
            Some(v) => boolean(v, "stop")?,
        };
        Ok(Rule {
            name,
            enabled,
            trigger,
            conditions,
            actions,
            mode,
            stop,
        })
    }

    /// The rule's JSON shape (the inverse of [`Rule::from_json`], with defaults filled in).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a rule always serialises")
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Rule::from_json(&v).map_err(serde::de::Error::custom)
    }
}

impl ConditionNode {
    /// Reads one condition or group at `path`; `depth` is 0 for the top group.
    pub fn from_json(v: &Value, path: &str, depth: usize) -> Result<ConditionNode, RuleError> {
        let obj = object(v, path)?;
        if obj.contains_key("all") || obj.contains_key("any") {
            if depth >= 1 {
                return Err(RuleError::new(
                    path,
                    "groups nest one level only (a group inside a group inside the top group)",
                ));
            }
            return Ok(ConditionNode::Group(group(v, path, depth + 1)?));
        }
        condition(obj, path).map(ConditionNode::Condition)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn object<'v>(v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, RuleError> {
    v.as_object().ok_or_else(|| {
        RuleError::new(
            if path.is_empty() { "rule" } else { path },
            "expected an object",
        )
    })
}

fn required<'v>(
    obj: &'v Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'v Value, RuleError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(RuleError::new(join(path, key), "required")),
        Some(v) => Ok(v),
    }
}

fn string<'v>(v: &'v Value, path: &str) -> Result<&'v str, RuleError> {
    v.as_str()
        .ok_or_else(|| RuleError::new(path, "expected a string"))
}

fn boolean(v: &Value, path: &str) -> Result<bool, RuleError> {
    v.as_bool()
        .ok_or_else(|| RuleError::new(path, "expected true or false"))
}

fn named<T>(
    v: &Value,
    path: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, RuleError> {
    let s = string(v, path)?;
    parse(s).ok_or_else(|| RuleError::new(path, format!("unknown {what} {s:?}")))
}

/// `{"all": [...]}` / `{"any": [...]}` at `path`; `depth` is the depth of its items.
fn group(v: &Value, path: &str, depth: usize) -> Result<ConditionGroup, RuleError> {
    let obj = object(v, path)?;
    let (kind, key) = match (obj.get("all"), obj.get("any")) {
        (Some(_), Some(_)) => {
            return Err(RuleError::new(
                path,
                "a group has \"all\" or \"any\", not both",
            ));
        }
        (Some(_), None) => (GroupKind::All, "all"),
        (None, Some(_)) => (GroupKind::Any, "any"),
        (None, None) => {
            return Err(RuleError::new(
                path,
                "expected a group: {\"all\": [...]} or {\"any\": [...]}",
            ));
        }
    };
    if let Some(other) = obj.keys().find(|k| k.as_str() != key) {
        return Err(RuleError::new(join(path, other), "unknown key"));
    }
    let list_path = join(path, key);
    let Value::Array(items) = &obj[key] else {
        return Err(RuleError::new(list_path, "expected a list of conditions"));
    };
    let items = items
        .iter()
        .enumerate()
        .map(|(i, item)| ConditionNode::from_json(item, &format!("{list_path}[{i}]"), depth))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ConditionGroup { kind, items })
}

fn condition(obj: &Map<String, Value>, path: &str) -> Result<Condition, RuleError> {
    if let Some(other) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "field" | "op" | "value"))
    {
        return Err(RuleError::new(join(path, other), "unknown key"));
    }
    let field = named(
        required(obj, path, "field")?,
        &join(path, "field"),
        "field",
        Field::parse,
    )?;
    let op = named(
        required(obj, path, "op")?,
        &join(path, "op"),
        "operator",
        Op::parse,
    )?;
    let value = match obj.get("value") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    };
    Ok(Condition { field, op, value })
}

fn action(v: &Value, path: &str) -> Result<Action, RuleError> {
    let obj = object(v, path)?;
    let type_path = join(path, "type");
    let kind = string(required(obj, path, "type")?, &type_path)?;
    let keys: &[&str] = match kind {
        "assign_agent" => &["agent"],
        "assign_team" => &["team"],
        "unassign" => &[],
        "add_tag" | "remove_tag" => &["tag"],
        "set_priority" => &["priority"],
        "set_status" => &["status"],
        "snooze" => &["minutes"],
        "send_saved_reply" => &["saved_reply"],
        "add_note" => &["body"],
        "notify" => &["agents", "message"],
        "apply_sla" => &["policy"],
        "set_customer_vip" | "set_company_vip" => &["vip"],
        "set_lifecycle_stage" | "set_company_lifecycle_stage" => &["stage"],
        "set_health" | "set_company_health" => &["health"],
        "webhook" => &["url", "secret"],
        _ => {
            return Err(RuleError::new(
                type_path,
                format!("unknown action {kind:?}"),
            ));
        }
    };
    if let Some(other) = obj
        .keys()
        .find(|k| k.as_str() != "type" && !keys.contains(&k.as_str()))
    {
        return Err(RuleError::new(
            join(path, other),
            format!("unknown key for action {kind:?}"),
        ));
    }
    let text = |key: &str| -> Result<String, RuleError> {
        Ok(string(required(obj, path, key)?, &join(path, key))?.to_owned())
    };
    Ok(match kind {
        "assign_agent" => Action::AssignAgent {
            agent: text("agent")?,
        },
        "assign_team" => Action::AssignTeam {
            team: text("team")?,
        },
        "unassign" => Action::Unassign,
        "add_tag" => Action::AddTag { tag: text("tag")? },
        "remove_tag" => Action::RemoveTag { tag: text("tag")? },
        "set_priority" => Action::SetPriority {
            priority: named(
                required(obj, path, "priority")?,
                &join(path, "priority"),
                "priority",
                Priority::parse,
            )?,
        },
        "set_status" => Action::SetStatus {
            status: named(
                required(obj, path, "status")?,
                &join(path, "status"),
                "status",
                Status::parse,
            )?,
        },
        "snooze" => Action::Snooze {
            minutes: required(obj, path, "minutes")?
                .as_i64()
                .ok_or_else(|| RuleError::new(join(path, "minutes"), "expected a whole number"))?,
        },
        "send_saved_reply" => Action::SendSavedReply {
            saved_reply: match required(obj, path, "saved_reply")? {
                Value::String(s) => SavedReplyRef::Name(s.clone()),
                v => SavedReplyRef::Id(v.as_i64().ok_or_else(|| {
                    RuleError::new(
                        join(path, "saved_reply"),
                        "expected a saved reply's name or id",
                    )
                })?),
            },
        },
        "add_note" => Action::AddNote {
            body: text("body")?,
        },
        "notify" => {
            let agents_path = join(path, "agents");
            let Value::Array(list) = required(obj, path, "agents")? else {
                return Err(RuleError::new(
                    agents_path,
                    "expected a list of agent emails",
                ));
            };
            let agents = list
                .iter()
                .enumerate()
                .map(|(i, a)| string(a, &format!("{agents_path}[{i}]")).map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            let message = match obj.get("message") {
                None | Some(Value::Null) => None,
                Some(m) => Some(string(m, &join(path, "message"))?.to_owned()),
            };
            Action::Notify { agents, message }
        }
        "apply_sla" => Action::ApplySla {
            policy: text("policy")?,
        },
        "set_customer_vip" | "set_company_vip" => {
            let vip = boolean(required(obj, path, "vip")?, &join(path, "vip"))?;
            if kind == "set_customer_vip" {
                Action::SetCustomerVip { vip }
            } else {
                Action::SetCompanyVip { vip }
            }
        }
        "set_lifecycle_stage" => Action::SetLifecycleStage {
            stage: text("stage")?,
        },
        "set_company_lifecycle_stage" => Action::SetCompanyLifecycleStage {
            stage: text("stage")?,
        },
        "set_health" | "set_company_health" => {
            let health = required(obj, path, "health")?
                .as_i64()
                .ok_or_else(|| RuleError::new(join(path, "health"), "expected a whole number"))?;
            if kind == "set_health" {
                Action::SetHealth { health }
            } else {
                Action::SetCompanyHealth { health }
            }
        }
        "webhook" => Action::Webhook {
            url: text("url")?,
            secret: match obj.get("secret") {
                None | Some(Value::Null) => None,
                Some(s) => Some(string(s, &join(path, "secret"))?.to_owned()),
            },
        },
        _ => unreachable!("checked above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Value {
        json!({
            "name": "Refunds to Billing",
            "enabled": true,
            "trigger": "ticket_created",
            "conditions": {"all": [
                {"field": "subject", "op": "contains", "value": "refund"},
                {"any": [
                    {"field": "mailbox", "op": "is", "value": "billing@example.com"},
                    {"field": "tags", "op": "in", "value": ["vip", "refund"]},
                    {"field": "customer.vip", "op": "is_set"}
                ]}
            ]},
            "actions": [
                {"type": "assign_team", "team": "Billing"},
                {"type": "add_tag", "tag": "refund"},
                {"type": "set_priority", "priority": "high"},
                {"type": "assign_agent", "agent": "dana@example.com"},
                {"type": "unassign"},
                {"type": "remove_tag", "tag": "x"},
                {"type": "set_status", "status": "pending"},
                {"type": "snooze", "minutes": 30},
                {"type": "send_saved_reply", "saved_reply": "Refund policy"},
                {"type": "send_saved_reply", "saved_reply": 12},
                {"type": "add_note", "body": "Check the invoice"},
                {"type": "notify", "agents": ["lee@example.com"], "message": "Look"},
                {"type": "notify", "agents": ["lee@example.com"]},
                {"type": "apply_sla", "policy": "Gold"},
                {"type": "webhook", "url": "https://hooks.example.com/x"},
                {"type": "set_customer_vip", "vip": true},
                {"type": "set_lifecycle_stage", "stage": "at risk"},
                {"type": "set_health", "health": 40},
                {"type": "set_company_vip", "vip": false},
                {"type": "set_company_lifecycle_stage", "stage": "renewal"},
                {"type": "set_company_health", "health": 90},
                {"type": "webhook", "url": "http://127.0.0.1:9000/hook", "secret": "s3cret"}
            ],
            "mode": "on_state_entry",
            "stop": true
        })
    }

    fn err(v: Value) -> String {
        Rule::from_json(&v).unwrap_err().to_string()
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = example();
        v[key] = value;
        v
    }

    #[test]
    fn round_trip_gives_the_same_shape() {
        let rule = Rule::from_json(&example()).unwrap();
        assert_eq!(rule.to_json(), example());
        let again: Rule = serde_json::from_value(rule.to_json()).unwrap();
        assert_eq!(again, rule);
        assert_eq!(rule.mode, Mode::OnStateEntry);
        assert_eq!(rule.actions.len(), 22);
    }

    #[test]
    fn top_level_any_and_defaults() {
        let v = json!({"name": "n", "trigger": "time",
            "conditions": {"any": [{"field": "minutes_unassigned", "op": "gt", "value": 30}]},
            "actions": [{"type": "unassign"}], "id": 7});
        let rule = Rule::from_json(&v).unwrap();
        assert!(rule.enabled);
        assert!(!rule.stop);
        assert_eq!(rule.mode, Mode::OncePerTicket);
        assert_eq!(rule.conditions.kind, GroupKind::Any);
        assert_eq!(
            rule.to_json()["conditions"],
            json!({"any": [{"field": "minutes_unassigned", "op": "gt", "value": 30}]})
        );
    }

    #[test]
    fn unknown_names_are_named_with_their_path() {
        let mut v = example();
        v["conditions"]["all"][1]["any"][0]["op"] = json!("containz");
        assert_eq!(
            err(v),
            r#"conditions.all[1].any[0].op: unknown operator "containz""#
        );
        let mut v = example();
        v["conditions"]["all"][0]["field"] = json!("subjct");
        assert_eq!(err(v), r#"conditions.all[0].field: unknown field "subjct""#);
        let mut v = example();
        v["actions"][2]["type"] = json!("asign_team");
        assert_eq!(err(v), r#"actions[2].type: unknown action "asign_team""#);
        assert_eq!(
            err(with("trigger", json!("ticket_opened"))),
            r#"trigger: unknown trigger "ticket_opened""#
        );
        assert_eq!(
            err(with("mode", json!("always"))),
            r#"mode: unknown mode "always""#
        );
        let mut v = example();
        v["actions"][2]["priority"] = json!("hgh");
        assert_eq!(err(v), r#"actions[2].priority: unknown priority "hgh""#);
        let mut v = example();
        v["actions"][6]["status"] = json!("done");
        assert_eq!(err(v), r#"actions[6].status: unknown status "done""#);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert_eq!(err(with("colour", json!("red"))), "colour: unknown key");
        let mut v = example();
        v["actions"][0]["tem"] = json!("x");
        assert_eq!(
            err(v),
            r#"actions[0].tem: unknown key for action "assign_team""#
        );
        let mut v = example();
        v["conditions"]["all"][0]["vaule"] = json!("x");
        assert_eq!(err(v), "conditions.all[0].vaule: unknown key");
        let mut v = example();
        v["conditions"]["extra"] = json!([]);
        assert_eq!(err(v), "conditions.extra: unknown key");
    }

    #[test]
    fn missing_and_mistyped_parts() {
        let mut v = example();
        v.as_object_mut().unwrap().remove("name");
        assert_eq!(err(v), "name: required");
        assert_eq!(err(with("name", json!(3))), "name: expected a string");
        assert_eq!(
            err(with("enabled", json!("yes"))),
            "enabled: expected true or false"
        );
        assert_eq!(
            err(with("actions", json!({}))),
            "actions: expected a list of actions"
        );
        assert_eq!(
            err(with("conditions", json!([]))),
            "conditions: expected an object"
        );
        assert_eq!(
            err(with(
                "conditions",
                json!({"field": "subject", "op": "is", "value": "x"})
            )),
            "conditions: expected a group: {\"all\": [...]} or {\"any\": [...]}"
        );
        assert_eq!(
            err(with("conditions", json!({"all": [], "any": []}))),
            "conditions: a group has \"all\" or \"any\", not both"
        );
        assert_eq!(
            err(with("conditions", json!({"all": {}}))),
            "conditions.all: expected a list of conditions"
        );
        let mut v = example();
        v["conditions"]["all"][0]
            .as_object_mut()
            .unwrap()
            .remove("op");
        assert_eq!(err(v), "conditions.all[0].op: required");
        let mut v = example();
        v["actions"][7]["minutes"] = json!(1.5);
        assert_eq!(err(v), "actions[7].minutes: expected a whole number");
        let mut v = example();
        v["actions"][11]["agents"] = json!(["a@x", 4]);
        assert_eq!(err(v), "actions[11].agents[1]: expected a string");
        let mut v = example();
        v["actions"][15]["vip"] = json!("yes");
        assert_eq!(err(v), "actions[15].vip: expected true or false");
        let mut v = example();
        v["actions"][17]["health"] = json!(4.5);
        assert_eq!(err(v), "actions[17].health: expected a whole number");
        let mut v = example();
        v["actions"][16].as_object_mut().unwrap().remove("stage");
        assert_eq!(err(v), "actions[16].stage: required");
        let mut v = example();
        v["actions"][8]["saved_reply"] = json!(true);
        assert_eq!(
            err(v),
            "actions[8].saved_reply: expected a saved reply's name or id"
        );
        assert_eq!(err(json!([])), "rule: expected an object");
    }

    #[test]
    fn one_level_of_nesting_only() {
        let v = with(
            "conditions",
            json!({"all": [{"any": [{"all": [{"field": "subject", "op": "is_set"}]}]}]}),
        );
        assert_eq!(
            err(v),
            "conditions.all[0].any[0]: groups nest one level only (a group inside a group inside the top group)"
        );
        let ok = with(
            "conditions",
            json!({"any": [{"all": [{"field": "subject", "op": "is_set"}]}]}),
        );
        assert!(Rule::from_json(&ok).is_ok());
    }

    #[test]
    fn serde_deserialize_reports_the_path() {
        let mut v = example();
        v["conditions"]["all"][0]["op"] = json!("containz");
        let e = serde_json::from_value::<Rule>(v).unwrap_err().to_string();
        assert!(
            e.contains(r#"conditions.all[0].op: unknown operator "containz""#),
            "{e}"
        );
    }

    #[test]
    fn enum_tables_are_consistent() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.as_str()), Some(*f));
            assert_eq!(
                f.field_type() == FieldType::Enum,
                !f.enum_values().is_empty()
            );
        }
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()), Some(*t));
        }
        for o in Op::ALL {
            assert_eq!(Op::parse(o.as_str()), Some(*o));
        }
        assert_eq!(Field::ALL.len(), 25);
        assert_eq!(Trigger::ALL.len(), 12);
        assert_eq!(Op::ALL.len(), 12);
        assert_eq!(ACTION_TYPES.len(), 19);
        for a in Rule::from_json(&example()).unwrap().actions {
            assert!(ACTION_TYPES.contains(&a.type_name()), "{}", a.type_name());
        }
    }
}
