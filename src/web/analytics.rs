//! The analytics pages (issue #13): `/analytics` (Overview), `/analytics/agents` (Agents),
//! `/analytics/tags` (Tags), `/analytics/mailboxes` (Mailboxes and teams) and
//! `/analytics/customers` (Customers: by lifecycle stage and VIP), with CSV downloads of each
//! chart in its own grouping (`/analytics/daily.csv`, `/analytics/busiest.csv`,
//! `/analytics/agents.csv`, `/analytics/tags.csv`, `/analytics/tag-trend.csv`,
//! `/analytics/mailboxes.csv`, `/analytics/teams.csv`, `/analytics/customers.csv`) and of the
//! tickets (`/analytics/tickets.csv`). Leads and admins see every figure of the mailboxes they may
//! see; an agent sees their own (tickets assigned to them). Parameters are the API's
//! ([`super::api::analytics::AnalyticsQuery`]).
//!
//! Charts are SVG drawn here (numbers only, no user text inside), each with its numbers in a
//! table beside it. Every figure shows the previous period's value and a definition one click
//! away (`<details>`); counts link to the inbox with the filters it supports (mailbox, tag,
//! assignee, priority, lifecycle stage, VIP; it has no date, team or "not VIP" filter, so
//! those links show the tickets of the other filters).

use std::fmt::Write as _;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::api::analytics::{AnalyticsQuery, Resolved, csv_response, resolve};
use super::page::{PageError, render};
use super::session::CurrentAgent;
use crate::analytics::breakdown::{self, GroupRow};
use crate::analytics::queries::{self, AgentFigures, Day, Dur, Figures, SlaCounts};
use crate::analytics::{Period, Scope, csv};
use crate::auth::Agent;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics", get(show_overview))
        .route("/analytics/agents", get(show_agents))
        .route("/analytics/daily.csv", get(daily_csv))
        .route("/analytics/busiest.csv", get(busiest_csv))
        .route("/analytics/agents.csv", get(agents_csv))
        .route("/analytics/tickets.csv", get(tickets_csv))
        .route("/analytics/tags", get(show_tags))
        .route("/analytics/tags.csv", get(tags_csv))
        .route("/analytics/tag-trend.csv", get(tag_trend_csv))
        .route("/analytics/mailboxes", get(show_mailboxes))
        .route("/analytics/mailboxes.csv", get(mailboxes_csv))
        .route("/analytics/teams.csv", get(teams_csv))
        .route("/analytics/customers", get(show_customers))
        .route("/analytics/customers.csv", get(customers_csv))
}

/// Definitions shown beside the figures (the same words as `analytics::metrics`).
mod def {
    pub const CREATED: &str = "Tickets created in the period (by their first mail's receipt at our server). Spam, tickets merged into another and list or bulk mail nobody answered are left out of every figure.";
    pub const CLOSED: &str =
        "Closes in the period, with or without a reply; a ticket closed twice counts twice.";
    pub const REOPENED: &str = "Closed tickets that became open, pending or snoozed again in the period (a customer's reply, an agent).";
    pub const RESOLVED: &str = "Closes in the period after at least one reply written by a person. A close without any reply is \"closed, no reply needed\" and counts only in Closed.";
    pub const UNANSWERED: &str = "Tickets created in the period that no person has replied to yet and that are not closed (now).";
    pub const FIRST_RESPONSE: &str = "From the ticket's creation to the first reply written by a person (notes, automatic and rule-sent mail do not count), leaving out time pending or closed. Breached tickets and tickets without SLA are included. Counted in the period of the reply. Median and p90 (linear interpolation), mean. Business: only the open hours of the calendar named.";
    pub const RESOLUTION: &str = "From the ticket's creation to a close after a person's reply, leaving out time pending (waiting on the customer) or closed before a reopen. Each resolution counts in the period of its close; a reopened and closed-again ticket counts again. Business: only the open hours of the calendar named.";
    pub const SLA: &str = "SLA clocks that ended in the period (achieved or breached, by the instant of the result), on tickets with an SLA policy; percent achieved of those.";
    pub const CSAT: &str = "Surveys sent in the period (one per resolution, on mailboxes with CSAT on; never for spam, list or automated mail, merged tickets or closes without a reply) and answers given in the period (a changed answer counts once, when it was last given). Satisfied: good answers of all answers. Great − Not good (Help Scout): (good − bad) / answers, in points from −100 to 100. Response rate: answers / surveys sent. Agents: the assignee when the ticket was resolved.";
    pub const BACKLOG: &str =
        "Tickets not closed at the end of each day (created by then and counted).";
    pub const BUSIEST: &str = "Tickets created per weekday and hour, in the time zone shown.";
    pub const TAGS: &str = "Tags are counted on each ticket as it is now. Created: tickets created in the period that carry the tag (a ticket with two tags counts for both); previous: the same for the period of as many days just before; change and growth against it. Trend: created per local day (periods up to 31 days) or per week from Monday. Time to resolve: resolutions (closes after a person's reply) closed in the period, from creation to the close, leaving out time pending or closed before a reopen; median and p90 (linear interpolation). Rising: tags with more tickets than in the previous period, the largest change first. Spam, merged tickets and list or bulk mail nobody answered are left out.";
    pub const GROUPS: &str = "Each ticket counts in its mailbox and team as they are now. Created, closed, resolved, first response and resolution time, SLA and CSAT as on the Overview: a figure falls in the period of its ending event; medians in calendar (and business) time; SLA %: clocks of every kind (first response, next response, resolution) that ended in the period, percent achieved; CSAT: percent satisfied (good of answers given in the period) with the number of answers. Previous: the period of as many days just before.";
    pub const CUSTOMERS: &str = "Each ticket counts by its customer as they are now: the customer's own lifecycle stage and VIP flag, else their company's. \"No stage\": neither has a stage; \"Not VIP\" includes tickets without a customer. Figures as on the Overview: a figure falls in the period of its ending event; SLA %: clocks of every kind that ended in the period; CSAT: percent satisfied with the number of answers. Previous: the period of as many days just before.";
    pub const WORKLOAD: &str = "Tickets assigned to the agent now and not closed (open, pending, snoozed), whatever the period.";
}

