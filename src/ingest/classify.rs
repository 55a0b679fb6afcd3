//! Recognises machine-sent mail so that it never triggers mail back and never opens a ticket
//! of its own when it belongs to one.
//!
//! Sources: RFC 3834 (Auto-Submitted), RFC 3464/6522 (multipart/report bounces), RFC 2369 and
//! RFC 2919 (List-* headers), plus the de-facto headers of Exchange, Postfix and mailing-list
//! software. `X-Auto-Response-Suppress` alone is a request to *us*, not a sign that the mail
//! is automated, so it is ignored here.

use mail_parser::{HeaderValue, Message, MimeHeaders};

pub use crate::tickets::model::Automated;

/// Classifies a parsed message; `None` for mail written by a person.
pub fn automated(msg: &Message<'_>) -> Option<Automated> {
    let header = |name: &str| -> Option<String> {
        msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase())
    };
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let local = from.split('@').next().unwrap_or("");

    // Bounces first: they often also carry Auto-Submitted.
    let root = msg.root_part();
    let is_report = root.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) && root
        .content_type()
        .and_then(|c| c.attribute("report-type"))
        .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    let null_sender = matches!(msg.return_path(), HeaderValue::Text(t) if t.trim().trim_matches(['<', '>']).is_empty())
        || header("return-path").is_some_and(|v| v == "<>");
    let daemon = matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon");
    if is_report || (daemon && (null_sender || subject_looks_like_bounce(msg))) {
        return Some(Automated::Bounce);
    }

    if let Some(v) = header("auto-submitted") {
        let kind = v.split([';', '(']).next().unwrap_or("").trim();
        match kind {
            "no" | "" => {}
            "auto-replied" => return Some(Automated::AutoReply),
            _ => return Some(Automated::List), // auto-generated, auto-notified
        }
    }
    if [
        "x-autoreply",
        "x-autorespond",
        "x-auto-reply",
        "x-autoresponder",
    ]
    .iter()
    .any(|h| header(h).is_some_and(|v| v != "no" && v != "false"))
    {
        return Some(Automated::AutoReply);
    }
    match header("precedence").as_deref() {
        Some("auto_reply") => return Some(Automated::AutoReply),
        Some("bulk" | "list" | "junk") => return Some(Automated::List),
        _ => {}
    }
    if header("x-autoreply-from").is_some() || header("x-mail-autoreply").is_some() {
        return Some(Automated::AutoReply);
    }
    if subject_looks_like_auto_reply(msg) {
        return Some(Automated::AutoReply);
    }
    if header("list-id").is_some()
        || header("list-unsubscribe").is_some()
        || header("x-loop").is_some()
    {
        return Some(Automated::List);
    }
    if matches!(
        local,
        "noreply" | "no-reply" | "donotreply" | "do-not-reply"
    ) && header("reply-to").is_none()
    {
        return Some(Automated::List);
    }
    None
}

/// True for list and bulk mail proper: a mailing-list post or newsletter (RFC 2369
/// `List-Unsubscribe` and kin, RFC 2919 `List-Id`) or mail sent with `Precedence: bulk`,
/// `list` or `junk`. Narrower than [`Automated::List`], which also covers system
/// notifications (`Auto-Submitted: auto-generated`) and `noreply@` senders, mail a team may
/// well have to act on.
pub fn is_bulk(msg: &Message<'_>) -> bool {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    matches!(
        header("precedence").as_deref(),
        Some("bulk" | "list" | "junk")
    ) || ["list-id", "list-unsubscribe", "list-post"]
        .iter()
        .any(|h| header(h).is_some())
}

fn subject_looks_like_bounce(msg: &Message<'_>) -> bool {
    let s = msg.subject().unwrap_or("").to_lowercase();
    [
        "undeliver",
        "delivery status",
        "returned mail",
        "delivery failure",
        "failure notice",
        "unzustellbar",
    ]
    .iter()
    .any(|p| s.contains(p))
}

/// Subject prefixes that Exchange, Gmail, Apple Mail and others put on out-of-office replies.
fn subject_looks_like_auto_reply(msg: &Message<'_>) -> bool {
    let s = msg.subject().unwrap_or("").trim_start().to_lowercase();
    [
        "automatic reply:",
        "auto reply:",
        "autoreply:",
        "auto-reply:",
        "out of office:",
        "out of office reply",
        "automatische antwort:",
        "abwesenheitsnotiz",
        "réponse automatique",
        "respuesta automática:",
        "risposta automatica:",
        "automatisch antwoord:",
        "autosvar:",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::case;
    use mail_parser::MessageParser;

    fn kind(raw: &[u8]) -> Option<Automated> {
        automated(&MessageParser::default().parse(raw).unwrap())
    }

    #[test]
    fn mail_cases_are_classified() {
        assert_eq!(
            kind(&case("30-out-of-office-b.eml")),
            Some(Automated::AutoReply)
        );
        assert_eq!(kind(&case("33-bounce-dsn-b.eml")), Some(Automated::Bounce));
        assert_eq!(
            kind(&case("34-own-address-loop.eml")),
            Some(Automated::List)
        );
        assert_eq!(kind(&case("30-out-of-office-a.eml")), None);
        assert_eq!(
            kind(&case("36-reply-to-differs-from.eml")),
            None,
            "a web form relay is a person"
        );
        assert_eq!(kind(&case("42-outlook-thread-index-reply.eml")), None);
    }

    #[test]
    fn header_family_is_recognised() {
        let cases: &[(&str, Option<Automated>)] = &[
            (
                "Auto-Submitted: auto-replied (vacation)",
                Some(Automated::AutoReply),
            ),
            ("Auto-Submitted: no", None),
            ("X-Autorespond: 1", Some(Automated::AutoReply)),
            ("X-Autoreply: yes", Some(Automated::AutoReply)),
            ("Precedence: bulk", Some(Automated::List)),
            ("List-Id: <news.example.org>", Some(Automated::List)),
            ("X-Auto-Response-Suppress: All", None),
            ("Return-Path: <>\r\nX-Dummy: 1", None),
        ];
        for (h, want) in cases {
            let raw = format!("From: a@example.org\r\nSubject: hi\r\n{h}\r\n\r\nbody");
            assert_eq!(kind(raw.as_bytes()), *want, "{h}");
        }
        let raw = "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.org\r\nSubject: x\r\n\r\nb";
        assert_eq!(kind(raw.as_bytes()), Some(Automated::Bounce));
        let raw = "From: a@example.org\r\nSubject: Out of Office: Re: hi\r\n\r\nb";
        assert_eq!(kind(raw.as_bytes()), Some(Automated::AutoReply));
    }

    #[test]
    fn bulk_is_list_headers_and_bulk_precedence_only() {
        let bulk = |h: &str| {
            let raw = format!("From: news@example.org\r\nSubject: hi\r\n{h}\r\n\r\nbody");
            is_bulk(&MessageParser::default().parse(raw.as_bytes()).unwrap())
        };
        for h in [
            "List-Id: <news.example.org>",
            "List-Unsubscribe: <mailto:u@example.org>",
            "Precedence: bulk",
            "Precedence: List",
        ] {
            assert!(bulk(h), "{h}");
        }
        for h in [
            "Auto-Submitted: auto-generated",
            "Precedence: auto_reply",
            "X-Loop: x",
        ] {
            assert!(!bulk(h), "{h}");
        }
    }
}
