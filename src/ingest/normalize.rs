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

/// A run of adjacent encoded-words of one charset (nothing but whitespace between them),
/// with their bytes joined: RFC 2047 6.2 treats them as one text, and senders cut them inside
/// multi-byte characters (UTF-8, Shift_JIS, GBK, EUC-KR) or, for ISO-2022-JP, inside a shift
/// state. Its span covers the first word's start to the last word's end.
struct Run {
    start: usize,
    end: usize,
    charset: String,
    bytes: Vec<u8>,
}

/// Groups the encoded-words of `line` into [`Run`]s.
fn runs(line: &str) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for word in encoded_words(line) {
        match out.last_mut() {
            Some(run)
                if line[run.end..word.start].trim().is_empty()
                    && run.charset.eq_ignore_ascii_case(&word.charset) =>
            {
                join_bytes(&run.charset, &mut run.bytes, &word.bytes);
                run.end = word.end;
            }
            _ => out.push(Run {
                start: word.start,
                end: word.end,
                charset: word.charset,
                bytes: word.bytes,
            }),
        }
    }
    out
}

/// ISO-2022 escape sequences that designate a character set (RFC 1468, RFC 1554, RFC 1922).
const ISO_2022_ESCAPES: [&[u8]; 9] = [
    b"\x1b(B", b"\x1b(J", b"\x1b(I", b"\x1b$@", b"\x1b$B", b"\x1b$A", b"\x1b$(C", b"\x1b$(D",
    b"\x1b$(Q",
];

/// Appends the bytes of the next word of a run. In a stateful charset (ISO-2022-*) each word
/// usually ends by switching back to ASCII and the next one starts by switching away again; two
/// escape sequences in a row are an error to the WHATWG decoder (it emits U+FFFD), and the first
/// one has no effect, so it is dropped at the join.
fn join_bytes(charset: &str, bytes: &mut Vec<u8>, next: &[u8]) {
    let stateful = charset.len() >= 8 && charset[..8].eq_ignore_ascii_case("iso-2022");
    if stateful
        && next.first() == Some(&0x1b)
        && let Some(esc) = ISO_2022_ESCAPES.iter().find(|e| bytes.ends_with(e))
    {
        bytes.truncate(bytes.len() - esc.len());
    }
    bytes.extend_from_slice(next);
}

/// Merges runs of adjacent encoded-words with the same charset into one B-word; `None` when
/// the line has no such run and no malformed word worth rewriting.
fn merge_encoded_words(line: &str) -> Option<String> {
    if !line.contains("=?") {
        return None;
    }
    let runs = runs(line);
    if runs.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for run in &runs {
        out.push_str(&line[last..run.start]);
        out.push_str("=?");
        out.push_str(&run.charset);
        out.push_str("?B?");
        out.push_str(&STANDARD.encode(&run.bytes));
        out.push_str("?=");
        last = run.end;
    }
    out.push_str(&line[last..]);
    (out != line).then_some(out)
}

