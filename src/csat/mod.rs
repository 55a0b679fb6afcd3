//! Customer satisfaction (CSAT) surveys: one survey per resolution, three one-click ratings
//! (good / okay / bad), recorded only by the survey page's POST (`shared/domain-notes.md` §6).
//!
//! - **When**: a ticket of a mailbox with `csat` on is closed after a person's reply since its
//!   previous close (a resolution), and it is not spam, not merged away, not list or automated
//!   mail, and the agent did not close it "without survey" ([`survey::withdraw`]). The timeline
//!   hook ([`survey::on_event`]) schedules it at the close; a reopen, spam or merge before it
//!   goes out cancels it.
//! - **How**: mailbox mode `reply` puts the links into the agent's closing reply
//!   ([`survey::prepare_in_reply`], "Send and close"); a close without a reply (or by a rule)
//!   sends a separate mail at once. Mode `delayed` sends a separate mail
//!   `csat_delay_minutes` after the close. Separate mail goes through the outbox; the
//!   [`worker`] claims due surveys with `FOR UPDATE SKIP LOCKED`, so each goes out once
//!   across nodes.
//! - **Tokens**: 32 random bytes (hex), only their sha256 stored, bound to one survey (one
//!   ticket, one resolution), valid [`TOKEN_DAYS`] days after sending.
//! - **Rating**: `GET /csat/{token}?rating=` only shows the page (mail scanners open every
//!   link); `POST` records it ([`rating::rate`]): the survey keeps the latest answer, and each
//!   answer is a `csat_rated` timeline event (a rule trigger).

pub mod rating;
pub mod survey;
pub mod worker;

use serde::{Deserialize, Serialize};

pub use rating::{RateError, SurveyPage, rate, survey_page};
pub use worker::{run, send_due};

/// How long a survey link works after the survey was sent, in days.
pub const TOKEN_DAYS: i32 = 28;

/// The NOTIFY channel that wakes the survey worker when a survey is scheduled.
pub const CHANNEL: &str = "csat";

/// A customer's rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Good,
    Okay,
    Bad,
}

impl Rating {
    /// Every rating, best first.
    pub const ALL: [Rating; 3] = [Rating::Good, Rating::Okay, Rating::Bad];

    /// The stored word (`csat_survey.rating`, the event's `rating`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::Okay => "okay",
            Rating::Bad => "bad",
        }
    }

    /// The word customers see.
    pub fn label(self) -> &'static str {
        match self {
            Rating::Good => "Good",
            Rating::Okay => "Okay",
            Rating::Bad => "Not good",
        }
    }

    /// Parses a stored word (`good`, `okay`, `bad`; case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Rating> {
        match s.trim().to_ascii_lowercase().as_str() {
            "good" => Some(Rating::Good),
            "okay" => Some(Rating::Okay),
            "bad" => Some(Rating::Bad),
            _ => None,
        }
    }
}

/// How a mailbox sends its surveys (`mailbox.csat_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// In the agent's closing reply; a close without a reply mails it at once.
    Reply,
    /// As a separate mail `csat_delay_minutes` after the close.
    Delayed,
}

impl Mode {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Reply => "reply",
            Mode::Delayed => "delayed",
        }
    }

    /// Parses the stored word.
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim() {
            "reply" => Some(Mode::Reply),
            "delayed" => Some(Mode::Delayed),
            _ => None,
        }
    }
}

/// The survey links of a token, best rating first: `(rating, url)`.
pub fn links(public_url: &str, token: &str) -> Vec<(Rating, String)> {
    let base = public_url.trim_end_matches('/');
    Rating::ALL
        .iter()
        .map(|r| (*r, format!("{base}/csat/{token}?rating={}", r.as_str())))
        .collect()
}

/// The plain-text survey block: a question and one line per rating with its link.
pub fn survey_text(public_url: &str, token: &str) -> String {
    let mut out = String::from("How did we do? One click rates our help:\n\n");
    for (r, url) in links(public_url, token) {
        out.push_str(&format!("  {:<9} {url}\n", format!("{}:", r.label())));
    }
    out.push_str(&format!(
        "\nThe page that opens lets you add a comment. The links work for {TOKEN_DAYS} days.\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_round_trip() {
        for r in Rating::ALL {
            assert_eq!(Rating::parse(r.as_str()), Some(r));
        }
        assert_eq!(Rating::parse(" GOOD "), Some(Rating::Good));
        assert_eq!(Rating::parse("great"), None);
    }

    #[test]
    fn survey_text_has_three_links() {
        let t = survey_text("https://desk.example.com/", "abc");
        for r in ["good", "okay", "bad"] {
            assert!(
                t.contains(&format!("https://desk.example.com/csat/abc?rating={r}")),
                "{t}"
            );
        }
    }
}
