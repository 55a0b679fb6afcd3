//! The ticket domain's value types, parsed once at the edge (a form field, an API body, a
//! database row) and typed everywhere after that. Each maps to a check-constrained `text`
//! column in PostgreSQL through `sqlx::Type`, and to the same lower-case word in JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value that is not one of a type's words, with the words that are allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}; expected one of {allowed}")]
pub struct UnknownValue {
    /// The kind of value (`status`, `priority` ...).
    pub what: &'static str,
    /// What was given.
    pub given: String,
    /// The allowed words, comma separated.
    pub allowed: String,
}

/// Defines a fieldless enum stored as one lower-case word: `as_str`, `ALL`, `FromStr`,
/// `Display`, serde and sqlx (`text`) mappings.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order the UI lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        what: $what,
                        given: s.to_string(),
                        allowed: [$($word),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

word_enum!(
    /// A ticket's status (`ticket.status`).
    TicketStatus, "status" {
        /// Someone on our side has to act.
        Open = "open",
        /// Waiting on the customer; a customer reply reopens it.
        Pending = "pending",
        /// Deferred by an agent until a time (`snoozed_until`, UTC) or the customer's reply.
        Snoozed = "snoozed",
        /// Done; a customer reply reopens it.
        Closed = "closed",
    }
);

word_enum!(
    /// A ticket's priority (`ticket.priority`), lowest first.
    Priority, "priority" {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
);

word_enum!(
    /// Which way a ticket message went (`message.direction`).
    Direction, "direction" {
        /// Mail received in a shared mailbox.
        Inbound = "inbound",
        /// A reply written by an agent, sent over SMTP.
        Outbound = "outbound",
        /// An internal note: never leaves Frontdesk.
        Note = "note",
    }
);

word_enum!(
    /// The kind of automated mail (`message.automated`), as classified by ingest
    /// (RFC 3834 `Auto-Submitted`, RFC 3464 reports, RFC 2369 list headers).
    Automated, "automated kind" {
        /// An auto-reply or out-of-office answer (RFC 3834 `auto-replied`).
        AutoReply = "auto_reply",
        /// A delivery status notification (RFC 3464) or other non-delivery report.
        Bounce = "bounce",
        /// Bulk, list or system-generated mail (RFC 2369, RFC 3834 `auto-generated`).
        List = "list",
    }
);

/// An email address with its optional display name, as stored in `to_addrs`/`cc_addrs` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailAddress {
    /// Lower-cased addr-spec (RFC 5322 3.4.1).
    pub email: String,
    /// Decoded display name, if any.
    pub name: Option<String>,
}

/// The first words of a message for the inbox row: whitespace folded, at most 160 characters.
/// Reads only as far as those 160 characters (a mail's text can be megabytes).
pub fn snippet(text: &str) -> String {
    const MAX: usize = 160;
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            if chars == MAX {
                break;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == MAX {
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_name_the_allowed_ones() {
        for s in TicketStatus::ALL {
            assert_eq!(s.as_str().parse::<TicketStatus>().unwrap(), *s);
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), *p);
        }
        let e = "later".parse::<TicketStatus>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown status \"later\"; expected one of open, pending, snoozed, closed"
        );
        assert!("Open".parse::<TicketStatus>().is_err(), "words are exact");
        assert_eq!(
            serde_json::to_string(&Automated::AutoReply).unwrap(),
            "\"auto_reply\""
        );
        assert!(Priority::Low < Priority::Urgent);
    }

    proptest::proptest! {
        #[test]
        fn snippets_are_the_folded_text_cut_at_160_characters(
            text in "([a-zé語]{0,12}[ \t\r\n\u{a0}\u{3000}]{0,3}){0,40}"
        ) {
            let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
            proptest::prop_assert_eq!(snippet(&text), folded.chars().take(160).collect::<String>());
        }
    }
}