/// The query string of the page's parameters, with `replace` set (empty values dropped).
fn query_string(q: &AnalyticsQuery, replace: &[(&str, &str)]) -> String {
    let fields = [
        ("from", &q.from),
        ("to", &q.to),
        ("tz", &q.tz),
        ("mailbox", &q.mailbox),
        ("team", &q.team),
        ("agent", &q.agent),
        ("tag", &q.tag),
        ("priority", &q.priority),
        ("lifecycle_stage", &q.lifecycle_stage),
        ("vip", &q.vip),
    ];
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        let v = replace
            .iter()
            .find(|(rk, _)| *rk == k)
            .map(|(_, rv)| rv.to_string())
            .or_else(|| v.clone())
            .unwrap_or_default();
        if !v.trim().is_empty() {
            out.append_pair(k, v.trim());
        }
    }
    out.finish()
}

/// An inbox URL with the scope's filters the inbox supports.
fn inbox_href(folder: &str, scope: &Scope) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    out.append_pair("folder", folder);
    if let Some(m) = scope.mailbox {
        out.append_pair("mailbox", &m.to_string());
    }
    if let Some(t) = &scope.tag {
        out.append_pair("tag", t);
    }
    if let Some(a) = scope.agent {
        out.append_pair("assignee", &a.to_string());
    }
    if let Some(p) = scope.priority {
        out.append_pair("priority", p.as_str());
    }
    if let Some(s) = scope.lifecycle_stage {
        out.append_pair("stage", &s.to_string());
    }
    if scope.vip == Some(true) {
        out.append_pair("vip", "yes");
    }
    format!("/inbox?{}", out.finish())
}

/// A duration for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h"; "—" when absent.
pub fn human(s: Option<f64>) -> String {
    let Some(s) = s else {
        return "—".to_string();
    };
    let s = s.round() as i64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86400 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {} h", s / 86400, (s % 86400) / 3600)
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "—".to_string(), |p| format!("{p}%"))
}

/// One count with its previous value.
struct Stat {
    id: &'static str,
    label: &'static str,
    value: i64,
    previous: i64,
    href: String,
    definition: &'static str,
}

/// One duration figure (calendar and business) with the previous period's.
struct DurView {
    id: &'static str,
    label: &'static str,
    count: i64,
    previous_count: i64,
    median: String,
    p90: String,
    mean: String,
    business_median: String,
    business_p90: String,
    business_mean: String,
    previous_median: String,
    previous_business_median: String,
    previous_p90: String,
    definition: &'static str,
}

impl DurView {
    fn new(
        id: &'static str,
        label: &'static str,
        d: &Dur,
        prev: &Dur,
        definition: &'static str,
    ) -> DurView {
        DurView {
            id,
            label,
            count: d.count,
            previous_count: prev.count,
            median: human(d.calendar.median_s),
            p90: human(d.calendar.p90_s),
            mean: human(d.calendar.mean_s),
            business_median: human(d.business.median_s),
            business_p90: human(d.business.p90_s),
            business_mean: human(d.business.mean_s),
            previous_median: human(prev.calendar.median_s),
            previous_business_median: human(prev.business.median_s),
            previous_p90: human(prev.calendar.p90_s),
            definition,
        }
    }
}

struct SlaView {
    label: &'static str,
    achieved: i64,
    breached: i64,
    percent: String,
    previous: String,
}

impl SlaView {
    fn new(label: &'static str, c: &SlaCounts, p: &SlaCounts) -> SlaView {
        SlaView {
            label,
            achieved: c.achieved,
            breached: c.breached,
            percent: pct(c.percent),
            previous: pct(p.percent),
        }
    }
}

/// The CSAT figures as the Overview shows them, with the previous period's.
struct CsatView {
    sent: i64,
    responses: i64,
    good: i64,
    okay: i64,
    bad: i64,
    satisfied: String,
    net: String,
    response_rate: String,
    previous_satisfied: String,
    previous_net: String,
    previous_responses: i64,
}

impl CsatView {
    fn new(c: &queries::Csat, p: &queries::Csat) -> CsatView {
        let points = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:+}"));
        CsatView {
            sent: c.sent,
            responses: c.responses,
            good: c.good,
            okay: c.okay,
            bad: c.bad,
            satisfied: pct(c.percent_satisfied),
            net: points(c.net),
            response_rate: pct(c.response_rate),
            previous_satisfied: pct(p.percent_satisfied),
            previous_net: points(p.net),
            previous_responses: p.responses,
        }
    }
}

/// A choice of a filter's select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A date preset of the sidebar: its label, its link, whether it is the period shown.
struct Preset {
    label: &'static str,
    href: String,
    active: bool,
}

/// One weekday's row of the busiest-hours table.
struct BusiestRow {
    day: &'static str,
    counts: Vec<i64>,
}

/// The filter form and the period, shared by both pages.
struct Filters {
    from: String,
    to: String,
    tz: String,
    tag: String,
    mailboxes: Vec<Choice>,
    teams: Vec<Choice>,
    /// Empty for agents (they see their own figures only).
    agents: Vec<Choice>,
    priorities: Vec<Choice>,
    lifecycle_stages: Vec<Choice>,
    vip: Vec<Choice>,
    presets: Vec<Preset>,
    previous: String,
    /// `?...` of the current parameters, for links between the pages and to CSVs.
    qs: String,
}

