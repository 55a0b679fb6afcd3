//! Saved views of the inbox: a name and an inbox query string (filters and sort), personal
//! or shared with a team or with everyone, listed in each agent's own order.
//!
//! Who sees a view: its owner (personal views), the members of its team (team views), every
//! agent (everyone views); nobody else, whatever their role. Only leads and admins share
//! views, and only with a team they are in. A view stores filters, never mailbox access: its
//! tickets and counts are always those of the viewer's mailboxes (`inbox::list` and
//! `inbox::count_to_do` take the viewer's scope).
//!
//! The query string is validated and made canonical by the inbox's own parser (in
//! `web::inbox`) before it reaches this module; this module stores it as given.

use sqlx::{FromRow, PgExecutor, PgPool};
use time::OffsetDateTime;

use crate::auth::Agent;

/// Longest view name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// Who sees a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Its owner only.
    Personal,
    /// The members of this team (`team_id`).
    Team(i64),
    /// Every agent.
    Everyone,
}

impl Visibility {
    /// Reads a form value: `personal`, `everyone` or `team:<team id>`.
    pub fn parse(s: &str) -> Option<Visibility> {
        match s.trim() {
            "personal" | "" => Some(Visibility::Personal),
            "everyone" => Some(Visibility::Everyone),
            t => t
                .strip_prefix("team:")
                .and_then(|id| id.parse().ok())
                .map(Visibility::Team),
        }
    }

    /// The form value [`Visibility::parse`] reads.
    pub fn form_value(self) -> String {
        match self {
            Visibility::Personal => "personal".into(),
            Visibility::Everyone => "everyone".into(),
            Visibility::Team(id) => format!("team:{id}"),
        }
    }

    /// `(visibility column, team_id column)`.
    fn columns(self) -> (&'static str, Option<i64>) {
        match self {
            Visibility::Personal => ("personal", None),
            Visibility::Team(id) => ("team", Some(id)),
            Visibility::Everyone => ("everyone", None),
        }
    }
}

/// A saved view as an agent who may see it gets it.
#[derive(Debug, Clone, FromRow)]
pub struct SavedView {
    pub saved_view_id: i64,
    pub name: String,
    /// The inbox's canonical query string, without `?` (`folder=open&priority=urgent&sort=oldest`).
    pub query: String,
    pub owner_agent_id: i64,
    pub owner_name: String,
    /// `personal`, `team` or `everyone`.
    pub visibility: String,
    /// The team of a `team` view.
    pub team_id: Option<i64>,
    /// That team's name.
    pub team_name: Option<String>,
    /// UTC.
    pub created_at: OffsetDateTime,
}

impl SavedView {
    /// Who sees it, typed.
    pub fn visibility(&self) -> Visibility {
        match (self.visibility.as_str(), self.team_id) {
            ("team", Some(id)) => Visibility::Team(id),
            ("everyone", _) => Visibility::Everyone,
            _ => Visibility::Personal,
        }
    }

    /// "Personal", "Team Billing" or "Everyone".
    pub fn shared_with(&self) -> String {
        match self.visibility() {
            Visibility::Personal => "Personal".into(),
            Visibility::Everyone => "Everyone".into(),
            Visibility::Team(_) => format!("Team {}", self.team_name.as_deref().unwrap_or("?")),
        }
    }

    /// Whether `who` may rename, change or delete it: its owner always (they see it), and for
    /// a shared view also every lead and admin who sees it.
    pub fn changeable_by(&self, who: &Agent) -> bool {
        self.owner_agent_id == who.agent_id
            || (self.visibility() != Visibility::Personal && who.sees_all_mailboxes())
    }
}

/// Why a view change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No such view, or not one the agent may see.
    #[error("no such view")]
    NotFound,
    /// The agent may see the view or the choice but not make this change.
    #[error("{0}")]
    Forbidden(String),
    /// Bad input: the form field and what is wrong with it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A view's fields as a form gives them.
#[derive(Debug, Clone)]
pub struct ViewInput {
    pub name: String,
    /// Canonical inbox query string, already accepted by the inbox's parser.
    pub query: String,
    pub visibility: Visibility,
}

/// The SQL condition "agent `$1` may see view `v`".
const VISIBLE_TO: &str = "(v.owner_agent_id = $1 and v.visibility = 'personal'
     or v.visibility = 'everyone'
     or v.visibility = 'team' and exists (select 1 from team_member m
                                           where m.team_id = v.team_id and m.agent_id = $1))";

const SELECT: &str =
    "select v.saved_view_id, v.name, v.query, v.owner_agent_id, a.name as owner_name,
        v.visibility, v.team_id, tm.name as team_name, v.created_at
    from saved_view v join agent a on a.agent_id = v.owner_agent_id
    left join team tm on tm.team_id = v.team_id
    left join saved_view_position p on p.saved_view_id = v.saved_view_id and p.agent_id = $1";

