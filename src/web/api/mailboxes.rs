//! Admin API: mailboxes. URLs come back with the password removed; a URL sent without a
//! password (the form the API returns) keeps the stored one when user and host are the same.
//!
//! - `GET /api/v1/mailboxes` → `{"mailboxes": [mailbox]}`, oldest first.
//! - `POST /api/v1/mailboxes` `{"name", "address", "imap_url", "smtp_url"?, "signature"?,
//!   "from_name_format"?, "team"?, "csat"?, "csat_mode"?, "csat_delay_minutes"?,
//!   "search_language"? (default "english")}` → 201 mailbox.
//! - `PATCH /api/v1/mailboxes/{address}` `{"name"?, "imap_url"?, "smtp_url"? (null removes it),
//!   "signature"?, "enabled"?, "from_name_format"?, "team"? (null clears it), "sla_policy"?
//!   (an SLA policy id, the mailbox's default; null clears it), "csat"? (true | false: CSAT
//!   surveys on or off), "csat_mode"? ("reply" | "delayed"), "csat_delay_minutes"? (1-10080),
//!   "search_language"? ("english", "german", ..., "simple": the stemming its mail is searched
//!   with; a change re-indexes the mailbox's mail in the background)}` → mailbox.
//! - `POST /api/v1/mailboxes/{address}/test` → `{"imap": {"ok", "message"}, "smtp": {"ok",
//!   "message"}}`: signs in to the stored servers (each check at most 10 s).
//!
//! A mailbox is `{"name", "address", "imap_url", "smtp_url", "signature", "from_name_format",
//! "team", "enabled", "sla_policy" (id or null), "csat", "csat_mode", "csat_delay_minutes", "search_language", "health": {"polled_by", "last_poll_at",
//! "last_ok_at", "last_error", "last_error_at", "consecutive_failures"}}`, times RFC 3339 UTC. Bad input → 400 naming the
//! field; nothing is half-applied.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiError, JsonBody};
use crate::mailboxes::check;
use crate::mailboxes::fields::{keep_imap_password, keep_smtp_password, without_password};
use crate::mailboxes::settings::{self, MailboxChange, MailboxSettings, SettingsError};
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
        .routes(routes!(test))
}

impl From<SettingsError> for AppError {
    fn from(e: SettingsError) -> Self {
        match e {
            e @ SettingsError::Invalid { .. } => AppError::BadRequest(e.to_string()),
            SettingsError::NotFound => AppError::NotFound,
            SettingsError::Db(e) => AppError::Db(e),
        }
    }
}

/// The API's view of a mailbox: URLs without their passwords, and its poll health.
#[derive(Serialize, ToSchema)]
pub struct Mailbox {
    pub address: String,
    /// CSAT surveys on or off.
    pub csat: bool,
    /// For `delayed`: minutes after the close (1 to 10080).
    pub csat_delay_minutes: i32,
    /// `reply` or `delayed`.
    pub csat_mode: String,
    pub enabled: bool,
    pub from_name_format: String,
    pub health: MailboxHealth,
    /// Without its password.
    pub imap_url: String,
    pub name: String,
    /// The stemming its mail is searched with (`english`, `german`, ..., `simple`).
    pub search_language: String,
    pub signature: String,
    /// The default SLA policy's id, or null.
    pub sla_policy: Option<i64>,
    /// Without its password; null: none.
    pub smtp_url: Option<String>,
    /// The team's name, or null.
    pub team: Option<String>,
}

/// How polling the mailbox goes. Times RFC 3339 UTC.
#[derive(Serialize, ToSchema)]
pub struct MailboxHealth {
    /// Failed polls since the last good one.
    pub consecutive_failures: i32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_error_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_ok_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_poll_at: Option<time::OffsetDateTime>,
    /// The node that polled last.
    pub polled_by: Option<String>,
}

impl From<&MailboxSettings> for Mailbox {
    fn from(m: &MailboxSettings) -> Mailbox {
        Mailbox {
            address: m.address.clone(),
            csat: m.csat,
            csat_delay_minutes: m.csat_delay_minutes,
            csat_mode: m.csat_mode.clone(),
            enabled: m.enabled,
            from_name_format: m.from_name_format.clone(),
            health: MailboxHealth {
                consecutive_failures: m.consecutive_failures,
                last_error: m.last_error.clone(),
                last_error_at: m.last_error_at,
                last_ok_at: m.last_ok_at,
                last_poll_at: m.last_poll_at,
                polled_by: m.polled_by.clone(),
            },
            imap_url: without_password(&m.imap_url),
            name: m.name.clone(),
            search_language: m.search_language.clone(),
            signature: m.signature.clone(),
            sla_policy: m.sla_policy_id,
            smtp_url: m.smtp_url.as_deref().map(without_password),
            team: m.team.clone(),
        }
    }
}

/// Every mailbox, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MailboxList {
    pub mailboxes: Vec<Mailbox>,
}

