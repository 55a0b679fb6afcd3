//! Service-level agreements: business-hours calendars and the arithmetic of SLA clocks.
//!
//! [`calendar`] is pure (no database, no clock): open instants, business time between two
//! instants, and due times with pauses, counted in real UTC time across DST changes
//! (`shared/domain-notes.md` §1). [`calendars`] stores calendars, [`policies`] the SLA
//! policies (targets per priority on a calendar) and each mailbox's default policy; every
//! change is audited. [`clocks`] keeps the SLA clocks on tickets current from the timeline
//! hook; [`monitor`] is the worker that stamps breaches and warnings at their instants.

pub mod calendar;
pub mod calendars;
pub mod clocks;
pub mod monitor;
pub mod policies;

use time::OffsetDateTime;

/// Why a calendar or policy change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// Bad input: `field` names it as the API does (`hours.mon[1]`,
    /// `targets.high.first_response`, `name`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The calendar or policy does not exist.
    #[error("not found")]
    NotFound,
    /// A calendar still used by SLA policies cannot be deleted; the message names them.
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> SlaError {
    SlaError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A database time (`time`) as the calendar arithmetic's [`jiff::Timestamp`] (exact to the
/// nanosecond).
pub fn to_timestamp(t: OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(t.unix_timestamp_nanos())
        .expect("an OffsetDateTime is within jiff's range")
}

/// A [`jiff::Timestamp`] as the `time::OffsetDateTime` (UTC) the database code uses.
pub fn to_offset_date_time(t: jiff::Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .expect("a jiff Timestamp is within time's range")
}

/// RFC 3339 UTC text of a database time.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A trimmed name of 1..=100 characters, or the error for field `name`.
pub(crate) fn check_name(name: &str, example: &str) -> Result<String, SlaError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("name", format!("enter a name, e.g. {example:?}")));
    }
    if name.chars().count() > 100 {
        return Err(invalid("name", "at most 100 characters"));
    }
    Ok(name.to_string())
}
