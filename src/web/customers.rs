//! Customer and company pages (`/customers/{email}`, `/companies/{domain}`): who they are,
//! their account attributes with an edit form, and their tickets in the mailboxes the agent
//! may see (never others). The ticket sidebar's account form posts to
//! `/tickets/{number}/customer` (in `web::tickets::sidebar`). What may be seen and the
//! fallback of attributes are `crate::customers`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::flash::{self, Notice};
use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState, fmt};
use crate::audit::AuditActor;
use crate::auth::Agent;
use crate::customers::{self, Company, CompanyPatch, Customer, CustomerError, CustomerPatch};
use crate::timezone::AgentTimeZone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers/{email}", get(show_customer).post(post_customer))
        .route("/companies/{domain}", get(show_company).post(post_company))
}

/// What a path segment keeps as is: letters, digits and `.-_@`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'@');

/// The customer page's address (the email percent-encoded where needed).
pub fn customer_href(email: &str) -> String {
    format!(
        "/customers/{}",
        percent_encoding::utf8_percent_encode(email, SEGMENT)
    )
}

/// The company page's address.
pub fn company_href(domain: &str) -> String {
    format!(
        "/companies/{}",
        percent_encoding::utf8_percent_encode(domain, SEGMENT)
    )
}

impl From<CustomerError> for AppError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::Invalid(m) => AppError::BadRequest(m),
            CustomerError::NotFound => AppError::NotFound,
            CustomerError::Db(e) => AppError::Db(e),
        }
    }
}

/// A ticket line as the pages show it.
pub struct TicketLineView {
    pub number: i64,
    pub subject: String,
    pub status: String,
    pub mailbox: String,
    pub customer: String,
    pub at: fmt::Moment,
}

fn ticket_lines(lines: Vec<customers::TicketLine>, who: &CurrentAgent) -> Vec<TicketLineView> {
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    lines
        .into_iter()
        .map(|l| TicketLineView {
            number: l.number,
            subject: l.subject,
            status: l.status,
            mailbox: l.mailbox,
            customer: l.customer,
            at: fmt::moment(l.last_message_at, now, &tz),
        })
        .collect()
}

/// The account form's fields, shared by the customer page and the ticket sidebar. Empty
/// means "none of its own" (VIP, stage, health then come from the company; company: none).
#[derive(Deserialize, Default)]
pub struct AccountForm {
    /// `yes`, `no`, or empty.
    #[serde(default)]
    pub vip: String,
    /// A stage's name, or empty.
    #[serde(default)]
    pub lifecycle_stage: String,
    /// 0-100, or empty.
    #[serde(default)]
    pub health: String,
    /// A company domain, or empty for none. Absent: unchanged.
    pub company: Option<String>,
    /// Customer page only: the name and the notes. Absent: unchanged.
    pub name: Option<String>,
    pub notes: Option<String>,
    /// The ticket sidebar's inbox list (see `web::inbox::ListContext`).
    #[serde(default)]
    pub list: String,
}

impl AccountForm {
    /// The customer change this form asks for; a bad value is an error naming the field.
    pub fn customer_patch(&self) -> Result<CustomerPatch, CustomerError> {
        let vip = match self.vip.trim() {
            "" => None,
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            v => {
                return Err(CustomerError::Invalid(format!(
                    "vip: {v:?} is not yes, no or empty"
                )));
            }
        };
        let stage = Some(self.lifecycle_stage.trim().to_string()).filter(|s| !s.is_empty());
        let company = match self.company.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(d) => {
                Some(Some(customers::parse_company_domain(d).map_err(|e| {
                    CustomerError::Invalid(format!("company: {e}"))
                })?))
            }
        };
        Ok(CustomerPatch {
            name: self
                .name
                .as_ref()
                .map(|n| Some(n.trim().to_string()).filter(|n| !n.is_empty())),
            vip: Some(vip),
            lifecycle_stage: Some(stage),
            health: Some(customers::parse_health_text(&self.health)?),
            company,
            notes: self.notes.clone(),
        })
    }

    /// The company change this form asks for (VIP: `yes` or anything else for no).
    fn company_patch(&self) -> Result<CompanyPatch, CustomerError> {
        Ok(CompanyPatch {
            name: self
                .name
                .as_ref()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            vip: Some(matches!(self.vip.trim(), "yes" | "true")),
            lifecycle_stage: Some(
                Some(self.lifecycle_stage.trim().to_string()).filter(|s| !s.is_empty()),
            ),
            health: Some(customers::parse_health_text(&self.health)?),
        })
    }
}

#[derive(Template)]
#[template(path = "customers/show.html")]
struct CustomerPage {
    me: Agent,
    unread_notifications: i64,
    notices: Vec<Notice>,
    c: Customer,
    company_href: String,
    stages: Vec<String>,
    tickets: Vec<TicketLineView>,
    pager: Pager,
}

/// `?page=N` of a customer or company page's ticket list (from 0).
#[derive(serde::Deserialize, Default)]
struct PageQuery {
    page: Option<i64>,
}

