//! SLA policies (table `sla_policy`): targets per priority for first response, next response
//! and resolution in business minutes, on one calendar, with a warning threshold; and each
//! mailbox's default policy (`mailbox.sla_policy_id`). Every change is audited in the
//! caller's transaction (`sla_policy.create` / `.update` / `.delete`; a mailbox's default is
//! part of its `mailbox.update`).
//!
//! For the clocks: [`policy_with_calendar`] loads what a ticket's clocks need,
//! [`Policy::targets_for`] picks a priority's [`Targets`], and [`mailbox_default`] gives the
//! policy a new ticket of a mailbox starts under.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};
use time::OffsetDateTime;

use super::calendar::Calendar;
use super::calendars::{self, StoredCalendar};
use super::{SlaError, check_name, invalid};
use crate::audit::{self, AuditActor};
use crate::tickets::Priority;

/// The warning threshold a policy gets when none is given: warn when 25% of a target is left.
pub const DEFAULT_WARNING_PERCENT: i32 = 25;

/// The three clocks of a ticket under a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl ClockKind {
    pub const ALL: [ClockKind; 3] = [
        ClockKind::FirstResponse,
        ClockKind::NextResponse,
        ClockKind::Resolution,
    ];

    /// `first_response`, `next_response`, `resolution` (the API's keys).
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextResponse => "next_response",
            ClockKind::Resolution => "resolution",
        }
    }

    /// "First response", for pages.
    pub fn label(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "First response",
            ClockKind::NextResponse => "Next response",
            ClockKind::Resolution => "Resolution",
        }
    }
}

/// One priority's targets, in **business minutes** (each > 0). [`Targets::seconds`] gives
/// the business seconds [`Calendar::due`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Targets {
    pub first_response: i64,
    pub next_response: i64,
    pub resolution: i64,
}

impl Targets {
    /// One clock's target in business minutes.
    pub fn minutes(&self, clock: ClockKind) -> i64 {
        match clock {
            ClockKind::FirstResponse => self.first_response,
            ClockKind::NextResponse => self.next_response,
            ClockKind::Resolution => self.resolution,
        }
    }

    /// One clock's target in business seconds.
    pub fn seconds(&self, clock: ClockKind) -> i64 {
        self.minutes(clock) * 60
    }
}

/// A policy's targets per priority: `{"urgent": targets, "high": ..., "normal": ...,
/// "low": ...}` (the stored and API shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyTargets {
    pub urgent: Targets,
    pub high: Targets,
    pub normal: Targets,
    pub low: Targets,
}

