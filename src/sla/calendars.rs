//! Stored business-hours calendars (table `calendar`): list, read, create, change, delete,
//! each change validated whole by [`Calendar::parse`] and audited (`calendar.create`,
//! `calendar.update`, `calendar.delete`) in the caller's transaction.
//!
//! The stored `spec` is the normalised [`CalendarSpec`] without its name (the name is its own
//! unique column): `{"time_zone", "hours": {"mon": [...], ..., "sun": [...]}, "holidays"}`.
//! A calendar used by an SLA policy cannot be deleted.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};
use time::OffsetDateTime;

use super::calendar::{Calendar, CalendarSpec};
use super::{SlaError, check_name, invalid};
use crate::audit::{self, AuditActor};

/// A calendar as stored, validated.
#[derive(Debug, Clone)]
pub struct StoredCalendar {
    pub id: i64,
    pub name: String,
    /// The parsed calendar (its own name is `name`).
    pub calendar: Calendar,
    /// UTC.
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl StoredCalendar {
    fn audit_json(&self) -> Value {
        let spec = self.calendar.spec();
        json!({
            "name": self.name,
            "time_zone": spec.time_zone,
            "hours": spec.hours,
            "holidays": spec.holidays,
        })
    }
}

#[derive(FromRow)]
struct CalendarRow {
    calendar_id: i64,
    name: String,
    spec: sqlx::types::Json<CalendarSpec>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl CalendarRow {
    fn into_stored(self) -> Result<StoredCalendar, SlaError> {
        let mut spec = self.spec.0;
        spec.name = Some(self.name.clone());
        let calendar = Calendar::parse(&spec).map_err(|e| {
            // Only reachable if the time zone database lost a zone since it was saved.
            invalid(format!("calendar {}: {}", self.name, e.field), e.message)
        })?;
        Ok(StoredCalendar {
            id: self.calendar_id,
            name: self.name,
            calendar,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const SELECT: &str = "select calendar_id, name, spec, created_at, updated_at from calendar";

/// Every calendar, by name.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<StoredCalendar>, SlaError> {
    let rows: Vec<CalendarRow> = sqlx::query_as(&format!("{SELECT} order by lower(name), name"))
        .fetch_all(db)
        .await?;
    rows.into_iter().map(CalendarRow::into_stored).collect()
}

/// One calendar by id.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<StoredCalendar>, SlaError> {
    let row: Option<CalendarRow> = sqlx::query_as(&format!("{SELECT} where calendar_id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(CalendarRow::into_stored).transpose()
}

/// A calendar to create, or a change to one (`None` keeps what is stored; on create `name`,
/// `time_zone` and `hours` are required). Days absent from `hours` are closed.
#[derive(Debug, Clone, Default)]
pub struct CalendarInput {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub hours: Option<BTreeMap<String, Vec<String>>>,
    pub holidays: Option<Vec<String>>,
}

async fn check_unique(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    own: Option<i64>,
) -> Result<(), SlaError> {
    let taken: Option<i64> =
        sqlx::query_scalar("select calendar_id from calendar where lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_some_and(|id| Some(id) != own) {
        return Err(invalid(
            "name",
            format!("a calendar named {name:?} already exists"),
        ));
    }
    Ok(())
}

fn parse(name: &str, spec: CalendarSpec) -> Result<Calendar, SlaError> {
    let spec = CalendarSpec {
        name: Some(name.to_string()),
        ..spec
    };
    Calendar::parse(&spec).map_err(|e| invalid(e.field, e.message))
}

fn stored_spec(calendar: &Calendar) -> sqlx::types::Json<CalendarSpec> {
    sqlx::types::Json(CalendarSpec {
        name: None,
        ..calendar.spec()
    })
}

/// Creates a calendar and audits `calendar.create` (target: its name).
pub async fn create(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    input: CalendarInput,
) -> Result<StoredCalendar, SlaError> {
    let name = check_name(input.name.as_deref().unwrap_or(""), "Support hours Berlin")?;
    check_unique(tx, &name, None).await?;
    let time_zone = input
        .time_zone
        .ok_or_else(|| invalid("time_zone", "required, e.g. \"Europe/Berlin\""))?;
    let hours = input
        .hours
        .ok_or_else(|| invalid("hours", "required, e.g. {\"mon\": [\"09:00-17:00\"], ...}"))?;
    let calendar = parse(
        &name,
        CalendarSpec {
            name: None,
            time_zone,
            hours,
            holidays: input.holidays.unwrap_or_default(),
        },
    )?;
    let row: CalendarRow = sqlx::query_as(
        "insert into calendar (name, spec) values ($1, $2)
         returning calendar_id, name, spec, created_at, updated_at",
    )
    .bind(&name)
    .bind(stored_spec(&calendar))
    .fetch_one(&mut **tx)
    .await?;
    let stored = row.into_stored()?;
    audit::record(
        &mut **tx,
        actor,
        "calendar.create",
        &stored.name,
        None,
        Some(stored.audit_json()),
    )
    .await?;
    Ok(stored)
}

/// Changes a calendar and audits `calendar.update` with only what changed (nothing is
/// written or logged when nothing changed).
///
/// Running SLA clocks on policies using this calendar get their due times recomputed in this
/// same transaction ([`super::clocks::recompute_policies`]; achieved and breached results
/// never change).
pub async fn update(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    id: i64,
    input: CalendarInput,
) -> Result<StoredCalendar, SlaError> {
    let old_row: CalendarRow =
        sqlx::query_as(&format!("{SELECT} where calendar_id = $1 for update"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(SlaError::NotFound)?;
    let old = old_row.into_stored()?;
    let name = match &input.name {
        Some(n) => check_name(n, "Support hours Berlin")?,
        None => old.name.clone(),
    };
    check_unique(tx, &name, Some(id)).await?;
    let old_spec = old.calendar.spec();
    let calendar = parse(
        &name,
        CalendarSpec {
            name: None,
            time_zone: input.time_zone.unwrap_or(old_spec.time_zone),
            hours: input.hours.unwrap_or(old_spec.hours),
            holidays: input.holidays.unwrap_or(old_spec.holidays),
        },
    )?;
    let new = StoredCalendar {
        name,
        calendar,
        ..old.clone()
    };
    let Some((before, after)) = audit::changed_fields(&old.audit_json(), &new.audit_json()) else {
        return Ok(old);
    };
    let row: CalendarRow = sqlx::query_as(
        "update calendar set name = $2, spec = $3, updated_at = now() where calendar_id = $1
         returning calendar_id, name, spec, created_at, updated_at",
    )
    .bind(id)
    .bind(&new.name)
    .bind(stored_spec(&new.calendar))
    .fetch_one(&mut **tx)
    .await?;
    let stored = row.into_stored()?;
    audit::record(
        &mut **tx,
        actor,
        "calendar.update",
        &stored.name,
        Some(before),
        Some(after),
    )
    .await?;
    let policies: Vec<i64> =
        sqlx::query_scalar("select sla_policy_id from sla_policy where calendar_id = $1")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    super::clocks::recompute_policies(tx, &policies).await?;
    Ok(stored)
}

/// The names of the SLA policies using a calendar, by name.
pub async fn used_by(db: impl PgExecutor<'_>, id: i64) -> Result<Vec<String>, SlaError> {
    Ok(sqlx::query_scalar(
        "select name from sla_policy where calendar_id = $1 order by lower(name), name",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// Deletes a calendar and audits `calendar.delete`. Refused ([`SlaError::InUse`], naming
/// them) while SLA policies use it.
pub async fn delete(
    tx: &mut Transaction<'_, Postgres>,
    actor: &AuditActor,
    id: i64,
) -> Result<(), SlaError> {
    let row: CalendarRow = sqlx::query_as(&format!("{SELECT} where calendar_id = $1 for update"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(SlaError::NotFound)?;
    let old = row.into_stored()?;
    let users = used_by(&mut **tx, id).await?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().map(|n| format!("{n:?}")).collect();
        return Err(SlaError::InUse(format!(
            "calendar {:?} is used by SLA {} {}: give {} another calendar first",
            old.name,
            if users.len() == 1 {
                "policy"
            } else {
                "policies"
            },
            names.join(", "),
            if users.len() == 1 { "it" } else { "them" },
        )));
    }
    sqlx::query("delete from calendar where calendar_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        &mut **tx,
        actor,
        "calendar.delete",
        &old.name,
        Some(old.audit_json()),
        None,
    )
    .await?;
    Ok(())
}