/// Links to the newer and older pages of a ticket list (empty when there is none).
struct Pager {
    newer: Option<String>,
    older: Option<String>,
}

impl Pager {
    fn new(base: &str, page: i64, more: bool) -> Pager {
        let at = |p: i64| {
            if p == 0 {
                base.to_string()
            } else {
                format!("{base}?page={p}")
            }
        };
        Pager {
            newer: (page > 0).then(|| at(page - 1)),
            older: more.then(|| at(page + 1)),
        }
    }
}

async fn show_customer(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(email): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visible = who.visible.as_deref();
    let c = customers::find_customer(&state.pool, visible, &email)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = q.page.unwrap_or(0).max(0);
    let tickets = customers::customer_tickets(&state.pool, visible, c.customer_id, page).await?;
    let pager = Pager::new(&customer_href(&c.email), page, tickets.more);
    let stages = customers::stages::list(&state.pool)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let unread_notifications =
        crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id).await?;
    let notices = flash::take(&who.session, &headers).await;
    let tickets = ticket_lines(tickets.tickets, &who);
    Ok(render(&CustomerPage {
        pager,
        company_href: c.company.as_deref().map(company_href).unwrap_or_default(),
        me: who.agent,
        unread_notifications,
        notices,
        c,
        stages,
        tickets,
    })?
    .into_response())
}

async fn post_customer(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(email): Path<String>,
    Form(f): Form<AccountForm>,
) -> Result<Redirect, PageError> {
    let patch = f.customer_patch()?;
    let mut tx = state.pool.begin().await?;
    let c = customers::update_customer(
        &mut tx,
        &AuditActor::agent(&who.agent),
        who.visible.as_deref(),
        &email,
        &patch,
    )
    .await?;
    tx.commit().await?;
    flash::push(&who.session, [Notice::info("Customer saved.".to_string())]).await;
    Ok(Redirect::to(&customer_href(&c.email)))
}

#[derive(Template)]
#[template(path = "customers/company.html")]
struct CompanyPage {
    me: Agent,
    unread_notifications: i64,
    notices: Vec<Notice>,
    co: Company,
    stages: Vec<String>,
    customers: Vec<Customer>,
    tickets: Vec<TicketLineView>,
    pager: Pager,
}

impl CompanyPage {
    fn customer_href(&self, email: &str) -> String {
        customer_href(email)
    }
}

async fn show_company(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(domain): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(0).max(0);
    let visible = who.visible.as_deref();
    let co = customers::find_company(&state.pool, visible, &domain)
        .await?
        .ok_or(AppError::NotFound)?;
    let (people, tickets, stages, unread_notifications) = tokio::try_join!(
        customers::company_customers(&state.pool, visible, co.company_id),
        customers::company_tickets(&state.pool, visible, co.company_id, page),
        customers::stages::list(&state.pool),
        crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id),
    )?;
    let notices = flash::take(&who.session, &headers).await;
    let pager = Pager::new(&company_href(&co.domain), page, tickets.more);
    let tickets = ticket_lines(tickets.tickets, &who);
    Ok(render(&CompanyPage {
        pager,
        me: who.agent,
        unread_notifications,
        notices,
        co,
        stages: stages.into_iter().map(|s| s.name).collect(),
        customers: people,
        tickets,
    })?
    .into_response())
}

async fn post_company(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(domain): Path<String>,
    Form(f): Form<AccountForm>,
) -> Result<Redirect, PageError> {
    let patch = f.company_patch()?;
    let mut tx = state.pool.begin().await?;
    let co = customers::update_company(
        &mut tx,
        &AuditActor::agent(&who.agent),
        who.visible.as_deref(),
        &domain,
        &patch,
    )
    .await?;
    tx.commit().await?;
    flash::push(&who.session, [Notice::info("Company saved.".to_string())]).await;
    Ok(Redirect::to(&company_href(&co.domain)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_empty_means_inherit_and_bad_values_name_their_field() {
        let f = AccountForm {
            vip: String::new(),
            lifecycle_stage: " ".into(),
            health: String::new(),
            company: Some(String::new()),
            ..Default::default()
        };
        let p = f.customer_patch().unwrap();
        assert_eq!(p.vip, Some(None));
        assert_eq!(p.lifecycle_stage, Some(None));
        assert_eq!(p.health, Some(None));
        assert_eq!(p.company, Some(None));
        assert_eq!(p.name, None);
        let f = AccountForm {
            vip: "maybe".into(),
            ..Default::default()
        };
        assert!(
            f.customer_patch()
                .unwrap_err()
                .to_string()
                .starts_with("vip:")
        );
        let f = AccountForm {
            company: Some("gmail.com".into()),
            ..Default::default()
        };
        assert!(
            f.customer_patch()
                .unwrap_err()
                .to_string()
                .starts_with("company:")
        );
        assert_eq!(customer_href("a+b@x.example"), "/customers/a%2Bb@x.example");
    }
}
