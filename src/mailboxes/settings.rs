//! Mailboxes as the admin console and the admin API change them: create, update, enable and
//! disable, each validated whole before anything is written, in one transaction with its
//! audit entry. Passwords never reach the audit log (they show as `"changed"`).

use serde_json::{Value, json};
use sqlx::{FromRow, PgExecutor, PgPool, Postgres, Transaction};
use time::OffsetDateTime;

use super::fields::{check_imap_url, without_password};
use crate::audit::{self, AuditActor, SECRET_CHANGED};

/// The From name format replies had before the setting existed: "Dana via Example Support".
pub const DEFAULT_FROM_NAME_FORMAT: &str = "{agent} via {mailbox}";

/// A reply's From display name: `{agent}` becomes the agent's name, `{mailbox}` the mailbox's
/// ("{agent} at {mailbox}" gives "Dana at Example Support"). An empty format, or one that
/// comes out empty, gives the default's result.
pub fn from_name(format: &str, agent: &str, mailbox: &str) -> String {
    let name = format
        .replace("{agent}", agent)
        .replace("{mailbox}", mailbox)
        .trim()
        .to_string();
    if name.is_empty() {
        from_name(DEFAULT_FROM_NAME_FORMAT, agent, mailbox)
    } else {
        name
    }
}

/// A mailbox with everything the admin pages and API show. `imap_url` and `smtp_url` hold
/// the passwords: show them only through [`without_password`].
#[derive(Clone, FromRow)]
pub struct MailboxSettings {
    pub mailbox_id: i64,
    pub name: String,
    pub address: String,
    pub imap_url: String,
    pub smtp_url: Option<String>,
    pub enabled: bool,
    /// Plain text appended to every reply under "-- ".
    pub signature: String,
    /// See [`from_name`].
    pub from_name_format: String,
    /// The team the mailbox belongs to.
    pub team: Option<String>,
    /// The node that polled last.
    pub polled_by: Option<String>,
    /// Last poll and last good poll, UTC.
    pub last_poll_at: Option<OffsetDateTime>,
    pub last_ok_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<OffsetDateTime>,
    /// Failed polls since the last good one (0 when never polled).
    pub consecutive_failures: i32,
    /// The SLA policy new tickets of this mailbox start under (`sla::policies`), if any.
    pub sla_policy_id: Option<i64>,
    /// CSAT surveys on (`crate::csat`); off by default.
    pub csat: bool,
    /// `reply` (in the closing reply) or `delayed` (a separate mail after the close).
    pub csat_mode: String,
    /// For `delayed`: minutes after the close (1 to 10080).
    pub csat_delay_minutes: i32,
    /// The language its mail is searched in (stemming): `english` (default), `german`, ...,
    /// `simple` (none); the text search configuration `frontdesk_<language>`.
    pub search_language: String,
}

impl std::fmt::Debug for MailboxSettings {
    /// The address only: the URLs hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailboxSettings({})", self.address)
    }
}

const SELECT: &str =
    "select m.mailbox_id, m.name, m.address, m.imap_url, m.smtp_url, m.enabled, m.signature,
        m.from_name_format, t.name as team, h.polled_by, h.last_poll_at, h.last_ok_at, h.last_error,
        h.last_error_at, coalesce(h.consecutive_failures, 0) as consecutive_failures,
        m.sla_policy_id, m.csat, m.csat_mode, m.csat_delay_minutes, m.search_language
    from mailbox m left join team t on t.team_id = m.team_id
    left join mailbox_health h on h.mailbox_id = m.mailbox_id";

/// Every mailbox with its settings and poll health, oldest first.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MailboxSettings>> {
    sqlx::query_as(&format!("{SELECT} order by m.mailbox_id"))
        .fetch_all(db)
        .await
}

/// One mailbox by id.
pub async fn get(
    db: impl PgExecutor<'_>,
    mailbox_id: i64,
) -> sqlx::Result<Option<MailboxSettings>> {
    sqlx::query_as(&format!("{SELECT} where m.mailbox_id = $1"))
        .bind(mailbox_id)
        .fetch_optional(db)
        .await
}

