//! Customers and companies: who writes to us, and the accounts they belong to.
//!
//! A **company** is a mail domain (`acme.example`). A customer's company starts as the company
//! of their address's domain (created on first sight; none for free-mail providers, see
//! [`domain`]) and can be changed or cleared by hand. Customers and companies carry the
//! account attributes **VIP**, **lifecycle stage** ([`stages`]) and **health score** (0-100).
//!
//! The choice of fallback: a customer's own attribute wins; where the customer has none
//! (`null`), the company's applies; with neither, VIP is `false` and stage and health are
//! `null`. What everything else reads (ticket JSON, the sidebar, inbox filters and views,
//! rule conditions) is this *effective* value; the customer's own values are in `own`. So
//! marking a company VIP makes every one of its customers VIP except those explicitly set to
//! `false`.
//!
//! Who sees what: admins and leads see every customer and company. An agent limited to some
//! mailboxes sees a customer only when the customer has a ticket in one of those mailboxes,
//! and a company only when one of its customers does; anything else is "not found", and
//! lists (a customer's tickets, a company's customers and tickets) hold only what they may
//! see. Agents and leads may edit what they see; every change is in the audit log
//! (`customer.update`, `company.update`).

pub mod domain;
pub mod stages;

pub use domain::{FREE_MAIL, company_domain, is_free_mail, parse_company_domain};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use time::OffsetDateTime;

use crate::audit::{self, AuditActor};

/// A customer's own attribute values (`null`: take the company's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnAttributes {
    pub vip: Option<bool>,
    pub lifecycle_stage: Option<String>,
    pub health: Option<i16>,
}

/// A customer as `GET /api/v1/customers/{email}` shows it. `vip`, `lifecycle_stage` and
/// `health` are the effective values (own, else the company's; see the module doc).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Customer {
    #[serde(skip)]
    pub customer_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub vip: bool,
    /// The stage's name, or null.
    pub lifecycle_stage: Option<String>,
    /// 0-100, or null when not scored.
    pub health: Option<i16>,
    /// The company's domain, or null.
    pub company: Option<String>,
    /// The company's name (its domain unless renamed).
    #[serde(skip)]
    pub company_name: Option<String>,
    /// What agents noted about the customer (plain text).
    pub notes: String,
    /// The customer's own values, before the company's fill in.
    #[schema(value_type = OwnAttributes)]
    pub own: Json<OwnAttributes>,
    /// First seen (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const CUSTOMER_SELECT: &str = "
    select c.customer_id, c.email, c.name,
           coalesce(c.vip, co.vip, false) as vip,
           coalesce(cs.name, ks.name) as lifecycle_stage,
           coalesce(c.health, co.health) as health,
           co.domain as company, co.name as company_name, c.notes,
           json_build_object('vip', c.vip, 'lifecycle_stage', cs.name, 'health', c.health) as own,
           c.created_at
    from customer c
    left join company co on co.company_id = c.company_id
    left join lifecycle_stage cs on cs.lifecycle_stage_id = c.lifecycle_stage_id
    left join lifecycle_stage ks on ks.lifecycle_stage_id = co.lifecycle_stage_id";

/// SQL: the customer `c` has a ticket in the mailboxes `$2` (`null` = all).
const SEES_CUSTOMER: &str = "($2::bigint[] is null or exists (select 1 from ticket t
    where t.customer_id = c.customer_id and t.mailbox_id = any($2)))";

/// SQL: one of company `co`'s customers has a ticket in the mailboxes `$2` (`null` = all).
const SEES_COMPANY: &str = "($2::bigint[] is null or exists (select 1 from customer c
    join ticket t on t.customer_id = c.customer_id
    where c.company_id = co.company_id and t.mailbox_id = any($2)))";

/// The customer with this address (case ignored), if `visible` mailboxes (`None` = all) let
/// the caller see them.
pub async fn find_customer(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    email: &str,
) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!(
        "{CUSTOMER_SELECT} where lower(c.email) = lower($1) and {SEES_CUSTOMER}"
    ))
    .bind(email.trim())
    .bind(visible)
    .fetch_optional(db)
    .await
}

