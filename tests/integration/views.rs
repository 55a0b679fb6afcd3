//! Saved views of the inbox (issue #16), over HTTP against the real router: who sees which
//! view (personal, team, everyone; never another team's), that a view's tickets and counts
//! are always limited to the viewer's mailboxes, sidebar counts equal to the lists they
//! count (answered by `GET /inbox/sidebar-counts`, cached per agent, not by the page), each
//! agent's own order, and what is refused (sharing by agents, bad filters, changes by
//! others, cross-site posts).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::*;
use frontdesk::tickets::actions;
use frontdesk::tickets::timeline::Actor;

const BILLING: &str = "billing@example.com";

/// Two mailboxes, a Support team (Dana, agent; Ada, lead) working support@ and a Billing team
/// (Lee, agent; Bo, lead) working billing@, and an admin (Root) in no team.
struct Desk {
    db: TestDb,
    support: i64,
    billing: i64,
    support_team: i64,
    billing_team: i64,
    dana: i64,
}

async fn desk() -> Desk {
    let db = TestDb::new().await;
    let support = frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Support",
        SUPPORT,
        "imap://unused:unused@127.0.0.1:1/INBOX",
        None,
    )
    .await
    .unwrap();
    let billing = frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Billing",
        BILLING,
        "imap://unused:unused@127.0.0.1:1/INBOX",
        None,
    )
    .await
    .unwrap();
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Agent).await;
    let ada = agent(&db, "ada@example.com", "Ada Park", Role::Lead).await;
    let lee = agent(&db, "lee@example.com", "Lee Wong", Role::Agent).await;
    let bo = agent(&db, "bo@example.com", "Bo Berg", Role::Lead).await;
    agent(&db, "root@example.com", "Root Admin", Role::Admin).await;
    grant_through_team(&db.pool, "Support", dana, support).await;
    grant_through_team(&db.pool, "Billing", lee, billing).await;
    let team_sql = "select team_id from team where name = $1";
    let support_team: i64 = scalar_for(&db.pool, team_sql, "Support").await;
    let billing_team: i64 = scalar_for(&db.pool, team_sql, "Billing").await;
    for (t, a) in [(support_team, ada), (billing_team, bo)] {
        sqlx::query("insert into team_member values ($1, $2)")
            .bind(t)
            .bind(a)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    Desk {
        db,
        support,
        billing,
        support_team,
        billing_team,
        dana,
    }
}

/// A ticket in `mailbox` with these columns; its number.
async fn ticket(
    db: &TestDb,
    mailbox: i64,
    status: &str,
    priority: &str,
    assignee: Option<i64>,
) -> i64 {
    sqlx::query_scalar(
        "insert into ticket (mailbox_id, subject, status, priority, assignee_agent_id)
         values ($1, 'Question', $2, $3, $4) returning ticket_id",
    )
    .bind(mailbox)
    .bind(status)
    .bind(priority)
    .bind(assignee)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Saves a view as `b`'s agent; the response.
async fn save(b: &mut Browser, name: &str, query: &str, visibility: &str) -> Page {
    b.post(
        "/inbox/views",
        &[("name", name), ("query", query), ("visibility", visibility)],
    )
    .await
}

/// Saves a view that must be accepted; its id (from the redirect to it).
async fn saved(b: &mut Browser, name: &str, query: &str, visibility: &str) -> i64 {
    let p = save(b, name, query, visibility).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{name}: {}", p.body);
    let to = p.location.unwrap();
    to.rsplit_once("&view=")
        .and_then(|(_, id)| id.parse().ok())
        .unwrap_or_else(|| panic!("no view id in {to}"))
}

/// An entry of the sidebar's Views section.
#[derive(Debug, Clone, PartialEq)]
struct SidebarView {
    label: String,
    href: String,
    count: Option<i64>,
    active: bool,
    key: Option<u32>,
}

/// Text as askama escaped it, unescaped.
fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
}