async fn filters(
    state: &AppState,
    who: &CurrentAgent,
    q: &AnalyticsQuery,
    r: &Resolved,
) -> Result<Filters, PageError> {
    let pool = &state.pool;
    let selected = |given: &Option<String>, value: &str, alt: &str| {
        given
            .as_deref()
            .map(str::trim)
            .is_some_and(|g| g.eq_ignore_ascii_case(value) || g.eq_ignore_ascii_case(alt))
    };
    let mailboxes: Vec<(i64, String)> = sqlx::query_as(
        "select mailbox_id, address from mailbox where ($1::bigint[] is null or mailbox_id = any($1))
         order by lower(address)",
    )
    .bind(who.visible.clone())
    .fetch_all(pool)
    .await
    .map_err(crate::web::AppError::from)?;
    let teams: Vec<String> = sqlx::query_scalar("select name from team order by lower(name)")
        .fetch_all(pool)
        .await
        .map_err(crate::web::AppError::from)?;
    let agents: Vec<(String, String)> = if who.agent.sees_all_mailboxes() {
        sqlx::query_as(
            "select email, name from agent where disabled_at is null order by lower(name)",
        )
        .fetch_all(pool)
        .await
        .map_err(crate::web::AppError::from)?
    } else {
        Vec::new()
    };
    let stages: Vec<(i64, String)> = sqlx::query_as(
        "select lifecycle_stage_id, name from lifecycle_stage order by position, lifecycle_stage_id",
    )
    .fetch_all(pool)
    .await
    .map_err(crate::web::AppError::from)?;
    let p = &r.period;
    let today = Period::today_in(&p.tz_name);
    let days_back = |n: i64| {
        today
            .checked_sub(jiff::Span::new().days(n - 1))
            .unwrap_or(today)
    };
    let first_of_month = today.first_of_month();
    let last_month_end = first_of_month.yesterday().unwrap_or(first_of_month);
    let presets: Vec<(&str, jiff::civil::Date, jiff::civil::Date)> = vec![
        ("Last 7 days", days_back(7), today),
        ("Last 30 days", days_back(30), today),
        ("Last 90 days", days_back(90), today),
        ("This month", first_of_month, today),
        (
            "Last month",
            last_month_end.first_of_month(),
            last_month_end,
        ),
        ("Last 12 months", days_back(365), today),
    ];
    let prev = p.previous();
    Ok(Filters {
        from: p.from.to_string(),
        to: p.to.to_string(),
        tz: p.tz_name.clone(),
        tag: q.tag.clone().unwrap_or_default(),
        mailboxes: mailboxes
            .into_iter()
            .map(|(id, a)| Choice {
                selected: selected(&q.mailbox, &id.to_string(), &a),
                value: id.to_string(),
                label: a,
            })
            .collect(),
        teams: teams
            .into_iter()
            .map(|t| Choice {
                selected: selected(&q.team, &t, &t),
                value: t.clone(),
                label: t,
            })
            .collect(),
        agents: agents
            .into_iter()
            .map(|(e, n)| Choice {
                selected: selected(&q.agent, &e, &e),
                value: e,
                label: n,
            })
            .collect(),
        priorities: crate::tickets::Priority::ALL
            .iter()
            .map(|pr| Choice {
                selected: selected(&q.priority, pr.as_str(), pr.as_str()),
                value: pr.as_str().to_string(),
                label: pr.as_str().to_string(),
            })
            .collect(),
        lifecycle_stages: stages
            .into_iter()
            .map(|(id, name)| Choice {
                selected: r.scope.lifecycle_stage == Some(id),
                value: name.clone(),
                label: name,
            })
            .collect(),
        vip: [("yes", "VIP", true), ("no", "Not VIP", false)]
            .into_iter()
            .map(|(value, label, v)| Choice {
                selected: r.scope.vip == Some(v),
                value: value.to_string(),
                label: label.to_string(),
            })
            .collect(),
        presets: presets
            .into_iter()
            .map(|(label, f, t)| {
                let f = f.to_string();
                let t = t.to_string();
                let active = f == p.from.to_string() && t == p.to.to_string();
                Preset {
                    label,
                    href: format!("?{}", query_string(q, &[("from", &f), ("to", &t)])),
                    active,
                }
            })
            .collect(),
        previous: format!("{} – {}", prev.from, prev.to),
        qs: format!(
            "?{}",
            query_string(
                q,
                &[
                    ("from", &p.from.to_string()),
                    ("to", &p.to.to_string()),
                    ("tz", &p.tz_name)
                ]
            )
        ),
    })
}

// ---------------------------------------------------------------------------------------
// SVG charts: numbers only.