/// The address of ticket `number`'s customer, if the ticket is in the `visible` mailboxes
/// (`None` = all) and has a customer.
pub async fn customer_of_ticket(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    number: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select c.email from ticket t join customer c on c.customer_id = t.customer_id
         where t.ticket_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2))",
    )
    .bind(number)
    .bind(visible)
    .fetch_optional(db)
    .await
}

/// A company as `GET /api/v1/companies/{domain}` shows it.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Company {
    #[serde(skip)]
    pub company_id: i64,
    /// Lower-case mail domain.
    pub domain: String,
    pub name: String,
    pub vip: bool,
    pub lifecycle_stage: Option<String>,
    /// 0-100, or null.
    pub health: Option<i16>,
    /// First seen (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const COMPANY_SELECT: &str = "
    select co.company_id, co.domain, co.name, co.vip, s.name as lifecycle_stage, co.health, co.created_at
    from company co left join lifecycle_stage s on s.lifecycle_stage_id = co.lifecycle_stage_id";

/// The company of this domain (case ignored), if the caller may see it.
pub async fn find_company(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    domain: &str,
) -> sqlx::Result<Option<Company>> {
    sqlx::query_as(&format!(
        "{COMPANY_SELECT} where co.domain = lower($1) and {SEES_COMPANY}"
    ))
    .bind(domain.trim().trim_start_matches('@'))
    .bind(visible)
    .fetch_optional(db)
    .await
}

/// A company's customers the caller may see, by address: `{"email", "name"}` plus their
/// effective attributes.
pub async fn company_customers(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    company_id: i64,
) -> sqlx::Result<Vec<Customer>> {
    sqlx::query_as(&format!(
        "{CUSTOMER_SELECT} where c.company_id = $1 and {SEES_CUSTOMER} order by lower(c.email) limit 1000"
    ))
    .bind(company_id)
    .bind(visible)
    .fetch_all(db)
    .await
}

/// A ticket as customer and company pages list it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct TicketLine {
    pub number: i64,
    pub subject: String,
    pub status: String,
    /// The mailbox's address.
    pub mailbox: String,
    /// The customer's address.
    pub customer: String,
    /// UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub last_message_at: OffsetDateTime,
}

/// Tickets per page of a customer or company page.
pub const TICKETS_SHOWN: i64 = 200;

/// One page of a ticket list: the tickets, and whether a later page has more.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub tickets: Vec<TicketLine>,
    pub more: bool,
}

impl TicketPage {
    fn from_rows(mut tickets: Vec<TicketLine>) -> TicketPage {
        let more = tickets.len() as i64 > TICKETS_SHOWN;
        tickets.truncate(TICKETS_SHOWN as usize);
        TicketPage { tickets, more }
    }
}

/// Page `page` (from 0, [`TICKETS_SHOWN`] each) of a customer's tickets in the `visible`
/// mailboxes (never others), latest activity first, spam left out.
pub async fn customer_tickets(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    customer_id: i64,
    page: i64,
) -> sqlx::Result<TicketPage> {
    sqlx::query_as(
        "select t.ticket_id as number, t.subject, t.status, mb.address as mailbox, c.email as customer,
                t.last_message_at
         from ticket t join mailbox mb on mb.mailbox_id = t.mailbox_id
         join customer c on c.customer_id = t.customer_id
         where t.customer_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2)) and not t.spam
         order by t.last_message_at desc, t.ticket_id desc limit $3 offset $4",
    )
    .bind(customer_id)
    .bind(visible)
    .bind(TICKETS_SHOWN + 1)
    .bind(page.max(0) * TICKETS_SHOWN)
    .fetch_all(db)
    .await
    .map(TicketPage::from_rows)
}

