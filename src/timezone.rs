//! Agents' time zones: IANA names (`Europe/Berlin`), validated against the time zone
//! database, and conversions between UTC instants (`time::OffsetDateTime`, as stored) and an
//! agent's wall clock.
//!
//! The database is the system's `/usr/share/zoneinfo` (kept current by the OS's `tzdata`
//! package), with a copy bundled into the binary as a fallback for hosts without one (jiff's
//! `tzdb-bundle-always`). jiff is used only inside this module; callers see `time` types.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The zone of an agent who has not chosen one.
pub const DEFAULT: &str = "UTC";

/// An IANA time zone, by its canonical name.
#[derive(Debug, Clone)]
pub struct AgentTimeZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

/// A name that is not in the IANA time zone database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}: expected an IANA name such as Europe/Berlin")]
pub struct UnknownTimeZone(pub String);

impl AgentTimeZone {
    /// Looks up an IANA name, case-insensitively (`europe/berlin` gives `Europe/Berlin`).
    /// Anything that is not a zone of the database (empty, a path, a POSIX TZ string,
    /// `Etc/Unknown`) is refused.
    pub fn parse(name: &str) -> Result<AgentTimeZone, UnknownTimeZone> {
        let name = name.trim();
        let plausible = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('/')
            && !name
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
        let unknown = || UnknownTimeZone(name.to_string());
        if !plausible {
            return Err(unknown());
        }
        let tz = jiff::tz::TimeZone::get(name).map_err(|_| unknown())?;
        let canonical = tz.iana_name().ok_or_else(unknown)?.to_string();
        Ok(AgentTimeZone {
            name: canonical,
            tz,
        })
    }

    /// UTC.
    pub fn utc() -> AgentTimeZone {
        AgentTimeZone {
            name: DEFAULT.to_string(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone stored for an agent; UTC when the stored name is no longer known (a zone
    /// removed from the database), so that pages still render.
    pub fn from_stored(name: &str) -> AgentTimeZone {
        AgentTimeZone::parse(name).unwrap_or_else(|_| AgentTimeZone::utc())
    }

    /// The canonical IANA name, as stored in `agent.time_zone`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same instant with the zone's UTC offset at that instant (DST applied), ready to be
    /// formatted as wall-clock time.
    pub fn to_local(&self, t: OffsetDateTime) -> OffsetDateTime {
        let offset = jiff::Timestamp::from_second(t.unix_timestamp())
            .map(|ts| self.tz.to_offset(ts).seconds())
            .unwrap_or(0);
        t.to_offset(UtcOffset::from_whole_seconds(offset).unwrap_or(UtcOffset::UTC))
    }

    /// The zone's abbreviation at that instant (`CET`, `CEST`, `EDT`; some zones only have
    /// numeric ones such as `+03`).
    pub fn abbreviation(&self, t: OffsetDateTime) -> String {
        jiff::Timestamp::from_second(t.unix_timestamp())
            .map(|ts| self.tz.to_offset_info(ts).abbreviation().to_string())
            .unwrap_or_else(|_| DEFAULT.to_string())
    }

    /// The instant an agent means by a wall-clock time in this zone (a `datetime-local`
    /// input). A time skipped by a DST change (02:30 on the spring-forward night) is read as
    /// the same distance after the gap; a repeated one (the autumn night) as its first
    /// occurrence. `None` only for dates outside the supported range.
    pub fn from_local(&self, local: PrimitiveDateTime) -> Option<OffsetDateTime> {
        let dt = jiff::civil::DateTime::new(
            i16::try_from(local.year()).ok()?,
            i8::try_from(u8::from(local.month())).ok()?,
            i8::try_from(local.day()).ok()?,
            i8::try_from(local.hour()).ok()?,
            i8::try_from(local.minute()).ok()?,
            i8::try_from(local.second()).ok()?,
            0,
        )
        .ok()?;
        let ts = self.tz.to_timestamp(dt).ok()?;
        OffsetDateTime::from_unix_timestamp(ts.as_second()).ok()
    }
}

/// Every IANA zone name of the database, sorted, for a picker. Legacy aliases that the
/// database still carries (`US/Eastern`) are included; all of them are accepted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .filter(|n| AgentTimeZone::parse(n).is_ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_are_checked_against_the_database_and_canonicalised() {
        assert_eq!(
            AgentTimeZone::parse("europe/berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(AgentTimeZone::parse("UTC").unwrap().name(), "UTC");
        for bad in [
            "",
            "Mars/Olympus_Mons",
            "../../etc/passwd",
            "/usr/share/zoneinfo/UTC",
            "Europe/",
            "EST5EDT,M3.2.0,M11.1.0",
            "Etc/Unknown",
        ] {
            assert!(
                AgentTimeZone::parse(bad).is_err(),
                "{bad:?} must be refused"
            );
        }
        let all = names();
        assert!(all.iter().any(|n| n == "America/New_York"));
        assert!(all.len() > 300, "{} zones", all.len());
    }

    #[test]
    fn local_time_follows_dst_in_berlin() {
        let berlin = AgentTimeZone::parse("Europe/Berlin").unwrap();
        // 2026-03-29: clocks go from 02:00 CET (+01) to 03:00 CEST (+02) at 01:00 UTC.
        let before = berlin.to_local(datetime!(2026-03-29 00:59 UTC));
        let after = berlin.to_local(datetime!(2026-03-29 01:00 UTC));
        assert_eq!(
            (
                before.hour(),
                before.minute(),
                before.offset().whole_hours()
            ),
            (1, 59, 1)
        );
        assert_eq!(
            (after.hour(), after.minute(), after.offset().whole_hours()),
            (3, 0, 2)
        );
        assert_eq!(berlin.abbreviation(datetime!(2026-03-29 00:59 UTC)), "CET");
        assert_eq!(berlin.abbreviation(datetime!(2026-03-29 01:00 UTC)), "CEST");
        // Autumn: 2026-10-25 03:00 CEST becomes 02:00 CET at 01:00 UTC.
        let autumn = berlin.to_local(datetime!(2026-10-25 01:30 UTC));
        assert_eq!((autumn.hour(), autumn.offset().whole_hours()), (2, 1));
    }

    #[test]
    fn a_wall_clock_time_becomes_the_instant_meant() {
        let ny = AgentTimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            ny.from_local(datetime!(2026-07-01 09:00)),
            Some(datetime!(2026-07-01 13:00 UTC))
        );
        // 2026-03-08 02:30 does not exist in New York (02:00 EST → 03:00 EDT): after the gap.
        assert_eq!(
            ny.from_local(datetime!(2026-03-08 02:30)),
            Some(datetime!(2026-03-08 07:30 UTC))
        );
        // 2026-11-01 01:30 happens twice: the first one (EDT, -04).
        assert_eq!(
            ny.from_local(datetime!(2026-11-01 01:30)),
            Some(datetime!(2026-11-01 05:30 UTC))
        );
        assert_eq!(
            AgentTimeZone::utc().from_local(datetime!(2026-11-01 01:30)),
            Some(datetime!(2026-11-01 01:30 UTC))
        );
    }
}