impl PolicyTargets {
    /// The targets of one priority.
    pub fn get(&self, priority: Priority) -> Targets {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// An SLA policy as stored.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub calendar_id: i64,
    pub calendar_name: String,
    pub targets: PolicyTargets,
    /// Warn (rule trigger `sla_warning`, wake snoozed tickets) when this percentage of a
    /// target is left: 1..=99.
    pub warning_percent: i32,
    /// UTC.
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Policy {
    /// The targets (business minutes) for tickets of this priority.
    pub fn targets_for(&self, priority: Priority) -> Targets {
        self.targets.get(priority)
    }

    fn audit_json(&self) -> Value {
        json!({
            "name": self.name,
            "calendar": self.calendar_name,
            "targets": self.targets,
            "warning_percent": self.warning_percent,
        })
    }
}

#[derive(FromRow)]
struct PolicyRow {
    sla_policy_id: i64,
    name: String,
    calendar_id: i64,
    calendar_name: String,
    targets: sqlx::types::Json<PolicyTargets>,
    warning_percent: i32,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Policy {
        Policy {
            id: r.sla_policy_id,
            name: r.name,
            calendar_id: r.calendar_id,
            calendar_name: r.calendar_name,
            targets: r.targets.0,
            warning_percent: r.warning_percent,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "select p.sla_policy_id, p.name, p.calendar_id, c.name as calendar_name,
        p.targets, p.warning_percent, p.created_at, p.updated_at
    from sla_policy p join calendar c on c.calendar_id = p.calendar_id";

/// Every policy, by name.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Policy>, SlaError> {
    let rows: Vec<PolicyRow> = sqlx::query_as(&format!("{SELECT} order by lower(p.name), p.name"))
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Policy::from).collect())
}

/// One policy by id.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Policy>, SlaError> {
    let row: Option<PolicyRow> = sqlx::query_as(&format!("{SELECT} where p.sla_policy_id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Policy::from))
}

/// A policy with its parsed calendar: what a ticket's clocks need to compute due times.
pub async fn policy_with_calendar(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
) -> Result<Option<(Policy, Calendar)>, SlaError> {
    let Some(policy) = get(&mut **tx, id).await? else {
        return Ok(None);
    };
    let calendar: StoredCalendar = calendars::get(&mut **tx, policy.calendar_id)
        .await?
        .ok_or(SlaError::NotFound)?;
    Ok(Some((policy, calendar.calendar)))
}

/// The default policy of a mailbox (what its new tickets start under), if any.
pub async fn mailbox_default(
    db: impl PgExecutor<'_>,
    mailbox_id: i64,
) -> Result<Option<i64>, SlaError> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(
        "select sla_policy_id from mailbox where mailbox_id = $1",
    )
    .bind(mailbox_id)
    .fetch_optional(db)
    .await?
    .flatten())
}

/// A policy to create or a change to one; `None` keeps what is stored (on create `name`,
/// `calendar` and all twelve `targets` are required). `targets` and `warning_percent` are
/// JSON as sent, so every refusal can name its field: a change may give only some targets
/// (`{"high": {"first_response": 45}}`), the rest are kept.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: Option<String>,
    /// A calendar id.
    pub calendar: Option<i64>,
    pub targets: Option<Value>,
    /// A whole number 1..=99.
    pub warning_percent: Option<Value>,
}

const PRIORITY_KEYS: [&str; 4] = ["urgent", "high", "normal", "low"];