/// Page `page` (from 0, [`TICKETS_SHOWN`] each) of the tickets of a company's customers in the
/// `visible` mailboxes, latest activity first, spam left out.
pub async fn company_tickets(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    company_id: i64,
    page: i64,
) -> sqlx::Result<TicketPage> {
    sqlx::query_as(
        "select t.ticket_id as number, t.subject, t.status, mb.address as mailbox, c.email as customer,
                t.last_message_at
         from customer c join ticket t on t.customer_id = c.customer_id
         join mailbox mb on mb.mailbox_id = t.mailbox_id
         where c.company_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2)) and not t.spam
         order by t.last_message_at desc, t.ticket_id desc limit $3 offset $4",
    )
    .bind(company_id)
    .bind(visible)
    .bind(TICKETS_SHOWN + 1)
    .bind(page.max(0) * TICKETS_SHOWN)
    .fetch_all(db)
    .await
    .map(TicketPage::from_rows)
}

/// Why a customer or company change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// Bad input; the message starts with the field's name (`health: ...`).
    #[error("{0}")]
    Invalid(String),
    /// No such customer or company, or not one the caller may see.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A change to a customer. Each field: `None` leaves it; `Some(None)` clears the customer's
/// own value (VIP, stage and health then come from the company; company: none).
#[derive(Debug, Clone, Default, PartialEq, utoipa::ToSchema)]
pub struct CustomerPatch {
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// `null` takes the company's.
    #[schema(value_type = Option<bool>)]
    pub vip: Option<Option<bool>>,
    /// A stage's name (case ignored).
    #[schema(value_type = Option<String>)]
    pub lifecycle_stage: Option<Option<String>>,
    /// 0-100.
    #[schema(value_type = Option<i16>)]
    pub health: Option<Option<i16>>,
    /// A company's domain (created if new; never a free-mail provider).
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    pub notes: Option<String>,
}

/// A change to a company. `vip` cannot be cleared (a company is VIP or not).
#[derive(Debug, Clone, Default, PartialEq, utoipa::ToSchema)]
pub struct CompanyPatch {
    pub name: Option<String>,
    pub vip: Option<bool>,
    /// A stage's name (case ignored); `null` clears it.
    #[schema(value_type = Option<String>)]
    pub lifecycle_stage: Option<Option<String>>,
    /// 0-100; `null` clears it.
    #[schema(value_type = Option<i16>)]
    pub health: Option<Option<i16>>,
}

fn invalid(field: &str, msg: &str) -> CustomerError {
    CustomerError::Invalid(format!("{field}: {msg}"))
}

fn object(v: &Value) -> Result<&Map<String, Value>, CustomerError> {
    v.as_object()
        .ok_or_else(|| CustomerError::Invalid("the body must be a JSON object".into()))
}

fn text_or_null(field: &str, v: &Value, max: usize) -> Result<Option<String>, CustomerError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > max => {
            Err(invalid(field, &format!("at most {max} characters")))
        }
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        _ => Err(invalid(field, "must be a string or null")),
    }
}

/// Parses a health score: an integer 0-100, or `null` (JSON). The error names the field.
pub fn parse_health_json(v: &Value) -> Result<Option<i16>, CustomerError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .filter(|h| (0..=100).contains(h))
            .map(|h| Some(h as i16))
            .ok_or_else(|| invalid("health", "must be a whole number from 0 to 100, or null")),
        _ => Err(invalid(
            "health",
            "must be a whole number from 0 to 100, or null",
        )),
    }
}

/// Parses a health score typed in a form: empty = none, else a whole number 0-100.
pub fn parse_health_text(s: &str) -> Result<Option<i16>, CustomerError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i16>()
        .ok()
        .filter(|h| (0..=100).contains(h))
        .map(Some)
        .ok_or_else(|| invalid("health", "must be a whole number from 0 to 100, or empty"))
}

/// Longest customer or company name, and longest notes, in characters.
const MAX_NAME: usize = 200;
const MAX_NOTES: usize = 20_000;

