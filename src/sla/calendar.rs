//! Business-hours calendars and their arithmetic: is an instant open, how much business time
//! lies between two instants, and when a target of business time falls due (with pauses).
//!
//! The rules are those of `shared/domain-notes.md` §1:
//! - A calendar has an IANA time zone, zero or more open spans per weekday in local wall-clock
//!   time (`09:00-12:00`; `00:00-24:00` for the whole day; `22:00-06:00` runs into the next
//!   day and belongs to the day it starts on), and holidays as local dates.
//! - An instant is **open** when the span that contains its local wall-clock time started on a
//!   local date that is not a holiday.
//! - **Business time** is the real elapsed (UTC) time of the open instants: a 25-hour autumn
//!   day open `00:00-24:00` holds 25 business hours, a spring-forward day 23; a span in the
//!   skipped hour is shorter (or empty); a span in the repeated hour is open twice.
//! - The **due time** of a target of N business seconds from S is the earliest instant D ≥ S
//!   with business time in [S, D] = N. Starting outside hours, the clock starts at the next
//!   opening; a due time that lands on a closing time stays there. Nothing is rounded: all
//!   arithmetic is exact to the nanosecond of [`jiff::Timestamp`].
//!
//! Everything here is pure (no database, no clock). Work is done by walking the open intervals
//! day by day (never minute by minute), and every walk is bounded by [`HORIZON_DAYS`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How far ahead a due time is looked for: 100 years (in days) after the start. A target that
/// is not reached by then gives [`DueError::BeyondHorizon`] instead of a search without end.
pub const HORIZON_DAYS: i64 = 36_525;

/// An interval `[start, end)` in which a clock does not run (the ticket is pending or
/// closed), in UTC; `end: None` while the pause goes on.
pub type Pause = (Timestamp, Option<Timestamp>);

/// The weekday keys of [`CalendarSpec::hours`], Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const NS_PER_SEC: i128 = 1_000_000_000;
const NS_PER_MIN: i128 = 60 * NS_PER_SEC;
const NS_PER_DAY: i128 = 86_400 * NS_PER_SEC;
const MINUTES_PER_DAY: i32 = 1440;
const MINUTES_PER_WEEK: i32 = 7 * MINUTES_PER_DAY;

/// A calendar as the API and the database hold it (JSON):
/// `{"name"?, "time_zone": "Europe/Berlin", "hours": {"mon": ["09:00-12:00", "13:00-17:00"],
/// ..., "sun": []}, "holidays": ["2026-12-25", ...]}`.
///
/// Days absent from `hours` are closed. Spans are `HH:MM-HH:MM` in local wall-clock time;
/// `00:00-24:00` is the whole day; a span whose end is not after its start (`22:00-06:00`)
/// runs into the next day. Holidays are local dates `YYYY-MM-DD`, closed all day.
/// [`Calendar::parse`] validates it; [`Calendar::spec`] gives the normalised form back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// A name for people (optional; not used by the arithmetic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Open spans per weekday, keyed `mon` … `sun`.
    pub hours: BTreeMap<String, Vec<String>>,
    /// Closed local dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Why a [`CalendarSpec`] was refused: the field at fault (`time_zone`, `hours`,
/// `hours.mon[1]`, `holidays[0]`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CalendarError {
    /// The offending field, as a path into the spec: `hours.mon[1]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl CalendarError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> CalendarError {
        CalendarError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a due time could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DueError {
    /// The target was zero or negative.
    #[error("the target must be more than zero")]
    TargetNotPositive,
    /// The target is not reached within [`HORIZON_DAYS`] of the start (or the date range of
    /// the time zone database ends first).
    #[error("the target is not reached within 100 years of the start")]
    BeyondHorizon,
}

/// One open span of a weekday, in minutes after local midnight of the day it starts on.
/// `end` is after `start` and may pass 1440 (an overnight span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: i32,
    end: i32,
}

/// A validated business-hours calendar. Build it with [`Calendar::parse`] (or
/// [`Calendar::always`]); it (de)serialises as its [`CalendarSpec`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct Calendar {
    name: Option<String>,
    zone_name: String,
    tz: TimeZone,
    /// Spans per weekday (Monday = 0), sorted by start.
    week: [Vec<Span>; 7],
    holidays: BTreeSet<Date>,
}

impl Default for Calendar {
    /// The 24/7 calendar, as [`Calendar::always`].
    fn default() -> Calendar {
        Calendar::always()
    }
}

impl TryFrom<CalendarSpec> for Calendar {
    type Error = CalendarError;

    fn try_from(spec: CalendarSpec) -> Result<Calendar, CalendarError> {
        Calendar::parse(&spec)
    }
}

impl From<Calendar> for CalendarSpec {
    fn from(calendar: Calendar) -> CalendarSpec {
        calendar.spec()
    }
}