/// One mailbox by address (case-insensitive).
pub async fn get_by_address(
    db: impl PgExecutor<'_>,
    address: &str,
) -> sqlx::Result<Option<MailboxSettings>> {
    sqlx::query_as(&format!("{SELECT} where lower(m.address) = lower($1)"))
        .bind(address.trim())
        .fetch_optional(db)
        .await
}

/// Why a change was refused: `field` names the input at fault (`address`, `imap_url`, ...).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such mailbox")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field,
        message: message.into(),
    }
}

/// A change to a mailbox; `None` leaves a field as it is. URLs are complete (with password):
/// callers that let people leave a password out fill it in first (`fields`).
#[derive(Debug, Clone, Default)]
pub struct MailboxChange {
    pub name: Option<String>,
    pub address: Option<String>,
    pub imap_url: Option<String>,
    /// `Some(None)` removes the SMTP server.
    pub smtp_url: Option<Option<String>>,
    pub signature: Option<String>,
    pub from_name_format: Option<String>,
    /// A team name; `Some(None)` clears it.
    pub team: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// The default SLA policy's id; `Some(None)` clears it (`sla::policies`).
    pub sla_policy: Option<Option<i64>>,
    /// CSAT surveys on or off.
    pub csat: Option<bool>,
    /// `reply` or `delayed` ([`crate::csat::Mode`]).
    pub csat_mode: Option<String>,
    /// Minutes after the close for `delayed` (1 to 10080).
    pub csat_delay_minutes: Option<i32>,
    /// One of [`search_languages`]; a change re-indexes the mailbox's mail.
    pub search_language: Option<String>,
}

impl std::fmt::Debug for MailboxSettingsRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailboxSettingsRow({})", self.address)
    }
}

/// The values to write, after validation.
struct MailboxSettingsRow {
    name: String,
    address: String,
    imap_url: String,
    smtp_url: Option<String>,
    signature: String,
    from_name_format: String,
    team_id: Option<i64>,
    team: Option<String>,
    enabled: bool,
    csat: bool,
    csat_mode: String,
    csat_delay_minutes: i32,
    search_language: String,
}

/// The languages a mailbox's mail can be searched in, sorted: the names of the text search
/// configurations `frontdesk_<name>` (migration 20261206040000: one per built-in PostgreSQL
/// configuration, `simple` and `english` to `yiddish`, depending on the server's version).
pub async fn search_languages(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select substr(cfgname, 11) from pg_ts_config
         where cfgname like 'frontdesk\\_%' and cfgnamespace = 'public'::regnamespace order by 1",
    )
    .fetch_all(db)
    .await
}

fn check_format(format: &str) -> Result<(), SettingsError> {
    let rest = format.replace("{agent}", "").replace("{mailbox}", "");
    if rest.contains(['{', '}']) {
        return Err(invalid(
            "from_name_format",
            "only {agent} and {mailbox} can be filled in",
        ));
    }
    if format.trim().is_empty() || format.contains(['\r', '\n']) {
        return Err(invalid(
            "from_name_format",
            "enter one line, e.g. \"{agent} at {mailbox}\"",
        ));
    }
    Ok(())
}

