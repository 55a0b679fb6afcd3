//! Raw RFC 5322 bytes to [`InboundEmail`]: pure, no I/O, tested on the mail fixtures
//! (`tests/fixtures/mail`).
//!
//! MIME decoding is mail-parser's (RFC 2045-2049, 2047, 2231, 6532); [`super::normalize`]
//! repairs the damage it does not undo, and this module repairs the rest at the part level:
//! text parts without a charset, base64 without padding, HTML-only mail.

use mail_parser::{
    Address, HeaderName, HeaderValue, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::classify;
use super::{normalize, sanitize};
use crate::tickets::messages::AttachmentData;
pub use crate::tickets::model::{Automated, EmailAddress};

/// Everything Frontdesk keeps from one inbound mail, decoded and sanitised.
#[derive(Debug, Clone)]
pub struct InboundEmail {
    /// `Message-ID` without angle brackets; `None` when absent or empty (RFC 5322 3.6.4).
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// Decoded subject; empty when absent.
    pub subject: String,
    pub from: Option<EmailAddress>,
    pub reply_to: Vec<EmailAddress>,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    /// The `Date` header when it is a real, plausible date (UTC); `None` otherwise.
    pub date: Option<OffsetDateTime>,
    /// Plain-text body (LF line ends); derived from the HTML when the mail has no text part.
    pub text: String,
    /// Sanitised HTML body, `None` when the mail has no HTML part.
    pub html: Option<String>,
    pub attachments: Vec<AttachmentData>,
    /// Set for auto-replies, bounces and list mail (RFC 3834, RFC 3464, RFC 2369).
    pub automated: Option<Automated>,
    /// List or bulk mail proper ([`classify::is_bulk`]; then `automated` is `List`): a ticket
    /// it opens starts closed, out of the work queue.
    pub bulk: bool,
    /// For bounces: Message-ID, In-Reply-To and References of the returned message, which
    /// point at the ticket the failed mail belonged to.
    pub returned_message_ids: Vec<String>,
    /// Dedupe hash: sha256 of the body when a Message-ID exists, else of the whole message.
    pub content_sha256: [u8; 32],
}

/// Why a raw message could not be parsed at all.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an RFC 5322 message: no header could be parsed")]
    NotAMessage,
}