impl Calendar {
    /// The default calendar: open all the time (every day `00:00-24:00` in UTC), no holidays.
    /// Business time equals real time.
    pub fn always() -> Calendar {
        let whole_day = vec![Span {
            start: 0,
            end: MINUTES_PER_DAY,
        }];
        Calendar {
            name: None,
            zone_name: "UTC".to_string(),
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| whole_day.clone()),
            holidays: BTreeSet::new(),
        }
    }

    /// Validates a spec. Refused, with the field named: an unknown time zone; a day key other
    /// than `mon` … `sun` (any case) or the same day twice; a span that is not
    /// `HH:MM-HH:MM`, has a time that does not exist (`25:00`, `18:60`), starts at `24:00`, or
    /// is empty (`09:00-09:00`); spans that overlap, including an overnight span running into
    /// the next day's spans (and Sunday's into Monday's); a holiday that is not a
    /// `YYYY-MM-DD` date; and a calendar with no open span at all.
    pub fn parse(spec: &CalendarSpec) -> Result<Calendar, CalendarError> {
        let (tz, zone_name) = lookup_zone(&spec.time_zone)?;

        // (weekday, index in its list, field, text, span), in week order for the messages.
        let mut all: Vec<(usize, usize, String, &str, Span)> = Vec::new();
        let mut seen: [Option<&str>; 7] = [None; 7];
        for (key, spans) in &spec.hours {
            let day = WEEKDAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(key.trim()))
                .ok_or_else(|| {
                    CalendarError::new(
                        format!("hours.{key}"),
                        "unknown day: expected mon, tue, wed, thu, fri, sat or sun",
                    )
                })?;
            if let Some(other) = seen[day] {
                return Err(CalendarError::new(
                    format!("hours.{key}"),
                    format!("the same day as hours.{other}"),
                ));
            }
            seen[day] = Some(key);
            for (i, text) in spans.iter().enumerate() {
                let field = format!("hours.{key}[{i}]");
                let span = parse_span(text).map_err(|m| CalendarError::new(&field, m))?;
                all.push((day, i, field, text, span));
            }
        }
        all.sort_by_key(|(day, i, ..)| (*day, *i));

        for (j, (day_b, _, field_b, text_b, b)) in all.iter().enumerate() {
            for (day_a, _, field_a, text_a, a) in &all[..j] {
                let a0 = *day_a as i32 * MINUTES_PER_DAY + a.start;
                let a1 = *day_a as i32 * MINUTES_PER_DAY + a.end;
                let b0 = *day_b as i32 * MINUTES_PER_DAY + b.start;
                let b1 = *day_b as i32 * MINUTES_PER_DAY + b.end;
                // The week is a circle: Sunday night runs into Monday morning.
                let overlaps = [-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK]
                    .iter()
                    .any(|k| a0 + k < b1 && b0 < a1 + k);
                if overlaps {
                    return Err(CalendarError::new(
                        field_b,
                        format!("{text_b:?} overlaps {field_a} ({text_a:?})"),
                    ));
                }
            }
        }
        if all.is_empty() {
            return Err(CalendarError::new(
                "hours",
                "the calendar has no open time: give at least one span, \
                 e.g. \"mon\": [\"09:00-17:00\"]",
            ));
        }

        let mut week: [Vec<Span>; 7] = Default::default();
        for (day, _, _, _, span) in all {
            week[day].push(span);
        }
        for spans in &mut week {
            spans.sort_by_key(|s| s.start);
        }

        let mut holidays = BTreeSet::new();
        for (i, text) in spec.holidays.iter().enumerate() {
            let date = parse_date(text).ok_or_else(|| {
                CalendarError::new(
                    format!("holidays[{i}]"),
                    format!("{text:?} is not a date (expected YYYY-MM-DD, e.g. 2026-12-25)"),
                )
            })?;
            holidays.insert(date);
        }

        Ok(Calendar {
            name: spec
                .name
                .as_ref()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            zone_name,
            tz,
            week,
            holidays,
        })
    }

    /// The normalised spec: canonical zone name, all seven days (closed ones empty), spans as
    /// `HH:MM-HH:MM` sorted by start (an overnight span ending at midnight reads `…-24:00`),
    /// holidays sorted and without duplicates. `Calendar::parse(&c.spec())` gives `c` back.
    pub fn spec(&self) -> CalendarSpec {
        let hours = WEEKDAYS
            .iter()
            .zip(&self.week)
            .map(|(day, spans)| {
                let texts = spans
                    .iter()
                    .map(|s| {
                        let end = if s.end > MINUTES_PER_DAY {
                            s.end - MINUTES_PER_DAY
                        } else {
                            s.end
                        };
                        format!("{}-{}", hhmm(s.start), hhmm(end))
                    })
                    .collect();
                (day.to_string(), texts)
            })
            .collect();
        CalendarSpec {
            name: self.name.clone(),
            time_zone: self.zone_name.clone(),
            hours,
            holidays: self.holidays.iter().map(|d| d.to_string()).collect(),
        }
    }

    /// The calendar's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The canonical IANA name of the calendar's time zone (`Europe/Berlin`; `UTC` for
    /// [`Calendar::always`]).
    pub fn time_zone(&self) -> &str {
        &self.zone_name
    }

    /// Whether the instant is open: its local wall-clock time lies in a span that started on
    /// a local date that is not a holiday (the span started that day, or an overnight span
    /// started the day before).
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.tz.to_datetime(at);
        let in_day = i128::from(local.hour()) * 3600 * NS_PER_SEC
            + i128::from(local.minute()) * NS_PER_MIN
            + i128::from(local.second()) * NS_PER_SEC
            + i128::from(local.subsec_nanosecond());
        let today = local.date();
        let covers = |date: Date, t: i128| {
            self.spans_started_on(date).iter().any(|s| {
                i128::from(s.start) * NS_PER_MIN <= t && t < i128::from(s.end) * NS_PER_MIN
            })
        };
        covers(today, in_day)
            || today
                .yesterday()
                .is_ok_and(|yesterday| covers(yesterday, in_day + NS_PER_DAY))
    }

    /// The first open instant at or after `at`: `at` itself when it is open. `None` when
    /// nothing opens within [`HORIZON_DAYS`].
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let from = at.as_nanosecond();
        let (start, _) = self.walk(from, horizon(from)).next()?;
        Timestamp::from_nanosecond(start).ok()
    }

    /// Business time between two instants: the real (UTC) time of the open instants in
    /// `[from, to)`, exact to the nanosecond. Negative when `to` is before `from`
    /// (`business_time(a, b) == -business_time(b, a)`). The work grows with the number of
    /// days between the two.
    pub fn business_time(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        self.business_time_with_pauses(from, to, &[])
    }

    /// [`Calendar::business_time`] in seconds, with the fraction (what the API reports, as
    /// minutes / 60).
    pub fn business_seconds(&self, from: Timestamp, to: Timestamp) -> f64 {
        self.business_time(from, to).as_secs_f64()
    }

    /// Business time between two instants, leaving out the pauses: each pause `(start, end)`
    /// is the interval `[start, end)` in which the clock does not run (the ticket is pending
    /// or closed); `end: None` means the pause has not ended. Pauses may overlap or come in
    /// any order; a pause that ends before it starts is ignored. Negative when `to` is before
    /// `from`.
    pub fn business_time_with_pauses(
        &self,
        from: Timestamp,
        to: Timestamp,
        pauses: &[Pause],
    ) -> SignedDuration {
        let (a, b) = (from.as_nanosecond(), to.as_nanosecond());
        if b < a {
            return -self.business_time_with_pauses(to, from, pauses);
        }
        let total: i128 = Unpaused::new(self.walk(a, b), normalise_pauses(pauses))
            .take_while(|&(s, _)| s < b)
            .map(|(s, e)| e.min(b) - s)
            .sum();
        SignedDuration::from_nanos_i128(total)
    }

    /// [`Calendar::business_time_with_pauses`] in seconds, with the fraction.
    pub fn business_seconds_with_pauses(
        &self,
        from: Timestamp,
        to: Timestamp,
        pauses: &[Pause],
    ) -> f64 {
        self.business_time_with_pauses(from, to, pauses)
            .as_secs_f64()
    }

    /// The due time of a target of `target_seconds` business seconds counted from `start`:
    /// the earliest instant D ≥ `start` with `business_time(start, D)` equal to the target.
    /// Starting outside hours the clock starts at the next opening; a due time landing on a
    /// closing time stays there. Errors: a target of zero or less, or one not reached within
    /// [`HORIZON_DAYS`].
    pub fn due(&self, start: Timestamp, target_seconds: i64) -> Result<Timestamp, DueError> {
        self.due_with_pauses(start, target_seconds, &[])?
            .ok_or(DueError::BeyondHorizon)
    }

    /// [`Calendar::due`] with the clock stopped during the pauses (as in
    /// [`Calendar::business_time_with_pauses`]). `Ok(None)` when a pause that has not ended
    /// (`end: None`) begins before the target is reached: the clock is stopped and nothing is
    /// due yet. Pauses only ever make the due time later.
    pub fn due_with_pauses(
        &self,
        start: Timestamp,
        target_seconds: i64,
        pauses: &[Pause],
    ) -> Result<Option<Timestamp>, DueError> {
        if target_seconds <= 0 {
            return Err(DueError::TargetNotPositive);
        }
        let from = start.as_nanosecond();
        let mut remaining = i128::from(target_seconds) * NS_PER_SEC;
        let mut pauses = normalise_pauses(pauses);
        // A pause without end stops the clock for good: the walk ends where it begins.
        let mut until = horizon(from);
        let mut stopped = false;
        if let Some(&(s, e)) = pauses.last()
            && e == i128::MAX
        {
            pauses.pop();
            if s < until {
                until = s.max(from);
                stopped = true;
            }
        }
        for (a, b) in Unpaused::new(self.walk(from, until), pauses) {
            if a >= until {
                break;
            }
            let b = b.min(until);
            if b - a >= remaining {
                return Timestamp::from_nanosecond(a + remaining)
                    .map(Some)
                    .map_err(|_| DueError::BeyondHorizon);
            }
            remaining -= b - a;
        }
        if stopped {
            Ok(None)
        } else {
            Err(DueError::BeyondHorizon)
        }
    }

    /// A sentence for the admin page: "a ticket arriving Friday 16:30 with a 2-hour target is
    /// due Monday 10:30 (Europe/Berlin)". Times are the calendar's local wall-clock times
    /// (seconds shown only when not zero); the due date is added when it is a week or more
    /// after the arrival. `minutes` is the target in business minutes.
    pub fn preview(&self, start: Timestamp, minutes: i64) -> Result<String, DueError> {
        let seconds = minutes.checked_mul(60).ok_or(DueError::BeyondHorizon)?;
        let due = self.due(start, seconds)?;
        let arrive = self.tz.to_datetime(start);
        let end = self.tz.to_datetime(due);
        let far = arrive
            .date()
            .until(end.date())
            .map_or(true, |span| span.get_days() >= 7);
        let when = |dt: jiff::civil::DateTime, with_date: bool| {
            let mut s = String::new();
            let _ = write!(s, "{}", dt.strftime("%A"));
            if with_date {
                let _ = write!(s, " {}", dt.strftime("%-d %B %Y"));
            }
            let _ = write!(s, " {}", dt.strftime("%H:%M"));
            if dt.second() != 0 || dt.subsec_nanosecond() != 0 {
                let _ = write!(s, "{}", dt.strftime(":%S"));
            }
            s
        };
        Ok(format!(
            "a ticket arriving {} with a {} target is due {} ({})",
            when(arrive, false),
            target_phrase(minutes),
            when(end, far),
            self.zone_name
        ))
    }

    fn spans_started_on(&self, date: Date) -> &[Span] {
        if self.holidays.contains(&date) {
            &[]
        } else {
            &self.week[date.weekday().to_monday_zero_offset() as usize]
        }
    }

    /// The open intervals from `from` on, in order, clipped to start at `from`; it ends once
    /// an interval would start at or after `until` (all in nanoseconds since the epoch).
    fn walk(&self, from: i128, until: i128) -> Walk<'_> {
        Walk {
            cal: self,
            pos: from,
            until,
            period_end: i128::MIN,
            offset: 0,
            date: Date::MIN,
            day_naive: 0,
            span_idx: 0,
        }
    }
}

