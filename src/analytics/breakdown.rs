//! Figures broken down by group: per mailbox, team, customer lifecycle stage and VIP
//! ([`groups`]), and per tag ([`tags`]: volume, trend, time to resolve, tags rising).
//!
//! Same sources and rules as [`super::queries`]: the stored per-ticket values
//! (`ticket_metric`, `ticket_resolution`), the SLA clocks and `csat_survey`, read by indexed
//! time ranges with one grouped query per figure (never a loop over tickets), every query
//! filtered by the [`Scope`]. A ticket counts in the group it is in now (its mailbox, team,
//! tags; its customer's stage and VIP flag, their own else their company's).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use time::OffsetDateTime;

use super::queries::{
    Csat, Dur, DurRow, SCOPE_C, SCOPE_M, SCOPE_R, SlaCounts, TICKET_OF_C, TICKET_OF_M, TICKET_OF_R,
    bind_scope, csat_sql, dur_columns, percent,
};
use super::{Period, Scope};

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// The ticket's mailbox.
    Mailbox,
    /// The ticket's team (`None`: no team).
    Team,
    /// The customer's lifecycle stage, their own else their company's (`None`: no stage).
    LifecycleStage,
    /// The customer is VIP (own flag, else their company's): key 1, else 0 (also tickets
    /// without a customer).
    Vip,
}

impl Grouping {
    /// The group key, a `bigint` expression over `t`: the fact's copy of its ticket's values
    /// and its customer's effective stage and VIP flag (`queries::TICKET_OF_M` and kin).
    fn key(self) -> &'static str {
        match self {
            Grouping::Mailbox => "t.mailbox_id",
            Grouping::Team => "t.team_id",
            Grouping::LifecycleStage => "t.customer_stage_id",
            Grouping::Vip => "t.customer_vip::int::bigint",
        }
    }
}

/// The Overview's main figures for one group over one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupFigures {
    /// Tickets created in the period.
    pub created: i64,
    /// Closes in the period (with or without a reply).
    pub closed: i64,
    /// Closes in the period after a person's reply.
    pub resolved: i64,
    /// First responses made in the period (seconds).
    pub first_response: Dur,
    /// Resolutions closed in the period (seconds).
    pub resolution: Dur,
    /// SLA clocks of every kind that ended in the period.
    pub sla: SlaCounts,
    pub csat: Csat,
}

/// One group's figures with the previous period's (`GET /api/v1/analytics/mailboxes`,
/// `/teams`, `/customers`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupRow {
    /// The mailbox, team or lifecycle stage id; for VIP 1 (VIP) or 0; `null` for "no team" /
    /// "no stage".
    pub id: Option<i64>,
    /// The mailbox's address, the team's or stage's name, `VIP` / `Not VIP`, `No team`,
    /// `No stage`.
    pub name: String,
    #[serde(flatten)]
    pub current: GroupFigures,
    pub previous: GroupFigures,
}

/// The SQL of grouping by several [`Grouping`]s in one pass over the facts: the select list's
/// start (`key0 as g0, ..., grouping(key0, ...)`) and the `group by` clause (`grouping sets`,
/// one set per grouping). A row's `grouping(...)` bits tell which set it belongs to
/// ([`set_of`]); its key is then column `i` of that set.
fn grouping_sql(gs: &[Grouping]) -> (String, String) {
    let keys: Vec<&str> = gs.iter().map(|g| g.key()).collect();
    let select = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} as g{i}"))
        .chain([format!("grouping({})", keys.join(", "))])
        .collect::<Vec<_>>()
        .join(", ");
    let sets = keys
        .iter()
        .map(|k| format!("({k})"))
        .collect::<Vec<_>>()
        .join(", ");
    (select, format!("grouping sets ({sets})"))
}

/// The grouping set (index into the groupings) of a row whose `grouping(...)` value is `bits`
/// among `n` groupings: the one whose key is not aggregated away (bit 0; the first key is the
/// most significant bit).
fn set_of(bits: i32, n: usize) -> usize {
    (0..n).find(|i| bits & (1 << (n - 1 - i)) == 0).unwrap_or(0)
}

/// A row's grouping set and key (its first `n + 1` columns, as [`grouping_sql`] lays them out).
fn key_of(row: &PgRow, n: usize) -> sqlx::Result<(usize, Option<i64>)> {
    let i = set_of(row.try_get::<i32, _>(n)?, n);
    Ok((i, row.try_get::<Option<i64>, _>(i)?))
}