async fn validate(
    tx: &mut Transaction<'_, Postgres>,
    row: &mut MailboxSettingsRow,
    own_id: Option<i64>,
    allow_plaintext: bool,
) -> Result<(), SettingsError> {
    row.name = row.name.trim().to_string();
    if row.name.is_empty() {
        return Err(invalid("name", "enter a name, e.g. \"Example Support\""));
    }
    row.address = row.address.trim().to_string();
    let a = &row.address;
    if a.chars().any(char::is_whitespace)
        || !a
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') || d == "localhost")
    {
        return Err(invalid("address", format!("{a:?} is not an email address")));
    }
    let taken: Option<i64> =
        sqlx::query_scalar("select mailbox_id from mailbox where lower(address) = lower($1)")
            .bind(a)
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_some_and(|id| Some(id) != own_id) {
        return Err(invalid(
            "address",
            format!("a mailbox with address {a} already exists"),
        ));
    }
    row.imap_url = row.imap_url.trim().to_string();
    check_imap_url(&row.imap_url, allow_plaintext)
        .map_err(|e| invalid("imap_url", e.to_string()))?;
    row.smtp_url = row
        .smtp_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(s) = &row.smtp_url {
        super::check_smtp_url(s).map_err(|e| invalid("smtp_url", e.to_string()))?;
    }
    check_format(&row.from_name_format)?;
    row.csat_mode = row.csat_mode.trim().to_string();
    if crate::csat::Mode::parse(&row.csat_mode).is_none() {
        return Err(invalid(
            "csat_mode",
            "choose \"reply\" (in the closing reply) or \"delayed\" (a separate mail)",
        ));
    }
    if !(1..=10080).contains(&row.csat_delay_minutes) {
        return Err(invalid(
            "csat_delay_minutes",
            "enter minutes from 1 to 10080 (a week)",
        ));
    }
    row.search_language = row.search_language.trim().to_lowercase();
    let languages = search_languages(&mut **tx).await?;
    if !languages.contains(&row.search_language) {
        return Err(invalid(
            "search_language",
            format!(
                "{:?} is not a search language; choose one of {}",
                row.search_language,
                languages.join(", ")
            ),
        ));
    }
    row.team = row
        .team
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    row.team_id = match &row.team {
        None => None,
        Some(t) => Some(
            sqlx::query_scalar("select team_id from team where name = $1")
                .bind(t)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| invalid("team", format!("no team named {t:?}")))?,
        ),
    };
    Ok(())
}

/// The audit view of a row: no passwords.
fn audit_json(r: &MailboxSettingsRow) -> Value {
    json!({
        "name": r.name,
        "address": r.address,
        "imap_url": without_password(&r.imap_url),
        "smtp_url": r.smtp_url.as_deref().map(without_password),
        "signature": r.signature,
        "from_name_format": r.from_name_format,
        "team": r.team,
        "enabled": r.enabled,
        "csat": r.csat,
        "csat_mode": r.csat_mode,
        "csat_delay_minutes": r.csat_delay_minutes,
        "search_language": r.search_language,
    })
}

fn password_of(url: Option<&str>) -> Option<String> {
    url.and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.password().map(str::to_string))
}

/// Creates a mailbox (enabled unless `change.enabled` says otherwise). `name`, `address` and
/// `imap_url` are required. `allow_plaintext` is the node's `FRONTDESK_IMAP_ALLOW_PLAINTEXT`.
pub async fn create(
    pool: &PgPool,
    actor: &AuditActor,
    change: MailboxChange,
    allow_plaintext: bool,
) -> Result<MailboxSettings, SettingsError> {
    let mut tx = pool.begin().await?;
    let mut row = MailboxSettingsRow {
        name: change.name.unwrap_or_default(),
        address: change.address.unwrap_or_default(),
        imap_url: change
            .imap_url
            .ok_or_else(|| invalid("imap_url", "the IMAP server is required"))?,
        smtp_url: change.smtp_url.flatten(),
        signature: change.signature.unwrap_or_default(),
        from_name_format: change
            .from_name_format
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_FROM_NAME_FORMAT.into()),
        team_id: None,
        team: change.team.flatten(),
        enabled: change.enabled.unwrap_or(true),
        csat: change.csat.unwrap_or(false),
        csat_mode: change
            .csat_mode
            .unwrap_or_else(|| crate::csat::Mode::Reply.as_str().into()),
        csat_delay_minutes: change.csat_delay_minutes.unwrap_or(60),
        search_language: change.search_language.unwrap_or_else(|| "english".into()),
    };
    validate(&mut tx, &mut row, None, allow_plaintext).await?;
    let id: i64 = sqlx::query_scalar(
        "insert into mailbox (name, address, imap_url, smtp_url, signature, from_name_format, team_id, enabled,
                              csat, csat_mode, csat_delay_minutes, search_language)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning mailbox_id",
    )
    .bind(&row.name)
    .bind(&row.address)
    .bind(&row.imap_url)
    .bind(&row.smtp_url)
    .bind(&row.signature)
    .bind(&row.from_name_format)
    .bind(row.team_id)
    .bind(row.enabled)
    .bind(row.csat)
    .bind(&row.csat_mode)
    .bind(row.csat_delay_minutes)
    .bind(&row.search_language)
    .fetch_one(&mut *tx)
    .await?;
    grant_team(&mut tx, row.team_id, id).await?;
    let mut after = audit_json(&row);
    if let Some(Some(policy)) = change.sla_policy {
        let (_, name) = set_sla_policy(&mut tx, id, Some(policy)).await?;
        after["sla_policy"] = name.into();
    }
    after["imap_password"] = SECRET_CHANGED.into();
    if password_of(row.smtp_url.as_deref()).is_some_and(|p| !p.is_empty()) {
        after["smtp_password"] = SECRET_CHANGED.into();
    }
    audit::record(
        &mut *tx,
        actor,
        "mailbox.create",
        &row.address,
        None,
        Some(after),
    )
    .await?;
    let created = get(&mut *tx, id).await?.ok_or(SettingsError::NotFound)?;
    tx.commit().await?;
    Ok(created)
}

