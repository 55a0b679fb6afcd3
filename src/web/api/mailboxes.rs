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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use super::admin::ApiAdmin;
use crate::mailboxes::check;
use crate::mailboxes::fields::{keep_imap_password, keep_smtp_password};
use crate::mailboxes::settings::{self, MailboxChange, MailboxSettings, SettingsError};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mailboxes", get(list).post(create))
        .route("/mailboxes/{address}", axum::routing::patch(update))
        .route("/mailboxes/{address}/test", post(test))
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

fn rfc3339(t: Option<time::OffsetDateTime>) -> Value {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .map_or(Value::Null, Value::String)
}

/// The API's view of a mailbox: no passwords.
fn mailbox_json(m: &MailboxSettings) -> Value {
    let mut v = m.public_json();
    v["health"] = json!({
        "polled_by": m.polled_by,
        "last_poll_at": rfc3339(m.last_poll_at),
        "last_ok_at": rfc3339(m.last_ok_at),
        "last_error": m.last_error,
        "last_error_at": rfc3339(m.last_error_at),
        "consecutive_failures": m.consecutive_failures,
    });
    v
}

async fn list(State(state): State<AppState>, _admin: ApiAdmin) -> Result<Json<Value>, AppError> {
    let all = settings::list(&state.pool).await?;
    let mailboxes: Vec<Value> = all.iter().map(mailbox_json).collect();
    Ok(Json(json!({ "mailboxes": mailboxes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
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

async fn create(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
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
    Ok((StatusCode::CREATED, Json(mailbox_json(&m))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    name: Option<String>,
    imap_url: Option<String>,
    #[serde(default, deserialize_with = "super::some_or_null")]
    smtp_url: Option<Option<String>>,
    signature: Option<String>,
    enabled: Option<bool>,
    from_name_format: Option<String>,
    #[serde(default, deserialize_with = "super::some_or_null")]
    team: Option<Option<String>>,
    /// The default SLA policy's id; `null` clears it.
    #[serde(default, deserialize_with = "super::some_or_null")]
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

async fn update(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(address): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Json<Value>, AppError> {
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
    Ok(Json(mailbox_json(&m)))
}

async fn test(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(address): Path<String>,
) -> Result<Json<Value>, AppError> {
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
    Ok(Json(json!({ "imap": imap, "smtp": smtp })))
}