/// Bars of created and closed per day, and the backlog as a line.
fn daily_svg(days: &[Day]) -> String {
    let (w, h, pad) = (720.0_f64, 200.0_f64, 24.0_f64);
    let max_bar = days
        .iter()
        .map(|d| d.created.max(d.closed))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let max_line = days.iter().map(|d| d.backlog).max().unwrap_or(0).max(1) as f64;
    let n = days.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let bar = (slot / 2.0 - 1.0).max(0.5);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="daily-title"><title id="daily-title">Created (blue) and closed (green) per day; backlog (line, right scale)</title>"#
    );
    let _ = write!(
        s,
        r#"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" class="axis"/>"#,
        y = h - pad,
        x2 = w - pad
    );
    let mut line = String::new();
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * slot;
        let hc = (h - 2.0 * pad) * d.created as f64 / max_bar;
        let hd = (h - 2.0 * pad) * d.closed as f64 / max_bar;
        let _ = write!(
            s,
            r#"<rect class="bar-created" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{hc:.1}"><title>{}: {} created</title></rect>"#,
            h - pad - hc,
            d.date,
            d.created
        );
        let _ = write!(
            s,
            r#"<rect class="bar-closed" x="{:.1}" y="{:.1}" width="{bar:.1}" height="{hd:.1}"><title>{}: {} closed</title></rect>"#,
            x + bar + 1.0,
            h - pad - hd,
            d.date,
            d.closed
        );
        let ly = h - pad - (h - 2.0 * pad) * d.backlog as f64 / max_line;
        let _ = write!(line, "{:.1},{ly:.1} ", x + slot / 2.0);
    }
    let _ = write!(
        s,
        r#"<polyline class="line-backlog" points="{}"/>"#,
        line.trim()
    );
    let _ = write!(
        s,
        r#"<text x="{pad}" y="14" class="axis-label">max {} / day</text><text x="{}" y="14" class="axis-label" text-anchor="end">backlog max {}</text>"#,
        max_bar as i64,
        w - pad,
        max_line as i64
    );
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            s,
            r#"<text x="{pad}" y="{}" class="axis-label">{}</text><text x="{}" y="{}" class="axis-label" text-anchor="end">{}</text>"#,
            h - 6.0,
            first.date,
            w - pad,
            h - 6.0,
            last.date
        );
    }
    s.push_str("</svg>");
    s
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The weekday × hour grid as shaded cells.
fn busiest_svg(grid: &[[i64; 24]; 7], tz: &str) -> String {
    let max = grid.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let (cell, left, top) = (26.0_f64, 40.0_f64, 18.0_f64);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="busiest-title"><title id="busiest-title">Tickets created per weekday and hour ({tz})</title>"#,
        left + 24.0 * cell,
        top + 7.0 * cell
    );
    for hour in (0..24).step_by(3) {
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="12" class="axis-label">{hour:02}</text>"#,
            left + hour as f64 * cell + 4.0
        );
    }
    for (d, row) in grid.iter().enumerate() {
        let y = top + d as f64 * cell;
        let _ = write!(
            s,
            r#"<text x="0" y="{:.0}" class="axis-label">{}</text>"#,
            y + cell * 0.65,
            WEEKDAYS[d]
        );
        for (hour, n) in row.iter().enumerate() {
            let _ = write!(
                s,
                r#"<rect class="heat" x="{:.0}" y="{y:.0}" width="{:.0}" height="{:.0}" fill-opacity="{:.2}"><title>{} {hour:02}:00: {n}</title></rect>"#,
                left + hour as f64 * cell,
                cell - 2.0,
                cell - 2.0,
                0.06 + 0.94 * (*n as f64 / max),
                WEEKDAYS[d]
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Open tickets per agent as horizontal bars.
fn workload_svg(rows: &[AgentFigures]) -> String {
    let max = rows.iter().map(|r| r.open_now).max().unwrap_or(0).max(1) as f64;
    let (w, row_h) = (480.0_f64, 22.0_f64);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-labelledby="workload-title"><title id="workload-title">Open tickets per agent now</title>"#,
        row_h * rows.len().max(1) as f64
    );
    for (i, r) in rows.iter().enumerate() {
        let bw = (w - 60.0) * r.open_now as f64 / max;
        let _ = write!(
            s,
            r#"<rect class="bar-created" x="0" y="{:.0}" width="{bw:.1}" height="{:.0}"><title>{}</title></rect><text x="{:.1}" y="{:.0}" class="axis-label">{}</text>"#,
            i as f64 * row_h + 2.0,
            row_h - 6.0,
            r.open_now,
            bw + 4.0,
            i as f64 * row_h + row_h * 0.65,
            r.open_now
        );
    }
    s.push_str("</svg>");
    s
}

// ---------------------------------------------------------------------------------------
// Overview

#[derive(Template)]
#[template(path = "analytics/overview.html")]
struct OverviewPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    filters: Filters,
    own_only: bool,
    stats: Vec<Stat>,
    durations: Vec<DurView>,
    calendars: String,
    sla: Vec<SlaView>,
    sla_definition: &'static str,
    csat: CsatView,
    csat_definition: &'static str,
    backlog_definition: &'static str,
    busiest_definition: &'static str,
    days: Vec<Day>,
    daily_svg: String,
    busiest_svg: String,
    busiest_rows: Vec<BusiestRow>,
    /// `00` … `23`, the grid's column heads.
    hours: Vec<String>,
    tz: String,
}

async fn page_parts(
    state: &AppState,
    who: &CurrentAgent,
    q: &AnalyticsQuery,
) -> Result<(Resolved, Filters, i64), PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), q).await?;
    let f = filters(state, who, q, &r).await?;
    let unread = crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id)
        .await
        .map_err(crate::web::AppError::from)?;
    Ok((r, f, unread))
}

