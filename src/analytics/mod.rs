//! Analytics for leads: figures over a period of local dates, computed from the timeline's
//! typed events and the per-ticket metric values stored when each metric completes.
//!
//! - [`metrics`]: what a ticket's events mean (first response, resolutions, reopens,
//!   exclusions; pure [`metrics::compute`]) and the stored values (`ticket_metric`,
//!   `ticket_resolution`), written by the timeline hook, filled for old tickets by
//!   `frontdesk analytics rebuild`.
//! - [`queries`]: the read side: summary, per agent, busiest hours, per day, the tickets CSV.
//! - [`breakdown`]: the same figures per mailbox, team, lifecycle stage and VIP, and per tag
//!   (volume, trend, time to resolve, tags rising).
//! - [`csv`]: CSV cells, escaped against formula injection.
//!
//! A figure falls in the period of its **ending** event (a first response in March counts in
//! March). Periods are whole local dates in a time zone, `[from 00:00, to + 1 day 00:00)`.

pub mod breakdown;
pub mod csv;
pub mod metrics;
pub mod queries;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use crate::sla::to_offset_date_time;
use crate::tickets::Priority;

/// The longest period a report covers: about three years of dates.
pub const MAX_DAYS: i64 = 1100;

/// Which tickets a report counts. Every filter is on the ticket as it is now (its mailbox,
/// team, assignee, tags, priority, and its customer's lifecycle stage and VIP flag); `None` =
/// no restriction.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Mailboxes the viewer may see (`None` = all).
    pub visible: Option<Vec<i64>>,
    pub mailbox: Option<i64>,
    pub team: Option<i64>,
    /// The current assignee (agent id).
    pub agent: Option<i64>,
    /// A tag name (any case).
    pub tag: Option<String>,
    pub priority: Option<Priority>,
    /// A lifecycle stage (id): tickets whose customer is in it (their own stage, else their
    /// company's).
    pub lifecycle_stage: Option<i64>,
    /// `Some(true)`: VIP customers' tickets only (own flag, else their company's);
    /// `Some(false)`: everyone else's (tickets without a customer included).
    pub vip: Option<bool>,
}

/// A report period: the local dates `from..=to` in time zone `tz`.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: Date,
    pub to: Date,
    pub tz: TimeZone,
    /// The zone's IANA name (`Europe/Berlin`), as PostgreSQL's `at time zone` takes it.
    pub tz_name: String,
}

/// Why a period was refused (the message names the parameter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeriodError(pub String);

impl Period {
    /// The period `from..=to` (local dates) in `tz_name`. Refused: `to` before `from`, more
    /// than [`MAX_DAYS`] days, an unknown zone.
    pub fn new(from: Date, to: Date, tz_name: &str) -> Result<Period, PeriodError> {
        let zone = crate::timezone::AgentTimeZone::parse(tz_name)
            .map_err(|e| PeriodError(format!("tz: {e}")))?;
        let tz = TimeZone::get(zone.name()).map_err(|e| PeriodError(format!("tz: {e}")))?;
        if to < from {
            return Err(PeriodError(format!("to ({to}) is before from ({from})")));
        }
        let p = Period {
            from,
            to,
            tz,
            tz_name: zone.name().to_string(),
        };
        if p.days() > MAX_DAYS {
            return Err(PeriodError(format!(
                "the period has {} days; at most {MAX_DAYS}",
                p.days()
            )));
        }
        Ok(p)
    }

    /// Number of local dates in the period (at least 1).
    pub fn days(&self) -> i64 {
        self.from
            .until(self.to)
            .map(|s| i64::from(s.get_days()) + 1)
            .unwrap_or(1)
    }

    /// The instant (UTC) a local date starts in the period's zone.
    pub fn start_of(&self, date: Date) -> OffsetDateTime {
        let ts = date
            .to_zoned_datetime(self.tz.clone())
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp())
            .unwrap_or_else(|_| jiff::Timestamp::UNIX_EPOCH);
        to_offset_date_time(ts)
    }

    /// Where the period starts (UTC, inclusive).
    pub fn start(&self) -> OffsetDateTime {
        self.start_of(self.from)
    }

    /// Where the period ends (UTC, exclusive): the start of the day after `to`.
    pub fn end(&self) -> OffsetDateTime {
        self.start_of(self.to.tomorrow().unwrap_or(self.to))
    }

    /// The period of the same number of days just before this one.
    pub fn previous(&self) -> Period {
        let n = self.days();
        let to = self.from.yesterday().unwrap_or(self.from);
        let from = self
            .from
            .checked_sub(jiff::Span::new().days(n))
            .unwrap_or(self.from);
        Period {
            from,
            to,
            tz: self.tz.clone(),
            tz_name: self.tz_name.clone(),
        }
    }

    /// Every local date of the period, with its start and end (UTC).
    pub fn dates(&self) -> Vec<(Date, OffsetDateTime, OffsetDateTime)> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            let next = d.tomorrow().unwrap_or(d);
            out.push((d, self.start_of(d), self.start_of(next)));
            if next == d {
                break;
            }
            d = next;
        }
        out
    }

    /// Today's date in `tz_name` (UTC when unknown).
    pub fn today_in(tz_name: &str) -> Date {
        let tz = TimeZone::get(tz_name).unwrap_or(TimeZone::UTC);
        tz.to_datetime(jiff::Timestamp::now()).date()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_period_is_whole_local_days_and_the_previous_one_has_as_many() {
        let p = Period::new(date(2026, 10, 20), date(2026, 10, 26), "Europe/Berlin").unwrap();
        assert_eq!(p.days(), 7);
        assert_eq!(p.start(), time::macros::datetime!(2026-10-19 22:00 UTC));
        // The autumn change on the 25th: the period ends at CET midnight.
        assert_eq!(p.end(), time::macros::datetime!(2026-10-26 23:00 UTC));
        let q = p.previous();
        assert_eq!((q.from, q.to), (date(2026, 10, 13), date(2026, 10, 19)));
        // The 25th has 25 hours.
        let d = p.dates();
        let (_, s, e) = d
            .iter()
            .find(|(day, _, _)| *day == date(2026, 10, 25))
            .unwrap();
        assert_eq!((*e - *s).whole_hours(), 25);
    }

    #[test]
    fn bad_periods_are_refused_with_the_reason() {
        assert!(Period::new(date(2026, 1, 2), date(2026, 1, 1), "UTC").is_err());
        assert!(Period::new(date(2020, 1, 1), date(2026, 1, 1), "UTC").is_err());
        assert!(Period::new(date(2026, 1, 1), date(2026, 1, 1), "Mars/Base").is_err());
    }
}