/// Applies `given` (JSON as sent) over `base` (what is stored, or nothing on create); every
/// target must end up set.
fn merge_targets(
    base: Option<&PolicyTargets>,
    given: Option<&Value>,
) -> Result<PolicyTargets, SlaError> {
    let mut grid: Map<String, Value> = match base {
        Some(b) => match serde_json::to_value(b) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    match given {
        None | Some(Value::Null) if base.is_some() => {}
        None | Some(Value::Null) => {
            return Err(invalid(
                "targets",
                "required: {\"urgent\": {\"first_response\": 30, \"next_response\": 60, \"resolution\": 240}, \"high\": ..., \"normal\": ..., \"low\": ...} in business minutes",
            ));
        }
        Some(Value::Object(given)) => {
            for (priority, row) in given {
                if !PRIORITY_KEYS.contains(&priority.as_str()) {
                    return Err(invalid(
                        format!("targets.{priority}"),
                        "unknown priority: expected urgent, high, normal or low",
                    ));
                }
                let Value::Object(row) = row else {
                    return Err(invalid(
                        format!("targets.{priority}"),
                        "expected {\"first_response\", \"next_response\", \"resolution\"}",
                    ));
                };
                let cell = grid
                    .entry(priority.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                for (clock, minutes) in row {
                    if !ClockKind::ALL.iter().any(|c| c.as_str() == clock) {
                        return Err(invalid(
                            format!("targets.{priority}.{clock}"),
                            "unknown target: expected first_response, next_response or resolution",
                        ));
                    }
                    let ok = minutes.as_i64().filter(|m| *m > 0);
                    let Some(m) = ok else {
                        return Err(invalid(
                            format!("targets.{priority}.{clock}"),
                            "must be a whole number of minutes > 0",
                        ));
                    };
                    if m > 100 * 366 * 24 * 60 {
                        return Err(invalid(
                            format!("targets.{priority}.{clock}"),
                            "must be at most 100 years of minutes",
                        ));
                    }
                    cell[clock.as_str()] = m.into();
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                "targets",
                "expected an object keyed urgent, high, normal, low",
            ));
        }
    }
    for priority in PRIORITY_KEYS {
        for clock in ClockKind::ALL {
            if grid
                .get(priority)
                .and_then(|r| r.get(clock.as_str()))
                .is_none()
            {
                return Err(invalid(
                    format!("targets.{priority}.{}", clock.as_str()),
                    "required: a whole number of minutes > 0",
                ));
            }
        }
    }
    serde_json::from_value(Value::Object(grid)).map_err(|e| invalid("targets", e.to_string()))
}

fn check_warning(given: Option<&Value>, base: i32) -> Result<i32, SlaError> {
    match given {
        None | Some(Value::Null) => Ok(base),
        Some(v) => v
            .as_i64()
            .filter(|p| (1..=99).contains(p))
            .map(|p| p as i32)
            .ok_or_else(|| {
                invalid(
                    "warning_percent",
                    "must be a whole number from 1 to 99 (percent of a target left)",
                )
            }),
    }
}

async fn check_calendar(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<String, SlaError> {
    sqlx::query_scalar("select name from calendar where calendar_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| invalid("calendar", format!("no calendar with id {id}")))
}

async fn check_unique(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    own: Option<i64>,
) -> Result<(), SlaError> {
    let taken: Option<i64> =
        sqlx::query_scalar("select sla_policy_id from sla_policy where lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_some_and(|id| Some(id) != own) {
        return Err(invalid(
            "name",
            format!("an SLA policy named {name:?} already exists"),
        ));
    }
    Ok(())
}

/// Creates a policy and audits `sla_policy.create` (target: its name).
pub async fn create(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    input: PolicyInput,
) -> Result<Policy, SlaError> {
    let name = check_name(input.name.as_deref().unwrap_or(""), "Standard")?;
    check_unique(tx, &name, None).await?;
    let calendar_id = input
        .calendar
        .ok_or_else(|| invalid("calendar", "required: the id of a calendar"))?;
    check_calendar(tx, calendar_id).await?;
    let targets = merge_targets(None, input.targets.as_ref())?;
    let warning_percent = check_warning(input.warning_percent.as_ref(), DEFAULT_WARNING_PERCENT)?;
    let id: i64 = sqlx::query_scalar(
        "insert into sla_policy (name, calendar_id, targets, warning_percent)
         values ($1, $2, $3, $4) returning sla_policy_id",
    )
    .bind(&name)
    .bind(calendar_id)
    .bind(sqlx::types::Json(targets))
    .bind(warning_percent)
    .fetch_one(&mut **tx)
    .await?;
    let policy = get(&mut **tx, id).await?.ok_or(SlaError::NotFound)?;
    audit::record(
        &mut **tx,
        actor,
        "sla_policy.create",
        &policy.name,
        None,
        Some(policy.audit_json()),
    )
    .await?;
    Ok(policy)
}

/// Changes a policy and audits `sla_policy.update` with only what changed.
///
/// Running clocks under this policy get their due times recomputed from their start in this
/// same transaction ([`super::clocks::recompute_policies`]; achieved and breached results
/// never change).
pub async fn update(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    id: i64,
    input: PolicyInput,
) -> Result<Policy, SlaError> {
    let old: Policy = sqlx::query_as::<_, PolicyRow>(&format!(
        "{SELECT} where p.sla_policy_id = $1 for update of p"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(Policy::from)
    .ok_or(SlaError::NotFound)?;
    let name = match &input.name {
        Some(n) => check_name(n, "Standard")?,
        None => old.name.clone(),
    };
    check_unique(tx, &name, Some(id)).await?;
    let calendar_id = input.calendar.unwrap_or(old.calendar_id);
    let calendar_name = check_calendar(tx, calendar_id).await?;
    let targets = merge_targets(Some(&old.targets), input.targets.as_ref())?;
    let warning_percent = check_warning(input.warning_percent.as_ref(), old.warning_percent)?;
    let new = Policy {
        name,
        calendar_id,
        calendar_name,
        targets,
        warning_percent,
        ..old.clone()
    };
    let Some((before, after)) = audit::changed_fields(&old.audit_json(), &new.audit_json()) else {
        return Ok(old);
    };
    sqlx::query(
        "update sla_policy set name = $2, calendar_id = $3, targets = $4, warning_percent = $5,
                updated_at = now()
         where sla_policy_id = $1",
    )
    .bind(id)
    .bind(&new.name)
    .bind(new.calendar_id)
    .bind(sqlx::types::Json(new.targets))
    .bind(new.warning_percent)
    .execute(&mut **tx)
    .await?;
    audit::record(
        &mut **tx,
        actor,
        "sla_policy.update",
        &new.name,
        Some(before),
        Some(after),
    )
    .await?;
    super::clocks::recompute_policies(tx, &[id]).await?;
    get(&mut **tx, id).await?.ok_or(SlaError::NotFound)
}

/// Deletes a policy and audits `sla_policy.delete`. Mailboxes that had it as their default
/// get none (`on delete set null`), and so do its tickets: their clocks without a result are
/// removed ([`super::clocks::policy_removed`]); achieved and breached results stay.
pub async fn delete(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    id: i64,
) -> Result<(), SlaError> {
    let old = get(&mut **tx, id).await?.ok_or(SlaError::NotFound)?;
    super::clocks::policy_removed(tx, id).await?;
    sqlx::query("delete from sla_policy where sla_policy_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        &mut **tx,
        actor,
        "sla_policy.delete",
        &old.name,
        Some(old.audit_json()),
        None,
    )
    .await?;
    Ok(())
}

/// Sets (or with `None` clears) a mailbox's default policy, in the caller's transaction.
/// Returns the old and new policy names for the caller's `mailbox.update` audit entry.
/// Refused naming `sla_policy` when the policy does not exist.
pub async fn set_mailbox_default(
    tx: &mut Transaction<'_, Postgres>,
    mailbox_id: i64,
    policy: Option<i64>,
) -> Result<(Option<String>, Option<String>), SlaError> {
    let old: Option<String> = sqlx::query_scalar(
        "select p.name from mailbox m join sla_policy p on p.sla_policy_id = m.sla_policy_id
         where m.mailbox_id = $1",
    )
    .bind(mailbox_id)
    .fetch_optional(&mut **tx)
    .await?;
    let new = match policy {
        None => None,
        Some(id) => Some(
            sqlx::query_scalar::<_, String>("select name from sla_policy where sla_policy_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| invalid("sla_policy", format!("no SLA policy with id {id}")))?,
        ),
    };
    sqlx::query("update mailbox set sla_policy_id = $2 where mailbox_id = $1")
        .bind(mailbox_id)
        .bind(policy)
        .execute(&mut **tx)
        .await?;
    Ok((old, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Value {
        let row = json!({"first_response": 30, "next_response": 60, "resolution": 240});
        json!({"urgent": row, "high": row, "normal": row, "low": row})
    }

    #[test]
    fn targets_name_the_field_at_fault() {
        let mut g = grid();
        g["high"]["first_response"] = json!(0);
        let e = merge_targets(None, Some(&g)).unwrap_err().to_string();
        assert_eq!(
            e,
            "targets.high.first_response: must be a whole number of minutes > 0"
        );
        g["high"]["first_response"] = json!(1.5);
        assert!(merge_targets(None, Some(&g)).is_err());
        let mut g = grid();
        g["low"].as_object_mut().unwrap().remove("resolution");
        let e = merge_targets(None, Some(&g)).unwrap_err().to_string();
        assert!(e.starts_with("targets.low.resolution: required"), "{e}");
    }

    #[test]
    fn a_change_keeps_the_targets_it_does_not_name() {
        let base = merge_targets(None, Some(&grid())).unwrap();
        let t = merge_targets(Some(&base), Some(&json!({"high": {"first_response": 45}}))).unwrap();
        assert_eq!(t.high.first_response, 45);
        assert_eq!(t.high.resolution, 240);
        assert_eq!(
            t.get(Priority::High).seconds(ClockKind::FirstResponse),
            2700
        );
    }

    #[test]
    fn warning_percent_is_1_to_99() {
        assert_eq!(check_warning(None, 25).unwrap(), 25);
        assert_eq!(check_warning(Some(&json!(50)), 25).unwrap(), 50);
        assert!(check_warning(Some(&json!(0)), 25).is_err());
        assert!(check_warning(Some(&json!(100)), 25).is_err());
    }
}