/// `from` plus [`HORIZON_DAYS`], in nanoseconds.
fn horizon(from: i128) -> i128 {
    from + i128::from(HORIZON_DAYS) * NS_PER_DAY
}

/// Walks the open intervals of a calendar in UTC order. Time is cut into periods of constant
/// UTC offset (between two transitions of the zone); inside one, local time is UTC plus the
/// offset, so a local span maps to one UTC interval, clipped to the period. The spans are
/// visited date by date from the day before the period's first local date (for overnight
/// spans). A skipped hour therefore shortens a span, a repeated hour is visited twice, and
/// the result is exactly the set of instants whose local time lies in a span.
struct Walk<'a> {
    cal: &'a Calendar,
    /// Nothing before this instant is returned (ns).
    pos: i128,
    /// No interval starting at or after this instant is returned (ns).
    until: i128,
    /// End of the current constant-offset period (ns, exclusive).
    period_end: i128,
    /// The offset of the current period (ns).
    offset: i128,
    /// The local date whose spans are being visited.
    date: Date,
    /// Local midnight of `date` as if it were UTC (ns).
    day_naive: i128,
    span_idx: usize,
}

impl Walk<'_> {
    /// Starts the period that contains `pos`; `None` outside the supported date range.
    fn enter_period(&mut self) -> Option<()> {
        let ts = Timestamp::from_nanosecond(self.pos).ok()?;
        let tz = &self.cal.tz;
        self.offset = i128::from(tz.to_offset(ts).seconds()) * NS_PER_SEC;
        self.period_end = tz
            .following(ts)
            .next()
            .map_or(i128::MAX, |t| t.timestamp().as_nanosecond());
        let date = tz.to_datetime(ts).date().yesterday().ok()?;
        self.date = date;
        self.day_naive = i128::from(epoch_day(date)) * NS_PER_DAY;
        self.span_idx = 0;
        Some(())
    }
}

impl Iterator for Walk<'_> {
    type Item = (i128, i128);

    fn next(&mut self) -> Option<(i128, i128)> {
        loop {
            if self.pos >= self.until {
                return None;
            }
            if self.pos >= self.period_end {
                self.enter_period()?;
            }
            let spans = self.cal.spans_started_on(self.date);
            let Some(span) = spans.get(self.span_idx).copied() else {
                self.date = self.date.tomorrow().ok()?;
                self.day_naive += NS_PER_DAY;
                self.span_idx = 0;
                let midnight = self.day_naive - self.offset;
                if midnight >= self.period_end {
                    // This date's spans lie in a later period (with its own offset).
                    self.pos = self.pos.max(self.period_end);
                } else if midnight >= self.until {
                    return None;
                }
                continue;
            };
            let start = self.day_naive + i128::from(span.start) * NS_PER_MIN - self.offset;
            let end = self.day_naive + i128::from(span.end) * NS_PER_MIN - self.offset;
            if start >= self.period_end {
                self.pos = self.pos.max(self.period_end);
                continue;
            }
            if start >= self.until {
                return None;
            }
            self.span_idx += 1;
            let a = start.max(self.pos);
            let b = end.min(self.period_end);
            if b > a {
                self.pos = b;
                return Some((a, b));
            }
        }
    }
}