async fn show_overview(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let (r, filters, unread) = page_parts(&state, &who, &q).await?;
    let pool = &state.reports;
    // Independent reads: at once, on separate pooled connections.
    let (overview, calendars) = tokio::try_join!(
        queries::overview(pool, &r.scope, &r.period),
        queries::calendars(pool, &r.scope, &r.period),
    )
    .map_err(crate::web::AppError::from)?;
    let queries::Overview {
        summary,
        days,
        grid,
    } = overview;
    let (c, p): (&Figures, &Figures) = (&summary.current, &summary.previous);
    let all = inbox_href("all", &r.scope);
    let stats = vec![
        Stat {
            id: "created",
            label: "Created",
            value: c.created,
            previous: p.created,
            href: all.clone(),
            definition: def::CREATED,
        },
        Stat {
            id: "closed",
            label: "Closed",
            value: c.closed,
            previous: p.closed,
            href: inbox_href("closed", &r.scope),
            definition: def::CLOSED,
        },
        Stat {
            id: "reopened",
            label: "Reopened",
            value: c.reopened,
            previous: p.reopened,
            href: all.clone(),
            definition: def::REOPENED,
        },
        Stat {
            id: "resolved",
            label: "Resolved",
            value: c.resolved,
            previous: p.resolved,
            href: inbox_href("closed", &r.scope),
            definition: def::RESOLVED,
        },
        Stat {
            id: "unanswered",
            label: "Unanswered",
            value: c.unanswered,
            previous: p.unanswered,
            href: inbox_href("open", &r.scope),
            definition: def::UNANSWERED,
        },
    ];
    let durations = vec![
        DurView::new(
            "first-response",
            "First response time",
            &c.first_response,
            &p.first_response,
            def::FIRST_RESPONSE,
        ),
        DurView::new(
            "resolution",
            "Resolution time",
            &c.resolution,
            &p.resolution,
            def::RESOLUTION,
        ),
    ];
    let sla = vec![
        SlaView::new(
            "First response",
            &c.sla.first_response,
            &p.sla.first_response,
        ),
        SlaView::new("Next response", &c.sla.next_response, &p.sla.next_response),
        SlaView::new("Resolution", &c.sla.resolution, &p.sla.resolution),
    ];
    Ok(render(&OverviewPage {
        unread_notifications: unread,
        section: "overview",
        own_only: !who.agent.sees_all_mailboxes(),
        stats,
        durations,
        calendars: if calendars.is_empty() {
            crate::analytics::metrics::ALWAYS.to_string()
        } else {
            calendars.join(", ")
        },
        sla,
        sla_definition: def::SLA,
        csat: CsatView::new(&c.csat, &p.csat),
        csat_definition: def::CSAT,
        backlog_definition: def::BACKLOG,
        busiest_definition: def::BUSIEST,
        daily_svg: daily_svg(&days),
        days,
        busiest_svg: busiest_svg(&grid, &r.period.tz_name),
        busiest_rows: WEEKDAYS
            .iter()
            .zip(grid.iter())
            .map(|(d, row)| BusiestRow {
                day: d,
                counts: row.to_vec(),
            })
            .collect(),
        hours: (0..24).map(|h| format!("{h:02}")).collect(),
        tz: r.period.tz_name.clone(),
        filters,
        me: who.agent,
    })?
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Agents

struct AgentRow {
    name: String,
    email: String,
    assigned: i64,
    replies: i64,
    closed: i64,
    first_response: String,
    first_response_business: String,
    resolution: String,
    sla: String,
    /// "80% (5)": percent satisfied and answers, or "—".
    csat: String,
    open_now: i64,
    inbox: String,
    overloaded: bool,
}

#[derive(Template)]
#[template(path = "analytics/agents.html")]
struct AgentsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    filters: Filters,
    own_only: bool,
    rows: Vec<AgentRow>,
    workload_svg: String,
    workload_definition: &'static str,
    average_open: String,
}

async fn show_agents(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let (r, filters, unread) = page_parts(&state, &who, &q).await?;
    let figures = queries::agents(&state.reports, &r.scope, &r.period, r.scope.agent)
        .await
        .map_err(crate::web::AppError::from)?;
    let avg = if figures.is_empty() {
        0.0
    } else {
        figures.iter().map(|f| f.open_now).sum::<i64>() as f64 / figures.len() as f64
    };
    let rows = figures
        .iter()
        .map(|f| AgentRow {
            name: f.name.clone(),
            email: f.email.clone(),
            assigned: f.assigned,
            replies: f.replies,
            closed: f.closed,
            first_response: human(f.first_response.calendar.median_s),
            first_response_business: human(f.first_response.business.median_s),
            resolution: human(f.resolution.calendar.median_s),
            sla: pct(f.sla_percent),
            csat: match f.csat.responses {
                0 => "—".to_string(),
                n => format!("{} ({n})", pct(f.csat.percent_satisfied)),
            },
            open_now: f.open_now,
            inbox: format!("/inbox?folder=open&assignee={}", f.agent_id),
            // Half again the team's average, and at least 5 more than it.
            overloaded: f.open_now as f64 > avg * 1.5 && f.open_now as f64 >= avg + 5.0,
        })
        .collect();
    Ok(render(&AgentsPage {
        unread_notifications: unread,
        section: "agents",
        own_only: !who.agent.sees_all_mailboxes(),
        rows,
        workload_svg: workload_svg(&figures),
        workload_definition: def::WORKLOAD,
        average_open: format!("{avg:.1}"),
        filters,
        me: who.agent,
    })?
    .into_response())
}

// ---------------------------------------------------------------------------------------
// CSV downloads (session)

async fn daily_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let days = queries::daily(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let mut out = csv::line(&["date", "created", "closed", "reopened", "backlog"]);
    for d in days {
        out.push_str(&csv::line(&[
            d.date,
            d.created.to_string(),
            d.closed.to_string(),
            d.reopened.to_string(),
            d.backlog.to_string(),
        ]));
    }
    Ok(csv_response(
        &format!("daily-{}-{}.csv", r.period.from, r.period.to),
        out,
    ))
}

async fn busiest_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let grid = queries::busiest(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let mut header = vec!["weekday".to_string()];
    header.extend((0..24).map(|h| format!("{h:02}")));
    let mut out = csv::line(&header);
    for (d, row) in WEEKDAYS.iter().zip(grid.iter()) {
        let mut cells = vec![d.to_string()];
        cells.extend(row.iter().map(i64::to_string));
        out.push_str(&csv::line(&cells));
    }
    Ok(csv_response(
        &format!("busiest-{}-{}.csv", r.period.from, r.period.to),
        out,
    ))
}

async fn agents_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let figures = queries::agents(&state.reports, &r.scope, &r.period, r.scope.agent)
        .await
        .map_err(crate::web::AppError::from)?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = csv::line(&[
        "email",
        "name",
        "assigned",
        "replies",
        "closed",
        "first_response_median_s",
        "first_response_business_median_s",
        "resolution_median_s",
        "resolution_business_median_s",
        "sla_percent",
        "csat_sent",
        "csat_responses",
        "csat_percent_satisfied",
        "csat_net",
        "open_now",
    ]);
    for f in figures {
        out.push_str(&csv::line(&[
            f.email,
            f.name,
            f.assigned.to_string(),
            f.replies.to_string(),
            f.closed.to_string(),
            opt(f.first_response.calendar.median_s),
            opt(f.first_response.business.median_s),
            opt(f.resolution.calendar.median_s),
            opt(f.resolution.business.median_s),
            opt(f.sla_percent),
            f.csat.sent.to_string(),
            f.csat.responses.to_string(),
            opt(f.csat.percent_satisfied),
            opt(f.csat.net),
            f.open_now.to_string(),
        ]));
    }
    Ok(csv_response(
        &format!("agents-{}-{}.csv", r.period.from, r.period.to),
        out,
    ))
}