/// The Views section of an inbox page, in order.
fn sidebar_views(html: &str) -> Vec<SidebarView> {
    let start = html.find("<ul class=\"views\">").expect("a Views section");
    let section = &html[start..start + html[start..].find("</ul>").unwrap()];
    section
        .split("<li><a href=\"")
        .skip(1)
        .map(|li| {
            let href = unescape(&li[..li.find('"').unwrap()]);
            let tag_end = li.find('>').unwrap();
            let attrs = &li[..tag_end];
            let key = attrs
                .split("data-view-key=\"")
                .nth(1)
                .map(|k| k[..k.find('"').unwrap()].parse().unwrap());
            let rest = &li[tag_end + 1..];
            let label = unescape(&rest[..rest.find("<span").unwrap()]);
            let count = rest
                .split("<span class=\"count\"")
                .nth(1)
                .map(|c| &c[c.find('>').unwrap() + 1..])
                .map(|c| &c[..c.find('<').unwrap()])
                .filter(|c| !c.is_empty())
                .map(|c| c.parse().unwrap());
            SidebarView {
                label,
                href,
                count,
                active: attrs.contains("class=\"active\""),
                key,
            }
        })
        .collect()
}

/// The saved views (not the built-in ones) of `b`'s sidebar, by label.
async fn my_views(b: &mut Browser) -> Vec<SidebarView> {
    let inbox = b.get("/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK);
    sidebar_views(&inbox.body)
        .into_iter()
        .filter(|v| v.href.contains("&view="))
        .collect()
}

/// `b`'s answer from `GET /inbox/sidebar-counts` (which must be a 200 with JSON).
async fn sidebar_counts(b: &mut Browser) -> serde_json::Value {
    let p = b.get("/inbox/sidebar-counts").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    serde_json::from_str(&p.body).unwrap_or_else(|_| panic!("not JSON: {}", p.body))
}

/// Saved view `id`'s count in an answer of [`sidebar_counts`]: `None` for `null`.
fn view_count(counts: &serde_json::Value, id: i64) -> Option<i64> {
    counts
        .get(format!("view:{id}"))
        .unwrap_or_else(|| panic!("no view {id} in {counts}"))
        .as_i64()
}

fn labels(views: &[SidebarView]) -> Vec<&str> {
    views.iter().map(|v| v.label.as_str()).collect()
}

/// Number of ticket rows on a list page (all on one page in these tests).
fn row_count(html: &str) -> i64 {
    assert!(!html.contains("rel=\"next\""), "one page only");
    html.matches("<tr class=\"row").count() as i64
}

#[tokio::test]
async fn an_agent_sees_their_personal_views_their_teams_views_and_everyone_views_but_never_another_teams()
 {
    let d = desk().await;
    let (mut dana, mut ada, mut bo, mut lee, mut root) = (
        Browser::signed_in(&d.db, "dana@example.com").await,
        Browser::signed_in(&d.db, "ada@example.com").await,
        Browser::signed_in(&d.db, "bo@example.com").await,
        Browser::signed_in(&d.db, "lee@example.com").await,
        Browser::signed_in(&d.db, "root@example.com").await,
    );
    let support_team = format!("team:{}", d.support_team);
    let billing_team = format!("team:{}", d.billing_team);
    saved(
        &mut dana,
        "Dana urgent",
        "folder=open&priority=urgent",
        "personal",
    )
    .await;
    saved(
        &mut ada,
        "Support backlog",
        "folder=open&sort=oldest",
        &support_team,
    )
    .await;
    let billing_view = saved(&mut bo, "Billing backlog", "folder=pending", &billing_team).await;
    saved(&mut lee, "Lee mine", "folder=mine", "personal").await;
    saved(
        &mut root,
        "Everyone: unassigned",
        "folder=unassigned",
        "everyone",
    )
    .await;

    assert_eq!(
        labels(&my_views(&mut dana).await),
        ["Dana urgent", "Support backlog", "Everyone: unassigned"]
    );
    assert_eq!(
        labels(&my_views(&mut lee).await),
        ["Billing backlog", "Lee mine", "Everyone: unassigned"]
    );
    // Roles do not widen it: a lead sees their own teams' views only, an admin in no team
    // only everyone views (and their own).
    assert_eq!(
        labels(&my_views(&mut ada).await),
        ["Support backlog", "Everyone: unassigned"]
    );
    assert_eq!(labels(&my_views(&mut root).await), ["Everyone: unassigned"]);

    // Another team's view by its id: not the view (no title, not highlighted), and every
    // change is a 404, as for a view that does not exist.
    let opened = dana
        .get(&format!("/inbox?folder=pending&view={billing_view}"))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(!opened.body.contains("Billing backlog"), "{}", opened.body);
    for path in [
        format!("/inbox/views/{billing_view}"),
        format!("/inbox/views/{billing_view}/delete"),
        format!("/inbox/views/{billing_view}/move"),
    ] {
        let p = dana
            .post(&path, &[("name", "Mine now"), ("direction", "up")])
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
    }
    let manage = dana.get("/inbox/views").await;
    assert!(!manage.body.contains("Billing backlog") && !manage.body.contains("Lee mine"));
    let name: String = scalar_for(
        &d.db.pool,
        "select name from saved_view where saved_view_id = $1",
        billing_view,
    )
    .await;
    assert_eq!(name, "Billing backlog");
    d.db.drop_db().await;
}

#[tokio::test]
async fn a_shared_view_never_shows_or_counts_tickets_of_mailboxes_the_viewer_may_not_see() {
    let d = desk().await;
    for _ in 0..2 {
        ticket(&d.db, d.support, "open", "urgent", None).await;
    }
    for _ in 0..3 {
        ticket(&d.db, d.billing, "open", "urgent", None).await;
    }
    ticket(&d.db, d.support, "open", "normal", None).await;
    let mut root = Browser::signed_in(&d.db, "root@example.com").await;
    let urgent = saved(
        &mut root,
        "Urgent",
        "folder=open&priority=urgent",
        "everyone",
    )
    .await;
    let billing_only = format!("folder=open&mailbox={}", d.billing);
    let billing_inbox = saved(&mut root, "Billing inbox", &billing_only, "everyone").await;

    let root_counts = sidebar_counts(&mut root).await;
    assert_eq!(view_count(&root_counts, urgent), Some(5));
    assert_eq!(view_count(&root_counts, billing_inbox), Some(3));

    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    let counts = sidebar_counts(&mut dana).await;
    assert_eq!(view_count(&counts, urgent), Some(2), "support@ only");
    assert_eq!(
        view_count(&counts, billing_inbox),
        Some(0),
        "names a mailbox she cannot see"
    );
    // The page shows her cached counts, never root's.
    let views = my_views(&mut dana).await;
    let count = |label: &str| views.iter().find(|v| v.label == label).unwrap().count;
    assert_eq!(
        (count("Urgent"), count("Billing inbox")),
        (Some(2), Some(0))
    );
    let list = dana
        .get(&views.iter().find(|v| v.label == "Urgent").unwrap().href)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(row_count(&list.body), 2);
    assert!(!list.body.contains(BILLING), "no billing@ ticket listed");
    let list = dana
        .get(
            &views
                .iter()
                .find(|v| v.label == "Billing inbox")
                .unwrap()
                .href,
        )
        .await;
    assert_eq!(row_count(&list.body), 0);
    d.db.drop_db().await;
}

#[tokio::test]
async fn each_view_count_equals_the_tickets_its_list_shows() {
    let d = desk().await;
    let dana = d.dana;
    let s = d.support;
    let mut numbers = Vec::new();
    for (status, priority, assignee) in [
        ("open", "urgent", None),
        ("open", "urgent", Some(dana)),
        ("open", "high", Some(dana)),
        ("open", "low", None),
        ("pending", "urgent", Some(dana)),
        ("pending", "normal", None),
        ("snoozed", "high", Some(dana)),
        ("closed", "urgent", Some(dana)),
        ("closed", "normal", None),
    ] {
        numbers.push(ticket(&d.db, s, status, priority, assignee).await);
    }
    // Billing tickets Dana cannot see, matching every view.
    for _ in 0..2 {
        ticket(&d.db, d.billing, "open", "urgent", None).await;
    }
    let spam = ticket(&d.db, s, "open", "urgent", None).await;
    execute_for(
        &d.db.pool,
        "update ticket set spam = true where ticket_id = $1",
        spam,
    )
    .await;
    for n in [numbers[0], numbers[2], numbers[4], numbers[7]] {
        actions::set_tags(&d.db.pool, Actor::System, None, n, &["refund".to_string()])
            .await
            .unwrap();
    }
    execute_for(
        &d.db.pool,
        "update ticket set waiting_since = now() - interval '1 hour' where ticket_id = $1",
        numbers[1],
    )
    .await;

    let mut b = Browser::signed_in(&d.db, "dana@example.com").await;
    let cases = [
        ("Open urgent", "folder=open&priority=urgent", Some(2)),
        ("Unassigned", "folder=unassigned", Some(2)),
        ("Mine", "folder=mine", Some(4)),
        ("Mine, any status", "folder=all&assignee=me", Some(4)),
        ("Pending", "folder=pending", Some(2)),
        ("Snoozed", "folder=snoozed", Some(1)),
        ("Refunds", "folder=open&tag=refund", Some(2)),
        (
            "Refunds to do",
            "folder=all&tag=REFUND&sort=newest",
            Some(3),
        ),
        ("Waiting on us", "folder=open&waiting=yes", Some(1)),
        (
            "Unassigned urgent",
            "folder=open&assignee=unassigned&priority=urgent",
            Some(1),
        ),
        ("Done", "folder=closed", None),
        ("Spam", "folder=spam", None),
    ];
    let mut ids = Vec::new();
    for (name, query, _) in cases {
        ids.push(saved(&mut b, name, query, "personal").await);
    }
    // Cold cache: the page counts nothing, each view has an empty slot for the script.
    let inbox = b.get("/inbox").await;
    for id in &ids {
        assert!(
            inbox
                .body
                .contains(&format!("data-count-key=\"view:{id}\"></span>")),
            "view {id}: an empty count slot"
        );
    }
    assert!(
        inbox
            .body
            .contains("data-count-key=\"vip-waiting\"></span>")
    );
    assert!(sidebar_views(&inbox.body).iter().all(|v| v.count.is_none()));
    let counts = sidebar_counts(&mut b).await;
    // Now cached: the page shows the same counts.
    let views = my_views(&mut b).await;
    assert_eq!(views.len(), cases.len());
    for ((view, id), (name, query, expected)) in views.iter().zip(&ids).zip(cases) {
        assert_eq!(view.label, name);
        assert_eq!(view_count(&counts, *id), expected, "{name} ({query})");
        assert_eq!(view.count, expected, "{name} ({query}) on the page, cached");
        let list = b.get(&view.href).await;
        assert_eq!(list.status, StatusCode::OK, "{name}");
        assert!(
            list.body.contains(&format!("<h1>{name}</h1>")),
            "the list is titled by the view"
        );
        if let Some(n) = expected {
            if query.starts_with("folder=all") {
                // Everything: the list also holds the closed tickets, which the count leaves out.
                assert!(row_count(&list.body) >= n, "{name}");
            } else {
                assert_eq!(row_count(&list.body), n, "{name}: count and list agree");
            }
        }
        let active: Vec<_> = sidebar_views(&list.body)
            .into_iter()
            .filter(|v| v.active)
            .map(|v| v.label)
            .collect();
        assert_eq!(active, [name], "only the open view is highlighted");
    }
    // "Refunds to do" over everything counts the not-closed tickets tagged refund: 3 of the 4.
    let closed_refund = b.get(&views[7].href).await;
    assert_eq!(row_count(&closed_refund.body), 4);
    d.db.drop_db().await;
}

#[tokio::test]
async fn sidebar_counts_need_a_session_and_are_cached_until_a_view_or_access_changes_or_ten_seconds_pass()
 {
    let d = desk().await;
    let first = ticket(&d.db, d.support, "open", "urgent", None).await;
    let second = ticket(&d.db, d.support, "open", "urgent", None).await;
    ticket(&d.db, d.billing, "open", "urgent", None).await;
    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    let urgent = saved(
        &mut dana,
        "Urgent",
        "folder=open&priority=urgent",
        "personal",
    )
    .await;

    // Without a session: the login page, as for every page.
    let anonymous = Browser::new(&d.db).get("/inbox/sidebar-counts").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(
        anonymous
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login")),
        "{:?}",
        anonymous.location
    );

    let counts = sidebar_counts(&mut dana).await;
    assert_eq!(
        counts,
        serde_json::json!({format!("view:{urgent}"): 2, "at-risk": 0, "vip-waiting": 0}),
        "her saved view in support@ only, and the built-ins"
    );
    // A ticket closes: within the cache's 10 s the answer stays.
    let close = "update ticket set status = 'closed' where ticket_id = $1";
    execute_for(&d.db.pool, close, first).await;
    assert_eq!(
        view_count(&sidebar_counts(&mut dana).await, urgent),
        Some(2)
    );

    // Changing the view's filters recounts at once.
    let p = dana
        .post(
            &format!("/inbox/views/{urgent}"),
            &[("query", "folder=open&priority=urgent&sort=oldest")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        view_count(&sidebar_counts(&mut dana).await, urgent),
        Some(1)
    );

    // So does a change of her mailboxes: billing@ now counts too.
    sqlx::query("insert into team_member values ($1, $2)")
        .bind(d.billing_team)
        .bind(d.dana)
        .execute(&d.db.pool)
        .await
        .unwrap();
    assert_eq!(
        view_count(&sidebar_counts(&mut dana).await, urgent),
        Some(2)
    );

    // And counts older than 10 s.
    execute_for(&d.db.pool, close, second).await;
    assert_eq!(
        view_count(&sidebar_counts(&mut dana).await, urgent),
        Some(2)
    );
    execute_for(
        &d.db.pool,
        "update sidebar_count set computed_at = computed_at - interval '11 seconds' where agent_id = $1",
        d.dana,
    )
    .await;
    assert_eq!(
        view_count(&sidebar_counts(&mut dana).await, urgent),
        Some(1)
    );
    d.db.drop_db().await;
}

#[tokio::test]
async fn views_come_in_each_agents_own_order_with_g_digit_keys() {
    let d = desk().await;
    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    let mut ada = Browser::signed_in(&d.db, "ada@example.com").await;
    let a = saved(&mut dana, "A", "folder=open", "personal").await;
    let _b = saved(&mut dana, "B", "folder=pending", "personal").await;
    let c = saved(&mut dana, "C", "folder=snoozed", "personal").await;
    let shared = saved(
        &mut ada,
        "Team",
        "folder=unassigned",
        &format!("team:{}", d.support_team),
    )
    .await;
    assert_eq!(labels(&my_views(&mut dana).await), ["A", "B", "C", "Team"]);

    let up = |id: i64| (format!("/inbox/views/{id}/move"), "up");
    for (path, dir) in [up(c), up(shared), up(shared), up(shared)] {
        let p = dana.post(&path, &[("direction", dir)]).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
    }
    // Team went to the top, C above B.
    let views = my_views(&mut dana).await;
    assert_eq!(labels(&views), ["Team", "A", "C", "B"]);
    assert_eq!(
        views.iter().map(|v| v.key).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3), Some(4)],
        "g 1..4 in the order shown"
    );
    let down = dana
        .post(&format!("/inbox/views/{a}/move"), &[("direction", "down")])
        .await;
    assert_eq!(down.status, StatusCode::SEE_OTHER);
    assert_eq!(labels(&my_views(&mut dana).await), ["Team", "C", "A", "B"]);
    // Ada own order is her own.
    let ada_first = saved(&mut ada, "Ada own", "folder=mine", "personal").await;
    let sideways = dana
        .post(
            &format!("/inbox/views/{a}/move"),
            &[("direction", "sideways")],
        )
        .await;
    assert_eq!(sideways.status, StatusCode::BAD_REQUEST);
    ada.post(
        &format!("/inbox/views/{ada_first}/move"),
        &[("direction", "up")],
    )
    .await;
    assert_eq!(labels(&my_views(&mut ada).await), ["Ada own", "Team"]);
    assert_eq!(labels(&my_views(&mut dana).await), ["Team", "C", "A", "B"]);
    // The built-in views follow the saved ones and take the next keys.
    let all = sidebar_views(&dana.get("/inbox").await.body);
    assert_eq!(all[4].label, "At-risk accounts");
    assert_eq!(all[4].key, Some(5));
    // The shortcut is listed in the help.
    assert!(dana.get("/inbox").await.body.contains("g then 1–9"));
    d.db.drop_db().await;
}