/// Parses one raw message. Never panics on hostile input; fails only when nothing in it
/// looks like a mail header.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    let bytes = normalize::for_parsing(raw);
    let msg = MessageParser::default()
        .parse(&bytes)
        .ok_or(ParseError::NotAMessage)?;
    let known = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "received",
        "mime-version",
    ];
    if !msg
        .headers()
        .iter()
        .any(|h| known.iter().any(|k| h.name().eq_ignore_ascii_case(k)))
    {
        return Err(ParseError::NotAMessage);
    }

    let message_id = msg.message_id().and_then(clean_id);
    let in_reply_to = ids(msg.in_reply_to());
    let references = ids(msg.references());
    let subject = msg.subject().map(clean_header_text).unwrap_or_default();

    // mail-parser points text_body at the HTML part when there is no text part.
    let text_part = msg.text_part(0).filter(|p| !p.is_text_html());
    let html_part = msg.html_part(0).filter(|p| p.is_text_html());
    let html_raw = html_part.and_then(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    let text = match text_part {
        Some(p) => text_of(p, &bytes),
        None => html_raw.as_deref().map(html_to_text).unwrap_or_default(),
    };
    let html = html_raw.as_deref().map(sanitize::email_html);

    let mut attachments = Vec::new();
    let mut generated_names = Vec::new();
    let alternatives = alternative_parts(&msg);
    for &id in &msg.attachments {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        if alternatives.contains(&id) && is_body_alternative(part) {
            // Apple's text/watch-html, Gmail's text/x-amp-html, text/enriched: other renditions
            // of the body, not files anyone sent.
            continue;
        }
        let (a, generated) = attachment_of(part, &bytes);
        if is_signature(&a.content_type) {
            // A detached S/MIME or PGP signature is not a file anyone opens; it stays in the raw mail.
            continue;
        }
        if is_tnef(&a) {
            // Outlook's winmail.dat: unpack the files inside, as Outlook would show them.
            let inner = tnef_files(&a.content);
            if !inner.is_empty() {
                attachments.extend(inner);
                continue;
            }
        }
        if generated {
            generated_names.push(attachments.len());
        }
        attachments.push(a);
    }
    name_unnamed_parts(&mut attachments, &generated_names);
    // An image referenced from the HTML by cid: is inline whatever its disposition says.
    if let Some(html) = &html_raw {
        for a in &mut attachments {
            if let Some(cid) = &a.content_id
                && html.contains(&format!("cid:{cid}"))
            {
                a.inline = true;
            }
        }
    }

    // PostgreSQL text cannot hold NUL; it carries no meaning in mail text anyway.
    let text = text.replace('\0', "");
    let html = html.map(|h| h.replace('\0', ""));
    let subject = subject.replace('\0', "");
    let automated = classify::automated(&msg);
    let bulk = automated == Some(Automated::List) && classify::is_bulk(&msg);
    let returned_message_ids = if automated == Some(Automated::Bounce) {
        returned_ids(&msg)
    } else {
        Vec::new()
    };

    let content_sha256 = match message_id {
        Some(_) => {
            let body_start = msg.root_part().offset_body as usize;
            Sha256::digest(&bytes[body_start.min(bytes.len())..]).into()
        }
        None => Sha256::digest(raw).into(),
    };

    Ok(InboundEmail {
        message_id,
        in_reply_to,
        references,
        subject,
        from: msg.from().and_then(|a| addresses(a).into_iter().next()),
        reply_to: msg.reply_to().map(addresses).unwrap_or_default(),
        to: msg.to().map(addresses).unwrap_or_default(),
        cc: msg.cc().map(addresses).unwrap_or_default(),
        date: msg.date().filter(|d| d.is_valid()).and_then(|d| {
            let t = OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok()?;
            // Dates before the first mail clients or far in the future are clock or parse errors.
            let plausible =
                t.year() >= 1990 && t < OffsetDateTime::now_utc() + time::Duration::days(2);
            plausible.then_some(t)
        }),
        text,
        html,
        attachments,
        automated,
        bulk,
        returned_message_ids,
        content_sha256,
    })
}

fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => clean_id(t).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
}

/// Collapses folding whitespace and strips control characters from a decoded header.
fn clean_header_text(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

fn addresses(addr: &Address<'_>) -> Vec<EmailAddress> {
    addr.iter()
        .filter_map(|a| {
            let email = a.address()?.trim().to_lowercase();
            if !email.contains('@') {
                return None;
            }
            let name = a
                .name()
                .map(clean_header_text)
                .filter(|n| !n.is_empty() && n.to_lowercase() != email);
            Some(EmailAddress { email, name })
        })
        .collect()
}

/// The text of a text part. A part that declares no charset is decoded by sniffing:
/// ISO-2022-JP escape sequences (Outlook omits the label), UTF-8, else windows-1252.
fn text_of(part: &MessagePart<'_>, bytes: &[u8]) -> String {
    let declared = part
        .content_type()
        .and_then(|c| c.attribute("charset"))
        .is_some();
    let decoded = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.to_string(),
        _ => String::new(),
    };
    let text = if !declared && looks_iso2022jp(decoded.as_bytes()) {
        let (s, _, _) = encoding_rs::ISO_2022_JP.decode(decoded.as_bytes());
        s.into_owned()
    } else if !declared && decoded.contains('\u{FFFD}') {
        let raw = &bytes[part.offset_body as usize..(part.offset_end as usize).min(bytes.len())];
        match part.encoding {
            mail_parser::Encoding::None => {
                let (s, _, _) = encoding_rs::WINDOWS_1252.decode(raw);
                s.into_owned()
            }
            _ => decoded,
        }
    } else {
        decoded
    };
    text.replace("\r\n", "\n")
}

