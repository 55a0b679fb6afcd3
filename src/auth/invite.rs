//! Agents as admins manage them: invitations, password resets, role, disable / enable, the cap
//! of open tickets, available / away. Every change writes the audit log (`crate::audit`) in
//! its transaction, whoever makes it (admin page, admin API, CLI).
//!
//! **Invitations.** An invited agent is created with [`UNUSABLE_PASSWORD_HASH`], so nobody
//! can sign in with a password until they accept. The invitation is a one-time link
//! `{public_url}/invite/{token}`, valid [`LINK_VALID_HOURS`] hours; only the token's sha256
//! is stored (`invitation`). It is mailed through the outbox (durable, retried) as a system
//! mail, From the first enabled mailbox that has an SMTP URL (lowest id) and through its
//! server. When no mailbox can send mail yet, the invitation is refused with
//! [`AgentAdminError::NoSender`] (a 400): nothing is created. Opening the link lets the agent
//! choose a password ([`super::check_new_password`]); they are then signed in.
//!
//! **Password reset** uses the same links (purpose `password_reset`): the agent's password
//! becomes unusable at once and every session of theirs ends; the mailed link sets a new one.
//! A newer link for an agent makes their older unused ones expire.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgExecutor, PgPool};
use time::OffsetDateTime;

use super::{Agent, Role};
use crate::audit::{self, AuditActor, SECRET_CHANGED};
use crate::outbox::{self, OutboxError, SystemEmail};
use crate::tickets::EmailAddress;
use crate::timezone::AgentTimeZone;

/// How long a mailed link works, in hours.
pub const LINK_VALID_HOURS: i64 = 72;

/// The password hash of an agent who has not chosen a password yet (invited, or reset by an
/// admin): not a PHC string, so no password ever verifies against it.
pub const UNUSABLE_PASSWORD_HASH: &str = "!no-password-yet";

/// Why a link was mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// A new agent's first password.
    Invite,
    /// An admin reset the agent's password.
    PasswordReset,
}

/// Why an admin change was refused. Everything but `Db` / `Outbox` is the caller's mistake
/// (a 400); `Invalid` names the field.
#[derive(Debug, thiserror::Error)]
pub enum AgentAdminError {
    /// A field's value is refused; the message starts with the field's name.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// No enabled mailbox has an SMTP URL, so an invitation or reset link cannot be mailed.
    #[error(
        "no mailbox can send mail yet: add a mailbox with an SMTP server (or enable one) before inviting agents or resetting passwords"
    )]
    NoSender,
    #[error("no agent with email {0}")]
    NotFound(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl AgentAdminError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AgentAdminError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AgentAdminError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// An agent as the admin console and `GET /api/v1/agents` show them.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct AgentSummary {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Names of the agent's teams, sorted.
    pub teams: Vec<String>,
    pub available: bool,
    pub disabled: bool,
    /// Cap of open tickets for assignment; `None` = no cap.
    pub max_open_tickets: Option<i32>,
    /// Tickets assigned to the agent that are not closed (open, pending or snoozed).
    pub open_tickets: i64,
    /// Last signed-in browser request (UTC); `None` = never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    /// Invited and has not chosen a password yet (an unused, unexpired invitation).
    #[serde(skip)]
    pub invited: bool,
}

const SUMMARY_SELECT: &str = "
    select a.email, a.name, a.role,
           coalesce((select array_agg(t.name order by t.name) from team_member m
                     join team t using (team_id) where m.agent_id = a.agent_id), '{}') as teams,
           a.available, a.disabled_at is not null as disabled, a.max_open_tickets,
           (select count(*) from ticket k where k.assignee_agent_id = a.agent_id
                                             and k.status <> 'closed') as open_tickets,
           a.last_seen_at,
           exists (select 1 from invitation i where i.agent_id = a.agent_id and i.purpose = 'invite'
                   and i.used_at is null and i.expires_at > now()) as invited
    from agent a";