/// A [`Dur`] from the seven columns from `at` (count, calendar median, p90, mean, business
/// median, p90, mean).
fn dur_at(row: &PgRow, at: usize) -> sqlx::Result<Dur> {
    let f = |k: usize| row.try_get::<Option<f64>, _>(at + k);
    let row: DurRow = (row.try_get(at)?, f(1)?, f(2)?, f(3)?, f(4)?, f(5)?, f(6)?);
    Ok(Dur::from(row))
}

/// Per grouping of `gs`, per group the figures of `[start, end)`: five queries, each grouping
/// the facts by every grouping of `gs` in one pass (grouping sets), run at once.
pub async fn group_figures(
    pool: &PgPool,
    scope: &Scope,
    start: OffsetDateTime,
    end: OffsetDateTime,
    gs: &[Grouping],
) -> sqlx::Result<Vec<BTreeMap<Option<i64>, GroupFigures>>> {
    let n = gs.len();
    let (keys, by) = grouping_sql(gs);
    let run = |sql: String| {
        let scope = scope.clone();
        async move {
            bind_scope!(sqlx::query(&sql), scope)
                .bind(start)
                .bind(end)
                .fetch_all(pool)
                .await
        }
    };
    let created = run(format!(
        "select {keys}, count(*)
         from ticket_metric m {TICKET_OF_M}
         where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10
         group by {by}"
    ));
    let fr = run(format!(
        "select {keys}, {}
         from ticket_metric m {TICKET_OF_M}
         where {SCOPE_M} and m.first_response_at >= $9 and m.first_response_at < $10
         group by {by}",
        dur_columns("m.first_response_s", "m.first_response_business_s", "")
    ));
    let closes = run(format!(
        "select {keys}, count(*), {}
         from ticket_resolution r {TICKET_OF_R}
         where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10
         group by {by}",
        dur_columns("r.resolution_s", "r.resolution_business_s", "r.replied")
    ));
    let sla = run(format!(
        "select {keys}, count(*) filter (where c.achieved_at is not null),
                count(*) filter (where c.breached_at is not null)
         from sla_clock c {TICKET_OF_C}
         where {SCOPE_C} and (c.achieved_at is not null or c.breached_at is not null)
           and coalesce(c.achieved_at, c.breached_at) >= $9
           and coalesce(c.achieved_at, c.breached_at) < $10
         group by {by}"
    ));
    let csat = run(csat_sql(&keys, &by));
    let (created, fr, closes, sla, csat) = tokio::try_join!(created, fr, closes, sla, csat)?;
    let mut out: Vec<BTreeMap<Option<i64>, GroupFigures>> = vec![BTreeMap::new(); n];
    let c = n + 1; // the first figure column
    for row in &created {
        let (i, k) = key_of(row, n)?;
        out[i].entry(k).or_default().created = row.try_get(c)?;
    }
    for row in &fr {
        let (i, k) = key_of(row, n)?;
        out[i].entry(k).or_default().first_response = dur_at(row, c)?;
    }
    for row in &closes {
        let (i, k) = key_of(row, n)?;
        let e = out[i].entry(k).or_default();
        e.closed = row.try_get(c)?;
        e.resolution = dur_at(row, c + 1)?;
        e.resolved = e.resolution.count;
    }
    for row in &sla {
        let (i, k) = key_of(row, n)?;
        out[i].entry(k).or_default().sla = SlaCounts::new(row.try_get(c)?, row.try_get(c + 1)?);
    }
    for row in &csat {
        let (i, k) = key_of(row, n)?;
        out[i].entry(k).or_default().csat = Csat::new(
            row.try_get(c)?,
            row.try_get(c + 1)?,
            row.try_get(c + 2)?,
            row.try_get(c + 3)?,
        );
    }
    Ok(out)
}

/// One breakdown to compute: its grouping, its named groups in order (`(id, name)`) and the
/// name of the group of facts with no key (such as "No team").
pub struct Breakdown {
    pub grouping: Grouping,
    pub names: Vec<(Option<i64>, String)>,
    pub none_name: &'static str,
}

