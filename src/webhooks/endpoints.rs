//! Registered webhook endpoints (`webhook_endpoint`) and their delivery log. Changes are
//! written to the audit log in the same transaction (`webhook.create`, `webhook.update`,
//! `webhook.delete`; the secret appears only as changed). The secret is never read back out.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;

use crate::audit::{self, AuditActor};

/// A refused change or a database error.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Bad input; `field` names it (`url`, `events`, `secret`, `enabled`).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such webhook endpoint")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> EndpointError {
    EndpointError::Invalid {
        field,
        message: message.into(),
    }
}

/// An endpoint as the API and console show it (never its secret). Times are UTC.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Endpoint {
    #[serde(rename = "id")]
    pub webhook_endpoint_id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// Since when deliveries have failed without a success (`None`: healthy).
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// Why Frontdesk turned it off (a day of failures); `None` otherwise.
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One delivery in an endpoint's log. `state`: `pending` (will be tried, or retried, at
/// `next_attempt_at`), `delivered` or `failed` (given up after the retry window).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct DeliveryView {
    #[serde(rename = "id")]
    pub event_id: String,
    pub event: String,
    #[serde(rename = "ticket")]
    pub ticket_id: Option<i64>,
    pub state: String,
    pub attempts: i32,
    /// The last answer's HTTP status (`None`: no answer, or not tried yet).
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

/// What a create or update sets; `None` leaves a field as it is (an update) or is an error
/// (a create: url, events and secret are required).
#[derive(Debug, Clone, Default, utoipa::ToSchema)]
pub struct EndpointInput {
    /// `https://...` (required to create).
    pub url: Option<String>,
    /// Event names, such as `ticket.created` (required to create).
    pub events: Option<Vec<String>>,
    /// The HMAC-SHA256 signing secret (required to create; never shown again).
    pub secret: Option<String>,
    pub enabled: Option<bool>,
}

impl EndpointInput {
    /// Reads the API's JSON (`{"url", "events", "secret", "enabled"}`); unknown keys and
    /// wrong types are refused naming the field.
    pub fn from_json(v: &Value) -> Result<EndpointInput, EndpointError> {
        let obj = v
            .as_object()
            .ok_or_else(|| invalid("body", "expected a JSON object"))?;
        let mut input = EndpointInput::default();
        for (key, value) in obj {
            match key.as_str() {
                "url" => {
                    input.url = Some(
                        value
                            .as_str()
                            .ok_or_else(|| invalid("url", "expected a string"))?
                            .to_string(),
                    )
                }
                "secret" => {
                    input.secret = Some(
                        value
                            .as_str()
                            .ok_or_else(|| invalid("secret", "expected a string"))?
                            .to_string(),
                    )
                }
                "events" => {
                    let list = value
                        .as_array()
                        .ok_or_else(|| invalid("events", "expected a list of event names"))?;
                    input.events = Some(
                        list.iter()
                            .map(|e| {
                                e.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| invalid("events", "expected event names"))
                            })
                            .collect::<Result<_, _>>()?,
                    );
                }
                "enabled" => {
                    input.enabled = Some(
                        value
                            .as_bool()
                            .ok_or_else(|| invalid("enabled", "expected true or false"))?,
                    )
                }
                "id" | "created_at" | "failing_since" | "disabled_reason" | "disabled_at"
                | "deliveries" => {}
                other => {
                    return Err(EndpointError::Invalid {
                        field: "body",
                        message: format!("unknown field {other:?}"),
                    });
                }
            }
        }
        Ok(input)
    }
}