/// Decodes the RFC 2047 encoded-words in a text that mail-parser leaves to us, such as a quoted
/// `filename="=?UTF-8?B?..?= =?UTF-8?B?..?="` parameter (not RFC 2047 proper, but what most
/// mailers send): adjacent words of one charset are joined as bytes ([`runs`]), whitespace
/// between adjacent encoded-words is dropped (RFC 2047 6.2), text outside them is kept.
/// Charsets are mail-parser's decoders; an unknown charset is read as UTF-8 (lossy).
/// `None` when the text holds no encoded-word.
pub fn decode_encoded_words(text: &str) -> Option<String> {
    let runs = runs(text);
    if runs.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, run) in runs.iter().enumerate() {
        let gap = &text[last..run.start];
        if i == 0 || !gap.trim().is_empty() {
            out.push_str(gap);
        }
        match mail_parser::decoders::charsets::map::charset_decoder(run.charset.as_bytes()) {
            Some(decode) => out.push_str(&decode(&run.bytes)),
            None => out.push_str(&String::from_utf8_lossy(&run.bytes)),
        }
        last = run.end;
    }
    out.push_str(&text[last..]);
    Some(out)
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

    /// The subject mail-parser reads from a header block after [`for_parsing`].
    fn subject_of(header: &str) -> String {
        let raw = format!("{header}\r\n\r\nx");
        let fixed = for_parsing(raw.as_bytes());
        let parsed = mail_parser::MessageParser::default().parse(&fixed).unwrap();
        parsed.subject().unwrap_or_default().to_string()
    }

    fn b(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    fn q(bytes: &[u8]) -> String {
        bytes.iter().map(|c| format!("={c:02X}")).collect()
    }

    #[test]
    fn iso2022jp_words_that_each_return_to_ascii_join_without_replacement_characters() {
        let (a, _, _) = encoding_rs::ISO_2022_JP.encode("お見積");
        let (c, _, _) = encoding_rs::ISO_2022_JP.encode("りの件");
        let h = format!(
            "Subject: =?ISO-2022-JP?B?{}?=\r\n =?iso-2022-jp?B?{}?=",
            b(&a),
            b(&c)
        );
        assert_eq!(subject_of(&h), "お見積りの件");
    }

    #[test]
    fn iso2022jp_cut_inside_a_shift_state_is_joined_as_bytes() {
        let (all, _, _) = encoding_rs::ISO_2022_JP.encode("お見積りの件");
        let h = format!(
            "Subject: =?ISO-2022-JP?B?{}?= =?ISO-2022-JP?Q?{}?=",
            b(&all[..7]),
            q(&all[7..])
        );
        assert_eq!(subject_of(&h), "お見積りの件");
    }

    #[test]
    fn multibyte_charsets_cut_inside_a_character_decode_cleanly() {
        let cases: [(&str, &'static encoding_rs::Encoding, &str); 5] = [
            (
                "UTF-8",
                encoding_rs::UTF_8,
                "Lieferung verzögert – Rückfrage",
            ),
            ("Shift_JIS", encoding_rs::SHIFT_JIS, "請求書の再発行"),
            ("GB2312", encoding_rs::GBK, "王小明的发票"),
            ("GBK", encoding_rs::GBK, "王小明的发票"),
            ("EUC-KR", encoding_rs::EUC_KR, "청구서 재발행 요청"),
        ];
        for (label, enc, text) in cases {
            let (bytes, _, _) = enc.encode(text);
            // Cut after the first byte of a multi-byte character, mixing B and Q words.
            let cut = bytes.iter().position(|c| *c >= 0x80).unwrap() + 1;
            let h = format!(
                "Subject: =?{label}?B?{}?=\r\n\t=?{label}?Q?{}?=",
                b(&bytes[..cut]),
                q(&bytes[cut..])
            );
            assert_eq!(subject_of(&h), text, "{label}");
            assert_eq!(
                decode_encoded_words(&format!(
                    "=?{label}?Q?{}?= =?{label}?B?{}?=",
                    q(&bytes[..cut]),
                    b(&bytes[cut..])
                ))
                .as_deref(),
                Some(text),
                "{label} via decode_encoded_words"
            );
        }
    }

    #[test]
    fn decode_encoded_words_drops_whitespace_between_words_only() {
        assert_eq!(
            decode_encoded_words("=?UTF-8?B?UHLD?= =?UTF-8?Q?=BCfung.pdf?=").as_deref(),
            Some("Prüfung.pdf")
        );
        assert_eq!(
            decode_encoded_words("Bericht =?ISO-8859-1?Q?M=E4rz?=  =?UTF-8?Q?_2025?= final")
                .as_deref(),
            Some("Bericht März 2025 final")
        );
        assert_eq!(decode_encoded_words("plain name.pdf"), None);
    }
}