fn looks_iso2022jp(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w == b"\x1b$B" || w == b"\x1b$@" || w == b"\x1b(J")
}

/// Plain-text rendition of an HTML body (for mail that has no text/plain part). Raw mode:
/// newsletters lay out with nested tables, which otherwise came out as rows of box-drawing
/// borders (`────`) in snippets and search excerpts; each cell is a paragraph instead.
pub fn html_to_text(html: &str) -> String {
    html2text::config::plain_no_decorate()
        .raw_mode(true)
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// An attachment from a MIME part, and whether its name was made up (the part had none).
fn attachment_of(part: &MessagePart<'_>, bytes: &[u8]) -> (AttachmentData, bool) {
    let content_type = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{}", c.ctype(), sub),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase();
    let content = match (&part.body, part.encoding) {
        // Re-decode base64 leniently: mail-parser drops the last byte when padding is missing.
        (
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Text(_) | PartType::Html(_),
            mail_parser::Encoding::Base64,
        ) => {
            let raw =
                &bytes[part.offset_body as usize..(part.offset_end as usize).min(bytes.len())];
            normalize::lenient_base64(raw).unwrap_or_else(|| part.contents().to_vec())
        }
        (PartType::Message(_), _) => {
            bytes[part.offset_body as usize..(part.offset_end as usize).min(bytes.len())].to_vec()
        }
        _ => part.contents().to_vec(),
    };
    let content_id = part.content_id().and_then(clean_id);
    let inline = part
        .content_disposition()
        .map(|d| d.is_inline())
        .unwrap_or(false)
        || (content_id.is_some() && part.content_disposition().is_none());
    let filename = quoted_encoded_name(part, bytes)
        .or_else(|| part.attachment_name().map(str::to_string))
        .map(|n| clean_header_text(&n))
        .filter(|n| !n.is_empty());
    let generated = filename.is_none();
    let filename = filename.unwrap_or_else(|| default_filename(&content_type, part));
    let a = AttachmentData {
        filename,
        content_type,
        content,
        content_id,
        inline,
    };
    (a, generated)
}

/// The `filename=` (Content-Disposition) or else `name=` (Content-Type) parameter of a part
/// when it is a quoted string holding RFC 2047 encoded-words, decoded from the raw header:
/// mail-parser decodes each word on its own and keeps the space between them, while RFC 2047
/// 6.2 drops it, and a word cut inside a character needs its neighbour's bytes. `None` for any
/// other form (plain, RFC 2231 `filename*`, continuations), which mail-parser decodes well.
fn quoted_encoded_name(part: &MessagePart<'_>, bytes: &[u8]) -> Option<String> {
    let raw_param = |header: HeaderName<'_>, param: &str| {
        let h = part.headers.iter().find(|h| h.name == header)?;
        let raw = bytes.get(h.offset_start as usize..h.offset_end as usize)?;
        quoted_param(&String::from_utf8_lossy(raw), param)
    };
    let value = raw_param(HeaderName::ContentDisposition, "filename")
        .or_else(|| raw_param(HeaderName::ContentType, "name"))?;
    normalize::decode_encoded_words(&value)
}

/// The value of `name="..."` in a raw, possibly folded, MIME header value (RFC 2045 5.1):
/// unfolded, with quoted-pair escapes undone. `None` when the parameter is absent or not quoted.
fn quoted_param(raw: &str, name: &str) -> Option<String> {
    let unfolded = raw.replace("\r\n", "").replace('\n', "");
    let lower = unfolded.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(name) {
        let at = from + rel;
        from = at + name.len();
        let before = lower[..at].trim_end_matches([' ', '\t']);
        if !before.ends_with(';') {
            continue;
        }
        let rest = unfolded[from..].trim_start_matches([' ', '\t']);
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start_matches([' ', '\t']).strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(value),
                '\\' => value.extend(chars.next()),
                c => value.push(c),
            }
        }
        return Some(value);
    }
    None
}

