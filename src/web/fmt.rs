//! Small display helpers for templates. Times are stored and passed around in UTC and shown in
//! the agent's time zone ([`AgentTimeZone`]).

use time::macros::format_description;
use time::{Duration, OffsetDateTime};

use crate::timezone::AgentTimeZone;

/// A moment as a page shows it to one agent: relative words, with the absolute local time
/// for a `title` and an RFC 3339 form for `<time datetime>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// RFC 3339 with the agent's UTC offset, e.g. `2026-11-29T15:05:00+01:00`.
    pub iso: String,
    /// The agent's wall-clock time, e.g. `2026-11-29 15:05 CET`.
    pub local: String,
    /// `just now`, `5 min ago`, `3 hours ago`, `yesterday`, `4 days ago`, `Nov 3`,
    /// `2025-11-03`.
    pub relative: String,
}

/// `t` as the agent in `tz` sees it at `now` (both UTC instants).
pub fn moment(t: OffsetDateTime, now: OffsetDateTime, tz: &AgentTimeZone) -> Moment {
    let local = tz.to_local(t);
    Moment {
        iso: local
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        local: datetime(t, tz),
        relative: relative(t, now, tz),
    }
}

/// The agent's wall-clock time with the zone's abbreviation: `2026-11-29 15:05 CET`.
pub fn datetime(t: OffsetDateTime, tz: &AgentTimeZone) -> String {
    let local = tz
        .to_local(t)
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
        .unwrap_or_default();
    format!("{local} {}", tz.abbreviation(t))
}

/// How long before `now` `t` was, in words. Under an hour in minutes; on the same local day in
/// hours; then by the agent's calendar: `yesterday`, `N days ago` within a week, else the date.
/// A `t` after `now` (clock skew) counts as `just now`.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime, tz: &AgentTimeZone) -> String {
    let s = (now - t).whole_seconds().max(0);
    let (day, today) = (tz.to_local(t).date(), tz.to_local(now).date());
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        _ if day == today => match s / 3600 {
            1 => "1 hour ago".into(),
            h => format!("{h} hours ago"),
        },
        _ if Some(day) == today.previous_day() => "yesterday".into(),
        _ if today - day < Duration::days(7) => {
            format!("{} days ago", (today - day).whole_days())
        }
        _ if day.year() == today.year() => day
            .format(format_description!("[month repr:short] [day padding:none]"))
            .unwrap_or_default(),
        _ => day
            .format(format_description!("[year]-[month]-[day]"))
            .unwrap_or_default(),
    }
}

/// How long someone has waited from `since` to `now`, in short words: `under 1 min`, `4 min`,
/// `3 h`, `2 days`. Counted in elapsed time, not calendar days (a wait is a duration).
pub fn waited(since: OffsetDateTime, now: OffsetDateTime) -> String {
    let s = (now - since).whole_seconds().max(0);
    match s {
        0..60 => "under 1 min".into(),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// `12 KB`, `3.4 MB`.
pub fn size(bytes: i64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KB", bytes / 1024),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// Splits a plain-text body into what the sender wrote and the quoted history below it
/// (a `>` block, or a client's "On … wrote:" / "-----Original Message-----" line).
pub fn split_quoted(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let markers = [
        "-----original message-----",
        "-----ursprüngliche nachricht-----",
        "-----ursprungliche nachricht-----",
    ];
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim().to_lowercase();
        let wrote = (l.starts_with("on ") && l.ends_with("wrote:"))
            || (l.starts_with("am ") && l.ends_with("schrieb:"));
        let quote_block = l.starts_with('>')
            && lines[i..]
                .iter()
                .take(3)
                .all(|x| x.trim_start().starts_with('>') || x.trim().is_empty());
        if i > 0 && (markers.iter().any(|m| l.starts_with(m)) || wrote || quote_block) {
            return (
                lines[..i].join("\n").trim_end().to_string(),
                lines[i..].join("\n"),
            );
        }
    }
    (text.trim_end().to_string(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn waits_are_durations_not_calendar_days() {
        let now = datetime!(2026-11-29 10:00 UTC);
        let ago = |s: i64| waited(now - Duration::seconds(s), now);
        assert_eq!(ago(-5), "under 1 min");
        assert_eq!(ago(59), "under 1 min");
        assert_eq!(ago(60 * 7), "7 min");
        assert_eq!(ago(3600 * 30), "30 h");
        assert_eq!(ago(86_400 * 6 + 5), "6 days");
    }

    #[test]
    fn quoted_history_is_split_off() {
        let (main, quoted) = split_quoted("Thanks!\n\nOn Mon, Dana wrote:\n> hi\n");
        assert_eq!(main, "Thanks!");
        assert!(quoted.starts_with("On Mon"));
        let (main, quoted) = split_quoted("no quote here");
        assert_eq!((main.as_str(), quoted.as_str()), ("no quote here", ""));
    }

    #[test]
    fn sizes_are_compact() {
        assert_eq!(size(113), "113 B");
        assert_eq!(size(4096), "4 KB");
    }

    fn zone(name: &str) -> AgentTimeZone {
        AgentTimeZone::parse(name).unwrap()
    }

    #[test]
    fn absolute_times_are_local_across_the_dst_change() {
        let berlin = zone("Europe/Berlin");
        // Clocks jump from 02:00 CET to 03:00 CEST at 01:00 UTC on 2026-03-29.
        assert_eq!(
            datetime(datetime!(2026-03-29 00:59 UTC), &berlin),
            "2026-03-29 01:59 CET"
        );
        assert_eq!(
            datetime(datetime!(2026-03-29 01:00 UTC), &berlin),
            "2026-03-29 03:00 CEST"
        );
        let m = moment(
            datetime!(2026-03-29 01:00 UTC),
            datetime!(2026-03-29 01:00 UTC),
            &berlin,
        );
        assert_eq!(m.iso, "2026-03-29T03:00:00+02:00");
        assert_eq!(m.relative, "just now");
        assert_eq!(
            datetime(datetime!(2026-03-29 01:00 UTC), &AgentTimeZone::utc()),
            "2026-03-29 01:00 UTC"
        );
    }

    #[test]
    fn relative_ages_follow_the_agents_calendar() {
        let ny = zone("America/New_York");
        let utc = AgentTimeZone::utc();
        let now = datetime!(2026-03-29 01:30 UTC); // 21:30 EDT on the 28th
        let rel = |t, tz| relative(t, now, tz);
        assert_eq!(rel(datetime!(2026-03-29 01:25 UTC), &ny), "5 min ago");
        // 18:30 EDT the same evening in New York, but the previous day in UTC.
        assert_eq!(rel(datetime!(2026-03-28 22:30 UTC), &ny), "3 hours ago");
        assert_eq!(rel(datetime!(2026-03-28 22:30 UTC), &utc), "yesterday");
        assert_eq!(rel(datetime!(2026-03-28 00:30 UTC), &ny), "yesterday");
        assert_eq!(rel(datetime!(2026-03-25 12:00 UTC), &ny), "3 days ago");
        assert_eq!(rel(datetime!(2026-01-05 12:00 UTC), &ny), "Jan 5");
        assert_eq!(rel(datetime!(2025-12-24 12:00 UTC), &ny), "2025-12-24");
        assert_eq!(
            rel(datetime!(2026-03-29 02:00 UTC), &ny),
            "just now",
            "future"
        );
    }
}
