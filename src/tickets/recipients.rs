//! Who a reply goes to. A reply is reply-all by default: the customer in To, every other
//! participant of the ticket in Cc. The composer's defaults and the API's recipients both come
//! from here, so the two cannot drift apart.

use super::TicketDetail;
use super::actions::ActionError;
use super::reply::parse_address_list;

/// The addresses of a reply, lower-cased addr-specs without display names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// The customer (empty when the ticket has none).
    pub to: Vec<String>,
    /// The ticket's other participants, then any extra addresses, each once, none of them in `to`.
    pub cc: Vec<String>,
}

impl Recipients {
    /// Reply-all on `ticket`: the customer in To, the other participants in Cc.
    pub fn reply_all(ticket: &TicketDetail) -> Recipients {
        let to: Vec<String> = ticket
            .summary
            .customer
            .iter()
            .map(|c| c.0.email.clone())
            .collect();
        let cc = ticket
            .cc
            .iter()
            .map(|c| c.email.clone())
            .filter(|e| !to.contains(e))
            .collect();
        Recipients { to, cc }
    }

    /// Adds the addresses of each entry of `extra` (comma, semicolon or line separated lists)
    /// to Cc, skipping those already in To or Cc.
    ///
    /// # Errors
    /// [`ActionError::Invalid`] naming the first entry that is not an email address.
    pub fn add_cc<S: AsRef<str>>(&mut self, extra: &[S]) -> Result<(), ActionError> {
        for list in extra {
            for a in parse_address_list(list.as_ref())? {
                if !self.cc.contains(&a) && !self.to.contains(&a) {
                    self.cc.push(a);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::{EmailAddress, MailboxRef, Priority, TicketStatus, TicketSummary};
    use sqlx::types::Json;

    fn addr(email: &str) -> EmailAddress {
        EmailAddress {
            email: email.into(),
            name: None,
        }
    }

    fn ticket(customer: Option<&str>, cc: &[&str]) -> TicketDetail {
        let now = time::OffsetDateTime::now_utc();
        TicketDetail {
            sla: serde_json::Value::Null,
            csat: None,
            summary: TicketSummary {
                number: 1,
                subject: String::new(),
                status: TicketStatus::Open,
                priority: Priority::Normal,
                mailbox: Json(MailboxRef {
                    id: 1,
                    address: "support@example.com".into(),
                }),
                assignee: None,
                team: None,
                tags: Vec::new(),
                customer: customer.map(|c| {
                    Json(crate::customers::TicketCustomer {
                        email: c.into(),
                        name: None,
                        vip: false,
                        lifecycle_stage: None,
                        health: None,
                        company: None,
                    })
                }),
                created_at: now,
                last_message_at: now,
                message_count: 1,
            },
            cc: cc.iter().map(|c| addr(c)).collect(),
            messages: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn reply_all_puts_the_customer_in_to_and_the_others_in_cc() {
        let r = Recipients::reply_all(&ticket(
            Some("jana@example.org"),
            &["jana@example.org", "olaf@example.org"],
        ));
        assert_eq!(r.to, ["jana@example.org"]);
        assert_eq!(r.cc, ["olaf@example.org"]);
    }

    #[test]
    fn reply_all_without_a_customer_has_an_empty_to() {
        let r = Recipients::reply_all(&ticket(None, &["olaf@example.org"]));
        assert!(r.to.is_empty());
        assert_eq!(r.cc, ["olaf@example.org"]);
    }

    #[test]
    fn extra_cc_is_added_once_and_never_repeats_to() {
        let mut r = Recipients::reply_all(&ticket(Some("jana@example.org"), &["olaf@example.org"]));
        r.add_cc(&[
            "Olaf <olaf@example.org>, kim@example.org",
            "jana@example.org; kim@example.org",
        ])
        .unwrap();
        assert_eq!(r.cc, ["olaf@example.org", "kim@example.org"]);
        assert!(r.add_cc(&["not an address"]).is_err());
    }
}