/// Every breakdown's rows over `period` and the previous period, all breakdowns from the same
/// passes over the facts. Rows come in the order of the breakdown's `names`; groups with
/// figures but no name ("no team") come last under `none_name`; named groups without any
/// figure are kept, unnamed ones dropped.
pub async fn groups(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    breakdowns: Vec<Breakdown>,
) -> sqlx::Result<Vec<Vec<GroupRow>>> {
    let prev = period.previous();
    let gs: Vec<Grouping> = breakdowns.iter().map(|b| b.grouping).collect();
    // The two periods on two connections at once.
    let (cur, old) = tokio::try_join!(
        group_figures(pool, scope, period.start(), period.end(), &gs),
        group_figures(pool, scope, prev.start(), prev.end(), &gs)
    )?;
    Ok(breakdowns
        .into_iter()
        .zip(cur.into_iter().zip(old))
        .map(|(b, (mut cur, mut old))| {
            let mut out: Vec<GroupRow> = b
                .names
                .into_iter()
                .map(|(id, name)| GroupRow {
                    current: cur.remove(&id).unwrap_or_default(),
                    previous: old.remove(&id).unwrap_or_default(),
                    id,
                    name,
                })
                .collect();
            // What is left: the "none" group, and groups the names did not list (a mailbox out
            // of sight cannot be here: the scope already leaves it out).
            if cur.contains_key(&None) || old.contains_key(&None) {
                out.push(GroupRow {
                    current: cur.remove(&None).unwrap_or_default(),
                    previous: old.remove(&None).unwrap_or_default(),
                    id: None,
                    name: b.none_name.to_string(),
                });
            }
            out
        })
        .collect())
}

/// The mailboxes breakdown: every mailbox the scope may see (by address), then tickets of no
/// listed mailbox.
async fn mailbox_breakdown(pool: &PgPool, scope: &Scope) -> sqlx::Result<Breakdown> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select mailbox_id, address from mailbox
         where ($1::bigint[] is null or mailbox_id = any($1)) and ($2::bigint is null or mailbox_id = $2)
         order by lower(address)",
    )
    .bind(scope.visible.clone())
    .bind(scope.mailbox)
    .fetch_all(pool)
    .await?;
    Ok(Breakdown {
        grouping: Grouping::Mailbox,
        names: names.into_iter().map(|(id, n)| (Some(id), n)).collect(),
        none_name: "No mailbox",
    })
}

/// The teams breakdown: every team by name (only the filtered one with a `team` filter), then
/// "No team".
async fn team_breakdown(pool: &PgPool, scope: &Scope) -> sqlx::Result<Breakdown> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select team_id, name from team where ($1::bigint is null or team_id = $1)
         order by lower(name)",
    )
    .bind(scope.team)
    .fetch_all(pool)
    .await?;
    Ok(Breakdown {
        grouping: Grouping::Team,
        names: names.into_iter().map(|(id, n)| (Some(id), n)).collect(),
        none_name: "No team",
    })
}

/// The lifecycle stages breakdown: every stage in the stages' order, then "No stage".
async fn stage_breakdown(pool: &PgPool, scope: &Scope) -> sqlx::Result<Breakdown> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select lifecycle_stage_id, name from lifecycle_stage
         where ($1::bigint is null or lifecycle_stage_id = $1)
         order by position, lifecycle_stage_id",
    )
    .bind(scope.lifecycle_stage)
    .fetch_all(pool)
    .await?;
    Ok(Breakdown {
        grouping: Grouping::LifecycleStage,
        names: names.into_iter().map(|(id, n)| (Some(id), n)).collect(),
        none_name: "No stage",
    })
}

/// The VIP breakdown: VIP (id 1) and not VIP (id 0) customers' tickets.
fn vip_breakdown(scope: &Scope) -> Breakdown {
    Breakdown {
        grouping: Grouping::Vip,
        names: [(true, "VIP"), (false, "Not VIP")]
            .into_iter()
            .filter(|(v, _)| scope.vip.is_none_or(|s| s == *v))
            .map(|(v, n)| (Some(i64::from(v)), n.to_string()))
            .collect(),
        none_name: "Not VIP",
    }
}

/// The one breakdown of `groups` for a single [`Breakdown`].
async fn single(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    b: Breakdown,
) -> sqlx::Result<Vec<GroupRow>> {
    Ok(groups(pool, scope, period, vec![b])
        .await?
        .pop()
        .unwrap_or_default())
}

/// The two breakdowns of `groups` for two [`Breakdown`]s, from the same passes.
async fn pair(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    a: Breakdown,
    b: Breakdown,
) -> sqlx::Result<(Vec<GroupRow>, Vec<GroupRow>)> {
    let mut rows = groups(pool, scope, period, vec![a, b]).await?.into_iter();
    Ok((
        rows.next().unwrap_or_default(),
        rows.next().unwrap_or_default(),
    ))
}