/// Every agent, by email.
pub async fn list_agents(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<AgentSummary>> {
    sqlx::query_as(&format!("{SUMMARY_SELECT} order by lower(a.email)"))
        .fetch_all(db)
        .await
}

/// One agent by email (case-insensitive).
pub async fn agent_summary(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<AgentSummary>> {
    sqlx::query_as(&format!(
        "{SUMMARY_SELECT} where lower(a.email) = lower($1)"
    ))
    .bind(email.trim())
    .fetch_optional(db)
    .await
}

/// An agent to invite.
#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub email: String,
    pub name: String,
    /// `admin`, `lead` or `agent`.
    pub role: String,
    /// Team names; each must exist.
    pub teams: Vec<String>,
    /// IANA zone name; `None` = UTC.
    pub time_zone: Option<String>,
}

/// What [`invite`] did: the agent, and the link that was mailed (shown to nobody but tests
/// and the CLI, which prints it for an admin who has no mail yet working).
#[derive(Debug, Clone)]
pub struct Invited {
    pub agent_id: i64,
    pub email: String,
    pub link: String,
}

/// Invites an agent: creates them without a usable password, with their teams and zone, and
/// queues the mail with a one-time link, all in one transaction with its audit entry
/// (`agent.invite`). Refused (nothing written) for a malformed or taken email, an empty name,
/// an unknown role, team or zone, or when no mailbox can send mail.
pub async fn invite(
    pool: &PgPool,
    actor: &AuditActor,
    new: &NewAgent,
    public_url: &str,
) -> Result<Invited, AgentAdminError> {
    let email = new.email.trim().to_lowercase();
    if email.parse::<lettre::Address>().is_err() {
        return Err(AgentAdminError::invalid(
            "email",
            format!("{:?} is not an email address", new.email),
        ));
    }
    let name = new.name.trim();
    if name.is_empty() {
        return Err(AgentAdminError::invalid("name", "a name is required"));
    }
    let role = parse_role(&new.role)?;
    let tz = match new.time_zone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(z) => Some(
            AgentTimeZone::parse(z)
                .map_err(|e| AgentAdminError::invalid("time_zone", e.to_string()))?,
        ),
    };
    let mut tx = pool.begin().await?;
    let team_ids = team_ids(&mut tx, &new.teams).await?;
    let sender = sender_mailbox(&mut *tx)
        .await?
        .ok_or(AgentAdminError::NoSender)?;
    let agent_id =
        match super::create_agent(&mut *tx, &email, name, role, UNUSABLE_PASSWORD_HASH).await {
            Ok(id) => id,
            Err(super::AuthError::AgentExists(_)) => {
                return Err(AgentAdminError::invalid(
                    "email",
                    format!("an agent with email {email} already exists"),
                ));
            }
            Err(super::AuthError::Db(e)) => return Err(e.into()),
            Err(e) => return Err(AgentAdminError::Db(sqlx::Error::Protocol(e.to_string()))),
        };
    if let Some(tz) = &tz {
        super::set_time_zone(&mut *tx, agent_id, tz).await?;
    }
    for (team_id, _) in &team_ids {
        sqlx::query(
            "insert into team_member (team_id, agent_id) values ($1, $2) on conflict do nothing",
        )
        .bind(team_id)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
    }
    let to = EmailAddress {
        email: email.clone(),
        name: Some(name.to_string()),
    };
    let link = mail_link(
        &mut tx,
        &sender,
        agent_id,
        &to,
        LinkPurpose::Invite,
        public_url,
    )
    .await?;
    let teams: Vec<&str> = team_ids.iter().map(|(_, n)| n.as_str()).collect();
    audit::record(
        &mut *tx,
        actor,
        "agent.invite",
        &email,
        None,
        Some(json!({
            "email": email,
            "name": name,
            "role": role.as_str(),
            "teams": teams,
            "time_zone": tz.as_ref().map(|t| t.name()).unwrap_or("UTC"),
        })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(agent.id = agent_id, "agent invited");
    Ok(Invited {
        agent_id,
        email,
        link,
    })
}

/// Resets an agent's password: it stops working at once, every session of theirs ends, and a
/// one-time link to choose a new one is mailed to them (audit `agent.password_reset`).
/// Returns the link. Refused for a disabled agent (enable them first) and when no mailbox can
/// send mail.
pub async fn reset_password(
    pool: &PgPool,
    actor: &AuditActor,
    email: &str,
    public_url: &str,
) -> Result<String, AgentAdminError> {
    let mut tx = pool.begin().await?;
    let agent = super::find_agent_by_email(&mut *tx, email)
        .await?
        .ok_or_else(|| AgentAdminError::NotFound(email.to_string()))?;
    if !agent.active {
        return Err(AgentAdminError::invalid(
            "disabled",
            format!(
                "{} is disabled: enable them before resetting their password",
                agent.email
            ),
        ));
    }
    let sender = sender_mailbox(&mut *tx)
        .await?
        .ok_or(AgentAdminError::NoSender)?;
    super::set_password(&mut *tx, agent.agent_id, UNUSABLE_PASSWORD_HASH).await?;
    let to = EmailAddress {
        email: agent.email.clone(),
        name: Some(agent.name.clone()),
    };
    let link = mail_link(
        &mut tx,
        &sender,
        agent.agent_id,
        &to,
        LinkPurpose::PasswordReset,
        public_url,
    )
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "agent.password_reset",
        &agent.email,
        None,
        Some(json!({ "password": SECRET_CHANGED, "sessions": "ended" })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(agent.id = agent.agent_id, "password reset; link mailed");
    Ok(link)
}

/// A mailbox that sends system mail: the first enabled one with an SMTP URL.
#[derive(Debug, Clone, FromRow)]
struct Sender {
    mailbox_id: i64,
    name: String,
    address: String,
}

async fn sender_mailbox(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Sender>> {
    sqlx::query_as(
        "select mailbox_id, name, address from mailbox
         where enabled and coalesce(smtp_url, '') <> ''
         order by mailbox_id limit 1",
    )
    .fetch_optional(db)
    .await
}

/// Whether a link could be mailed now (some enabled mailbox has an SMTP URL).
pub async fn can_send_mail(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    Ok(sender_mailbox(db).await?.is_some())
}

/// Creates a link for the agent (their older unused links expire) and queues its mail.
/// Returns the link.
async fn mail_link(
    conn: &mut PgConnection,
    sender: &Sender,
    agent_id: i64,
    to: &EmailAddress,
    purpose: LinkPurpose,
    public_url: &str,
) -> Result<String, AgentAdminError> {
    sqlx::query(
        "update invitation set expires_at = least(expires_at, now())
         where agent_id = $1 and used_at is null",
    )
    .bind(agent_id)
    .execute(&mut *conn)
    .await?;
    let token = super::random_secret();
    let invitation_id: i64 = sqlx::query_scalar(
        "insert into invitation (agent_id, token_sha256, purpose, expires_at)
         values ($1, $2, $3, now() + make_interval(hours => $4)) returning invitation_id",
    )
    .bind(agent_id)
    .bind(&Sha256::digest(token.as_bytes())[..])
    .bind(purpose)
    .bind(LINK_VALID_HOURS as i32)
    .fetch_one(&mut *conn)
    .await?;
    let link = format!("{}/invite/{token}", public_url.trim_end_matches('/'));
    let domain = sender
        .address
        .rsplit('@')
        .next()
        .unwrap_or("frontdesk.invalid");
    let (subject, text) = match purpose {
        LinkPurpose::Invite => (
            format!("You are invited to Frontdesk ({})", sender.name),
            format!(
                "Hello {name},\n\n\
                 you have been invited to answer mail for {mailbox} with Frontdesk.\n\
                 Choose your password here (the link works once, for {LINK_VALID_HOURS} hours):\n\n\
                 {link}\n\n\
                 -- \nIf you did not expect this mail, you can ignore it.\n",
                name = to.name.as_deref().unwrap_or(&to.email),
                mailbox = sender.name,
            ),
        ),
        LinkPurpose::PasswordReset => (
            format!("Choose a new Frontdesk password ({})", sender.name),
            format!(
                "Hello {name},\n\n\
                 an admin reset your Frontdesk password; your old one no longer works.\n\
                 Choose a new one here (the link works once, for {LINK_VALID_HOURS} hours):\n\n\
                 {link}\n",
                name = to.name.as_deref().unwrap_or(&to.email),
            ),
        ),
    };
    let mail = SystemEmail {
        mailbox_id: sender.mailbox_id,
        from_name: format!("Frontdesk ({})", sender.name),
        from_address: sender.address.clone(),
        to: to.clone(),
        subject,
        header_message_id: format!(
            "fd.invite.{invitation_id}.{}@{domain}",
            &super::random_secret()[..16]
        ),
        text,
    };
    outbox::enqueue_invitation(conn, invitation_id, &mail).await?;
    Ok(link)
}

/// What a link's token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Usable: the agent it is for.
    Valid {
        email: String,
        name: String,
        purpose: LinkPurpose,
    },
    /// Already used (a password was chosen with it).
    Used,
    /// Past its 72 hours, or replaced by a newer link.
    Expired,
    /// No such link, or its agent is disabled.
    Unknown,
}

#[derive(FromRow)]
struct LinkRow {
    invitation_id: i64,
    agent_id: i64,
    email: String,
    name: String,
    purpose: LinkPurpose,
    used: bool,
    expired: bool,
    agent_active: bool,
}

async fn link_row(
    conn: &mut PgConnection,
    token: &str,
    lock: bool,
) -> sqlx::Result<Option<LinkRow>> {
    sqlx::query_as(&format!(
        "select i.invitation_id, i.agent_id, a.email, a.name, i.purpose,
                i.used_at is not null as used, i.expires_at <= now() as expired,
                a.disabled_at is null as agent_active
         from invitation i join agent a using (agent_id)
         where i.token_sha256 = $1 {}",
        if lock { "for update of i, a" } else { "" }
    ))
    .bind(&Sha256::digest(token.trim().as_bytes())[..])
    .fetch_optional(conn)
    .await
}

fn state_of(row: Option<&LinkRow>) -> LinkState {
    match row {
        None => LinkState::Unknown,
        Some(r) if !r.agent_active => LinkState::Unknown,
        Some(r) if r.used => LinkState::Used,
        Some(r) if r.expired => LinkState::Expired,
        Some(r) => LinkState::Valid {
            email: r.email.clone(),
            name: r.name.clone(),
            purpose: r.purpose,
        },
    }
}

/// What the link with this token stands for (nothing is changed).
pub async fn link_state(pool: &PgPool, token: &str) -> sqlx::Result<LinkState> {
    let mut conn = pool.acquire().await?;
    Ok(state_of(link_row(&mut conn, token, false).await?.as_ref()))
}

/// Why a link did not set a password.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The link is not (or no longer) usable.
    #[error("this link cannot be used: {0:?}")]
    Link(LinkState),
    /// The password is refused; the message says why.
    #[error("{0}")]
    Password(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Sets the agent's password with a link: the link must be valid, the password acceptable
/// ([`super::check_new_password`]). The link is used up, the agent's other links expire, their
/// sessions end (a new generation) and the audit log records `agent.password_set` by the
/// agent. Returns the agent, to be signed in.
pub async fn accept(pool: &PgPool, token: &str, password: &str) -> Result<Agent, AcceptError> {
    super::check_new_password(password).map_err(AcceptError::Password)?;
    // Refuse a dead link before the costly hash.
    if let s @ (LinkState::Used | LinkState::Expired | LinkState::Unknown) =
        link_state(pool, token).await?
    {
        return Err(AcceptError::Link(s));
    }
    let hash = super::hash_password_limited(password)
        .await
        .map_err(|e| AcceptError::Internal(e.to_string()))?;
    let mut tx = pool.begin().await?;
    let row = link_row(&mut tx, token, true).await?;
    let state = state_of(row.as_ref());
    let (LinkState::Valid { purpose, .. }, Some(row)) = (&state, row) else {
        return Err(AcceptError::Link(state));
    };
    super::set_password(&mut *tx, row.agent_id, &hash).await?;
    sqlx::query("update invitation set used_at = now() where invitation_id = $1")
        .bind(row.invitation_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update invitation set expires_at = least(expires_at, now())
         where agent_id = $1 and used_at is null",
    )
    .bind(row.agent_id)
    .execute(&mut *tx)
    .await?;
    let agent = super::find_agent(&mut *tx, row.agent_id)
        .await?
        .ok_or(AcceptError::Link(LinkState::Unknown))?;
    audit::record(
        &mut *tx,
        &AuditActor::agent(&agent),
        "agent.password_set",
        &agent.email,
        None,
        Some(json!({
            "password": SECRET_CHANGED,
            "with": match purpose { LinkPurpose::Invite => "invitation", LinkPurpose::PasswordReset => "reset link" },
        })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(agent.id = agent.agent_id, "password chosen with a link");
    Ok(agent)
}

/// A change an admin makes to an agent; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct AgentChange {
    pub name: Option<String>,
    /// `admin`, `lead` or `agent`.
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub available: Option<bool>,
    /// `Some(None)` clears the cap; `Some(Some(n))` needs n > 0.
    pub max_open_tickets: Option<Option<i64>>,
}

/// Applies an admin's change to the agent with this email, in one transaction with its audit
/// entry (`agent.update`, only the fields that changed; none when nothing did). Refuses, and
/// changes nothing, an empty name, an unknown role, a cap that is not positive, and disabling
/// or demoting the last active admin. Returns the agent as it is now.
pub async fn update_agent(
    pool: &PgPool,
    actor: &AuditActor,
    email: &str,
    change: &AgentChange,
) -> Result<AgentSummary, AgentAdminError> {
    let name = match change.name.as_deref().map(str::trim) {
        Some("") => return Err(AgentAdminError::invalid("name", "a name is required")),
        n => n,
    };
    let role = change.role.as_deref().map(parse_role).transpose()?;
    let cap = match change.max_open_tickets {
        Some(Some(n)) if !(1..=i32::MAX as i64).contains(&n) => {
            return Err(AgentAdminError::invalid(
                "max_open_tickets",
                format!("must be a positive whole number (or null for no cap), got {n}"),
            ));
        }
        Some(c) => Some(c.map(|n| n as i32)),
        None => None,
    };
    let mut tx = pool.begin().await?;
    // Lock the active admins first, so that two admins demoting each other at once cannot
    // both succeed and leave nobody.
    let admins: Vec<i64> = sqlx::query_scalar(
        "select agent_id from agent where role = 'admin' and disabled_at is null
         order by agent_id for update",
    )
    .fetch_all(&mut *tx)
    .await?;
    let agent = super::find_agent_by_email(&mut *tx, email)
        .await?
        .ok_or_else(|| AgentAdminError::NotFound(email.to_string()))?;
    let before = agent_summary(&mut *tx, &agent.email)
        .await?
        .ok_or_else(|| AgentAdminError::NotFound(email.to_string()))?;
    let last_admin = admins == [agent.agent_id];
    if last_admin && role.is_some_and(|r| r != Role::Admin) {
        return Err(AgentAdminError::invalid(
            "role",
            format!(
                "{} is the last active admin: make another agent admin first",
                agent.email
            ),
        ));
    }
    if last_admin && change.disabled == Some(true) {
        return Err(AgentAdminError::invalid(
            "disabled",
            format!(
                "{} is the last active admin and cannot be disabled",
                agent.email
            ),
        ));
    }
    sqlx::query(
        "update agent set name = coalesce($2, name), role = coalesce($3, role),
                available = coalesce($4, available),
                max_open_tickets = case when $5 then $6 else max_open_tickets end
         where agent_id = $1",
    )
    .bind(agent.agent_id)
    .bind(name)
    .bind(role.map(Role::as_str))
    .bind(change.available)
    .bind(cap.is_some())
    .bind(cap.flatten())
    .execute(&mut *tx)
    .await?;
    if let Some(disabled) = change.disabled {
        super::set_disabled(&mut *tx, agent.agent_id, disabled).await?;
    }
    // made available or given a higher cap: waiting tickets of their teams go out now
    if change.available == Some(true) || cap.is_some() {
        crate::rules::pull::hand_out(&mut tx, agent.agent_id).await?;
    }
    let after = agent_summary(&mut *tx, &agent.email)
        .await?
        .ok_or_else(|| AgentAdminError::NotFound(email.to_string()))?;
    if let Some((old, new)) = audit::changed_fields(&audited(&before), &audited(&after)) {
        audit::record(
            &mut *tx,
            actor,
            "agent.update",
            &agent.email,
            Some(old),
            Some(new),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// The fields of an agent the audit log compares.
fn audited(a: &AgentSummary) -> Value {
    json!({
        "name": a.name,
        "role": a.role.as_str(),
        "disabled": a.disabled,
        "available": a.available,
        "max_open_tickets": a.max_open_tickets,
    })
}

/// An agent sets themselves available or away (from the header or `PATCH /api/v1/me`). Not
/// in the audit log: it is the agent's own state, not configuration.
/// Becoming available hands out waiting tickets of the agent's teams
/// ([`crate::rules::pull::hand_out`]) in the same transaction.
pub async fn set_available(
    conn: &mut PgConnection,
    agent_id: i64,
    available: bool,
) -> sqlx::Result<()> {
    sqlx::query("update agent set available = $2 where agent_id = $1")
        .bind(agent_id)
        .bind(available)
        .execute(&mut *conn)
        .await?;
    if available {
        crate::rules::pull::hand_out(conn, agent_id).await?;
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, AgentAdminError> {
    Role::parse(&s.trim().to_lowercase()).ok_or_else(|| {
        AgentAdminError::invalid(
            "role",
            format!("{s:?} is not a role: expected admin, lead or agent"),
        )
    })
}

/// The ids of the named teams (case-insensitive), with their stored names; an unknown name
/// is refused naming the field `teams`.
async fn team_ids(
    conn: &mut PgConnection,
    names: &[String],
) -> Result<Vec<(i64, String)>, AgentAdminError> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for n in names {
        let row: Option<(i64, String)> =
            sqlx::query_as("select team_id, name from team where lower(name) = lower($1)")
                .bind(n.trim())
                .fetch_optional(&mut *conn)
                .await?;
        match row {
            Some(r) if !out.iter().any(|(id, _)| *id == r.0) => out.push(r),
            Some(_) => {}
            None => {
                return Err(AgentAdminError::invalid(
                    "teams",
                    format!("no team named {:?}", n.trim()),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}
