//! Builds the exact bytes of an outgoing reply (RFC 5322, MIME RFC 2045-2049) with lettre's
//! `MessageBuilder`. Pure: the same mail and date give the same bytes, apart from the MIME
//! boundary, which lettre draws at random.
//!
//! Every header line is 7-bit: non-ASCII in Subject, Thread-Topic and display names becomes
//! RFC 2047 encoded-words, attachment names RFC 2231 parameters, and the text body
//! quoted-printable or base64. No `Auto-Submitted` header (RFC 3834): an agent's reply is a
//! human reply and must reach auto-responders and vacation filters like any other mail.
//!
//! [`build_notification`] builds machine mail to an agent (an @mention while offline): it
//! carries `Auto-Submitted: auto-generated`, and no In-Reply-To, References or Thread-Index, so
//! it never joins the customer's thread.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ingest::subject;
use crate::tickets::EmailAddress;

/// An agent's reply as the outbox sends it.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub mailbox_id: i64,
    /// Our `message` row (direction 'outbound', delivery_state 'queued', already inserted by
    /// the caller).
    pub message_id: i64,
    /// Display name for From, e.g. "Dana via Example Support".
    pub from_name: String,
    /// The mailbox address; also the envelope sender (RFC 5321 MAIL FROM).
    pub from_address: String,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub reply_to: Option<EmailAddress>,
    /// Full subject, already "Re: ... [#N]".
    pub subject: String,
    /// Our Message-ID without angle brackets, e.g. "fd.123.abcd@example.com"; the caller
    /// stores the same value in `message.header_message_id`, so replies thread back.
    pub header_message_id: String,
    /// Message-ID of the message replied to, without angle brackets.
    pub in_reply_to: Option<String>,
    /// References of the message replied to, without angle brackets. Its own Message-ID
    /// (`in_reply_to`) may be included or not: [`references_chain`] appends it when missing.
    pub references: Vec<String>,
    /// Plain-text body (UTF-8; line ends are normalised to CRLF).
    pub text: String,
    pub attachments: Vec<OutgoingAttachment>,
    /// Thread-Index (base64) of the message replied to, if it had one (Outlook).
    pub thread_index: Option<String>,
}

/// A file attached to an outgoing reply.
#[derive(Debug, Clone)]
pub struct OutgoingAttachment {
    pub filename: String,
    /// A MIME type such as `application/pdf`; anything unparseable is sent as
    /// `application/octet-stream`.
    pub content_type: String,
    pub content: Vec<u8>,
}

/// The bytes to send and the SMTP envelope (RFC 5321 3.3) they go with.
#[derive(Debug, Clone)]
pub struct Composed {
    pub raw: Vec<u8>,
    pub envelope_from: String,
    /// To and Cc, deduplicated; there is no Bcc.
    pub envelope_to: Vec<String>,
}

/// Why a reply cannot be turned into a mail; the caller's input is wrong, retrying won't help.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("not a valid email address: {0:?}")]
    Address(String),
    #[error("not a valid Message-ID: {0:?}")]
    MessageId(String),
    #[error("the reply has no recipient")]
    NoRecipients,
    #[error("cannot build the mail: {0}")]
    Build(String),
}

/// A notification mail to an agent (an @mention while they were offline), as the outbox
/// sends it. It is no ticket message: nothing in it refers to the customer's thread.
#[derive(Debug, Clone)]
pub struct NotificationEmail {
    /// The ticket's mailbox: its address sends the mail, through its SMTP server.
    pub mailbox_id: i64,
    /// The `notification` row this mail tells about (already inserted by the caller).
    pub notification_id: i64,
    /// Display name for From, e.g. "Dana Lee via Example Support".
    pub from_name: String,
    /// The mailbox address; also the envelope sender.
    pub from_address: String,
    /// The agent being told.
    pub to: EmailAddress,
    /// Where a reply goes: the note's author, so that answering reaches a colleague and never
    /// lands in the shared mailbox as a customer message.
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    /// Our Message-ID without angle brackets; stored nowhere else, so nothing threads on it.
    pub header_message_id: String,
    /// Plain-text body (UTF-8).
    pub text: String,
}