/// Sets or clears the mailbox's default SLA policy; the old and new policy names.
async fn set_sla_policy(
    tx: &mut Transaction<'_, Postgres>,
    mailbox_id: i64,
    policy: Option<i64>,
) -> Result<(Option<String>, Option<String>), SettingsError> {
    use crate::sla::SlaError;
    crate::sla::policies::set_mailbox_default(tx, mailbox_id, policy)
        .await
        .map_err(|e| match e {
            SlaError::Invalid { message, .. } | SlaError::InUse(message) => {
                invalid("sla_policy", message)
            }
            SlaError::NotFound => SettingsError::NotFound,
            SlaError::Db(e) => SettingsError::Db(e),
        })
}

/// The team a mailbox belongs to also works it (`team_mailbox`), so its members see it.
async fn grant_team(
    tx: &mut Transaction<'_, Postgres>,
    team_id: Option<i64>,
    mailbox_id: i64,
) -> sqlx::Result<()> {
    if let Some(team_id) = team_id {
        sqlx::query(
            "insert into team_mailbox (team_id, mailbox_id) values ($1, $2) on conflict do nothing",
        )
        .bind(team_id)
        .bind(mailbox_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Changes a mailbox. The audit entry holds only what changed (`mailbox.update`; a change of
/// `enabled` alone is `mailbox.enable` / `mailbox.disable`), passwords as `"changed"`.
pub async fn update(
    pool: &PgPool,
    actor: &AuditActor,
    mailbox_id: i64,
    change: MailboxChange,
    allow_plaintext: bool,
) -> Result<MailboxSettings, SettingsError> {
    let mut tx = pool.begin().await?;
    let old: MailboxSettings =
        sqlx::query_as(&format!("{SELECT} where m.mailbox_id = $1 for update of m"))
            .bind(mailbox_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(SettingsError::NotFound)?;
    let before_row = MailboxSettingsRow {
        name: old.name.clone(),
        address: old.address.clone(),
        imap_url: old.imap_url.clone(),
        smtp_url: old.smtp_url.clone(),
        signature: old.signature.clone(),
        from_name_format: old.from_name_format.clone(),
        team_id: None,
        team: old.team.clone(),
        enabled: old.enabled,
        csat: old.csat,
        csat_mode: old.csat_mode.clone(),
        csat_delay_minutes: old.csat_delay_minutes,
        search_language: old.search_language.clone(),
    };
    let mut row = MailboxSettingsRow {
        name: change.name.unwrap_or_else(|| old.name.clone()),
        address: change.address.unwrap_or_else(|| old.address.clone()),
        imap_url: change.imap_url.unwrap_or_else(|| old.imap_url.clone()),
        smtp_url: change.smtp_url.unwrap_or_else(|| old.smtp_url.clone()),
        signature: change.signature.unwrap_or_else(|| old.signature.clone()),
        from_name_format: change
            .from_name_format
            .unwrap_or_else(|| old.from_name_format.clone()),
        team_id: None,
        team: change.team.unwrap_or_else(|| old.team.clone()),
        enabled: change.enabled.unwrap_or(old.enabled),
        csat: change.csat.unwrap_or(old.csat),
        csat_mode: change.csat_mode.unwrap_or_else(|| old.csat_mode.clone()),
        csat_delay_minutes: change.csat_delay_minutes.unwrap_or(old.csat_delay_minutes),
        search_language: change
            .search_language
            .unwrap_or_else(|| old.search_language.clone()),
    };
    validate(&mut tx, &mut row, Some(mailbox_id), allow_plaintext).await?;
    sqlx::query(
        "update mailbox set name = $2, address = $3, imap_url = $4, smtp_url = $5, signature = $6,
                from_name_format = $7, team_id = $8, enabled = $9, csat = $10, csat_mode = $11,
                csat_delay_minutes = $12, search_language = $13
         where mailbox_id = $1",
    )
    .bind(mailbox_id)
    .bind(&row.name)
    .bind(&row.address)
    .bind(&row.imap_url)
    .bind(&row.smtp_url)
    .bind(&row.signature)
    .bind(&row.from_name_format)
    .bind(row.team_id)
    .bind(row.enabled)
    .bind(row.csat)
    .bind(&row.csat_mode)
    .bind(row.csat_delay_minutes)
    .bind(&row.search_language)
    .execute(&mut *tx)
    .await?;
    if row.search_language != old.search_language {
        // The background indexer (search::index_pending) builds its messages' vectors again
        // in the new language; meanwhile their old vectors still match.
        sqlx::query(
            "update message set search_config = null
             where search_config is not null
               and ticket_id in (select ticket_id from ticket where mailbox_id = $1)",
        )
        .bind(mailbox_id)
        .execute(&mut *tx)
        .await?;
    }
    grant_team(&mut tx, row.team_id, mailbox_id).await?;
    let changed = audit::changed_fields(&audit_json(&before_row), &audit_json(&row));
    let (mut before, mut after) = changed.unwrap_or((json!({}), json!({})));
    if let Some(policy) = change.sla_policy {
        let (old_policy, new_policy) = set_sla_policy(&mut tx, mailbox_id, policy).await?;
        if old_policy != new_policy {
            before["sla_policy"] = old_policy.into();
            after["sla_policy"] = new_policy.into();
        }
    }
    if password_of(Some(&old.imap_url)) != password_of(Some(&row.imap_url)) {
        before["imap_password"] = SECRET_CHANGED.into();
        after["imap_password"] = SECRET_CHANGED.into();
    }
    if password_of(old.smtp_url.as_deref()) != password_of(row.smtp_url.as_deref()) {
        before["smtp_password"] = SECRET_CHANGED.into();
        after["smtp_password"] = SECRET_CHANGED.into();
    }
    if after.as_object().is_some_and(|o| !o.is_empty()) {
        let only_enabled = after
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("enabled"));
        let action = match (only_enabled, row.enabled) {
            (true, true) => "mailbox.enable",
            (true, false) => "mailbox.disable",
            _ => "mailbox.update",
        };
        audit::record(
            &mut *tx,
            actor,
            action,
            &row.address,
            Some(before),
            Some(after),
        )
        .await?;
    }
    let updated = get(&mut *tx, mailbox_id)
        .await?
        .ok_or(SettingsError::NotFound)?;
    tx.commit().await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_name_fills_in_the_format() {
        assert_eq!(
            from_name("{agent} at {mailbox}", "Dana", "Example Support"),
            "Dana at Example Support"
        );
        assert_eq!(
            from_name(DEFAULT_FROM_NAME_FORMAT, "Dana", "Example Support"),
            "Dana via Example Support"
        );
        assert_eq!(from_name("  ", "Dana", "S"), "Dana via S");
    }

    #[test]
    fn format_accepts_only_known_placeholders() {
        assert!(check_format("{agent} at {mailbox}").is_ok());
        assert!(check_format("{agnet} at {mailbox}").is_err());
        assert!(check_format("").is_err());
    }
}