/// `GET /api/v1/mailboxes`.
#[utoipa::path(get, path = "/mailboxes", tag = "mailboxes",
    responses(
        (status = 200, body = MailboxList),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> Result<Json<MailboxList>, AppError> {
    let all = settings::list(&state.pool).await?;
    Ok(Json(MailboxList {
        mailboxes: all.iter().map(Mailbox::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MailboxCreate {
    name: String,
    address: String,
    imap_url: String,
    smtp_url: Option<String>,
    signature: Option<String>,
    from_name_format: Option<String>,
    team: Option<String>,
    csat: Option<bool>,
    csat_mode: Option<String>,
    csat_delay_minutes: Option<i32>,
    search_language: Option<String>,
}

/// `POST /api/v1/mailboxes`.
#[utoipa::path(post, path = "/mailboxes", tag = "mailboxes", request_body = MailboxCreate,
    responses(
        (status = 201, body = Mailbox),
        (status = 400, body = ApiError, description = "A bad field (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<MailboxCreate>,
) -> Result<(StatusCode, Json<Mailbox>), AppError> {
    let change = MailboxChange {
        name: Some(body.name),
        address: Some(body.address),
        imap_url: Some(body.imap_url),
        smtp_url: Some(body.smtp_url),
        signature: body.signature,
        from_name_format: body.from_name_format,
        team: Some(body.team),
        enabled: None,
        sla_policy: None,
        csat: body.csat,
        csat_mode: body.csat_mode,
        csat_delay_minutes: body.csat_delay_minutes,
        search_language: body.search_language,
    };
    let m = settings::create(
        &state.pool,
        &admin.actor(),
        change,
        state.config.ingest.allow_plaintext,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Mailbox::from(&m))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MailboxPatch {
    name: Option<String>,
    /// Without a password: keeps the stored one (same user and host).
    imap_url: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::some_or_null")]
    #[schema(value_type = Option<String>)]
    smtp_url: Option<Option<String>>,
    signature: Option<String>,
    enabled: Option<bool>,
    from_name_format: Option<String>,
    /// A team's name; `null` clears it.
    #[serde(default, deserialize_with = "super::some_or_null")]
    #[schema(value_type = Option<String>)]
    team: Option<Option<String>>,
    /// The default SLA policy's id; `null` clears it.
    #[serde(default, deserialize_with = "super::some_or_null")]
    #[schema(value_type = Option<i64>)]
    sla_policy: Option<Option<i64>>,
    /// CSAT surveys on or off.
    csat: Option<bool>,
    /// `reply` or `delayed`.
    csat_mode: Option<String>,
    /// Minutes after the close, for `delayed`.
    csat_delay_minutes: Option<i32>,
    /// `english`, `german`, ... (`settings::search_languages`); a change re-indexes its mail.
    search_language: Option<String>,
}

/// `PATCH /api/v1/mailboxes/{address}`.
#[utoipa::path(patch, path = "/mailboxes/{address}", tag = "mailboxes",
    params(("address" = String, Path, description = "The mailbox's address.")),
    request_body = MailboxPatch,
    responses(
        (status = 200, body = Mailbox),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such mailbox."),
    ))]
async fn update(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(address): Path<String>,
    JsonBody(body): JsonBody<MailboxPatch>,
) -> Result<Json<Mailbox>, AppError> {
    let old = settings::get_by_address(&state.pool, &address)
        .await?
        .ok_or(AppError::NotFound)?;
    let change = MailboxChange {
        name: body.name,
        address: None,
        imap_url: body.imap_url.map(|u| keep_imap_password(&u, &old.imap_url)),
        smtp_url: body
            .smtp_url
            .map(|u| u.map(|u| keep_smtp_password(&u, old.smtp_url.as_deref()))),
        signature: body.signature,
        from_name_format: body.from_name_format,
        team: body.team,
        enabled: body.enabled,
        sla_policy: body.sla_policy,
        csat: body.csat,
        csat_mode: body.csat_mode,
        csat_delay_minutes: body.csat_delay_minutes,
        search_language: body.search_language,
    };
    let m = settings::update(
        &state.pool,
        &admin.actor(),
        old.mailbox_id,
        change,
        state.config.ingest.allow_plaintext,
    )
    .await?;
    Ok(Json(Mailbox::from(&m)))
}

/// The outcome of signing in to a mailbox's servers.
#[derive(Serialize, ToSchema)]
pub struct MailboxCheck {
    pub imap: check::CheckResult,
    pub smtp: check::CheckResult,
}

/// `POST /api/v1/mailboxes/{address}/test`: signs in to the stored servers (each check at
/// most 10 s).
#[utoipa::path(post, path = "/mailboxes/{address}/test", tag = "mailboxes",
    params(("address" = String, Path, description = "The mailbox's address.")),
    responses(
        (status = 200, body = MailboxCheck, description = "Both checks ran; each says whether it worked."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such mailbox."),
    ))]
async fn test(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(address): Path<String>,
) -> Result<Json<MailboxCheck>, AppError> {
    let m = settings::get_by_address(&state.pool, &address)
        .await?
        .ok_or(AppError::NotFound)?;
    let (imap, smtp) = tokio::join!(
        check::check_imap(
            &m.imap_url,
            state.config.ingest.allow_plaintext,
            &state.config.mail_tls,
        ),
        check::check_smtp(m.smtp_url.as_deref(), &state.config.mail_tls),
    );
    Ok(Json(MailboxCheck { imap, smtp }))
}