/// The pauses as sorted, disjoint `[start, end)` intervals in nanoseconds; a pause without
/// end runs to `i128::MAX`.
fn normalise_pauses(pauses: &[Pause]) -> Vec<(i128, i128)> {
    let mut v: Vec<(i128, i128)> = pauses
        .iter()
        .map(|(s, e)| {
            (
                s.as_nanosecond(),
                e.map_or(i128::MAX, |e| e.as_nanosecond()),
            )
        })
        .filter(|(s, e)| e > s)
        .collect();
    v.sort();
    let mut merged: Vec<(i128, i128)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Open intervals with the pauses cut out.
struct Unpaused<I> {
    open: I,
    pauses: Vec<(i128, i128)>,
    next_pause: usize,
    pending: Option<(i128, i128)>,
}

impl<I> Unpaused<I> {
    fn new(open: I, pauses: Vec<(i128, i128)>) -> Unpaused<I> {
        Unpaused {
            open,
            pauses,
            next_pause: 0,
            pending: None,
        }
    }
}

impl<I: Iterator<Item = (i128, i128)>> Iterator for Unpaused<I> {
    type Item = (i128, i128);

    fn next(&mut self) -> Option<(i128, i128)> {
        loop {
            let (a, b) = match self.pending.take() {
                Some(piece) => piece,
                None => self.open.next()?,
            };
            while self
                .pauses
                .get(self.next_pause)
                .is_some_and(|&(_, end)| end <= a)
            {
                self.next_pause += 1;
            }
            match self.pauses.get(self.next_pause) {
                Some(&(ps, pe)) if ps <= a => {
                    // Paused at `a`: what is left starts when the pause ends.
                    if pe < b {
                        self.pending = Some((pe, b));
                    }
                }
                Some(&(ps, _)) if ps < b => {
                    self.pending = Some((ps, b));
                    return Some((a, ps));
                }
                _ => return Some((a, b)),
            }
        }
    }
}

/// Looks up an IANA zone; returns it with its canonical name.
fn lookup_zone(name: &str) -> Result<(TimeZone, String), CalendarError> {
    let name = name.trim();
    let unknown = || {
        CalendarError::new(
            "time_zone",
            format!("unknown time zone {name:?}: expected an IANA name such as Europe/Berlin"),
        )
    };
    let plausible = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('/')
        && !name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !plausible {
        return Err(unknown());
    }
    let tz = TimeZone::get(name).map_err(|_| unknown())?;
    let canonical = tz.iana_name().ok_or_else(unknown)?.to_string();
    Ok((tz, canonical))
}

/// `HH:MM-HH:MM` → a span in minutes; an end not after the start runs into the next day.
fn parse_span(text: &str) -> Result<Span, String> {
    let not_a_span = || format!("{text:?} is not a span (expected HH:MM-HH:MM, e.g. 09:00-17:00)");
    let (a, b) = text.trim().split_once('-').ok_or_else(not_a_span)?;
    let time = |t: &str| {
        parse_hhmm(t.trim()).ok_or_else(|| {
            format!(
                "{text:?}: {:?} is not a time (expected HH:MM from 00:00 to 24:00)",
                t.trim()
            )
        })
    };
    let (start, end) = (time(a)?, time(b)?);
    if start == MINUTES_PER_DAY {
        return Err(format!("{text:?}: a span cannot start at 24:00"));
    }
    if start == end {
        return Err(format!(
            "{text:?} is empty (use 00:00-24:00 for the whole day)"
        ));
    }
    let end = if end <= start {
        end + MINUTES_PER_DAY
    } else {
        end
    };
    Ok(Span { start, end })
}

/// `H:MM` or `HH:MM`, 00:00 to 24:00, in minutes after midnight.
fn parse_hhmm(t: &str) -> Option<i32> {
    let (h, m) = t.split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `YYYY-MM-DD` (a real date) → a date.
fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim();
    let parts: Vec<&str> = t.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return None;
    }
    Date::new(
        parts[0].parse().ok()?,
        parts[1].parse().ok()?,
        parts[2].parse().ok()?,
    )
    .ok()
}