/// Builds a notification mail: From the mailbox, To the agent, `Auto-Submitted:
/// auto-generated` (RFC 3834) and `X-Auto-Response-Suppress: All` so that no responder
/// answers it, and no threading headers. `date` becomes the Date header.
pub fn build_notification(
    mail: &NotificationEmail,
    date: OffsetDateTime,
) -> Result<Composed, ComposeError> {
    let message_id = clean_id(&mail.header_message_id)
        .filter(|id| id.contains('@'))
        .ok_or_else(|| ComposeError::MessageId(mail.header_message_id.clone()))?;
    let from_address = parse_address(&mail.from_address)?;
    let to = mailbox(&mail.to)?;
    let envelope_to = vec![to.email.to_string()];
    let mut builder = Message::builder()
        .from(Mailbox::new(
            Some(one_line(&mail.from_name)).filter(|n| !n.is_empty()),
            from_address.clone(),
        ))
        .to(to.clone());
    if let Some(r) = &mail.reply_to {
        builder = builder.reply_to(mailbox(r)?);
    }
    let envelope = lettre::address::Envelope::new(Some(from_address), vec![to.email])
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    let message = builder
        .subject(one_line(&mail.subject))
        .date(SystemTime::from(date))
        .message_id(Some(format!("<{message_id}>")))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ))
        .envelope(envelope)
        .singlepart(SinglePart::plain(mail.text.clone()))
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(Composed {
        raw: message.formatted(),
        envelope_from: mail.from_address.trim().to_string(),
        envelope_to,
    })
}

/// A system mail: Frontdesk writing to an agent about their account (an invitation or a
/// password reset link), about no ticket.
#[derive(Debug, Clone)]
pub struct SystemEmail {
    /// The mailbox whose address and SMTP server send it.
    pub mailbox_id: i64,
    /// Display name for From, e.g. "Frontdesk at Example Support".
    pub from_name: String,
    /// The mailbox address; also the envelope sender.
    pub from_address: String,
    pub to: EmailAddress,
    pub subject: String,
    /// Our Message-ID without angle brackets.
    pub header_message_id: String,
    /// Plain-text body (UTF-8).
    pub text: String,
}

/// Builds a system mail with the headers of a notification mail ([`build_notification`]:
/// auto-generated, no threading, no Reply-To). `date` becomes the Date header.
pub fn build_system(mail: &SystemEmail, date: OffsetDateTime) -> Result<Composed, ComposeError> {
    build_notification(
        &NotificationEmail {
            mailbox_id: mail.mailbox_id,
            notification_id: 0,
            from_name: mail.from_name.clone(),
            from_address: mail.from_address.clone(),
            to: mail.to.clone(),
            reply_to: None,
            subject: mail.subject.clone(),
            header_message_id: mail.header_message_id.clone(),
            text: mail.text.clone(),
        },
        date,
    )
}

/// At most this many ids in References: the thread's root plus the newest ones
/// (RFC 5322 3.6.4 allows trimming; some servers reject very long headers).
pub const MAX_REFERENCES: usize = 11;