async fn tickets_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    Ok(crate::web::api::analytics::tickets_csv_response(&state, r.scope, r.period).await?)
}

// ---------------------------------------------------------------------------------------
// Tags

/// A small line of counts per bucket (numbers only; the counts are in its title and in the
/// trend table).
fn sparkline_svg(counts: &[i64]) -> String {
    let (w, h) = (120.0_f64, 24.0_f64);
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if counts.len() > 1 {
        w / (counts.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - 2.0 - (h - 4.0) * *n as f64 / max
            )
        })
        .collect();
    let numbers: Vec<String> = counts.iter().map(i64::to_string).collect();
    format!(
        r#"<svg class="sparkline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"><title>{}</title><polyline class="trend" fill="none" points="{}"/></svg>"#,
        numbers.join(", "),
        points.join(" ")
    )
}

/// Paired horizontal bars per row: created (first) and resolved (second), numbers only; the
/// names are in the table beside it, same order.
fn bars_svg(id: &str, title: &str, rows: &[(i64, i64)]) -> String {
    let max = rows
        .iter()
        .map(|(a, b)| *a.max(b))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, row_h) = (480.0_f64, 26.0_f64);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{title}</title>"#,
        row_h * rows.len().max(1) as f64
    );
    for (i, (created, resolved)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let (bc, br) = (
            (w - 60.0) * *created as f64 / max,
            (w - 60.0) * *resolved as f64 / max,
        );
        let _ = write!(
            s,
            r#"<rect class="bar-created" x="0" y="{:.0}" width="{bc:.1}" height="10"><title>{created}</title></rect><text x="{:.1}" y="{:.0}" class="axis-label">{created}</text><rect class="bar-closed" x="0" y="{:.0}" width="{br:.1}" height="10"><title>{resolved}</title></rect><text x="{:.1}" y="{:.0}" class="axis-label">{resolved}</text>"#,
            y + 2.0,
            bc + 4.0,
            y + 11.0,
            y + 13.0,
            br + 4.0,
            y + 22.0
        );
    }
    s.push_str("</svg>");
    s
}

struct TagView {
    tag: String,
    href: String,
    closed_href: String,
    created: i64,
    previous_created: i64,
    change: String,
    sparkline: String,
    trend: Vec<i64>,
    resolved: i64,
    median: String,
    p90: String,
    business_median: String,
    previous_median: String,
}

/// "+3 (+50%)", "+2 (new)", "-1 (-25%)", "0".
fn change_text(change: i64, growth: Option<f64>) -> String {
    match (change, growth) {
        (0, _) => "0".to_string(),
        (c, Some(g)) => format!("{c:+} ({g:+}%)"),
        (c, None) => format!("{c:+} (new)"),
    }
}

#[derive(Template)]
#[template(path = "analytics/tags.html")]
struct TagsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    filters: Filters,
    own_only: bool,
    tags: Vec<TagView>,
    rising: Vec<TagView>,
    buckets: Vec<String>,
    bucket: &'static str,
    volume_svg: String,
    definitions: &'static str,
}