#[tokio::test]
async fn only_leads_and_admins_share_views_and_bad_or_forged_saves_store_nothing() {
    let d = desk().await;
    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    let support_team = format!("team:{}", d.support_team);
    for visibility in ["everyone", support_team.as_str()] {
        let p = save(&mut dana, "Shared", "folder=open", visibility).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{visibility}");
        assert!(
            p.body.contains("Only leads and admins can share a view"),
            "{}",
            p.body
        );
    }
    // The form offers an agent nothing to share with.
    let inbox = dana.get("/inbox").await;
    assert!(
        inbox
            .body
            .contains("<option value=\"personal\">Only me</option>")
    );
    assert!(!inbox.body.contains("value=\"everyone\""));

    // A lead shares only with a team they are in.
    let mut ada = Browser::signed_in(&d.db, "ada@example.com").await;
    let p = save(
        &mut ada,
        "X",
        "folder=open",
        &format!("team:{}", d.billing_team),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("only with a team you are in"), "{}", p.body);

    // Filters go through the inbox's parser.
    for (query, error) in [
        ("folder=open&priority=whenever", "unknown priority"),
        ("folder=inbox", "unknown folder"),
        ("folder=open&assignee=someone", "unknown assignee"),
        ("folder=open&vip=maybe", "unknown vip filter"),
    ] {
        let p = save(&mut dana, "Bad", query, "personal").await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(p.body.contains(error), "{query}: {}", p.body);
    }
    let p = save(&mut dana, "   ", "folder=open", "personal").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("give the view a name"));

    // A cross-site post is refused before it reaches the handler.
    let forged = dana
        .send(
            Request::post("/inbox/views")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .header("origin", "https://evil.example.net"),
            Body::from("name=Evil&query=folder%3Dopen&visibility=personal"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        scalar::<i64>(&d.db.pool, "select count(*) from saved_view").await,
        0
    );

    // Stored canonical: a page cursor, a view id, unknown keys and "anyone" are dropped.
    let id = saved(
        &mut dana,
        "Canonical",
        "?sort=oldest&after=1_2&view=9&assignee=anyone&junk=1&priority=urgent",
        "personal",
    )
    .await;
    let query: String = scalar_for(
        &d.db.pool,
        "select query from saved_view where saved_view_id = $1",
        id,
    )
    .await;
    assert_eq!(query, "folder=open&priority=urgent&sort=oldest");
    // A forged change is refused too.
    let forged = dana
        .send(
            Request::post(format!("/inbox/views/{id}/delete"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site"),
            Body::empty(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        scalar::<i64>(&d.db.pool, "select count(*) from saved_view").await,
        1
    );
    d.db.drop_db().await;
}

#[tokio::test]
async fn owners_change_their_views_leads_change_shared_ones_and_agents_only_their_own() {
    let d = desk().await;
    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    let mut ada = Browser::signed_in(&d.db, "ada@example.com").await;
    let mut bo = Browser::signed_in(&d.db, "bo@example.com").await;
    let shared = saved(
        &mut ada,
        "Urgent",
        "folder=open&priority=urgent",
        "everyone",
    )
    .await;
    let mine = saved(&mut dana, "Mine", "folder=mine", "personal").await;

    // Dana (agent) may not rename, update or delete Ada own shared view.
    let p = dana
        .post(&format!("/inbox/views/{shared}"), &[("name", "Hijacked")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        p.body.contains("Only Ada Park and leads and admins"),
        "{}",
        p.body
    );
    let p = dana
        .post(&format!("/inbox/views/{shared}/delete"), &[])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // The inbox offers her no update for it either.
    let opened = dana
        .get(&format!("/inbox?folder=open&priority=high&view={shared}"))
        .await;
    assert!(
        opened.body.contains("<h1>Urgent</h1>"),
        "titled by the view it came from"
    );
    assert!(!opened.body.contains("to these filters"));
    // She may make her own one shared? No: personal only.
    let p = dana
        .post(
            &format!("/inbox/views/{mine}"),
            &[("visibility", "everyone")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // Her own view: renamed, then updated to the list she has open.
    let opened = dana
        .get(&format!("/inbox?folder=mine&sort=newest&view={mine}"))
        .await;
    assert!(opened.body.contains("Update view “Mine” to these filters"));
    let p = dana
        .post(
            &format!("/inbox/views/{mine}"),
            &[
                ("query", "folder=mine&sort=newest"),
                ("name", "Mine, newest"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/inbox?folder=mine&sort=newest&view={mine}").as_str())
    );
    let views = my_views(&mut dana).await;
    let v = views.iter().find(|v| v.label == "Mine, newest").unwrap();
    assert_eq!(
        v.href,
        format!("/inbox?folder=mine&sort=newest&view={mine}")
    );

    // Another lead changes the shared view; the owner deletes it for everyone.
    let p = bo
        .post(
            &format!("/inbox/views/{shared}"),
            &[("name", "Urgent (all)")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(labels(&my_views(&mut dana).await).contains(&"Urgent (all)"));
    let p = ada
        .post(&format!("/inbox/views/{shared}/delete"), &[])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(labels(&my_views(&mut dana).await), ["Mine, newest"]);
    d.db.drop_db().await;
}

#[tokio::test]
async fn deleting_a_team_makes_its_views_personal_views_of_their_owners() {
    let d = desk().await;
    let mut ada = Browser::signed_in(&d.db, "ada@example.com").await;
    let mut dana = Browser::signed_in(&d.db, "dana@example.com").await;
    saved(
        &mut ada,
        "Support backlog",
        "folder=open",
        &format!("team:{}", d.support_team),
    )
    .await;
    assert_eq!(labels(&my_views(&mut dana).await), ["Support backlog"]);

    execute_for(
        &d.db.pool,
        "delete from team where team_id = $1",
        d.support_team,
    )
    .await;

    assert!(
        my_views(&mut dana).await.is_empty(),
        "no longer shared with her"
    );
    let ada_views = my_views(&mut ada).await;
    assert_eq!(labels(&ada_views), ["Support backlog"], "kept by its owner");
    let manage = ada.get("/inbox/views").await;
    assert!(manage.body.contains("<td>Personal</td>"), "{}", manage.body);
    d.db.drop_db().await;
}

#[tokio::test]
async fn the_api_lists_the_callers_views_with_counts_of_their_mailboxes() {
    let d = desk().await;
    ticket(&d.db, d.support, "open", "urgent", None).await;
    ticket(&d.db, d.billing, "open", "urgent", None).await;
    let mut ada = Browser::signed_in(&d.db, "ada@example.com").await;
    let mut bo = Browser::signed_in(&d.db, "bo@example.com").await;
    let urgent = saved(
        &mut ada,
        "Urgent",
        "folder=open&priority=urgent",
        "everyone",
    )
    .await;
    saved(
        &mut bo,
        "Billing",
        "folder=open",
        &format!("team:{}", d.billing_team),
    )
    .await;
    saved(&mut ada, "Closed", "folder=closed", "personal").await;
    let token = frontdesk::auth::create_api_token(&d.db.pool, d.dana)
        .await
        .unwrap();

    let (status, views) = api_json(
        &d.db,
        "GET",
        "/api/v1/views",
        &token,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        views,
        serde_json::json!([{
            "id": urgent,
            "name": "Urgent",
            "query": "folder=open&priority=urgent&sort=recent",
            "shared_with": "everyone",
            "team": null,
            "owner": "Ada Park",
            "count": 1,
            "inbox_url": format!("/inbox?folder=open&priority=urgent&sort=recent&view={urgent}"),
        }]),
        "Dana: the everyone view only, counted in support@"
    );
    let ada_token = frontdesk::auth::create_api_token(
        &d.db.pool,
        scalar::<i64>(
            &d.db.pool,
            "select agent_id from agent where email = 'ada@example.com'",
        )
        .await,
    )
    .await
    .unwrap();
    let (_, views) = api_json(
        &d.db,
        "GET",
        "/api/v1/views",
        &ada_token,
        serde_json::Value::Null,
    )
    .await;
    let got: Vec<(String, serde_json::Value)> = views
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v["count"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("Urgent".to_string(), serde_json::json!(2)),
            ("Closed".to_string(), serde_json::Value::Null)
        ]
    );
    let (status, _) = api_json(
        &d.db,
        "GET",
        "/api/v1/views",
        "wrong",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    d.db.drop_db().await;
}