/// A name for a part that has none, from its content type: `invite.ics` for a calendar,
/// the subject (else `message`) plus `.eml` for a mail, `image.png`, `document.pdf`, ...
/// Duplicates are numbered by [`name_unnamed_parts`].
fn default_filename(content_type: &str, part: &MessagePart<'_>) -> String {
    if let PartType::Message(m) = &part.body {
        let subject = m.subject().map(clean_header_text).unwrap_or_default();
        let stem = subject.replace(['/', '\\'], "-");
        return if stem.is_empty() {
            "message.eml".into()
        } else {
            format!("{stem}.eml")
        };
    }
    let (top, sub) = content_type.split_once('/').unwrap_or((content_type, ""));
    let stem = match (top, sub) {
        ("text", "calendar") | ("application", "ics") => "invite",
        ("text", "rfc822-headers") | ("message", "delivery-status") => "details",
        ("message", _) => "message",
        ("image" | "audio" | "video" | "font" | "model", _) => top,
        ("text", _) => "text",
        ("application", "pdf") => "document",
        _ => "attachment",
    };
    format!("{stem}.{}", extension_for(content_type))
}

/// The usual file extension of a content type: a table for the common types whose first
/// `mime_guess` extension is not the usual one, else `mime_guess`'s first, else `bin`.
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" | "image/pjpeg" => "jpg",
        "image/tiff" => "tif",
        "text/plain" | "text/rfc822-headers" | "message/delivery-status" => "txt",
        "text/calendar" | "application/ics" => "ics",
        "text/html" => "html",
        "message/rfc822" | "message/global" => "eml",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        _ => mime_guess::get_mime_extensions_str(content_type)
            .and_then(|exts| exts.first().copied())
            .unwrap_or("bin"),
    }
}

/// Numbers the made-up names (at `generated`, ascending) that clash with a sent name or an
/// earlier made-up one: `image.png`, `image-2.png`, ...
fn name_unnamed_parts(attachments: &mut [AttachmentData], generated: &[usize]) {
    for &i in generated {
        let taken = |name: &str, atts: &[AttachmentData]| {
            atts.iter().enumerate().any(|(j, a)| {
                (j < i || (j > i && !generated.contains(&j)))
                    && a.filename.eq_ignore_ascii_case(name)
            })
        };
        if !taken(&attachments[i].filename, attachments) {
            continue;
        }
        let name = attachments[i].filename.clone();
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) => (s.to_string(), format!(".{e}")),
            None => (name.clone(), String::new()),
        };
        let fresh = (2..)
            .map(|n| format!("{stem}-{n}{ext}"))
            .find(|n| !taken(n, attachments))
            .expect("some number is free");
        attachments[i].filename = fresh;
    }
}