impl CustomerPatch {
    /// Reads `{"name"?, "vip"?, "lifecycle_stage"?, "health"?, "company"?, "notes"?}`; an
    /// unknown field or a bad value is an error naming the field.
    pub fn from_json(v: &Value) -> Result<CustomerPatch, CustomerError> {
        let mut p = CustomerPatch::default();
        for (k, v) in object(v)? {
            match k.as_str() {
                "name" => p.name = Some(text_or_null("name", v, MAX_NAME)?),
                "vip" => {
                    p.vip = Some(match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(*b),
                        _ => return Err(invalid("vip", "must be true, false or null")),
                    })
                }
                "lifecycle_stage" => {
                    p.lifecycle_stage = Some(text_or_null("lifecycle_stage", v, 100)?)
                }
                "health" => p.health = Some(parse_health_json(v)?),
                "company" => {
                    p.company = Some(match text_or_null("company", v, 253)? {
                        None => None,
                        Some(d) => {
                            Some(parse_company_domain(&d).map_err(|e| invalid("company", &e))?)
                        }
                    })
                }
                "notes" => p.notes = Some(text_or_null("notes", v, MAX_NOTES)?.unwrap_or_default()),
                other => {
                    return Err(CustomerError::Invalid(format!(
                        "{other}: unknown field (known: name, vip, lifecycle_stage, health, company, notes)"
                    )));
                }
            }
        }
        Ok(p)
    }
}

impl CompanyPatch {
    /// Reads `{"name"?, "vip"?, "lifecycle_stage"?, "health"?}`; an unknown field or a bad
    /// value is an error naming the field.
    pub fn from_json(v: &Value) -> Result<CompanyPatch, CustomerError> {
        let mut p = CompanyPatch::default();
        for (k, v) in object(v)? {
            match k.as_str() {
                "name" => {
                    p.name = Some(
                        text_or_null("name", v, MAX_NAME)?
                            .ok_or_else(|| invalid("name", "a company needs a name"))?,
                    )
                }
                "vip" => {
                    p.vip = Some(
                        v.as_bool()
                            .ok_or_else(|| invalid("vip", "must be true or false"))?,
                    )
                }
                "lifecycle_stage" => {
                    p.lifecycle_stage = Some(text_or_null("lifecycle_stage", v, 100)?)
                }
                "health" => p.health = Some(parse_health_json(v)?),
                other => {
                    return Err(CustomerError::Invalid(format!(
                        "{other}: unknown field (known: name, vip, lifecycle_stage, health)"
                    )));
                }
            }
        }
        Ok(p)
    }
}

/// The id of the stage named `name`, or an error listing the stages.
async fn stage_id(conn: &mut PgConnection, name: &str) -> Result<i64, CustomerError> {
    if let Some(id) = stages::find_by_name(&mut *conn, name).await? {
        return Ok(id);
    }
    let names: Vec<String> = sqlx::query_scalar(
        "select name from lifecycle_stage order by position, lifecycle_stage_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    Err(invalid(
        "lifecycle_stage",
        &format!("unknown stage {name:?} (stages: {})", names.join(", ")),
    ))
}

/// The company of `domain`, created (named after its domain) if new.
async fn ensure_company(conn: &mut PgConnection, domain: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into company (domain, name) values ($1, $1)
         on conflict (domain) do update set domain = excluded.domain returning company_id",
    )
    .bind(domain)
    .fetch_one(conn)
    .await
}