/// Builds the mail. `date` becomes the Date header and the time of the new Thread-Index block.
pub fn build(mail: &OutgoingEmail, date: OffsetDateTime) -> Result<Composed, ComposeError> {
    let message_id = clean_id(&mail.header_message_id)
        .filter(|id| id.contains('@'))
        .ok_or_else(|| ComposeError::MessageId(mail.header_message_id.clone()))?;
    let from_address = parse_address(&mail.from_address)?;
    let from = Mailbox::new(
        Some(one_line(&mail.from_name)).filter(|n| !n.is_empty()),
        from_address.clone(),
    );

    let mut builder = Message::builder().from(from);
    if let Some(r) = &mail.reply_to {
        builder = builder.reply_to(mailbox(r)?);
    }
    let mut envelope_to: Vec<String> = Vec::new();
    for (list, is_cc) in [(&mail.to, false), (&mail.cc, true)] {
        for a in list {
            let mb = mailbox(a)?;
            let key = mb.email.to_string();
            if envelope_to.iter().any(|e| e.eq_ignore_ascii_case(&key)) {
                continue;
            }
            envelope_to.push(key);
            builder = if is_cc {
                builder.cc(mb)
            } else {
                builder.to(mb)
            };
        }
    }
    if envelope_to.is_empty() {
        return Err(ComposeError::NoRecipients);
    }

    builder = builder
        .subject(one_line(&mail.subject))
        .date(SystemTime::from(date))
        .message_id(Some(format!("<{message_id}>")));
    let in_reply_to = mail.in_reply_to.as_deref().and_then(clean_id);
    if let Some(id) = &in_reply_to {
        builder = builder.in_reply_to(format!("<{id}>"));
    }
    let chain = references_chain(&mail.references, in_reply_to.as_deref());
    if !chain.is_empty() {
        let refs: Vec<String> = chain.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(refs.join(" "));
    }
    if let Some(index) = mail
        .thread_index
        .as_deref()
        .and_then(|received| child_thread_index(received, date, &message_id))
    {
        // Outlook groups a conversation by Thread-Index; Thread-Topic goes with it.
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Thread-Topic"),
                thread_topic(&mail.subject),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Thread-Index"),
                index,
            ));
    }

    let envelope = lettre::address::Envelope::new(
        Some(from_address),
        envelope_to
            .iter()
            .map(|a| parse_address(a))
            .collect::<Result<_, _>>()?,
    )
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    let builder = builder.envelope(envelope);

    let text = SinglePart::plain(mail.text.clone());
    let message = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &mail.attachments {
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap());
            parts = parts.singlepart(
                Attachment::new(safe_filename(&a.filename)).body(a.content.clone(), ct),
            );
        }
        builder.multipart(parts)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;

    Ok(Composed {
        raw: message.formatted(),
        envelope_from: mail.from_address.trim().to_string(),
        envelope_to,
    })
}

/// The References of a reply (RFC 5322 3.6.4): the parent's References followed by the
/// parent's Message-ID, invalid and repeated ids dropped, and when longer than
/// [`MAX_REFERENCES`] trimmed to the first id (the thread's root) plus the newest ones.
pub fn references_chain(references: &[String], in_reply_to: Option<&str>) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    for id in references
        .iter()
        .map(String::as_str)
        .chain(in_reply_to)
        .filter_map(clean_id)
    {
        if !chain.contains(&id) {
            chain.push(id);
        }
    }
    if chain.len() > MAX_REFERENCES {
        chain.drain(1..chain.len() - (MAX_REFERENCES - 1));
    }
    chain
}

/// A Message-ID without its angle brackets, or `None` when it could not stand in a header
/// as a msg-id: empty, whitespace, control or non-ASCII characters, or stray brackets.
fn clean_id(id: &str) -> Option<String> {
    let id = id.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id);
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| id.to_string())
}

fn parse_address(email: &str) -> Result<Address, ComposeError> {
    email
        .trim()
        .parse::<Address>()
        .map_err(|_| ComposeError::Address(email.to_string()))
}

fn mailbox(a: &EmailAddress) -> Result<Mailbox, ComposeError> {
    Ok(Mailbox::new(
        a.name.as_deref().map(one_line).filter(|n| !n.is_empty()),
        parse_address(&a.email)?,
    ))
}

/// Header text on one line: CR, LF and other controls become spaces (no header injection).
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.trim().to_string()
}

/// A file name safe in a MIME parameter and on the recipient's disk.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let s: String = base
        .chars()
        .map(|c| if c.is_control() || c == '"' { '_' } else { c })
        .collect();
    let s = s.trim();
    if s.is_empty() {
        "attachment".to_string()
    } else {
        s.to_string()
    }
}