/// Indices of the parts whose parent is a `multipart/alternative`.
fn alternative_parts(msg: &mail_parser::Message<'_>) -> Vec<u32> {
    msg.parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|c| c.subtype() == Some("alternative"))
        })
        .filter_map(|p| match &p.body {
            PartType::Multipart(children) => Some(children.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A text rendition of the body inside a multipart/alternative, without a name or an
/// `attachment` disposition. A calendar is no rendition: an invitation is offered as a file.
fn is_body_alternative(part: &MessagePart<'_>) -> bool {
    let Some(ct) = part.content_type() else {
        return false;
    };
    ct.ctype().eq_ignore_ascii_case("text")
        && !ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        && part.attachment_name().is_none()
        && !part
            .content_disposition()
            .is_some_and(|d| d.is_attachment())
}

fn is_signature(content_type: &str) -> bool {
    matches!(
        content_type,
        "application/pkcs7-signature"
            | "application/x-pkcs7-signature"
            | "application/pgp-signature"
    )
}

fn is_tnef(a: &AttachmentData) -> bool {
    a.content_type == "application/ms-tnef"
        || a.content_type == "application/vnd.ms-tnef"
        || a.filename.eq_ignore_ascii_case("winmail.dat")
}

/// The files inside a TNEF blob (MS-OXTNEF): each attachment starts with attAttachRendData and
/// carries attAttachTitle (its name) and attAttachData (its bytes). Empty when the blob cannot
/// be read; the caller then keeps winmail.dat itself.
fn tnef_files(blob: &[u8]) -> Vec<AttachmentData> {
    use tnef::{AttachAttrId, AttributeId};
    let Ok(reader) = tnef::TnefReader::new(blob) else {
        return Vec::new();
    };
    let mut files: Vec<(Option<String>, Option<Vec<u8>>)> = Vec::new();
    for attr in reader {
        let Ok((id, data)) = attr else {
            return Vec::new();
        };
        match id {
            AttributeId::Attachment(AttachAttrId::AttachRendData) => files.push((None, None)),
            AttributeId::Attachment(AttachAttrId::Title) => {
                if let Some(f) = files.last_mut() {
                    let raw = data.split(|b| *b == 0).next().unwrap_or(data);
                    let name = match std::str::from_utf8(raw) {
                        Ok(s) => s.to_string(),
                        Err(_) => encoding_rs::WINDOWS_1252.decode(raw).0.into_owned(),
                    };
                    f.0 = Some(name);
                }
            }
            AttributeId::Attachment(AttachAttrId::Data) => {
                if let Some(f) = files.last_mut() {
                    f.1 = Some(data.to_vec());
                }
            }
            _ => {}
        }
    }
    files
        .into_iter()
        .enumerate()
        .filter_map(|(i, (name, data))| {
            let content = data?;
            let filename = name
                .map(|n| clean_header_text(&n))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("attachment-{}.bin", i + 1));
            Some(AttachmentData {
                content_type: guess_type(&filename).to_string(),
                filename,
                content,
                content_id: None,
                inline: false,
            })
        })
        .collect()
}

/// A content type from a file name's extension (TNEF carries no MIME types).
fn guess_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Ids that tie a bounce (RFC 3464 multipart/report) to the mail it returns: the returned
/// message's own Message-ID, In-Reply-To and References, newest first.
fn returned_ids(msg: &mail_parser::Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for part in msg.attachments() {
        if let PartType::Message(inner) = &part.body {
            out.extend(inner.message_id().and_then(clean_id));
            out.extend(ids(inner.in_reply_to()));
            out.extend(ids(inner.references()).into_iter().rev());
        } else if part
            .content_type()
            .is_some_and(|c| c.subtype() == Some("rfc822-headers"))
            && let Some(inner) = MessageParser::default().parse_headers(part.contents())
        {
            out.extend(inner.message_id().and_then(clean_id));
            out.extend(ids(inner.in_reply_to()));
            out.extend(ids(inner.references()).into_iter().rev());
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_layout_tables_become_text_without_box_drawing() {
        let html = "<table border=1><tr><td><h1>Spring sale</h1></td><td>Up to 40% off</td></tr>\
                    <tr><td colspan=2><table><tr><td>Shop now</td></tr></table></td></tr></table>";
        let text = html_to_text(html);
        for needle in ["Spring sale", "Up to 40% off", "Shop now"] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        assert!(
            !text.chars().any(|c| ('\u{2500}'..='\u{257f}').contains(&c)),
            "box drawing in {text:?}"
        );
    }
    use crate::test_cases::case;

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    #[test]
    fn subject_split_inside_utf8_characters_decodes_cleanly() {
        let m = parse(&case("01-subject-utf8-split-across-words.eml")).unwrap();
        assert_eq!(
            m.subject,
            "Lieferung verzögert – Rückfrage zur Bestellung 5521"
        );
    }

    #[test]
    fn malformed_q_words_decode() {
        let m = parse(&case("02-subject-q-word-with-spaces.eml")).unwrap();
        assert_eq!(
            m.subject,
            "Vorgang 88213: Möchten Sie die Lieferadresse ändern?"
        );
        assert_eq!(
            m.from.unwrap().name.as_deref(),
            Some("Lager West / Standort 3")
        );
    }

    #[test]
    fn iso2022jp_body_without_charset_is_sniffed() {
        let m = parse(&case("05-body-iso2022jp-no-charset.eml")).unwrap();
        assert_eq!(m.subject, "お見積りの件");
        assert!(m.text.starts_with("お世話になっております。"), "{}", m.text);
        assert!(m.text.contains("山本"));
        assert!(!m.text.contains('\u{1b}'));
    }

    #[test]
    fn raw_8bit_headers_decode_as_utf8_or_latin1() {
        let m = parse(&case("07-raw-8bit-cc-header.eml")).unwrap();
        assert_eq!(m.subject, "Frage zur Rechnung Nr. 7781 – Zahlungsziel");
        let from = m.from.unwrap();
        assert_eq!(from.email, "asa.lindqvist@example.org");
        assert_eq!(from.name.as_deref(), Some("Åsa Lindqvist"));
        assert_eq!(m.cc[0].email, "juergen.baecker@example.net");
        assert_eq!(m.cc[0].name.as_deref(), Some("Jürgen Bäcker"));
    }

    #[test]
    fn rfc2231_filename_with_wrong_charset_is_valid_utf8() {
        let m = parse(&case("08-filename-rfc2231-wrong-charset.eml")).unwrap();
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.filename, "Prüfbericht März 2025.pdf");
        assert_eq!(a.content.len(), 113);
        assert_eq!(
            sha(&a.content),
            "a1b0657d5f25f8775458ccc49154473970947620fd337e987746d96507d93491"
        );
    }

    #[test]
    fn whitespace_only_continuation_line_keeps_all_headers() {
        let m = parse(&case("10-header-whitespace-only-continuation.eml")).unwrap();
        assert_eq!(m.subject, "Lieferschein Auftrag 66120");
        assert!(m.text.starts_with("Hallo,"));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "Lieferschein_66120.pdf");
        assert_eq!(
            sha(&m.attachments[0].content),
            "6340ebf4b6b4cb6510ae6936244d772fd1cba271c49661e9f10c1bc6489ff384"
        );
    }

    #[test]
    fn html_only_fragment_gets_a_text_rendition() {
        let m = parse(&case("11-html-only-fragment.eml")).unwrap();
        assert!(
            m.text.contains(
                "der Drucker im 2. OG (Raum 2.14) zeigt seit heute früh den Fehler E-302"
            ),
            "{}",
            m.text
        );
        assert!(m.html.unwrap().contains("E-302"));
    }

    #[test]
    fn inline_cid_image_without_disposition_is_inline() {
        let m = parse(&case("13-inline-cid-no-disposition.eml")).unwrap();
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert!(a.inline);
        assert_eq!(
            a.content_id.as_deref(),
            Some("image001.png@01DB5155.249583D0")
        );
        assert!(sha(&a.content).starts_with("bbbdefee"));
        assert!(
            m.html
                .unwrap()
                .contains("cid:image001.png@01DB5155.249583D0")
        );
    }

    #[test]
    fn attached_rfc822_message_is_kept_byte_for_byte() {
        let m = parse(&case("16-attached-rfc822-message.eml")).unwrap();
        assert_eq!(m.from.unwrap().email, "ida.kranz@example.org");
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.filename, "Lieferstatus Bestellung 7781.eml");
        assert_eq!(a.content.len(), 935);
        assert_eq!(
            sha(&a.content),
            "ab65f7bef9fa1d6f7f7f29632da4359c265453fe0915c6f5b8b9dc113a7b6a34"
        );
    }

    #[test]
    fn base64_without_padding_decodes_every_byte() {
        let m = parse(&case("17-base64-bad-padding.eml")).unwrap();
        let a = &m.attachments[0];
        assert_eq!(a.filename, "Messprotokoll_0711.csv");
        assert_eq!(a.content.len(), 88);
        assert_eq!(
            sha(&a.content),
            "7ad3278526090364b0859785284487a55fb9475c891130b251af2d780011ad74"
        );
    }

    #[test]
    fn empty_body_is_fine() {
        let m = parse(&case("18-empty-body-subject-only.eml")).unwrap();
        assert_eq!(m.subject, "Bitte Passwort für Konto 55102 zurücksetzen");
        assert_eq!(m.text, "");
    }

    #[test]
    fn impossible_dates_are_ignored() {
        let m = parse(&case("20-invalid-date-headers.eml")).unwrap();
        assert_eq!(m.date, None);
        let m = parse(&case("22-missing-message-id-a.eml")).unwrap();
        assert_eq!(m.date, None);
        assert_eq!(m.message_id, None);
        let m = parse(&case("22-missing-message-id-b.eml")).unwrap();
        assert_eq!(m.message_id, None, "Message-ID: <> is no id");
    }

    #[test]
    fn bare_lf_parses_like_crlf() {
        let raw = case("45-bare-lf-line-endings.eml");
        let crlf = String::from_utf8(raw.clone())
            .unwrap()
            .replace('\n', "\r\n");
        let a = parse(&raw).unwrap();
        let b = parse(crlf.as_bytes()).unwrap();
        assert_eq!(a.subject, "Schadensmeldung 2291 – Fahrzeug beschädigt");
        assert_eq!(
            a.from.as_ref().unwrap().name.as_deref(),
            Some("Björn Sørensen")
        );
        assert!(a.text.starts_with("Hallo,"));
        assert_eq!(a.text, b.text);
        let att = &a.attachments[0];
        assert_eq!(att.filename, "Schadensbericht_2291.pdf");
        assert_eq!(att.content.len(), 121);
        assert_eq!(
            sha(&att.content),
            "ca1deadae981bbe47cafa012a4dcfba574b5381cf8aba2dfd73e572ea4b50c86"
        );
        assert_eq!(att.content, b.attachments[0].content);
    }

    #[test]
    fn bounce_exposes_the_returned_message_ids() {
        let m = parse(&case("33-bounce-dsn-b.eml")).unwrap();
        assert_eq!(m.automated, Some(Automated::Bounce));
        assert!(
            m.returned_message_ids
                .iter()
                .any(|i| i == "c33a-portal@example.org"),
            "{:?}",
            m.returned_message_ids
        );
    }

    #[test]
    fn hostile_headers_stay_literal_text() {
        let m = parse(&case("12-xss-html-body.eml")).unwrap();
        assert_eq!(m.subject, "Rechnung <script>alert(1)</script> offen");
        assert!(m.text.contains("Bitte prüfen Sie mein Kundenkonto 3341."));
    }

    #[test]
    fn every_mail_case_parses() {
        for (name, raw) in crate::test_cases::all() {
            parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A minimal TNEF blob (MS-OXTNEF 2.1): signature, key, version, OEM code page, then per
    /// file attAttachRendData, attAttachTitle, attAttachData; every attribute checksummed.
    fn tnef_blob(files: &[(&str, &[u8])]) -> Vec<u8> {
        fn attr(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
            out.push(level);
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
            let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
            out.extend_from_slice(&sum.to_le_bytes());
        }
        let mut out = Vec::new();
        out.extend_from_slice(&0x223e_9f78u32.to_le_bytes());
        out.extend_from_slice(&0x0001u16.to_le_bytes());
        attr(&mut out, 1, 0x0008_9006, b"\x00\x00\x01\x00");
        attr(&mut out, 1, 0x0006_9007, &[0xe4, 0x04, 0, 0, 0, 0, 0, 0]); // code page 1252
        for (name, data) in files {
            attr(
                &mut out,
                2,
                0x0006_9002,
                &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
            );
            let mut title = name.as_bytes().to_vec();
            title.push(0);
            attr(&mut out, 2, 0x0001_8010, &title);
            attr(&mut out, 2, 0x0006_800f, data);
        }
        out
    }

    #[test]
    fn winmail_dat_is_unpacked_into_its_files() {
        use base64::Engine;
        let blob = tnef_blob(&[
            ("Angebot.pdf", b"%PDF-1.4 angebot"),
            ("notes.txt", b"hello"),
        ]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
        let raw = format!(
            "From: a@example.org\r\nSubject: Angebot\r\nMessage-ID: <t@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nsiehe Anhang\r\n\
             --b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\nContent-Disposition: attachment; filename=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        );
        let m = parse(raw.as_bytes()).unwrap();
        let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["Angebot.pdf", "notes.txt"]);
        assert_eq!(m.attachments[0].content, b"%PDF-1.4 angebot");
        assert_eq!(m.attachments[0].content_type, "application/pdf");

        // A broken blob is kept as winmail.dat rather than lost.
        let raw = raw.replace(&b64, "AAAA");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "winmail.dat");
    }

    #[test]
    fn signed_mail_shows_its_text_without_the_signature_file() {
        let raw = "From: a@example.org\r\nSubject: signed\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s\r\n\r\n\
                   --s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBitte um Rückruf.\r\n\
                   --s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Disposition: attachment; filename=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--s--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.text.trim(), "Bitte um Rückruf.");
        assert!(
            m.attachments.is_empty(),
            "{:?}",
            m.attachments
                .iter()
                .map(|a| &a.filename)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn stateful_and_multibyte_charsets_split_across_words_decode_cleanly() {
        let m = parse(&case("46-encoded-words-stateful-charset-split.eml")).unwrap();
        assert_eq!(m.subject, "【至急】請求書の再発行について");
        assert_eq!(m.from.unwrap().name.as_deref(), Some("王小明"));
        assert!(
            m.text.starts_with("請求書の再発行をお願いします。"),
            "{}",
            m.text
        );
    }

    #[test]
    fn encoded_words_in_quoted_filenames_join_without_spaces() {
        let m = parse(&case("47-filename-encoded-words-quoted.eml")).unwrap();
        let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "Prüfprotokoll Übergabe.pdf",
                "見積書.xlsx",
                "Übergabe Protokoll Teil2.txt"
            ]
        );
        assert_eq!(m.attachments[0].content, b"%PDF-1.4 c47 protocol\n");
    }

    #[test]
    fn quoted_params_are_read_from_folded_raw_headers() {
        let raw = " attachment;\r\n filename=\"=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=\"; size=3";
        assert_eq!(
            quoted_param(raw, "filename").as_deref(),
            Some("=?UTF-8?Q?a?= =?UTF-8?Q?b?=")
        );
        assert_eq!(
            quoted_param(" a; name=\"x\\\"y\"", "name").as_deref(),
            Some("x\"y")
        );
        assert_eq!(quoted_param(" a; filename=\"x\"", "name"), None);
        assert_eq!(quoted_param(" a; filename*0*=utf-8''x", "filename"), None);
    }

    #[test]
    fn parts_without_names_are_named_after_their_content_type() {
        let m = parse(&case("48-parts-without-filenames.eml")).unwrap();
        let files: Vec<(&str, &str)> = m
            .attachments
            .iter()
            .map(|a| (a.filename.as_str(), a.content_type.as_str()))
            .collect();
        assert_eq!(
            files,
            [
                ("invite.ics", "text/calendar"),
                ("image.png", "image/png"),
                ("message.eml", "message/rfc822"),
            ],
            "the watch-html rendition is no attachment"
        );
        let ics = String::from_utf8(m.attachments[0].content.clone()).unwrap();
        assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
        assert!(m.attachments.iter().all(|a| !a.inline));
        assert_eq!(m.text.trim(), "Bitte nehmen Sie an der Abstimmung teil.");
    }

    #[test]
    fn made_up_names_follow_the_content_type_and_never_clash() {
        let raw = "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
                   --b\r\nContent-Type: image/jpeg\r\n\r\nx\r\n\
                   --b\r\nContent-Type: image/jpeg\r\n\r\ny\r\n\
                   --b\r\nContent-Type: application/pdf\r\n\r\nz\r\n\
                   --b\r\nContent-Type: application/x-unheard-of\r\n\r\nw\r\n--b--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            ["image.jpg", "image-2.jpg", "document.pdf", "attachment.bin"]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x00\x01\x02 not mail").is_err());
    }
}