/// A customer's own fields as the audit log shows them.
async fn customer_fields(conn: &mut PgConnection, id: i64) -> sqlx::Result<Value> {
    sqlx::query_scalar(
        "select json_build_object('name', c.name, 'vip', c.vip, 'lifecycle_stage', s.name,
                'health', c.health, 'company', co.domain, 'notes', c.notes)
         from customer c left join company co on co.company_id = c.company_id
         left join lifecycle_stage s on s.lifecycle_stage_id = c.lifecycle_stage_id
         where c.customer_id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// A company's fields as the audit log shows them.
async fn company_fields(conn: &mut PgConnection, id: i64) -> sqlx::Result<Value> {
    sqlx::query_scalar(
        "select json_build_object('name', co.name, 'vip', co.vip, 'lifecycle_stage', s.name, 'health', co.health)
         from company co left join lifecycle_stage s on s.lifecycle_stage_id = co.lifecycle_stage_id
         where co.company_id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Applies `patch` to the customer with address `email` if the caller may see them (else
/// [`CustomerError::NotFound`]), in the caller's transaction, and writes what changed to the
/// audit log (`customer.update`, target: the address). Returns the customer as now stored.
pub async fn update_customer(
    conn: &mut PgConnection,
    actor: &AuditActor,
    visible: Option<&[i64]>,
    email: &str,
    patch: &CustomerPatch,
) -> Result<Customer, CustomerError> {
    let row: Option<(i64, String)> = sqlx::query_as(&format!(
        "select c.customer_id, c.email from customer c
         where lower(c.email) = lower($1) and {SEES_CUSTOMER} for update"
    ))
    .bind(email.trim())
    .bind(visible)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, email) = row.ok_or(CustomerError::NotFound)?;
    let before = customer_fields(conn, id).await?;
    let stage = match &patch.lifecycle_stage {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => Some(Some(stage_id(conn, name).await?)),
    };
    let company = match &patch.company {
        None => None,
        Some(None) => Some(None),
        Some(Some(domain)) => Some(Some(ensure_company(conn, domain).await?)),
    };
    sqlx::query(
        "update customer set
            name = case when $2 then $3 else name end,
            vip = case when $4 then $5 else vip end,
            lifecycle_stage_id = case when $6 then $7 else lifecycle_stage_id end,
            health = case when $8 then $9 else health end,
            company_id = case when $10 then $11 else company_id end,
            notes = coalesce($12, notes)
         where customer_id = $1",
    )
    .bind(id)
    .bind(patch.name.is_some())
    .bind(patch.name.clone().flatten())
    .bind(patch.vip.is_some())
    .bind(patch.vip.flatten())
    .bind(stage.is_some())
    .bind(stage.flatten())
    .bind(patch.health.is_some())
    .bind(patch.health.flatten())
    .bind(company.is_some())
    .bind(company.flatten())
    .bind(patch.notes.as_deref())
    .execute(&mut *conn)
    .await?;
    let after = customer_fields(conn, id).await?;
    if let Some((b, a)) = audit::changed_fields(&before, &after) {
        audit::record(
            &mut *conn,
            actor,
            "customer.update",
            &email,
            Some(b),
            Some(a),
        )
        .await?;
    }
    find_customer(&mut *conn, None, &email)
        .await?
        .ok_or(CustomerError::NotFound)
}

/// Applies `patch` to the company of `domain` if the caller may see it (else
/// [`CustomerError::NotFound`]), in the caller's transaction, and writes what changed to the
/// audit log (`company.update`, target: the domain). Returns the company as now stored.
pub async fn update_company(
    conn: &mut PgConnection,
    actor: &AuditActor,
    visible: Option<&[i64]>,
    domain: &str,
    patch: &CompanyPatch,
) -> Result<Company, CustomerError> {
    let row: Option<(i64, String)> = sqlx::query_as(&format!(
        "select co.company_id, co.domain from company co
         where co.domain = lower($1) and {SEES_COMPANY} for update"
    ))
    .bind(domain.trim().trim_start_matches('@'))
    .bind(visible)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, domain) = row.ok_or(CustomerError::NotFound)?;
    let before = company_fields(conn, id).await?;
    let stage = match &patch.lifecycle_stage {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => Some(Some(stage_id(conn, name).await?)),
    };
    sqlx::query(
        "update company set
            name = coalesce($2, name),
            vip = coalesce($3, vip),
            lifecycle_stage_id = case when $4 then $5 else lifecycle_stage_id end,
            health = case when $6 then $7 else health end
         where company_id = $1",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.vip)
    .bind(stage.is_some())
    .bind(stage.flatten())
    .bind(patch.health.is_some())
    .bind(patch.health.flatten())
    .execute(&mut *conn)
    .await?;
    let after = company_fields(conn, id).await?;
    if let Some((b, a)) = audit::changed_fields(&before, &after) {
        audit::record(
            &mut *conn,
            actor,
            "company.update",
            &domain,
            Some(b),
            Some(a),
        )
        .await?;
    }
    find_company(&mut *conn, None, &domain)
        .await?
        .ok_or(CustomerError::NotFound)
}

/// The `customer` object of ticket JSON: `{"email", "name", "vip", "lifecycle_stage",
/// "health", "company"}` with the effective attributes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TicketCustomer {
    pub email: String,
    pub name: Option<String>,
    pub vip: bool,
    pub lifecycle_stage: Option<String>,
    /// 0-100, or null.
    pub health: Option<i16>,
    /// The company's domain, or null.
    pub company: Option<String>,
}

/// SQL expression building [`TicketCustomer`] as JSON for the ticket `t` (null without a
/// customer); reads `customer c`, `company co` and `lifecycle_stage ls` joined by
/// [`TICKET_CUSTOMER_JOINS`].
pub const TICKET_CUSTOMER_JSON: &str =
    "case when c.customer_id is null then null else json_build_object(
    'email', c.email, 'name', c.name, 'vip', coalesce(c.vip, co.vip, false),
    'lifecycle_stage', ls.name, 'health', coalesce(c.health, co.health), 'company', co.domain) end";

/// The joins [`TICKET_CUSTOMER_JSON`] reads, from a ticket `t`.
pub const TICKET_CUSTOMER_JOINS: &str = "
    left join customer c on c.customer_id = t.customer_id
    left join company co on co.company_id = c.company_id
    left join lifecycle_stage ls on ls.lifecycle_stage_id = coalesce(c.lifecycle_stage_id, co.lifecycle_stage_id)";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customer_patch_reads_each_field_and_names_bad_ones() {
        let p = CustomerPatch::from_json(&json!({
            "name": " Jana ", "vip": true, "lifecycle_stage": "at risk", "health": 40,
            "company": "Acme.Example", "notes": "prefers phone"
        }))
        .unwrap();
        assert_eq!(p.name, Some(Some("Jana".into())));
        assert_eq!(p.vip, Some(Some(true)));
        assert_eq!(p.lifecycle_stage, Some(Some("at risk".into())));
        assert_eq!(p.health, Some(Some(40)));
        assert_eq!(p.company, Some(Some("acme.example".into())));
        assert_eq!(p.notes.as_deref(), Some("prefers phone"));

        let cleared =
            CustomerPatch::from_json(&json!({"vip": null, "company": null, "health": null}))
                .unwrap();
        assert_eq!(cleared.vip, Some(None));
        assert_eq!(cleared.company, Some(None));
        assert_eq!(cleared.health, Some(None));
        assert_eq!(cleared.name, None);

        for (body, field) in [
            (json!({"vip": "yes"}), "vip:"),
            (json!({"health": 101}), "health:"),
            (json!({"health": -1}), "health:"),
            (json!({"health": 5.5}), "health:"),
            (json!({"health": "50"}), "health:"),
            (json!({"company": "gmail.com"}), "company:"),
            (json!({"company": "not a domain"}), "company:"),
            (json!({"lifecycle_stage": 3}), "lifecycle_stage:"),
            (json!({"colour": "red"}), "colour:"),
        ] {
            let e = CustomerPatch::from_json(&body).unwrap_err().to_string();
            assert!(e.starts_with(field), "{body}: {e}");
        }
        assert!(CustomerPatch::from_json(&json!([1])).is_err());
    }

    #[test]
    fn company_patch_reads_each_field_and_names_bad_ones() {
        let p =
            CompanyPatch::from_json(&json!({"vip": true, "health": 0, "lifecycle_stage": null}))
                .unwrap();
        assert_eq!(p.vip, Some(true));
        assert_eq!(p.health, Some(Some(0)));
        assert_eq!(p.lifecycle_stage, Some(None));
        for (body, field) in [
            (json!({"vip": null}), "vip:"),
            (json!({"name": ""}), "name:"),
            (json!({"company": "x.example"}), "company:"),
        ] {
            let e = CompanyPatch::from_json(&body).unwrap_err().to_string();
            assert!(e.starts_with(field), "{body}: {e}");
        }
    }

    #[test]
    fn form_health() {
        assert_eq!(parse_health_text(" ").unwrap(), None);
        assert_eq!(parse_health_text("100").unwrap(), Some(100));
        assert!(parse_health_text("abc").is_err());
        assert!(parse_health_text("101").is_err());
    }
}