async fn show_tags(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let (r, filters, unread) = page_parts(&state, &who, &q).await?;
    let report = breakdown::tags(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let view = |t: &breakdown::TagFigures| {
        let scope = Scope {
            tag: Some(t.tag.clone()),
            ..r.scope.clone()
        };
        TagView {
            tag: t.tag.clone(),
            href: inbox_href("all", &scope),
            closed_href: inbox_href("closed", &scope),
            created: t.created,
            previous_created: t.previous_created,
            change: change_text(t.change, t.growth_percent),
            sparkline: sparkline_svg(&t.trend),
            trend: t.trend.clone(),
            resolved: t.resolution.count,
            median: human(t.resolution.calendar.median_s),
            p90: human(t.resolution.calendar.p90_s),
            business_median: human(t.resolution.business.median_s),
            previous_median: human(t.previous_resolution_median_s),
        }
    };
    let tags: Vec<TagView> = report.tags.iter().map(view).collect();
    let rising = report
        .rising
        .iter()
        .filter_map(|name| report.tags.iter().find(|t| &t.tag == name))
        .map(view)
        .collect();
    let volume: Vec<(i64, i64)> = report
        .tags
        .iter()
        .map(|t| (t.created, t.previous_created))
        .collect();
    Ok(render(&TagsPage {
        unread_notifications: unread,
        section: "tags",
        own_only: !who.agent.sees_all_mailboxes(),
        tags,
        rising,
        buckets: report.buckets,
        bucket: match report.bucket {
            breakdown::Bucket::Day => "day",
            breakdown::Bucket::Week => "week (from Monday)",
        },
        volume_svg: bars_svg(
            "tags-volume",
            "Tickets created per tag: this period (upper bar) and the previous one (lower bar)",
            &volume,
        ),
        definitions: def::TAGS,
        filters,
        me: who.agent,
    })?
    .into_response())
}

async fn tags_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let report = breakdown::tags(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = csv::line(&[
        "tag",
        "created",
        "previous_created",
        "change",
        "growth_percent",
        "rising_rank",
        "resolved",
        "resolution_median_s",
        "resolution_p90_s",
        "resolution_mean_s",
        "resolution_business_median_s",
        "resolution_business_p90_s",
        "previous_resolution_median_s",
    ]);
    for t in &report.tags {
        let rank = report
            .rising
            .iter()
            .position(|n| *n == t.tag)
            .map(|i| (i + 1).to_string())
            .unwrap_or_default();
        out.push_str(&csv::line(&[
            t.tag.clone(),
            t.created.to_string(),
            t.previous_created.to_string(),
            t.change.to_string(),
            opt(t.growth_percent),
            rank,
            t.resolution.count.to_string(),
            opt(t.resolution.calendar.median_s),
            opt(t.resolution.calendar.p90_s),
            opt(t.resolution.calendar.mean_s),
            opt(t.resolution.business.median_s),
            opt(t.resolution.business.p90_s),
            opt(t.previous_resolution_median_s),
        ]));
    }
    Ok(csv_response(
        &format!("tags-{}-{}.csv", r.period.from, r.period.to),
        out,
    ))
}

async fn tag_trend_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let report = breakdown::tags(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let bucket = match report.bucket {
        breakdown::Bucket::Day => "date",
        breakdown::Bucket::Week => "week_from",
    };
    let mut out = csv::line(&["tag", bucket, "created"]);
    for t in &report.tags {
        for (b, n) in report.buckets.iter().zip(&t.trend) {
            out.push_str(&csv::line(&[t.tag.clone(), b.clone(), n.to_string()]));
        }
    }
    Ok(csv_response(
        &format!("tag-trend-{}-{}.csv", r.period.from, r.period.to),
        out,
    ))
}

// ---------------------------------------------------------------------------------------
// Mailboxes and teams, Customers

/// One group's row: this period's figures and the previous period's.
struct GroupView {
    name: String,
    href: String,
    closed_href: String,
    created: i64,
    previous_created: i64,
    closed: i64,
    previous_closed: i64,
    resolved: i64,
    previous_resolved: i64,
    first_response: String,
    first_response_business: String,
    previous_first_response: String,
    resolution: String,
    resolution_business: String,
    previous_resolution: String,
    sla: String,
    previous_sla: String,
    csat: String,
    previous_csat: String,
}

/// A table of groups with its chart.
struct GroupSection {
    id: &'static str,
    title: &'static str,
    /// The head of the name column ("Mailbox", "Team", ...).
    label: &'static str,
    csv: String,
    svg: String,
    rows: Vec<GroupView>,
}

fn csat_text(c: &queries::Csat) -> String {
    match c.responses {
        0 => "—".to_string(),
        n => format!("{} ({n})", pct(c.percent_satisfied)),
    }
}

/// The section of `rows`; `narrow` gives the scope a row's tickets are in (for its links).
fn group_section(
    (id, title, label): (&'static str, &'static str, &'static str),
    csv: String,
    rows: &[GroupRow],
    narrow: impl Fn(&GroupRow) -> Scope,
) -> GroupSection {
    let views = rows
        .iter()
        .map(|g| {
            let (c, p) = (&g.current, &g.previous);
            let scope = narrow(g);
            GroupView {
                name: g.name.clone(),
                href: inbox_href("all", &scope),
                closed_href: inbox_href("closed", &scope),
                created: c.created,
                previous_created: p.created,
                closed: c.closed,
                previous_closed: p.closed,
                resolved: c.resolved,
                previous_resolved: p.resolved,
                first_response: human(c.first_response.calendar.median_s),
                first_response_business: human(c.first_response.business.median_s),
                previous_first_response: human(p.first_response.calendar.median_s),
                resolution: human(c.resolution.calendar.median_s),
                resolution_business: human(c.resolution.business.median_s),
                previous_resolution: human(p.resolution.calendar.median_s),
                sla: pct(c.sla.percent),
                previous_sla: pct(p.sla.percent),
                csat: csat_text(&c.csat),
                previous_csat: csat_text(&p.csat),
            }
        })
        .collect();
    let bars: Vec<(i64, i64)> = rows
        .iter()
        .map(|g| (g.current.created, g.current.resolved))
        .collect();
    GroupSection {
        id,
        title,
        label,
        csv,
        svg: bars_svg(
            id,
            &format!("{title}: tickets created (upper bar) and resolved (lower bar)"),
            &bars,
        ),
        rows: views,
    }
}

#[derive(Template)]
#[template(path = "analytics/groups.html")]
struct GroupsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    heading: &'static str,
    filters: Filters,
    own_only: bool,
    sections: Vec<GroupSection>,
    definitions: &'static str,
}

async fn show_mailboxes(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let (r, filters, unread) = page_parts(&state, &who, &q).await?;
    let (mailboxes, teams) = breakdown::mailboxes_and_teams(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let sections = vec![
        group_section(
            ("mailboxes", "Per mailbox", "Mailbox"),
            format!("/analytics/mailboxes.csv{}", filters.qs),
            &mailboxes,
            |g| Scope {
                mailbox: g.id,
                ..r.scope.clone()
            },
        ),
        // The inbox has no team filter: a team's links show the other filters' tickets.
        group_section(
            ("teams", "Per team", "Team"),
            format!("/analytics/teams.csv{}", filters.qs),
            &teams,
            |_| r.scope.clone(),
        ),
    ];
    Ok(render(&GroupsPage {
        unread_notifications: unread,
        section: "mailboxes",
        heading: "Mailboxes and teams",
        own_only: !who.agent.sees_all_mailboxes(),
        sections,
        definitions: def::GROUPS,
        filters,
        me: who.agent,
    })?
    .into_response())
}

async fn show_customers(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let (r, filters, unread) = page_parts(&state, &who, &q).await?;
    let (stages, vip) = breakdown::customers(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    let csv = format!("/analytics/customers.csv{}", filters.qs);
    let sections = vec![
        group_section(
            ("stages", "Per lifecycle stage", "Lifecycle stage"),
            csv.clone(),
            &stages,
            |g| Scope {
                lifecycle_stage: g.id,
                ..r.scope.clone()
            },
        ),
        group_section(("vip", "VIP and not VIP", "Customer"), csv, &vip, |g| {
            Scope {
                vip: (g.id == Some(1)).then_some(true).or(r.scope.vip),
                ..r.scope.clone()
            }
        }),
    ];
    Ok(render(&GroupsPage {
        unread_notifications: unread,
        section: "customers",
        heading: "Customers",
        own_only: !who.agent.sees_all_mailboxes(),
        sections,
        definitions: def::CUSTOMERS,
        filters,
        me: who.agent,
    })?
    .into_response())
}

/// The CSV header of a group table (after the grouping's own columns).
const GROUP_COLUMNS: [&str; 25] = [
    "id",
    "name",
    "created",
    "previous_created",
    "closed",
    "previous_closed",
    "resolved",
    "previous_resolved",
    "first_response_median_s",
    "first_response_p90_s",
    "first_response_business_median_s",
    "previous_first_response_median_s",
    "resolution_median_s",
    "resolution_p90_s",
    "resolution_business_median_s",
    "previous_resolution_median_s",
    "sla_achieved",
    "sla_breached",
    "sla_percent",
    "previous_sla_percent",
    "csat_sent",
    "csat_responses",
    "csat_percent_satisfied",
    "csat_net",
    "previous_csat_percent_satisfied",
];

fn group_cells(g: &GroupRow) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let (c, p) = (&g.current, &g.previous);
    vec![
        g.id.map(|i| i.to_string()).unwrap_or_default(),
        g.name.clone(),
        c.created.to_string(),
        p.created.to_string(),
        c.closed.to_string(),
        p.closed.to_string(),
        c.resolved.to_string(),
        p.resolved.to_string(),
        opt(c.first_response.calendar.median_s),
        opt(c.first_response.calendar.p90_s),
        opt(c.first_response.business.median_s),
        opt(p.first_response.calendar.median_s),
        opt(c.resolution.calendar.median_s),
        opt(c.resolution.calendar.p90_s),
        opt(c.resolution.business.median_s),
        opt(p.resolution.calendar.median_s),
        c.sla.achieved.to_string(),
        c.sla.breached.to_string(),
        opt(c.sla.percent),
        opt(p.sla.percent),
        c.csat.sent.to_string(),
        c.csat.responses.to_string(),
        opt(c.csat.percent_satisfied),
        opt(c.csat.net),
        opt(p.csat.percent_satisfied),
    ]
}

/// The CSV of group tables: a `group` column first when `label` is given.
fn groups_csv(tables: &[(Option<&str>, &[GroupRow])]) -> String {
    let labelled = tables.iter().any(|(l, _)| l.is_some());
    let mut header: Vec<&str> = Vec::new();
    if labelled {
        header.push("group");
    }
    header.extend(GROUP_COLUMNS);
    let mut out = csv::line(&header);
    for (label, rows) in tables {
        for g in *rows {
            let mut cells = Vec::new();
            if labelled {
                cells.push(label.unwrap_or_default().to_string());
            }
            cells.extend(group_cells(g));
            out.push_str(&csv::line(&cells));
        }
    }
    out
}

async fn mailboxes_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let rows = breakdown::mailboxes(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    Ok(csv_response(
        &format!("mailboxes-{}-{}.csv", r.period.from, r.period.to),
        groups_csv(&[(None, &rows)]),
    ))
}

async fn teams_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let rows = breakdown::teams(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    Ok(csv_response(
        &format!("teams-{}-{}.csv", r.period.from, r.period.to),
        groups_csv(&[(None, &rows)]),
    ))
}

async fn customers_csv(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state.pool, &who.agent, who.visible.as_deref(), &q).await?;
    let (stages, vip) = breakdown::customers(&state.reports, &r.scope, &r.period)
        .await
        .map_err(crate::web::AppError::from)?;
    Ok(csv_response(
        &format!("customers-{}-{}.csv", r.period.from, r.period.to),
        groups_csv(&[(Some("lifecycle_stage"), &stages), (Some("vip"), &vip)]),
    ))
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(None), "—");
        assert_eq!(human(Some(42.4)), "42 s");
        assert_eq!(human(Some(750.0)), "12 min");
        assert_eq!(human(Some(3.0 * 3600.0 + 300.0)), "3 h 05 min");
        assert_eq!(human(Some(2.0 * 86400.0 + 4.0 * 3600.0)), "2 d 4 h");
    }
}
