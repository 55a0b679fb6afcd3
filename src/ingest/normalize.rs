//! Byte-level repairs applied to a copy of a raw message before MIME parsing.
//!
//! The raw bytes are always stored untouched; these repairs only change what the parser sees.
//! Each one fixes a family of real-world damage that mail-parser does not undo by itself:
//!
//! * bare LF line ends (mbox imports, some MTAs) become CRLF (RFC 5322 2.1 requires CRLF);
//! * header lines with raw 8-bit bytes that are not UTF-8 (RFC 6532 allows only UTF-8) are
//!   re-encoded from windows-1252, the de-facto charset of such headers;
//! * adjacent RFC 2047 encoded-words of the same charset are merged into one before decoding,
//!   because RFC 2047 6.2 joins them while senders split them inside multi-byte characters.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Returns the bytes to hand to the MIME parser: `raw` itself when no repair applies.
pub fn for_parsing(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut bytes = Cow::Borrowed(raw);
    if has_bare_lf(&bytes) {
        bytes = Cow::Owned(lf_to_crlf(&bytes));
    }
    let header_end = header_block_end(&bytes);
    let (head, body) = bytes.split_at(header_end);
    if let Some(fixed) = repair_headers(head) {
        let mut out = fixed;
        out.extend_from_slice(body);
        return Cow::Owned(out);
    }
    bytes
}