/// The views agent `agent_id` sees, in their order (views they have not placed yet come
/// last, oldest first).
pub async fn list_for(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<Vec<SavedView>> {
    sqlx::query_as(&format!(
        "{SELECT} where {VISIBLE_TO} order by p.position nulls last, v.created_at, v.saved_view_id"
    ))
    .bind(agent_id)
    .fetch_all(db)
    .await
}

/// View `id` if agent `agent_id` sees it.
pub async fn find_for(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    id: i64,
) -> sqlx::Result<Option<SavedView>> {
    sqlx::query_as(&format!(
        "{SELECT} where v.saved_view_id = $2 and {VISIBLE_TO}"
    ))
    .bind(agent_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The teams `agent_id` is in, `(id, name)` by name: the teams they may share a view with
/// (when a lead or admin).
pub async fn teams_of(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "select t.team_id, t.name from team t join team_member m using (team_id)
         where m.agent_id = $1 order by lower(t.name)",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await
}

/// Checks the name and whether `who` may give a view this visibility: personal for anyone;
/// a team or everyone for leads and admins only, a team only one they are in.
async fn validated(pool: &PgPool, who: &Agent, input: &ViewInput) -> Result<String, ViewError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ViewError::Invalid {
            field: "name",
            message: "give the view a name".into(),
        });
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ViewError::Invalid {
            field: "name",
            message: format!("at most {MAX_NAME_CHARS} characters"),
        });
    }
    if input.visibility != Visibility::Personal && !who.sees_all_mailboxes() {
        return Err(ViewError::Forbidden(
            "Only leads and admins can share a view with a team or everyone; save it as a personal view."
                .into(),
        ));
    }
    if let Visibility::Team(team) = input.visibility {
        let member = teams_of(pool, who.agent_id)
            .await?
            .iter()
            .any(|(id, _)| *id == team);
        if !member {
            return Err(ViewError::Forbidden(
                "You can share a view only with a team you are in.".into(),
            ));
        }
    }
    Ok(name.to_string())
}

/// Saves a new view owned by `who`; its id. It comes last in every list it appears in until
/// the agent moves it.
pub async fn create(pool: &PgPool, who: &Agent, input: &ViewInput) -> Result<i64, ViewError> {
    let name = validated(pool, who, input).await?;
    let (visibility, team) = input.visibility.columns();
    Ok(sqlx::query_scalar(
        "insert into saved_view (name, query, owner_agent_id, visibility, team_id)
         values ($1, $2, $3, $4, $5) returning saved_view_id",
    )
    .bind(name)
    .bind(&input.query)
    .bind(who.agent_id)
    .bind(visibility)
    .bind(team)
    .fetch_one(pool)
    .await?)
}

/// A view `who` sees and may change ([`SavedView::changeable_by`]).
async fn changeable(pool: &PgPool, who: &Agent, id: i64) -> Result<SavedView, ViewError> {
    let view = find_for(pool, who.agent_id, id)
        .await?
        .ok_or(ViewError::NotFound)?;
    if !view.changeable_by(who) {
        return Err(ViewError::Forbidden(format!(
            "Only {} and leads and admins can change the shared view \u{201c}{}\u{201d}.",
            view.owner_name, view.name
        )));
    }
    Ok(view)
}

/// Renames view `id`, gives it new filters and a new visibility (same checks as
/// [`create`]). A shared view keeps its owner when a lead changes it.
pub async fn update(
    pool: &PgPool,
    who: &Agent,
    id: i64,
    input: &ViewInput,
) -> Result<(), ViewError> {
    changeable(pool, who, id).await?;
    let name = validated(pool, who, input).await?;
    let (visibility, team) = input.visibility.columns();
    sqlx::query(
        "update saved_view set name = $2, query = $3, visibility = $4, team_id = $5
         where saved_view_id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(&input.query)
    .bind(visibility)
    .bind(team)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes view `id` (for everyone who saw it); its name.
pub async fn delete(pool: &PgPool, who: &Agent, id: i64) -> Result<String, ViewError> {
    let view = changeable(pool, who, id).await?;
    sqlx::query("delete from saved_view where saved_view_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(view.name)
}

/// Moves view `id` one place up (`up`) or down in agent `agent_id`'s own order; at the top
/// or bottom already, nothing changes. Other agents' order is not touched.
pub async fn move_view(pool: &PgPool, agent_id: i64, id: i64, up: bool) -> Result<(), ViewError> {
    let mut tx = pool.begin().await?;
    // One agent's reorders one at a time (two tabs): their positions are rewritten whole.
    sqlx::query("select 1 from agent where agent_id = $1 for update")
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
    let mut ids: Vec<i64> = list_for(&mut *tx, agent_id)
        .await?
        .into_iter()
        .map(|v| v.saved_view_id)
        .collect();
    let i = ids
        .iter()
        .position(|v| *v == id)
        .ok_or(ViewError::NotFound)?;
    let j = if up { i.checked_sub(1) } else { Some(i + 1) };
    let Some(j) = j.filter(|j| *j < ids.len()) else {
        return Ok(());
    };
    ids.swap(i, j);
    sqlx::query(
        "insert into saved_view_position (agent_id, saved_view_id, position)
         select $1, u.id, u.n from unnest($2::bigint[]) with ordinality as u(id, n)
         on conflict (agent_id, saved_view_id) do update set position = excluded.position",
    )
    .bind(agent_id)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