/// Per mailbox the scope may see (by address), then tickets of no listed mailbox.
pub async fn mailboxes(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<Vec<GroupRow>> {
    let b = mailbox_breakdown(pool, scope).await?;
    single(pool, scope, period, b).await
}

/// Per team (by name; only the filtered one with a `team` filter), then "No team".
pub async fn teams(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Vec<GroupRow>> {
    let b = team_breakdown(pool, scope).await?;
    single(pool, scope, period, b).await
}

/// [`mailboxes`] and [`teams`] from the same passes over the facts.
pub async fn mailboxes_and_teams(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<(Vec<GroupRow>, Vec<GroupRow>)> {
    let (m, t) = tokio::try_join!(mailbox_breakdown(pool, scope), team_breakdown(pool, scope))?;
    pair(pool, scope, period, m, t).await
}

/// Per lifecycle stage (in the stages' order), then "No stage"; and VIP (id 1) and not VIP
/// (id 0) customers' tickets: both from the same passes over the facts.
pub async fn customers(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<(Vec<GroupRow>, Vec<GroupRow>)> {
    let stages = stage_breakdown(pool, scope).await?;
    pair(pool, scope, period, stages, vip_breakdown(scope)).await
}

// ---------------------------------------------------------------------------------------
// Tags

/// How the tag trend is bucketed: per local day for periods up to 31 days, else per ISO
/// week (Monday first; the first and last week may be partial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    Week,
}

impl Bucket {
    /// The bucket of a period.
    pub fn of(period: &Period) -> Bucket {
        if period.days() <= 31 {
            Bucket::Day
        } else {
            Bucket::Week
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }

    /// The first local date of each bucket of `period` (`YYYY-MM-DD`): every date, or the
    /// Monday of every week touching the period.
    pub fn starts(self, period: &Period) -> Vec<jiff::civil::Date> {
        let dates = period.dates().into_iter().map(|(d, _, _)| d);
        match self {
            Bucket::Day => dates.collect(),
            Bucket::Week => {
                let mut out: Vec<jiff::civil::Date> = Vec::new();
                for d in dates {
                    let monday = d
                        .checked_sub(
                            jiff::Span::new().days(i64::from(d.weekday().to_monday_zero_offset())),
                        )
                        .unwrap_or(d);
                    if out.last() != Some(&monday) {
                        out.push(monday);
                    }
                }
                out
            }
        }
    }
}

/// One tag's figures (`GET /api/v1/analytics/tags`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagFigures {
    pub tag: String,
    /// Tickets created in the period that carry the tag now.
    pub created: i64,
    /// The same for the previous period.
    pub previous_created: i64,
    /// `created - previous_created`.
    pub change: i64,
    /// `change / previous_created`, percent with one decimal; `null` when the previous
    /// period had none.
    pub growth_percent: Option<f64>,
    /// Tickets created per bucket ([`TagReport::buckets`]), same order.
    pub trend: Vec<i64>,
    /// Time to resolve: the resolutions (closes after a person's reply) closed in the period,
    /// from the stored `ticket_resolution` values (seconds).
    pub resolution: Dur,
    /// The previous period's median time to resolve (calendar seconds).
    pub previous_resolution_median_s: Option<f64>,
}

/// The Tags page and API: every tag with tickets created or resolved in either period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagReport {
    pub bucket: Bucket,
    /// The first local date of each trend bucket (`YYYY-MM-DD`).
    pub buckets: Vec<String>,
    /// By volume (most first), then name.
    pub tags: Vec<TagFigures>,
    /// Tags with more tickets than in the previous period, by growth: the change first, then
    /// the percent (new tags, with none before, first among equal changes), then name.
    pub rising: Vec<String>,
}

/// Tag figures of `period`: three grouped queries (volume of both periods, trend, time to
/// resolve) plus the previous period's resolution, all at once. A fact's tags are the copy of
/// its ticket's tag ids it carries (`ticket_tag_ids`, kept equal to `ticket_tag` by triggers,
/// migration 20261209000000), not a join with `ticket_tag`.
pub async fn tags(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<TagReport> {
    let prev = period.previous();
    let bucket = Bucket::of(period);
    // $9..$10 this period, $11 the previous period's start.
    let volume = async {
        bind_scope!(
            sqlx::query_as::<_, (i64, String, i64, i64)>(&format!(
                "select g.tag_id, g.name,
                    count(*) filter (where m.created_at >= $9),
                    count(*) filter (where m.created_at < $9)
             from ticket_metric m {TICKET_OF_M}
             cross join unnest(m.ticket_tag_ids) tt(tag_id) join tag g on g.tag_id = tt.tag_id
             where {SCOPE_M} and m.created_at >= $11 and m.created_at < $10
             group by 1, 2"
            )),
            scope
        )
        .bind(period.start())
        .bind(period.end())
        .bind(prev.start())
        .fetch_all(pool)
        .await
    };
    let trend = async {
        bind_scope!(
            sqlx::query_as::<_, (i64, time::Date, i64)>(&format!(
                "select tt.tag_id, date_trunc($12, m.created_at at time zone $11)::date, count(*)
             from ticket_metric m {TICKET_OF_M}
             cross join unnest(m.ticket_tag_ids) tt(tag_id)
             where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10
             group by 1, 2"
            )),
            scope
        )
        .bind(period.start())
        .bind(period.end())
        .bind(period.tz_name.clone())
        .bind(bucket.as_str())
        .fetch_all(pool)
        .await
    };
    let resolution = |start: OffsetDateTime, end: OffsetDateTime| {
        let scope = scope.clone();
        async move {
            bind_scope!(
                sqlx::query_as::<_, (i64, String, i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>)>(
                    &format!(
                        "select g.tag_id, g.name, {}
                         from ticket_resolution r {TICKET_OF_R}
                         cross join unnest(r.ticket_tag_ids) tt(tag_id) join tag g on g.tag_id = tt.tag_id
                         where {SCOPE_R} and r.replied and r.closed_at >= $9 and r.closed_at < $10
                         group by 1, 2",
                        dur_columns("r.resolution_s", "r.resolution_business_s", "")
                    )
                ),
                scope
            )
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await
        }
    };
    // The four queries on four connections at once.
    let (volume, trend, res_now, res_prev) = tokio::try_join!(
        volume,
        trend,
        resolution(period.start(), period.end()),
        resolution(prev.start(), prev.end())
    )?;

    let starts = bucket.starts(period);
    let buckets: Vec<String> = starts.iter().map(ToString::to_string).collect();
    let mut rows: BTreeMap<i64, TagFigures> = BTreeMap::new();
    let blank = |name: &str| TagFigures {
        tag: name.to_string(),
        created: 0,
        previous_created: 0,
        change: 0,
        growth_percent: None,
        trend: vec![0; buckets.len()],
        resolution: Dur::default(),
        previous_resolution_median_s: None,
    };
    for (id, name, now, before) in volume {
        let r = rows.entry(id).or_insert_with(|| blank(&name));
        r.created = now;
        r.previous_created = before;
    }
    for r in &res_now {
        let row = rows.entry(r.0).or_insert_with(|| blank(&r.1));
        row.resolution = Dur::from((r.2, r.3, r.4, r.5, r.6, r.7, r.8));
    }
    for r in &res_prev {
        let row = rows.entry(r.0).or_insert_with(|| blank(&r.1));
        row.previous_resolution_median_s = Dur::from((r.2, r.3, r.4, r.5, r.6, r.7, r.8))
            .calendar
            .median_s;
    }
    // time's and jiff's dates both print as YYYY-MM-DD.
    for (id, day, n) in trend {
        let day = day.to_string();
        if let (Some(row), Some(i)) = (rows.get_mut(&id), buckets.iter().position(|b| *b == day)) {
            row.trend[i] = n;
        }
    }
    let mut tags: Vec<TagFigures> = rows
        .into_values()
        .map(|mut r| {
            r.change = r.created - r.previous_created;
            r.growth_percent = (r.previous_created > 0)
                .then(|| percent(r.change, r.previous_created))
                .flatten();
            r
        })
        .collect();
    tags.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.tag.to_lowercase().cmp(&b.tag.to_lowercase()))
    });
    let mut rising: Vec<&TagFigures> = tags.iter().filter(|t| t.change > 0).collect();
    rising.sort_by(|a, b| {
        b.change
            .cmp(&a.change)
            .then_with(|| {
                let g = |t: &TagFigures| t.growth_percent.unwrap_or(f64::INFINITY);
                g(b).total_cmp(&g(a))
            })
            .then_with(|| a.tag.to_lowercase().cmp(&b.tag.to_lowercase()))
    });
    let rising = rising.into_iter().map(|t| t.tag.clone()).collect();
    Ok(TagReport {
        bucket,
        buckets,
        tags,
        rising,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_grouping_bits_name_its_grouping_set() {
        // grouping(a) is 0 for every row of a single grouping.
        assert_eq!(set_of(0, 1), 0);
        // grouping(a, b): 0b01 when b is aggregated away (the set of a), 0b10 for b's set.
        assert_eq!(set_of(0b01, 2), 0);
        assert_eq!(set_of(0b10, 2), 1);
        let (select, by) = grouping_sql(&[Grouping::Mailbox, Grouping::Team]);
        assert_eq!(
            select,
            "t.mailbox_id as g0, t.team_id as g1, grouping(t.mailbox_id, t.team_id)"
        );
        assert_eq!(by, "grouping sets ((t.mailbox_id), (t.team_id))");
    }
}