/// True when some LF in the header block is not preceded by CR.
fn has_bare_lf(raw: &[u8]) -> bool {
    let head = &raw[..header_block_end(raw).min(raw.len())];
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

fn lf_to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Offset just past the blank line that ends the header block (or the whole length).
fn header_block_end(raw: &[u8]) -> usize {
    if let Some(p) = find(raw, b"\r\n\r\n") {
        return p + 4;
    }
    if let Some(p) = find(raw, b"\n\n") {
        return p + 2;
    }
    raw.len()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Rewrites the header block when a field needs repair; `None` when nothing changed.
/// Works on whole fields (a line plus its folded continuation lines, RFC 5322 2.2.3), since
/// split encoded-words usually sit on separate folded lines.
fn repair_headers(head: &[u8]) -> Option<Vec<u8>> {
    let mut changed = false;
    let mut out = Vec::with_capacity(head.len());
    let mut fields: Vec<Vec<u8>> = Vec::new();
    for line in head.split_inclusive(|&b| b == b'\n') {
        match (fields.last_mut(), line.first()) {
            (Some(f), Some(b' ' | b'\t')) => f.extend_from_slice(line),
            _ => fields.push(line.to_vec()),
        }
    }
    for field in fields {
        let text: Cow<'_, str> = match std::str::from_utf8(&field) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                changed = true;
                let (s, _, _) = encoding_rs::WINDOWS_1252.decode(&field);
                Cow::Owned(s.into_owned())
            }
        };
        let merged = text
            .contains("=?")
            .then(|| unfold(&text))
            .and_then(|u| merge_encoded_words(&u));
        match merged {
            Some(m) => {
                changed = true;
                out.extend_from_slice(m.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(text.as_bytes()),
        }
    }
    changed.then_some(out)
}

/// Joins a folded field into one line without its final line break.
fn unfold(field: &str) -> String {
    field
        .trim_end_matches(['\r', '\n'])
        .replace("\r\n", "")
        .replace('\n', "")
}

/// One RFC 2047 encoded-word: `=?charset?B|Q?text?=`, with its byte span in the line.
struct EncodedWord {
    start: usize,
    end: usize,
    charset: String,
    bytes: Vec<u8>,
}

/// Finds the encoded-words of a header line. Tolerates the malformations seen in the wild
/// (spaces inside Q text, a `?` at the end of the text) by taking the longest `?=` match that
/// does not start another encoded-word.
fn encoded_words(line: &str) -> Vec<EncodedWord> {
    let mut words = Vec::new();
    let mut pos = 0;
    while let Some(rel) = line[pos..].find("=?") {
        let start = pos + rel;
        let Some(word) = parse_encoded_word(line, start) else {
            pos = start + 2;
            continue;
        };
        pos = word.end;
        words.push(word);
    }
    words
}

fn parse_encoded_word(line: &str, start: usize) -> Option<EncodedWord> {
    let rest = &line[start + 2..];
    let q1 = rest.find('?')?;
    let charset = rest[..q1].split('*').next()?.to_string(); // RFC 2231 language suffix
    if charset.is_empty() || charset.contains(char::is_whitespace) {
        return None;
    }
    let enc = rest[q1 + 1..].chars().next()?;
    if rest.as_bytes().get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    // The text ends at the first "?=" that is followed by whitespace, another word or the end.
    let mut search = text_start;
    let text_end = loop {
        let rel = rest[search..].find("?=")?;
        let at = search + rel;
        let after = &rest[at + 2..];
        if after.is_empty()
            || after.starts_with(|c: char| c.is_whitespace())
            || after.starts_with("=?")
        {
            break at;
        }
        search = at + 1;
    };
    let text = &rest[text_start..text_end];
    let bytes = match enc.to_ascii_uppercase() {
        'B' => decode_b(text)?,
        'Q' => decode_q(text),
        _ => return None,
    };
    Some(EncodedWord {
        start,
        end: start + 2 + text_end + 2,
        charset,
        bytes,
    })
}

fn decode_b(text: &str) -> Option<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect();
    lenient_base64(clean.as_bytes())
}

fn decode_q(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes base64 without insisting on padding or clean trailing bits (RFC 2045 6.8 says a
/// decoder should be lenient; mailers that drop the `==` are common).
pub fn lenient_base64(input: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A final group of one character carries no whole byte; drop it rather than fail.
    let usable = if clean.len() % 4 == 1 {
        clean.len() - 1
    } else {
        clean.len()
    };
    LENIENT.decode(&clean[..usable]).ok()
}

/// Merges runs of adjacent encoded-words with the same charset into one B-word; `None` when
/// the line has no such run and no malformed word worth rewriting.
fn merge_encoded_words(line: &str) -> Option<String> {
    if !line.contains("=?") {
        return None;
    }
    let words = encoded_words(line);
    if words.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    let mut i = 0;
    while i < words.len() {
        let mut bytes = words[i].bytes.clone();
        let mut j = i;
        while j + 1 < words.len()
            && line[words[j].end..words[j + 1].start].trim().is_empty()
            && words[j + 1].charset.eq_ignore_ascii_case(&words[i].charset)
        {
            j += 1;
            bytes.extend_from_slice(&words[j].bytes);
        }
        out.push_str(&line[last..words[i].start]);
        out.push_str("=?");
        out.push_str(&words[i].charset);
        out.push_str("?B?");
        out.push_str(&STANDARD.encode(&bytes));
        out.push_str("?=");
        last = words[j].end;
        i = j + 1;
    }
    out.push_str(&line[last..]);
    (out != line).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_is_left_alone() {
        assert_eq!(
            &*for_parsing(b"A: b\nC: d\n\nbody\n"),
            b"A: b\r\nC: d\r\n\r\nbody\r\n"
        );
        let ok = b"A: b\r\n\r\nbody\r\n";
        assert!(matches!(for_parsing(ok), Cow::Borrowed(_)));
    }

    #[test]
    fn split_utf8_b_words_are_joined_before_decoding() {
        // "ö" (C3 B6) split across two words.
        let raw = b"Subject: =?UTF-8?B?dmVyesM=?=\r\n =?UTF-8?B?tmdlcnQ=?=\r\n\r\nx";
        let fixed = for_parsing(raw);
        let parsed = mail_parser::MessageParser::default().parse(&fixed).unwrap();
        assert_eq!(parsed.subject(), Some("verzögert"));
    }

    #[test]
    fn q_word_with_raw_spaces_and_trailing_question_mark_is_decoded() {
        let line = "Subject: =?ISO-8859-1?Q?M=F6chten Sie =E4ndern??=\r\n";
        let merged = merge_encoded_words(line).expect("rewritten");
        let msg = format!("{merged}\r\nx");
        let parsed = mail_parser::MessageParser::default()
            .parse(msg.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some("Möchten Sie ändern?"));
    }

    #[test]
    fn latin1_header_bytes_are_reencoded() {
        let raw = b"Cc: J\xfcrgen <j@example.net>\r\n\r\nx";
        let fixed = for_parsing(raw);
        let parsed = mail_parser::MessageParser::default().parse(&fixed).unwrap();
        assert_eq!(parsed.cc().unwrap().first().unwrap().name(), Some("Jürgen"));
    }

    #[test]
    fn base64_without_padding_decodes_every_byte() {
        assert_eq!(lenient_base64(b"YWJjZA").unwrap(), b"abcd");
        assert_eq!(lenient_base64(b"YWJjZA==").unwrap(), b"abcd");
        assert_eq!(lenient_base64(b"YWJj\r\nZA").unwrap(), b"abcd");
    }
}
