//! Subjects as threading sees them: reply prefixes in the languages mail clients write them,
//! our `[#N]` ticket token, and the base subject they leave (RFC 5256 2.1 calls it the "base
//! subject"; this is a smaller version of the same idea).
//!
//! Shared by the subject fallback of threading ([`super::store`]) and the `Thread-Topic` of
//! outgoing replies ([`crate::outbox`]).

/// Reply prefixes, compared case-insensitively: English/Latin `Re`, German `AW`/`Antwort`,
/// Scandinavian `SV`, Finnish `VS`, Dutch `Antw`, Polish/Czech `Odp`, Turkish `YNT`, French
/// `Réf`/`Ref`, Portuguese `RES`, Italian `R`/`RIF`, Latvian `Atb`, Hungarian `Vá`, Greek
/// `ΑΠ`/`ΣΧΕΤ`, Hebrew `השב`, Arabic `رد`, Chinese `回复`/`答复`/`回覆`/`答覆`. Forward
/// prefixes (`Fwd`, `WG`, `TR`) are not replies and are not listed.
const REPLY_PREFIXES: [&str; 23] = [
    "re", "aw", "antwort", "sv", "vs", "antw", "odp", "ynt", "réf", "ref", "res", "r", "rif",
    "atb", "vá", "απ", "σχετ", "השב", "رد", "回复", "答复", "回覆", "答覆",
];

/// The byte length of one leading reply prefix with its colon and the white space after it:
/// `Re: `, `RE : ` (French spacing), `Re[2]: `, `Re(2): `, `回复：` (full-width colon).
fn reply_prefix_len(s: &str) -> Option<usize> {
    let word_end = s
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(s.len(), |(i, _)| i);
    let word = &s[..word_end];
    if word.is_empty() || !REPLY_PREFIXES.iter().any(|p| word.to_lowercase() == *p) {
        return None;
    }
    let mut rest = &s[word_end..];
    // A reply counter: "Re[2]:", "Re(2):", "Re^2:".
    for (open, close) in [("[", "]"), ("(", ")")] {
        if let Some(r) = rest.strip_prefix(open) {
            let r = r.trim_start_matches(|c: char| c.is_ascii_digit());
            rest = r.strip_prefix(close)?;
        }
    }
    if let Some(r) = rest.strip_prefix('^') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.trim_start_matches([' ', '\u{a0}']);
    let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))?;
    let rest = rest.trim_start();
    Some(s.len() - rest.len())
}

/// True when the subject starts with a reply prefix (after leading white space).
pub fn has_reply_prefix(subject: &str) -> bool {
    reply_prefix_len(subject.trim_start()).is_some()
}

/// The subject without its leading reply prefixes, however many are stacked (`AW: Re: x`).
pub fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim_start();
    while let Some(n) = reply_prefix_len(s) {
        s = &s[n..];
    }
    s
}

/// The subject without a trailing `[#N]` ticket token (the place Frontdesk puts it).
pub fn strip_ticket_token(subject: &str) -> &str {
    let s = subject.trim_end();
    if let Some(open) = s.rfind("[#") {
        let token = &s[open + 2..];
        if token.len() > 1
            && token.ends_with(']')
            && token[..token.len() - 1].bytes().all(|b| b.is_ascii_digit())
        {
            return s[..open].trim_end();
        }
    }
    s
}

/// The key two subjects of one conversation share: reply prefixes and the trailing ticket
/// token removed, white space folded to single spaces, lower-cased. `"AW: RE:  Drucker
/// defekt [#12]"` and `"Drucker Defekt"` both give `"drucker defekt"`.
pub fn thread_key(subject: &str) -> String {
    strip_ticket_token(strip_reply_prefixes(subject))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_of_many_clients_and_languages_are_recognised() {
        for s in [
            "Re: Drucker",
            "RE: Drucker",
            "re:Drucker",
            "Aw: Drucker",
            "AW: Drucker",
            "Antwort: Drucker",
            "Sv: Drucker",
            "VS: Drucker",
            "Antw: Drucker",
            "Réf: Drucker",
            "RE : Drucker",
            "Re[2]: Drucker",
            "Re(3): Drucker",
            "Odp: Drucker",
            "R: Drucker",
            "ΑΠ: Drucker",
            "回复：Drucker",
            "答复: Drucker",
            "回覆: Drucker",
            "  Re: Drucker",
        ] {
            assert!(has_reply_prefix(s), "{s:?} has a reply prefix");
            assert_eq!(strip_reply_prefixes(s), "Drucker", "{s:?}");
        }
    }

    #[test]
    fn subjects_without_a_reply_prefix_are_left_alone() {
        for s in [
            "Drucker",
            "Fwd: Drucker",
            "WG: Drucker",
            "Rechnung: offen",
            "Reminder: invoice",
            "Re-order: toner",
            "RE",
            "",
            "Response needed",
        ] {
            assert!(!has_reply_prefix(s), "{s:?} has no reply prefix");
            assert_eq!(strip_reply_prefixes(s), s.trim_start(), "{s:?}");
        }
    }

    #[test]
    fn stacked_prefixes_tokens_case_and_spacing_share_one_key() {
        assert_eq!(
            thread_key("AW: RE:  Drucker   defekt [#12]"),
            "drucker defekt"
        );
        assert_eq!(thread_key("Drucker Defekt"), "drucker defekt");
        assert_eq!(
            thread_key("SV: Sv: Re[2]: Drucker defekt"),
            "drucker defekt"
        );
        assert_ne!(thread_key("Fwd: Drucker defekt"), "drucker defekt");
        assert_eq!(thread_key("Re: "), "");
        assert_eq!(strip_ticket_token("Reply needed [#x]"), "Reply needed [#x]");
    }
}
