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
use sqlx::PgPool;
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

type KeyDur = (
    Option<i64>,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

type KeyCountDur = (
    Option<i64>,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn dur_of(r: &KeyDur) -> Dur {
    let row: DurRow = (r.1, r.2, r.3, r.4, r.5, r.6, r.7);
    Dur::from(row)
}

/// Per group the figures of `[start, end)`: five grouped queries, run at once.
pub async fn group_figures(
    pool: &PgPool,
    scope: &Scope,
    start: OffsetDateTime,
    end: OffsetDateTime,
    g: Grouping,
) -> sqlx::Result<BTreeMap<Option<i64>, GroupFigures>> {
    let key = g.key();
    // Five independent grouped queries, each on its own pooled connection at once.
    let created = async {
        bind_scope!(
            sqlx::query_as::<_, (Option<i64>, i64)>(&format!(
                "select {key}, count(*)
                 from ticket_metric m {TICKET_OF_M}
                 where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10
                 group by 1"
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let fr = async {
        bind_scope!(
            sqlx::query_as::<_, KeyDur>(&format!(
                "select {key}, {}
                 from ticket_metric m {TICKET_OF_M}
                 where {SCOPE_M} and m.first_response_at >= $9 and m.first_response_at < $10
                 group by 1",
                dur_columns("m.first_response_s", "m.first_response_business_s", "")
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let closes = async {
        bind_scope!(
            sqlx::query_as::<_, KeyCountDur>(&format!(
                "select {key}, count(*), {}
                 from ticket_resolution r {TICKET_OF_R}
                 where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10
                 group by 1",
                dur_columns("r.resolution_s", "r.resolution_business_s", "r.replied")
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let sla = async {
        bind_scope!(
            sqlx::query_as::<_, (Option<i64>, i64, i64)>(&format!(
                "select {key}, count(*) filter (where c.achieved_at is not null),
                        count(*) filter (where c.breached_at is not null)
                 from sla_clock c {TICKET_OF_C}
                 where {SCOPE_C} and (c.achieved_at is not null or c.breached_at is not null)
                   and coalesce(c.achieved_at, c.breached_at) >= $9
                   and coalesce(c.achieved_at, c.breached_at) < $10
                 group by 1"
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let csat = async {
        bind_scope!(
            sqlx::query_as::<_, (Option<i64>, i64, i64, i64, i64)>(&csat_sql(key)),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let (created, fr, closes, sla, csat) = tokio::try_join!(created, fr, closes, sla, csat)?;
    let mut out: BTreeMap<Option<i64>, GroupFigures> = BTreeMap::new();
    for (k, n) in created {
        out.entry(k).or_default().created = n;
    }
    for r in fr {
        out.entry(r.0).or_default().first_response = dur_of(&r);
    }
    for r in closes {
        let e = out.entry(r.0).or_default();
        e.closed = r.1;
        e.resolution = dur_of(&(r.0, r.2, r.3, r.4, r.5, r.6, r.7, r.8));
        e.resolved = e.resolution.count;
    }
    for (k, achieved, breached) in sla {
        out.entry(k).or_default().sla = SlaCounts::new(achieved, breached);
    }
    for (k, sent, good, okay, bad) in csat {
        out.entry(k).or_default().csat = Csat::new(sent, good, okay, bad);
    }
    Ok(out)
}

/// Every group's figures over `period` and the previous period, in the order of `names`
/// (`(id, name)`; groups with figures but no name, such as "no team", come last under
/// `none_name`; named groups without any figure are kept, unnamed ones dropped).
pub async fn groups(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    g: Grouping,
    names: Vec<(Option<i64>, String)>,
    none_name: &str,
) -> sqlx::Result<Vec<GroupRow>> {
    let prev = period.previous();
    // The two periods on two connections at once.
    let (mut cur, mut old) = tokio::try_join!(
        group_figures(pool, scope, period.start(), period.end(), g),
        group_figures(pool, scope, prev.start(), prev.end(), g)
    )?;
    let mut out: Vec<GroupRow> = names
        .into_iter()
        .map(|(id, name)| GroupRow {
            current: cur.remove(&id).unwrap_or_default(),
            previous: old.remove(&id).unwrap_or_default(),
            id,
            name,
        })
        .collect();
    // What is left: the "none" group, and groups the names did not list (a mailbox out of
    // sight cannot be here: the scope already leaves it out).
    let mut rest: Vec<Option<i64>> = cur.keys().chain(old.keys()).copied().collect();
    rest.sort();
    rest.dedup();
    for id in rest {
        if id.is_none() {
            out.push(GroupRow {
                current: cur.remove(&id).unwrap_or_default(),
                previous: old.remove(&id).unwrap_or_default(),
                id,
                name: none_name.to_string(),
            });
        }
    }
    Ok(out)
}

/// Per mailbox the scope may see (by address), then tickets of no listed mailbox.
pub async fn mailboxes(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<Vec<GroupRow>> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select mailbox_id, address from mailbox
         where ($1::bigint[] is null or mailbox_id = any($1)) and ($2::bigint is null or mailbox_id = $2)
         order by lower(address)",
    )
    .bind(scope.visible.clone())
    .bind(scope.mailbox)
    .fetch_all(pool)
    .await?;
    let names = names.into_iter().map(|(id, n)| (Some(id), n)).collect();
    groups(pool, scope, period, Grouping::Mailbox, names, "No mailbox").await
}

/// Per team (by name; only the filtered one with a `team` filter), then "No team".
pub async fn teams(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Vec<GroupRow>> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select team_id, name from team where ($1::bigint is null or team_id = $1)
         order by lower(name)",
    )
    .bind(scope.team)
    .fetch_all(pool)
    .await?;
    let names = names.into_iter().map(|(id, n)| (Some(id), n)).collect();
    groups(pool, scope, period, Grouping::Team, names, "No team").await
}

/// Per lifecycle stage (in the stages' order), then "No stage".
pub async fn lifecycle_stages(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<Vec<GroupRow>> {
    let names: Vec<(i64, String)> = sqlx::query_as(
        "select lifecycle_stage_id, name from lifecycle_stage
         where ($1::bigint is null or lifecycle_stage_id = $1)
         order by position, lifecycle_stage_id",
    )
    .bind(scope.lifecycle_stage)
    .fetch_all(pool)
    .await?;
    let names = names.into_iter().map(|(id, n)| (Some(id), n)).collect();
    groups(
        pool,
        scope,
        period,
        Grouping::LifecycleStage,
        names,
        "No stage",
    )
    .await
}

/// VIP (id 1) and not VIP (id 0) customers' tickets.
pub async fn vip(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Vec<GroupRow>> {
    let names = [(true, "VIP"), (false, "Not VIP")]
        .into_iter()
        .filter(|(v, _)| scope.vip.is_none_or(|s| s == *v))
        .map(|(v, n)| (Some(i64::from(v)), n.to_string()))
        .collect();
    groups(pool, scope, period, Grouping::Vip, names, "Not VIP").await
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