fn hhmm(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn epoch_day(date: Date) -> i64 {
    let (y, m, d) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2-hour", "90-minute" → "1 h 30 min", for the preview.
fn target_phrase(minutes: i64) -> String {
    if minutes < 60 {
        format!("{minutes}-minute")
    } else if minutes % 60 == 0 {
        format!("{}-hour", minutes / 60)
    } else {
        format!("{} h {} min", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn hours(h: i64) -> SignedDuration {
        SignedDuration::from_hours(h)
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    fn cal(zone: &str, days: &[(&str, &[&str])], holidays: &[&str]) -> Calendar {
        Calendar::parse(&spec(zone, days, holidays)).unwrap()
    }

    fn spec(zone: &str, days: &[(&str, &[&str])], holidays: &[&str]) -> CalendarSpec {
        CalendarSpec {
            name: None,
            time_zone: zone.to_string(),
            hours: days
                .iter()
                .map(|(d, spans)| (d.to_string(), spans.iter().map(|s| s.to_string()).collect()))
                .collect(),
            holidays: holidays.iter().map(|h| h.to_string()).collect(),
        }
    }

    const WORKWEEK: [(&str, &[&str]); 5] = [
        ("mon", &["09:00-17:00"]),
        ("tue", &["09:00-17:00"]),
        ("wed", &["09:00-17:00"]),
        ("thu", &["09:00-17:00"]),
        ("fri", &["09:00-17:00"]),
    ];

    fn every_day(zone: &str, span: &str) -> Calendar {
        let days: Vec<(&str, &[&str])> = WEEKDAYS
            .iter()
            .map(|d| (*d, std::slice::from_ref(&span)))
            .collect();
        cal(zone, &days, &[])
    }

    fn parse_err(days: &[(&str, &[&str])], holidays: &[&str]) -> String {
        Calendar::parse(&spec("Europe/Berlin", days, holidays))
            .unwrap_err()
            .to_string()
    }

    // ---- validation ----

    #[test]
    fn every_validation_error_names_its_field() {
        let e = Calendar::parse(&spec("Mars/Olympus", &WORKWEEK, &[])).unwrap_err();
        assert_eq!(e.field, "time_zone");
        assert!(e.message.contains("Mars/Olympus"), "{e}");
        for bad in ["", "/etc/passwd", "../UTC", "EST5EDT,M3.2.0,M11.1.0"] {
            let e = Calendar::parse(&spec(bad, &WORKWEEK, &[])).unwrap_err();
            assert_eq!(e.field, "time_zone", "{bad}");
        }

        assert_eq!(
            parse_err(&[("mon", &["09:00-12:00", "18:60-19:00"])], &[]),
            r#"hours.mon[1]: "18:60-19:00": "18:60" is not a time (expected HH:MM from 00:00 to 24:00)"#
        );
        assert_eq!(
            parse_err(&[("tue", &["25:00-26:00"])], &[]),
            r#"hours.tue[0]: "25:00-26:00": "25:00" is not a time (expected HH:MM from 00:00 to 24:00)"#
        );
        assert!(parse_err(&[("mon", &["09:00-24:30"])], &[]).starts_with("hours.mon[0]: "));
        assert!(parse_err(&[("mon", &["9-17"])], &[]).contains("is not a time"));
        assert_eq!(
            parse_err(&[("mon", &["09:00"])], &[]),
            r#"hours.mon[0]: "09:00" is not a span (expected HH:MM-HH:MM, e.g. 09:00-17:00)"#
        );
        assert_eq!(
            parse_err(&[("wed", &["24:00-06:00"])], &[]),
            r#"hours.wed[0]: "24:00-06:00": a span cannot start at 24:00"#
        );
        assert_eq!(
            parse_err(&[("fri", &["09:00-09:00"])], &[]),
            r#"hours.fri[0]: "09:00-09:00" is empty (use 00:00-24:00 for the whole day)"#
        );
        assert_eq!(
            parse_err(&[("mon", &["09:00-12:00", "11:00-13:00"])], &[]),
            r#"hours.mon[1]: "11:00-13:00" overlaps hours.mon[0] ("09:00-12:00")"#
        );
        // An overnight span runs into the next day's spans, and Sunday's into Monday's.
        assert_eq!(
            parse_err(&[("mon", &["22:00-06:00"]), ("tue", &["05:00-09:00"])], &[]),
            r#"hours.tue[0]: "05:00-09:00" overlaps hours.mon[0] ("22:00-06:00")"#
        );
        assert_eq!(
            parse_err(&[("mon", &["05:30-09:00"]), ("sun", &["23:00-06:00"])], &[]),
            r#"hours.sun[0]: "23:00-06:00" overlaps hours.mon[0] ("05:30-09:00")"#
        );
        // Touching spans are fine.
        cal(
            "UTC",
            &[("mon", &["22:00-06:00"]), ("tue", &["06:00-09:00"])],
            &[],
        );
        cal("UTC", &[("mon", &["09:00-12:00", "12:00-17:00"])], &[]);

        assert_eq!(
            parse_err(&[("monday", &["09:00-17:00"])], &[]),
            "hours.monday: unknown day: expected mon, tue, wed, thu, fri, sat or sun"
        );
        assert_eq!(
            parse_err(&[("Mon", &["09:00-17:00"]), ("mon", &["18:00-19:00"])], &[]),
            "hours.mon: the same day as hours.Mon"
        );
        assert_eq!(
            parse_err(&WORKWEEK, &["2026-12-25", "2026-02-30"]),
            r#"holidays[1]: "2026-02-30" is not a date (expected YYYY-MM-DD, e.g. 2026-12-25)"#
        );
        assert!(parse_err(&WORKWEEK, &["25.12.2026"]).starts_with("holidays[0]: "));
    }

    #[test]
    fn calendars_with_no_open_time_are_refused() {
        let expected = "hours: the calendar has no open time: give at least one span, \
                        e.g. \"mon\": [\"09:00-17:00\"]";
        assert_eq!(parse_err(&[], &[]), expected);
        let closed: Vec<(&str, &[&str])> = WEEKDAYS.iter().map(|d| (*d, &[][..])).collect();
        assert_eq!(parse_err(&closed, &[]), expected);
        let json = r#"{"time_zone": "UTC", "hours": {}}"#;
        let err = serde_json::from_str::<Calendar>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no open time"), "{err}");
    }

    #[test]
    fn spec_round_trips_through_json() {
        let json = r#"{"name": " Support EU ", "time_zone": "europe/berlin",
            "hours": {"Mon": ["13:00-17:00", "9:00-12:00"], "fri": ["22:00-00:00"], "sun": []},
            "holidays": ["2026-12-26", "2026-12-25", "2026-12-25"]}"#;
        let c: Calendar = serde_json::from_str(json).unwrap();
        let s = c.spec();
        assert_eq!(s.name.as_deref(), Some("Support EU"));
        assert_eq!(s.time_zone, "Europe/Berlin");
        assert_eq!(s.hours["mon"], ["09:00-12:00", "13:00-17:00"]);
        assert_eq!(s.hours["fri"], ["22:00-24:00"]);
        assert!(s.hours["sun"].is_empty() && s.hours.len() == 7);
        assert_eq!(s.holidays, ["2026-12-25", "2026-12-26"]);
        let again: Calendar = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(again.spec(), s);
        assert_eq!(Calendar::default().spec(), Calendar::always().spec());
    }

    // ---- basic arithmetic ----

    #[test]
    fn always_is_real_time() {
        let c = Calendar::always();
        let s = ts("2026-03-29T00:30:00.25Z");
        assert_eq!(c.due(s, 7200).unwrap(), ts("2026-03-29T02:30:00.25Z"));
        assert_eq!(c.business_time(s, ts("2026-03-30T00:30:00.25Z")), hours(24));
        assert!(c.is_open(s));
        assert_eq!(c.time_zone(), "UTC");
    }

    #[test]
    fn friday_afternoon_preview() {
        let c = cal("Europe/Berlin", &WORKWEEK, &[]);
        let start = ts("2026-11-27T15:30:00Z"); // Friday 16:30 CET
        assert_eq!(c.due(start, 2 * 3600).unwrap(), ts("2026-11-30T09:30:00Z"));
        assert_eq!(
            c.preview(start, 120).unwrap(),
            "a ticket arriving Friday 16:30 with a 2-hour target is due Monday 10:30 (Europe/Berlin)"
        );
        assert_eq!(
            c.preview(ts("2026-11-27T15:30:05Z"), 30).unwrap(),
            "a ticket arriving Friday 16:30:05 with a 30-minute target is due Monday 09:00:05 (Europe/Berlin)"
        );
        assert_eq!(
            c.preview(start, 90 + 40 * 60).unwrap(),
            "a ticket arriving Friday 16:30 with a 41 h 30 min target is due Monday 7 December 2026 10:00 (Europe/Berlin)"
        );
        assert_eq!(c.preview(start, 0), Err(DueError::TargetNotPositive));
    }

    #[test]
    fn split_shifts_and_closing_times() {
        let c = cal("UTC", &[("mon", &["09:00-12:00", "13:00-17:00"])], &[]);
        let monday = |t: &str| ts(&format!("2026-11-30T{t}Z"));
        // Lunch is skipped.
        assert_eq!(
            c.due(monday("11:00:00"), 2 * 3600).unwrap(),
            monday("14:00:00")
        );
        // Landing exactly on a closing time stays there, not at the next opening.
        assert_eq!(c.due(monday("11:00:00"), 3600).unwrap(), monday("12:00:00"));
        assert_eq!(
            c.due(monday("09:00:00"), 7 * 3600).unwrap(),
            monday("17:00:00")
        );
        // Starting in the lunch break, the clock starts at 13:00.
        assert_eq!(c.due(monday("12:30:00"), 1800).unwrap(), monday("13:30:00"));
        assert_eq!(c.next_open(monday("12:30:00")), Some(monday("13:00:00")));
        assert_eq!(c.next_open(monday("10:00:00")), Some(monday("10:00:00")));
        // One more second rolls over to next Monday.
        assert_eq!(
            c.due(monday("09:00:00"), 7 * 3600 + 1).unwrap(),
            ts("2026-12-07T09:00:01Z")
        );
        assert!(c.is_open(monday("09:00:00")) && !c.is_open(monday("12:00:00")));
        assert!(!c.is_open(monday("17:00:00")) && c.is_open(monday("16:59:59.999999999")));
        assert_eq!(
            c.business_time(monday("08:00:00"), monday("18:00:00")),
            hours(7)
        );
    }

    #[test]
    fn start_outside_hours_starts_at_the_next_opening() {
        let c = cal("Europe/Berlin", &WORKWEEK, &["2026-12-25"]);
        // Thursday 2026-12-24 20:00 CET; Friday is a holiday; the clock starts Monday 09:00.
        let due = c.due(ts("2026-12-24T19:00:00Z"), 60).unwrap();
        assert_eq!(due, ts("2026-12-28T08:01:00Z"));
    }

    #[test]
    fn seconds_and_nanoseconds_are_kept() {
        let c = cal("UTC", &WORKWEEK, &[]);
        let s = ts("2026-11-30T16:59:59.5Z");
        assert_eq!(c.due(s, 1).unwrap(), ts("2026-12-01T09:00:00.5Z"));
        assert_eq!(c.business_seconds(s, ts("2026-12-01T09:00:00.5Z")), 1.0);
        assert_eq!(c.business_seconds(ts("2026-12-01T09:00:00.5Z"), s), -1.0);
    }

    #[test]
    fn targets_must_be_positive_and_reachable() {
        let c = cal("UTC", &WORKWEEK, &[]);
        let s = ts("2026-11-30T09:00:00Z");
        assert_eq!(c.due(s, 0), Err(DueError::TargetNotPositive));
        assert_eq!(c.due(s, -60), Err(DueError::TargetNotPositive));
        assert_eq!(
            c.due_with_pauses(s, 0, &[]),
            Err(DueError::TargetNotPositive)
        );
        assert_eq!(c.due(s, i64::MAX), Err(DueError::BeyondHorizon));
        assert_eq!(
            Calendar::always().due(ts("9999-12-30T00:00:00Z"), 3 * 86_400),
            Err(DueError::BeyondHorizon)
        );
    }

    #[test]
    fn ten_thousand_business_hours_walk_days_not_minutes() {
        let c = cal("Europe/Berlin", &WORKWEEK, &["2027-01-01", "2027-12-24"]);
        let s = ts("2026-11-30T10:17:03Z");
        let started = std::time::Instant::now();
        let due = c.due(s, 10_000 * 3600).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(c.business_time(s, due), hours(10_000));
        // 1250 working days of 8 h, starting Monday 11:17 local: about 4 years 10 months later.
        assert!(
            due > ts("2031-08-01T00:00:00Z") && due < ts("2031-12-01T00:00:00Z"),
            "{due}"
        );
    }

    // ---- pauses ----

    #[test]
    fn pauses_stop_the_clock() {
        let c = cal("UTC", &WORKWEEK, &[]);
        let at = |t: &str| ts(&format!("2026-11-30T{t}Z")); // a Monday
        let s = at("09:00:00");
        assert_eq!(c.due(s, 4 * 3600).unwrap(), at("13:00:00"));
        // Pending 10:00-11:30: the due time moves 90 minutes.
        let p = [(at("10:00:00"), Some(at("11:30:00")))];
        assert_eq!(
            c.due_with_pauses(s, 4 * 3600, &p).unwrap(),
            Some(at("14:30:00"))
        );
        assert_eq!(c.business_time_with_pauses(s, at("14:30:00"), &p), hours(4));
        // A pause outside hours changes nothing; overlapping, unsorted pauses merge.
        let p = [
            (ts("2026-11-29T10:00:00Z"), Some(at("08:00:00"))),
            (at("10:30:00"), Some(at("11:00:00"))),
            (at("10:00:00"), Some(at("10:45:00"))),
            (at("12:00:00"), Some(at("11:00:00"))), // ends before it starts: ignored
        ];
        assert_eq!(
            c.due_with_pauses(s, 4 * 3600, &p).unwrap(),
            Some(at("14:00:00"))
        );
        assert_eq!(
            c.business_seconds_with_pauses(s, at("12:00:00"), &p),
            2.0 * 3600.0
        );
        // A pause that has not ended: not due yet, unless the target was reached before it.
        let open = [(at("11:00:00"), None)];
        assert_eq!(c.due_with_pauses(s, 4 * 3600, &open).unwrap(), None);
        assert_eq!(
            c.due_with_pauses(s, 2 * 3600, &open).unwrap(),
            Some(at("11:00:00"))
        );
        assert_eq!(
            c.business_time_with_pauses(s, ts("2026-12-10T00:00:00Z"), &open),
            hours(2)
        );
        // Paused since before the start.
        let open = [(ts("2026-11-01T00:00:00Z"), None)];
        assert_eq!(c.due_with_pauses(s, 60, &open).unwrap(), None);
        // A pause running past the end of the day pushes the rest to the next morning.
        let p = [(at("16:00:00"), Some(ts("2026-12-01T10:00:00Z")))];
        assert_eq!(
            c.due_with_pauses(s, 8 * 3600, &p).unwrap(),
            Some(ts("2026-12-01T11:00:00Z"))
        );
    }

    // ---- overnight spans and holidays ----

    #[test]
    fn overnight_spans_belong_to_the_day_they_start_on() {
        // Night shift every day 22:00-06:00; Christmas Day (a Friday) is a holiday.
        let c = every_day("Europe/Berlin", "22:00-06:00");
        let c = Calendar::parse(&CalendarSpec {
            holidays: vec!["2026-12-25".into()],
            ..c.spec()
        })
        .unwrap();
        // The shift that started on Christmas Eve runs into Christmas Day...
        assert!(c.is_open(ts("2026-12-25T02:00:00Z"))); // 03:00 local on the 25th
        assert!(c.is_open(ts("2026-12-25T04:59:59Z")));
        assert!(!c.is_open(ts("2026-12-25T05:00:00Z")));
        // ...and the one that would start on Christmas Day is closed, even after midnight.
        assert!(!c.is_open(ts("2026-12-25T21:00:00Z")));
        assert!(!c.is_open(ts("2026-12-26T02:00:00Z")));
        assert!(c.is_open(ts("2026-12-26T21:00:00Z")));
        // Eve 12:00 to the 27th 12:00: the Eve night (8 h) and the 26th's night (8 h).
        assert_eq!(
            c.business_time(ts("2026-12-24T11:00:00Z"), ts("2026-12-27T11:00:00Z")),
            hours(16)
        );
        assert_eq!(
            c.due(ts("2026-12-25T12:00:00Z"), 3600).unwrap(),
            ts("2026-12-26T22:00:00Z")
        );
        // The shift that starts on the day before a holiday and the last of the week:
        let c = cal("UTC", &[("sun", &["20:00-04:00"])], &["2026-11-30"]);
        assert!(c.is_open(ts("2026-11-30T03:00:00Z"))); // Monday (a holiday) 03:00
    }

    // ---- DST weeks, with expected values worked out by hand ----

    #[test]
    fn berlin_dst() {
        let c = every_day("Europe/Berlin", "00:00-24:00");
        // Sunday 2026-03-29: 23 h (02:00-03:00 skipped); Sunday 2026-10-25: 25 h.
        assert_eq!(
            c.business_time(ts("2026-03-28T23:00:00Z"), ts("2026-03-29T22:00:00Z")),
            hours(23)
        );
        assert_eq!(
            c.business_time(ts("2026-10-24T22:00:00Z"), ts("2026-10-25T23:00:00Z")),
            hours(25)
        );
        // 24 business hours from Saturday noon is Sunday 13:00 CEST (real time, not wall time).
        assert_eq!(
            c.due(ts("2026-03-28T11:00:00Z"), 24 * 3600).unwrap(),
            ts("2026-03-29T11:00:00Z")
        );
        // A span in the skipped hour holds nothing; half in it holds half; in the repeated
        // hour it is open twice.
        let sunday = |span: &str| cal("Europe/Berlin", &[("sun", &[span])], &[]);
        let spring = (ts("2026-03-28T12:00:00Z"), ts("2026-03-29T12:00:00Z"));
        let autumn = (ts("2026-10-24T12:00:00Z"), ts("2026-10-25T12:00:00Z"));
        assert_eq!(
            sunday("02:00-03:00").business_time(spring.0, spring.1),
            hours(0)
        );
        assert_eq!(
            sunday("02:15-02:45").business_time(spring.0, spring.1),
            hours(0)
        );
        assert_eq!(
            sunday("01:30-02:30").business_time(spring.0, spring.1),
            mins(30)
        );
        assert_eq!(
            sunday("02:30-03:30").business_time(spring.0, spring.1),
            mins(30)
        );
        assert_eq!(
            sunday("02:00-03:00").business_time(autumn.0, autumn.1),
            hours(2)
        );
        assert_eq!(
            sunday("01:00-02:30").business_time(autumn.0, autumn.1),
            hours(2)
        );
        let c = sunday("02:00-03:00");
        assert!(c.is_open(ts("2026-10-25T00:30:00Z")) && c.is_open(ts("2026-10-25T01:30:00Z")));
        // The skipped span's Sunday is passed over: the clock starts the next Sunday.
        assert_eq!(
            c.due(ts("2026-03-28T12:00:00Z"), 3600).unwrap(),
            ts("2026-04-05T01:00:00Z")
        );
        // A Mon-Fri office week around a change is unaffected: 40 h.
        let office = cal("Europe/Berlin", &WORKWEEK, &[]);
        assert_eq!(
            office.business_time(ts("2026-03-23T00:00:00Z"), ts("2026-03-30T23:00:00Z")),
            hours(48)
        );
        assert_eq!(
            office.business_time(ts("2026-03-23T00:00:00Z"), ts("2026-03-29T23:00:00Z")),
            hours(40)
        );
        // Friday 16:00 CET + 2 h = Monday 10:00 CEST.
        assert_eq!(
            office.due(ts("2026-03-27T15:00:00Z"), 7200).unwrap(),
            ts("2026-03-30T08:00:00Z")
        );
    }

    #[test]
    fn new_york_dst() {
        let c = every_day("America/New_York", "00:00-24:00");
        assert_eq!(
            c.business_time(ts("2026-03-08T05:00:00Z"), ts("2026-03-09T04:00:00Z")),
            hours(23)
        );
        assert_eq!(
            c.business_time(ts("2026-11-01T04:00:00Z"), ts("2026-11-02T05:00:00Z")),
            hours(25)
        );
        // Saturday night shift 22:00-06:00: 7 h on the spring night, 9 h on the autumn night.
        let c = cal("America/New_York", &[("sat", &["22:00-06:00"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-03-07T12:00:00Z"), ts("2026-03-08T12:00:00Z")),
            hours(7)
        );
        assert_eq!(
            c.business_time(ts("2026-10-31T12:00:00Z"), ts("2026-11-01T12:00:00Z")),
            hours(9)
        );
        // 7 h from 22:00 EST lands on the closing time 06:00 EDT; 7.5 h needs next Saturday.
        assert_eq!(
            c.due(ts("2026-03-08T03:00:00Z"), 7 * 3600).unwrap(),
            ts("2026-03-08T10:00:00Z")
        );
        assert_eq!(
            c.due(ts("2026-03-08T03:00:00Z"), 7 * 3600 + 1800).unwrap(),
            ts("2026-03-15T02:30:00Z")
        );
    }

    #[test]
    fn sydney_dst() {
        let c = every_day("Australia/Sydney", "00:00-24:00");
        // Sunday 2026-04-05 (03:00 back to 02:00): 25 h; Sunday 2026-10-04 (02:00 to 03:00): 23 h.
        assert_eq!(
            c.business_time(ts("2026-04-04T13:00:00Z"), ts("2026-04-05T14:00:00Z")),
            hours(25)
        );
        assert_eq!(
            c.business_time(ts("2026-10-03T14:00:00Z"), ts("2026-10-04T13:00:00Z")),
            hours(23)
        );
        let c = cal("Australia/Sydney", &[("sun", &["02:00-03:00"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-10-03T00:00:00Z"), ts("2026-10-05T00:00:00Z")),
            hours(0)
        );
        assert_eq!(
            c.business_time(ts("2026-04-04T00:00:00Z"), ts("2026-04-06T00:00:00Z")),
            hours(2)
        );
    }

    #[test]
    fn santiago_dst_at_midnight() {
        // Chile changes at local midnight: Saturday 2026-04-04 24:00 goes back to 23:00, and
        // Saturday 2026-09-05 24:00 jumps to Sunday 01:00.
        let c = every_day("America/Santiago", "00:00-24:00");
        assert_eq!(
            c.business_time(ts("2026-04-04T03:00:00Z"), ts("2026-04-05T04:00:00Z")),
            hours(25)
        );
        assert_eq!(
            c.business_time(ts("2026-09-06T04:00:00Z"), ts("2026-09-07T03:00:00Z")),
            hours(23)
        );
        assert_eq!(
            c.business_time(ts("2026-09-05T04:00:00Z"), ts("2026-09-06T04:00:00Z")),
            hours(24)
        );
        // A Sunday 00:00-01:00 span does not exist on 2026-09-06.
        let c = cal("America/Santiago", &[("sun", &["00:00-01:00"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-09-05T00:00:00Z"), ts("2026-09-07T00:00:00Z")),
            hours(0)
        );
        // Saturday 23:00-01:00: 3 h when the hour repeats, 1 h when it is skipped.
        let c = cal("America/Santiago", &[("sat", &["23:00-01:00"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-04-04T12:00:00Z"), ts("2026-04-05T12:00:00Z")),
            hours(3)
        );
        assert_eq!(
            c.business_time(ts("2026-09-05T12:00:00Z"), ts("2026-09-06T12:00:00Z")),
            hours(1)
        );
        assert!(c.is_open(ts("2026-04-05T02:30:00Z")) && c.is_open(ts("2026-04-05T03:30:00Z")));
        assert!(!c.is_open(ts("2026-09-06T04:00:00Z")));
    }

    #[test]
    fn kolkata_half_hour_offset_no_dst() {
        let c = cal("Asia/Kolkata", &WORKWEEK, &[]);
        assert_eq!(
            c.next_open(ts("2026-03-01T12:00:00Z")),
            Some(ts("2026-03-02T03:30:00Z"))
        );
        // Friday 16:00 IST + 2 h = Monday 10:00 IST.
        assert_eq!(
            c.due(ts("2026-03-06T10:30:00Z"), 7200).unwrap(),
            ts("2026-03-09T04:30:00Z")
        );
        assert_eq!(
            c.business_time(ts("2026-03-02T00:00:00Z"), ts("2026-03-09T00:00:00Z")),
            hours(40)
        );
        let c = cal("Asia/Kolkata", &[("mon", &["22:00-06:00"])], &[]);
        assert_eq!(
            c.due(ts("2026-03-02T16:30:00Z"), 8 * 3600).unwrap(),
            ts("2026-03-03T00:30:00Z")
        );
    }

    #[test]
    fn lord_howe_half_hour_dst() {
        let c = every_day("Australia/Lord_Howe", "00:00-24:00");
        // Sunday 2026-04-05: 02:00 back to 01:30, 24.5 h; Sunday 2026-10-04: 02:00 to 02:30, 23.5 h.
        assert_eq!(
            c.business_time(ts("2026-04-04T13:00:00Z"), ts("2026-04-05T13:30:00Z")),
            mins(24 * 60 + 30)
        );
        assert_eq!(
            c.business_time(ts("2026-10-03T13:30:00Z"), ts("2026-10-04T13:00:00Z")),
            mins(23 * 60 + 30)
        );
        let c = cal("Australia/Lord_Howe", &[("sun", &["01:30-02:30"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-04-04T00:00:00Z"), ts("2026-04-06T00:00:00Z")),
            mins(90)
        );
        assert_eq!(
            c.business_time(ts("2026-10-03T00:00:00Z"), ts("2026-10-05T00:00:00Z")),
            mins(30)
        );
        let c = cal("Australia/Lord_Howe", &[("sun", &["02:00-02:30"])], &[]);
        assert_eq!(
            c.business_time(ts("2026-10-03T00:00:00Z"), ts("2026-10-05T00:00:00Z")),
            mins(0)
        );
    }

    // ---- published cases (tests/fixtures/sla/calendar_cases.json) ----

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        source: String,
        calendar: CalendarSpec,
        kind: String,
        start: Option<String>,
        minutes: Option<i64>,
        from: Option<String>,
        to: Option<String>,
        at: Option<String>,
        expect: serde_json::Value,
    }

    #[test]
    fn published_cases() {
        let fixture: Fixture = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sla/calendar_cases.json"
        )))
        .unwrap();
        assert!(fixture.cases.len() >= 15);
        for case in &fixture.cases {
            let c = Calendar::parse(&case.calendar).unwrap();
            let src = &case.source;
            let instant = |v: &serde_json::Value| v.as_str().map(ts);
            let t = |v: &Option<String>| {
                ts(v.as_deref()
                    .unwrap_or_else(|| panic!("{src}: missing instant")))
            };
            match case.kind.as_str() {
                "due" => {
                    let got = c.due(t(&case.start), case.minutes.unwrap() * 60).unwrap();
                    assert_eq!(Some(got), instant(&case.expect), "{src}");
                }
                "business_minutes" => {
                    let got = c.business_seconds(t(&case.from), t(&case.to)) / 60.0;
                    assert_eq!(Some(got), case.expect.as_f64(), "{src}");
                }
                "is_open" => {
                    assert_eq!(Some(c.is_open(t(&case.at))), case.expect.as_bool(), "{src}");
                }
                "next_open" => {
                    assert_eq!(c.next_open(t(&case.at)), instant(&case.expect), "{src}");
                }
                other => panic!("unknown kind {other} in {src}"),
            }
        }
    }

    // ---- properties ----

    const ZONES: [&str; 8] = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Sydney",
        "America/Santiago",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "America/St_Johns",
    ];

    /// DST changes of 2026 in the zones above, to start near.
    const CHANGES: [&str; 10] = [
        "2026-03-29T01:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-04-04T16:00:00Z",
        "2026-10-03T16:00:00Z",
        "2026-04-05T03:00:00Z",
        "2026-09-06T04:00:00Z",
        "2026-04-04T15:00:00Z",
        "2026-10-03T15:30:00Z",
    ];

    fn arb_calendar() -> impl Strategy<Value = Calendar> {
        // Per day up to two spans from sorted quarter-hour cut points, and maybe one
        // overnight span (calendars where it overlaps are dropped).
        let day = prop::collection::vec(0i32..=96, 0..=4);
        let overnight = prop::option::of((0usize..7, 72i32..96, 0i32..32));
        let holidays = prop::collection::vec(0i64..730, 0..12);
        (
            prop::sample::select(&ZONES[..]),
            prop::collection::vec(day, 7),
            overnight,
            holidays,
        )
            .prop_filter_map("overlapping spans", |(zone, days, overnight, holidays)| {
                let mut hours = BTreeMap::new();
                for (d, mut cuts) in days.into_iter().enumerate() {
                    cuts.sort();
                    cuts.dedup();
                    let spans: Vec<String> = cuts
                        .chunks_exact(2)
                        .map(|p| format!("{}-{}", hhmm(p[0] * 15), hhmm(p[1] * 15)))
                        .collect();
                    hours.insert(WEEKDAYS[d].to_string(), spans);
                }
                if let Some((d, s, e)) = overnight {
                    hours.get_mut(WEEKDAYS[d]).unwrap().push(format!(
                        "{}-{}",
                        hhmm(s * 15),
                        hhmm(e * 15)
                    ));
                }
                let first = Date::new(2026, 1, 1).unwrap();
                let holidays = holidays
                    .into_iter()
                    .map(|n| {
                        first
                            .checked_add(jiff::Span::new().days(n))
                            .unwrap()
                            .to_string()
                    })
                    .collect();
                Calendar::parse(&CalendarSpec {
                    name: None,
                    time_zone: zone.to_string(),
                    hours,
                    holidays,
                })
                .ok()
            })
    }

    fn arb_instant() -> impl Strategy<Value = Timestamp> {
        let lo = ts("2026-01-01T00:00:00Z").as_second();
        let hi = ts("2027-12-31T00:00:00Z").as_second();
        let anywhere = (lo..hi, prop_oneof![Just(0i32), 0i32..1_000_000_000])
            .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap());
        let near_change = (
            prop::sample::select(&CHANGES[..]),
            -3 * 86_400i64..3 * 86_400,
        )
            .prop_map(|(c, d)| ts(c) + SignedDuration::from_secs(d));
        prop_oneof![anywhere, near_change]
    }

    fn arb_target() -> impl Strategy<Value = i64> {
        prop_oneof![
            1i64..3600,
            (1i64..200).prop_map(|m| m * 60),
            1i64..400 * 3600
        ]
    }

    fn arb_pauses() -> impl Strategy<Value = Vec<(Timestamp, Option<Timestamp>)>> {
        prop::collection::vec(
            (
                arb_instant(),
                prop::option::weighted(0.9, 1i64..10 * 86_400),
            ),
            0..4,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(s, len)| (s, len.map(|l| s + SignedDuration::from_secs(l))))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn business_time_to_due_is_the_target(c in arb_calendar(), s in arb_instant(), n in arb_target()) {
            let d = c.due(s, n).unwrap();
            prop_assert!(d > s);
            prop_assert_eq!(c.business_time(s, d), SignedDuration::from_secs(n));
            // Earliest: the time just before it is open (business time still accrues there).
            prop_assert!(c.is_open(d - SignedDuration::from_nanos(1)));
        }

        #[test]
        fn due_is_monotone_in_the_target(c in arb_calendar(), s in arb_instant(), a in arb_target(), b in arb_target()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (d_lo, d_hi) = (c.due(s, lo).unwrap(), c.due(s, hi).unwrap());
            prop_assert!(d_lo <= d_hi);
            if lo < hi {
                prop_assert!(d_lo < d_hi);
            }
        }

        #[test]
        fn pauses_never_shorten(c in arb_calendar(), s in arb_instant(), n in arb_target(), p in arb_pauses()) {
            let plain = c.due(s, n).unwrap();
            match c.due_with_pauses(s, n, &p).unwrap() {
                Some(d) => {
                    prop_assert!(d >= plain);
                    prop_assert_eq!(c.business_time_with_pauses(s, d, &p), SignedDuration::from_secs(n));
                }
                None => prop_assert!(p.iter().any(|(_, e)| e.is_none())),
            }
            prop_assert!(c.business_time_with_pauses(s, plain, &p) <= SignedDuration::from_secs(n));
        }

        #[test]
        fn is_open_agrees_with_business_time(c in arb_calendar(), t in arb_instant()) {
            let tiny = c.business_time(t, t + SignedDuration::from_nanos(1));
            prop_assert_eq!(tiny == SignedDuration::from_nanos(1), c.is_open(t));
            let second = c.business_time(t, t + SignedDuration::from_secs(1));
            if c.is_open(t) && c.is_open(t + SignedDuration::from_nanos(999_999_999)) {
                prop_assert!(second > SignedDuration::ZERO);
            }
            match c.next_open(t) {
                Some(o) => {
                    prop_assert!(o >= t && c.is_open(o));
                    prop_assert_eq!(c.business_time(t, o), SignedDuration::ZERO);
                }
                None => prop_assert!(false, "a valid calendar opens again"),
            }
        }

        #[test]
        fn business_time_adds_up(c in arb_calendar(), a in arb_instant(), b in arb_instant(), m in arb_instant()) {
            let (a, b) = (a.min(b), a.max(b));
            let total = c.business_time(a, b);
            prop_assert!(total >= SignedDuration::ZERO && total <= b.duration_since(a));
            prop_assert_eq!(c.business_time(a, m) + c.business_time(m, b), total);
            prop_assert_eq!(c.business_time(b, a), -total);
        }
    }
}