fn check_events(events: &[String]) -> Result<Vec<String>, EndpointError> {
    if events.is_empty() {
        return Err(invalid("events", "choose at least one event"));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim();
        if !super::EVENTS.contains(&e) {
            return Err(invalid(
                "events",
                format!("unknown event {e:?} (known: {})", super::EVENTS.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

fn check_url(url: &str, allow_private: bool) -> Result<String, EndpointError> {
    super::url::check_url(url, allow_private)
        .map(|u| u.to_string())
        .map_err(|e| invalid("url", e.0))
}

fn check_secret(secret: &str) -> Result<String, EndpointError> {
    if secret.trim().is_empty() {
        return Err(invalid("secret", "must not be empty"));
    }
    Ok(secret.to_string())
}

const COLUMNS: &str = "webhook_endpoint_id, url, events, enabled, failing_since, disabled_reason,
                       disabled_at, created_at";

/// Registers an endpoint; returns its id. `allow_private`: `FRONTDESK_WEBHOOK_ALLOW_PRIVATE`.
pub async fn create(
    pool: &PgPool,
    actor: &AuditActor,
    input: &EndpointInput,
    allow_private: bool,
) -> Result<i64, EndpointError> {
    let url = check_url(
        input
            .url
            .as_deref()
            .ok_or_else(|| invalid("url", "required"))?,
        allow_private,
    )?;
    let events = check_events(
        input
            .events
            .as_deref()
            .ok_or_else(|| invalid("events", "required"))?,
    )?;
    let secret = check_secret(
        input
            .secret
            .as_deref()
            .ok_or_else(|| invalid("secret", "required"))?,
    )?;
    let enabled = input.enabled.unwrap_or(true);
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "insert into webhook_endpoint (url, events, secret, enabled) values ($1, $2, $3, $4)
         returning webhook_endpoint_id",
    )
    .bind(&url)
    .bind(&events)
    .bind(&secret)
    .bind(enabled)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "webhook.create",
        &url,
        None,
        Some(json!({"url": url, "events": events, "enabled": enabled,
                    "secret": audit::SECRET_CHANGED})),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Every endpoint, oldest first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from webhook_endpoint order by webhook_endpoint_id"
    ))
    .fetch_all(pool)
    .await
}

/// One endpoint.
pub async fn get(pool: &PgPool, id: i64) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from webhook_endpoint where webhook_endpoint_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The endpoint's latest `limit` deliveries, newest first.
pub async fn deliveries(pool: &PgPool, id: i64, limit: i64) -> sqlx::Result<Vec<DeliveryView>> {
    sqlx::query_as(
        "select event_id, event, ticket_id, state, attempts, last_status, last_error, created_at,
                last_attempt_at,
                case when state = 'pending' then next_attempt_at end as next_attempt_at,
                delivered_at
         from webhook_delivery where webhook_endpoint_id = $1
         order by webhook_delivery_id desc limit $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Changes what `input` sets. Enabling an endpoint clears its failure state and notice.
pub async fn update(
    pool: &PgPool,
    actor: &AuditActor,
    id: i64,
    input: &EndpointInput,
    allow_private: bool,
) -> Result<Endpoint, EndpointError> {
    let url = input
        .url
        .as_deref()
        .map(|u| check_url(u, allow_private))
        .transpose()?;
    let events = input.events.as_deref().map(check_events).transpose()?;
    let secret = input.secret.as_deref().map(check_secret).transpose()?;
    let mut tx = pool.begin().await?;
    let before: Option<Endpoint> = sqlx::query_as(&format!(
        "select {COLUMNS} from webhook_endpoint where webhook_endpoint_id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let before = before.ok_or(EndpointError::NotFound)?;
    let after: Endpoint = sqlx::query_as(&format!(
        "update webhook_endpoint set url = coalesce($2, url), events = coalesce($3, events),
                secret = coalesce($4, secret), enabled = coalesce($5, enabled),
                failing_since = case when $5 then null else failing_since end,
                disabled_reason = case when $5 then null else disabled_reason end,
                disabled_at = case when $5 then null else disabled_at end
         where webhook_endpoint_id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(&url)
    .bind(&events)
    .bind(&secret)
    .bind(input.enabled)
    .fetch_one(&mut *tx)
    .await?;
    let shape = |e: &Endpoint| json!({"url": e.url, "events": e.events, "enabled": e.enabled});
    let changed = audit::changed_fields(&shape(&before), &shape(&after));
    if changed.is_some() || secret.is_some() {
        let (mut b, mut a) = changed.unwrap_or((json!({}), json!({})));
        if secret.is_some() {
            b["secret"] = json!(audit::SECRET_CHANGED);
            a["secret"] = json!(audit::SECRET_CHANGED);
        }
        audit::record(
            &mut *tx,
            actor,
            "webhook.update",
            &after.url,
            Some(b),
            Some(a),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Deletes an endpoint and its deliveries (pending ones are never sent).
pub async fn delete(pool: &PgPool, actor: &AuditActor, id: i64) -> Result<(), EndpointError> {
    let mut tx = pool.begin().await?;
    let url: Option<String> = sqlx::query_scalar(
        "delete from webhook_endpoint where webhook_endpoint_id = $1 returning url",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let url = url.ok_or(EndpointError::NotFound)?;
    audit::record(&mut *tx, actor, "webhook.delete", &url, None, None).await?;
    tx.commit().await?;
    Ok(())
}