/// Thread-Topic: the subject without reply prefixes (`Re:`, `AW:`, `SV:` ...) and without our
/// trailing `[#N]` ticket token, i.e. the topic the customer's Outlook started with.
pub fn thread_topic(subject: &str) -> String {
    let s = one_line(subject);
    subject::strip_ticket_token(subject::strip_reply_prefixes(&s)).to_string()
}

/// 100 ns intervals between 1601-01-01 (FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Outlook's Thread-Index for a reply ([MS-OXOMSG] 2.2.1.3 PidTagConversationIndex): the
/// received index (22-byte header block + 5-byte child blocks) plus one child block for this
/// reply. `None` when the received value is not a conversation index.
///
/// The header's 5 time bytes are FILETIME bits 24..63 in current Outlook (they then start
/// with 0x01, the FILETIME's top byte today) and bits 16..55 in older clients (the top byte,
/// always 0x01 since 1846, left out); both are read.
///
/// Child block: 1 bit delta code, 31 bits time delta, 8 bits random. The delta is the time
/// since the header's FILETIME; with delta code 0 it is the delta's bits 18..48 (less than
/// about 1.7 years), with 1 its bits 23..53. The "random" byte is taken from our Message-ID's
/// hash so that the same mail always gets the same index.
pub fn child_thread_index(received: &str, now: OffsetDateTime, salt: &str) -> Option<String> {
    let compact: String = received.chars().filter(|c| !c.is_whitespace()).collect();
    let mut bytes = STANDARD
        .decode(&compact)
        .or_else(|_| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
        .ok()?;
    if bytes.len() < 22 || (bytes.len() - 22) % 5 != 0 {
        return None;
    }
    let mut ft = [0u8; 8];
    ft[3..8].copy_from_slice(&bytes[1..6]);
    let stored = u64::from_be_bytes(ft);
    let header_time = if bytes[1] == 0x01 {
        stored << 24
    } else {
        (0x01 << 56) | (stored << 16)
    };
    let now_100ns = u64::try_from(now.unix_timestamp_nanos() / 100).unwrap_or(0);
    // A header "from the future" (clock skew, a made-up index) gives a zero delta.
    let diff = (now_100ns + FILETIME_UNIX_EPOCH).saturating_sub(header_time);
    let block = if diff >> 49 == 0 {
        (diff >> 18) as u32
    } else {
        0x8000_0000 | (diff >> 23).min(0x7fff_ffff) as u32
    };
    bytes.extend_from_slice(&block.to_be_bytes());
    bytes.push(Sha256::digest(salt.as_bytes())[0]);
    Some(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;
    use time::macros::datetime;

    fn addr(email: &str, name: Option<&str>) -> EmailAddress {
        EmailAddress {
            email: email.into(),
            name: name.map(Into::into),
        }
    }

    /// The reply an agent sends to mail case 42 (an Outlook reply with Thread-Index).
    fn case42_reply() -> OutgoingEmail {
        let raw = crate::test_cases::case("42-outlook-thread-index-reply.eml");
        let inbound = crate::ingest::parse::parse(&raw).expect("case 42 parses");
        let thread_index = mail_parser::MessageParser::default()
            .parse(&raw)
            .and_then(|m| m.header_raw("Thread-Index").map(|v| v.trim().to_string()));
        OutgoingEmail {
            mailbox_id: 1,
            message_id: 7,
            from_name: "Dana via Example Support".into(),
            from_address: "support@example.com".into(),
            to: inbound.from.clone().into_iter().collect(),
            cc: vec![],
            reply_to: None,
            subject: "Re: Bestätigung Schulungstermin Mai [#42]".into(),
            header_message_id: "fd.7.abcd@example.com".into(),
            in_reply_to: inbound.message_id.clone(),
            references: inbound.references.clone(),
            text: "Guten Tag Frau Krüger,\n\nder Raum ist 2.14.\n".into(),
            attachments: vec![],
            thread_index,
        }
    }

    fn header_block(raw: &[u8]) -> String {
        let s = String::from_utf8(raw.to_vec()).unwrap();
        s.split("\r\n\r\n").next().unwrap().to_string()
    }

    /// A header's value with folding undone (RFC 5322 2.2.3).
    fn header(raw: &[u8], name: &str) -> Option<String> {
        let block = header_block(raw)
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        block.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// Decodes RFC 2047 encoded-words by letting mail-parser read the text as a Subject.
    fn decode_2047(value: &str) -> String {
        let m = format!("Subject: {value}\r\n\r\n");
        let parsed = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .unwrap();
        parsed.subject().unwrap().to_string()
    }

    #[test]
    fn case_42_reply_threads_with_the_outlook_conversation() {
        let mail = case42_reply();
        let out = build(&mail, datetime!(2026-05-02 09:30 UTC)).unwrap();
        let raw = &out.raw;
        assert_eq!(
            header(raw, "In-Reply-To").as_deref(),
            Some("<c42-reply@EXCH07.example.org>")
        );
        assert_eq!(
            header(raw, "References").as_deref(),
            Some("<c42-root@EXCH07.example.org> <c42-reply@EXCH07.example.org>")
        );
        assert_eq!(
            header(raw, "Message-ID").as_deref(),
            Some("<fd.7.abcd@example.com>")
        );
        assert!(header(raw, "Auto-Submitted").is_none(), "a human reply");
        assert_eq!(header(raw, "MIME-Version").as_deref(), Some("1.0"));
        assert!(header(raw, "Date").is_some());
        assert_eq!(out.envelope_from, "support@example.com");
        assert_eq!(out.envelope_to, ["s.krueger@example.org"]);

        // Every byte 7-bit; the subject RFC 2047-encoded and decoding back to the original.
        assert!(raw.is_ascii(), "the whole mail must be 7-bit");
        let subject = header(raw, "Subject").unwrap();
        assert!(
            subject.contains("=?utf-8?"),
            "encoded-word expected: {subject}"
        );
        let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Re: Bestätigung Schulungstermin Mai [#42]")
        );
        let topic = header(raw, "Thread-Topic").unwrap();
        assert_eq!(decode_2047(&topic), "Bestätigung Schulungstermin Mai");
        assert!(
            parsed
                .body_text(0)
                .unwrap()
                .contains("Guten Tag Frau Krüger,")
        );
    }

    #[test]
    fn case_42_thread_index_gets_one_child_block() {
        let mail = case42_reply();
        let received = STANDARD
            .decode(mail.thread_index.as_deref().unwrap())
            .unwrap();
        assert_eq!(received.len(), 27, "case 42 carries one child block");
        let out = build(&mail, datetime!(2026-05-02 09:30 UTC)).unwrap();
        let sent = STANDARD
            .decode(header(&out.raw, "Thread-Index").unwrap())
            .unwrap();
        assert_eq!(sent.len(), 32);
        assert_eq!(sent[..22], received[..22], "header block kept");
        assert_eq!(sent[..27], received[..], "received child blocks kept");
        assert_ne!(sent[27..], [0u8; 5][..]);
    }

    /// A header block for `t` in the current (FILETIME >> 24) or the older (bits 16..55) form.
    fn header_block_for(t: OffsetDateTime, current: bool) -> (String, u64) {
        let ft = (t.unix_timestamp_nanos() / 100) as u64 + FILETIME_UNIX_EPOCH;
        let (stored, kept) = if current {
            (ft >> 24, (ft >> 24) << 24)
        } else {
            ((ft >> 16) & 0xff_ffff_ffff, (ft >> 16) << 16)
        };
        let mut header = vec![0x01];
        header.extend_from_slice(&stored.to_be_bytes()[3..8]);
        header.extend_from_slice(&[0x11; 16]);
        (STANDARD.encode(&header), kept)
    }

    #[test]
    fn child_block_encodes_the_time_since_the_header() {
        let t0 = datetime!(2025-04-28 12:00 UTC);
        for current in [true, false] {
            let (b64, kept) = header_block_for(t0, current);
            let out = child_thread_index(&b64, t0 + time::Duration::hours(1), "x").unwrap();
            let bytes = STANDARD.decode(out).unwrap();
            assert_eq!(bytes.len(), 27);
            let block = u32::from_be_bytes(bytes[22..26].try_into().unwrap());
            assert_eq!(block >> 31, 0, "delta code 0 below 1.7 years");
            // One hour in 100 ns units, plus the low bits the header does not store.
            let ft0 = (t0.unix_timestamp_nanos() / 100) as u64 + FILETIME_UNIX_EPOCH;
            let diff = ft0 + 36_000_000_000 - kept;
            assert_eq!(u64::from(block), diff >> 18, "current form: {current}");

            // Years later: delta code 1, coarser unit.
            let out = child_thread_index(&b64, t0 + time::Duration::days(800), "x").unwrap();
            let bytes = STANDARD.decode(out).unwrap();
            assert_eq!(bytes[22] >> 7, 1);
        }
    }

    #[test]
    fn malformed_thread_index_is_left_out() {
        assert_eq!(
            child_thread_index("not base64!", OffsetDateTime::UNIX_EPOCH, "x"),
            None
        );
        assert_eq!(
            child_thread_index(&STANDARD.encode([1u8; 23]), OffsetDateTime::UNIX_EPOCH, "x"),
            None
        );
        let mut mail = case42_reply();
        mail.thread_index = Some("garbage".into());
        let out = build(&mail, OffsetDateTime::now_utc()).unwrap();
        assert!(header(&out.raw, "Thread-Index").is_none());
        assert!(header(&out.raw, "Thread-Topic").is_none());
    }

    #[test]
    fn message_id_is_fixed_and_the_bytes_repeatable() {
        let mail = case42_reply();
        let date = datetime!(2026-05-02 09:30 UTC);
        let a = build(&mail, date).unwrap();
        let b = build(&mail, date).unwrap();
        assert_eq!(a.raw, b.raw, "no random part in a single-part mail");
        assert_eq!(
            header(&a.raw, "Message-ID").as_deref(),
            Some("<fd.7.abcd@example.com>")
        );
        let mut bad = mail.clone();
        bad.header_message_id = "no at sign".into();
        assert!(matches!(build(&bad, date), Err(ComposeError::MessageId(_))));
    }

    #[test]
    fn headers_are_7bit_and_cannot_be_injected() {
        let mut mail = case42_reply();
        mail.from_name = "Jürgen via Support".into();
        mail.subject = "Re: Grüße\r\nBcc: evil@example.net".into();
        mail.to = vec![addr("kunde@example.org", Some("Zoë \"Z\" Ünal"))];
        mail.cc = vec![
            addr("KUNDE@example.org", None),
            addr("cc@example.org", None),
        ];
        mail.reply_to = Some(addr("replies@example.com", None));
        let out = build(&mail, OffsetDateTime::now_utc()).unwrap();
        assert!(out.raw.is_ascii());
        assert!(header(&out.raw, "Bcc").is_none());
        assert_eq!(out.envelope_to, ["kunde@example.org", "cc@example.org"]);
        let parsed = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        assert_eq!(parsed.subject(), Some("Re: Grüße Bcc: evil@example.net"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Jürgen via Support"));
        assert_eq!(from.address(), Some("support@example.com"));
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.name(), Some("Zoë \"Z\" Ünal"));
        assert_eq!(
            parsed.reply_to().unwrap().first().unwrap().address(),
            Some("replies@example.com")
        );
    }

    #[test]
    fn attachments_make_a_multipart_mixed_mail() {
        let mut mail = case42_reply();
        mail.attachments = vec![
            OutgoingAttachment {
                filename: "Raumplan März.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF-1.4 \x00\xff binary".to_vec(),
            },
            OutgoingAttachment {
                filename: "../x\".txt".into(),
                content_type: "not a type".into(),
                content: b"hello".to_vec(),
            },
        ];
        let out = build(&mail, OffsetDateTime::now_utc()).unwrap();
        assert!(out.raw.is_ascii());
        assert!(
            header(&out.raw, "Content-Type")
                .unwrap()
                .starts_with("multipart/mixed")
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        let atts: Vec<_> = parsed.attachments().collect();
        assert_eq!(atts.len(), 2);
        assert_eq!(atts[0].attachment_name(), Some("Raumplan März.pdf"));
        assert_eq!(atts[0].contents(), b"%PDF-1.4 \x00\xff binary");
        assert_eq!(atts[1].attachment_name(), Some("x_.txt"));
        assert!(parsed.body_text(0).unwrap().contains("Raum ist 2.14"));
    }

    #[test]
    fn a_notification_is_machine_mail_outside_the_customer_thread() {
        let mail = NotificationEmail {
            mailbox_id: 1,
            notification_id: 9,
            from_name: "Dana Lee via Example Support".into(),
            from_address: "support@example.com".into(),
            to: addr("lee.park@example.com", Some("Lee Park")),
            reply_to: Some(addr("dana@example.com", Some("Dana Lee"))),
            subject: "[#42] Dana Lee mentioned you: Drucker brennt".into(),
            header_message_id: "fd.mention.9.ab@example.com".into(),
            text: "@lee.park bitte prüfen\n".into(),
        };
        let out = build_notification(&mail, OffsetDateTime::now_utc()).unwrap();
        assert!(out.raw.is_ascii());
        assert_eq!(out.envelope_from, "support@example.com");
        assert_eq!(out.envelope_to, ["lee.park@example.com"]);
        assert_eq!(
            header(&out.raw, "Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(
            header(&out.raw, "Message-ID").as_deref(),
            Some("<fd.mention.9.ab@example.com>")
        );
        for h in ["In-Reply-To", "References", "Thread-Index", "Cc"] {
            assert!(header(&out.raw, h).is_none(), "{h} must be absent");
        }
        assert!(
            header(&out.raw, "Reply-To")
                .unwrap()
                .contains("dana@example.com")
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&out.raw)
            .unwrap();
        assert!(parsed.body_text(0).unwrap().contains("bitte prüfen"));
    }

    #[test]
    fn a_reply_needs_a_recipient_and_valid_addresses() {
        let mut mail = case42_reply();
        mail.to.clear();
        assert!(matches!(
            build(&mail, OffsetDateTime::now_utc()),
            Err(ComposeError::NoRecipients)
        ));
        mail.to = vec![addr("not an address", None)];
        assert!(matches!(
            build(&mail, OffsetDateTime::now_utc()),
            Err(ComposeError::Address(_))
        ));
    }

    #[test]
    fn references_keep_the_root_and_the_newest_ids() {
        let refs: Vec<String> = (1..=20).map(|i| format!("<m{i}@x>")).collect();
        let chain = references_chain(&refs, Some("m21@x"));
        assert_eq!(chain.len(), MAX_REFERENCES);
        assert_eq!(chain[0], "m1@x");
        assert_eq!(chain[1], "m12@x");
        assert_eq!(chain.last().unwrap(), "m21@x");

        // Parent id already in the list, duplicates and junk dropped.
        let chain = references_chain(
            &[
                "a@x".into(),
                "a@x".into(),
                "bad id".into(),
                "".into(),
                "b@x".into(),
            ],
            Some("<b@x>"),
        );
        assert_eq!(chain, ["a@x", "b@x"]);
        assert!(references_chain(&[], None).is_empty());
    }

    #[test]
    fn thread_topic_drops_reply_prefixes_and_the_ticket_token() {
        assert_eq!(
            thread_topic("Re: AW: Bestätigung Schulungstermin Mai [#42]"),
            "Bestätigung Schulungstermin Mai"
        );
        assert_eq!(thread_topic("RE[2]: Hello"), "Hello");
        assert_eq!(thread_topic("Reply needed [#x]"), "Reply needed [#x]");
    }
}
