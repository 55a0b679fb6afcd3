//! Quoted history in email HTML, folded behind `<details><summary>` so that what the sender
//! just wrote is what an agent sees first; the history opens on a click, without script.
//!
//! Mail clients mark the history they quote in one of two shapes, and both are folded:
//!
//! * **A quote element that holds the history**: Gmail `div.gmail_quote`, Apple Mail and
//!   Thunderbird `blockquote type="cite"` (Thunderbird's "On … wrote:" sits just before it in
//!   `div.moz-cite-prefix`), Yahoo `div.yahoo_quoted`, newer Outlook
//!   `div#mail-editor-reference-message-container`, Proton `div.protonmail_quote`. It is
//!   history only when nothing the sender wrote follows it: a reply written between or below
//!   the quotes keeps them in view.
//! * **A header that starts the history, which runs to the end of the body**: Outlook on the
//!   web `div#divRplyFwdMsg` (after an empty `div#appendonsend` and an `hr`), Outlook
//!   desktop's "From:/Sent:" block (`border-top:solid #E1E1E1`, `#B5C4DF` before 2016),
//!   `div.OutlookMessageHeader`, Outlook for Mac `#OLK_SRC_BODY_SECTION`.
//!
//! The fold starts at the first such point, with the attribution line, separators and blank
//! lines just above it, and runs to the end of the element that holds it. A message with
//! nothing of its own above that point (a forward, a bare quote) is left unfolded.
//!
//! This runs on the raw HTML, before the sanitiser, because the markers live in `class`, `id`,
//! `type` and `style` attributes that the sanitiser removes; [`super::sanitize::email_html`]
//! cleans the result, so nothing survives that the sanitiser would not allow.

use dom_query::{Document, NodeRef};

/// The label of the folded history, as the plain-text body's fold shows it.
pub const SUMMARY: &str = "Show quoted text";

/// Bytes that one of the markers below contains (ASCII lower-case). HTML without any of them
/// is not parsed at all.
const NEEDLES: [&str; 11] = [
    "gmail_quote",
    "cite",
    "yahoo_quoted",
    "divrplyfwdmsg",
    "appendonsend",
    "mail-editor-reference-message-container",
    "protonmail_quote",
    "outlookmessageheader",
    "olk_src_body_section",
    "#e1e1e1",
    "#b5c4df",
];

/// How an element marks quoted history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// The element holds the quoted history.
    Quote,
    /// The history starts here and runs to the end of the body.
    Header,
}

/// Returns `html` with its quoted history wrapped in
/// `<details><summary>Show quoted text</summary>…</details>`, or `None` when it has none to
/// fold (no marker, history followed by new text, or nothing but history).
pub fn fold(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    if !NEEDLES.iter().any(|n| lower.contains(n)) {
        return None;
    }
    let doc = Document::from(html);
    let body = doc.body()?;
    let mut checks = MAX_QUOTE_CHECKS;
    let cut = find_cut(&body, &body, &mut checks)?;
    let start = widen(cut, &body);
    if !content_before(&start, &body) {
        return None;
    }
    let details = doc.tree.new_element("details");
    let summary = doc.tree.new_element("summary");
    summary.append_child(&doc.tree.new_text(SUMMARY));
    start.insert_before(&details);
    details.append_children(&start);
    details.prepend_child(&summary);
    Some(doc.html().to_string())
}

/// How many quote elements [`find_cut`] checks for what follows them (each check may read the
/// rest of the document) before it gives up: real threads have a few, hostile mail thousands.
const MAX_QUOTE_CHECKS: u32 = 64;

/// The first marker, in document order, where the history starts: a header, or a quote
/// element with nothing but blanks and more quotes after it. Quotes followed by new text
/// (inline replies) are skipped with everything inside them. `checks` is the budget of
/// quote elements left to check.
fn find_cut<'a>(node: &NodeRef<'a>, body: &NodeRef<'a>, checks: &mut u32) -> Option<NodeRef<'a>> {
    let mut child = node.first_child();
    while let Some(c) = child {
        match marker(&c) {
            Some(Marker::Header) => return Some(c),
            Some(Marker::Quote) => {
                *checks = checks.checked_sub(1)?;
                if only_history_after(&c, body) {
                    return Some(c);
                }
            }
            None => {
                if let Some(found) = find_cut(&c, body, checks) {
                    return Some(found);
                }
            }
        }
        child = c.next_sibling();
    }
    None
}

/// What kind of history marker `n` is, if any.
fn marker(n: &NodeRef<'_>) -> Option<Marker> {
    let name = n.node_name()?;
    let id = n
        .id_attr()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let quote_class = ["gmail_quote", "yahoo_quoted", "protonmail_quote"]
        .iter()
        .any(|c| n.has_class(c));
    let cite = &*name == "blockquote"
        && n.attr("type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("cite"));
    if quote_class || cite || id == "mail-editor-reference-message-container" {
        return Some(Marker::Quote);
    }
    if matches!(
        id.as_str(),
        "divrplyfwdmsg" | "appendonsend" | "olk_src_body_section"
    ) || n.has_class("OutlookMessageHeader")
    {
        return Some(Marker::Header);
    }
    // Outlook desktop's header block: `border:none;border-top:solid #E1E1E1 1.0pt;padding:…`
    // (style before colour before width: the order other senders' CSS rarely uses).
    let style: String = n
        .attr("style")
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if (&*name == "div" || &*name == "p")
        && style.contains("border:none")
        && ["border-top:solid#e1e1e1", "border-top:solid#b5c4df"]
            .iter()
            .any(|b| style.contains(b))
    {
        return Some(Marker::Header);
    }
    None
}

/// True when everything after `n` in document order, up to the end of `body`, is blank or
/// quoted history.
fn only_history_after(n: &NodeRef<'_>, body: &NodeRef<'_>) -> bool {
    let mut at = *n;
    loop {
        let mut sib = at.next_sibling();
        while let Some(s) = sib {
            if !history_or_blank(&s) {
                return false;
            }
            sib = s.next_sibling();
        }
        match at.parent() {
            Some(p) if p.id != body.id => at = p,
            _ => return true,
        }
    }
}

/// True for a blank node, a marker, or an element made only of those.
fn history_or_blank(n: &NodeRef<'_>) -> bool {
    if !significant(n) || marker(n).is_some() {
        return true;
    }
    n.is_element() && n.children_it(false).all(|c| history_or_blank(&c))
}

/// Moves the start of the fold up over what belongs to the history: blank lines, rules and
/// attribution elements just above it, one "On <date>, <name> wrote:" line, and wrappers
/// whose first content it is (Outlook nests its header in a `div` inside `WordSection1`).
fn widen<'a>(cut: NodeRef<'a>, body: &NodeRef<'a>) -> NodeRef<'a> {
    let mut start = cut;
    let mut took_line = false;
    loop {
        while let Some(prev) = start.prev_sibling() {
            if !significant(&prev) || is_attribution_element(&prev) {
                start = prev;
            } else {
                break;
            }
        }
        if let Some(prev) = start.prev_sibling()
            && !took_line
            && is_attribution_line(&prev)
        {
            start = prev;
            took_line = true;
            continue;
        }
        let Some(parent) = start.parent() else {
            return start;
        };
        if start.prev_sibling().is_none() && parent.id != body.id && is_wrapper(&parent) {
            start = parent;
            continue;
        }
        return start;
    }
}

/// Elements that only group blocks, so the fold may start at them instead of inside; never
/// table parts, lists or paragraphs, where a `<details>` cannot stand.
fn is_wrapper(n: &NodeRef<'_>) -> bool {
    n.node_name().is_some_and(|name| {
        matches!(
            &*name,
            "div" | "section" | "article" | "main" | "center" | "font" | "span" | "blockquote"
        )
    })
}

/// Thunderbird's and Gmail's attribution containers.
fn is_attribution_element(n: &NodeRef<'_>) -> bool {
    n.has_class("moz-cite-prefix") || n.has_class("gmail_attr")
}

/// A short line that ends in a colon and contains a digit: "On Mon, 3 Mar 2026 at 10:00,
/// Dana <dana@example.org> wrote:", "Am 03.03.2026 schrieb Dana:", "在 2026年3月3日 … 写道：".
/// The digit (the date) tells it from the sender's own "see below:".
fn is_attribution_line(n: &NodeRef<'_>) -> bool {
    if !(n.is_text() || n.is_element()) || n.descendants_it().any(|d| is_media(&d)) {
        return false;
    }
    let text = n.text();
    let t = text.trim();
    t.chars().count() <= 400
        && (t.ends_with(':') || t.ends_with('：'))
        && t.chars().any(|c| c.is_numeric())
}

/// True when `start` has something the sender wrote before it in `body`.
fn content_before(start: &NodeRef<'_>, body: &NodeRef<'_>) -> bool {
    let mut at = *start;
    loop {
        let mut sib = at.prev_sibling();
        while let Some(s) = sib {
            if significant(&s) {
                return true;
            }
            sib = s.prev_sibling();
        }
        match at.parent() {
            Some(p) if p.id != body.id => at = p,
            _ => return false,
        }
    }
}

/// Text that is not just white space, or an image or other media.
fn significant(n: &NodeRef<'_>) -> bool {
    if n.is_text() {
        return !is_blank_text(&n.text());
    }
    if !n.is_element() {
        return false;
    }
    is_media(n)
        || n.descendants_it()
            .any(|d| is_media(&d) || (d.is_text() && !is_blank_text(&d.text())))
}

fn is_media(n: &NodeRef<'_>) -> bool {
    n.node_name().is_some_and(|name| {
        matches!(
            &*name,
            "img" | "picture" | "video" | "audio" | "svg" | "object" | "embed"
        )
    })
}

/// White space, including the no-break and zero-width spaces mail editors leave behind.
fn is_blank_text(t: &str) -> bool {
    t.chars().all(|c| {
        c.is_whitespace() || matches!(c, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sanitize::email_html;

    /// Splits sanitised output at the fold: (before `<details>`, inside it).
    fn split(html: &str) -> (String, String) {
        let open = html
            .find("<details>")
            .unwrap_or_else(|| panic!("no fold in {html}"));
        let close = html.rfind("</details>").expect("closed");
        (html[..open].to_string(), html[open..close].to_string())
    }

    fn assert_folded(raw: &str, new: &[&str], history: &[&str]) {
        let out = email_html(raw);
        let (before, inside) = split(&out);
        assert!(
            inside.starts_with(&format!("<details><summary>{SUMMARY}</summary>")),
            "{out}"
        );
        for n in new {
            assert!(
                before.contains(n),
                "new text {n:?} not before the fold: {out}"
            );
            assert!(!inside.contains(n), "new text {n:?} folded: {out}");
        }
        for h in history {
            assert!(inside.contains(h), "history {h:?} not folded: {out}");
            assert!(!before.contains(h), "history {h:?} before the fold: {out}");
        }
        assert_eq!(out.matches("<details>").count(), 1, "{out}");
    }

    #[test]
    fn gmail_quote_with_its_attribution_is_folded() {
        let raw = r##"<div dir="ltr">Danke, das hat geholfen!<div><br></div><div class="gmail_signature">Jana</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">Am Mo., 3. März 2026 um 10:00 Uhr schrieb Support &lt;support@example.com&gt;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Bitte starten Sie den Drucker neu.</blockquote></div>"##;
        assert_folded(
            raw,
            &["Danke, das hat geholfen!", "Jana"],
            &["schrieb Support", "Bitte starten Sie den Drucker neu."],
        );
    }

    #[test]
    fn thunderbird_cite_prefix_and_blockquote_are_folded() {
        let raw = r##"<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8"></head><body><p>Works now, thanks.</p><div class="moz-cite-prefix">On 03.03.26 10:00, Example Support wrote:<br></div><blockquote type="cite" cite="mid:abc@example.com"><p>Please restart the printer.</p></blockquote><br></body></html>"##;
        assert_folded(
            raw,
            &["Works now, thanks."],
            &["Example Support wrote:", "Please restart the printer."],
        );
    }

    #[test]
    fn apple_mail_attribution_line_and_cites_are_folded() {
        let raw = r##"<html><body style="overflow-wrap: break-word;">Sounds good, see you Tuesday.<br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite"><div>On 3 Mar 2026, at 10:00, Example Support &lt;support@example.com&gt; wrote:</div><br class="Apple-interchange-newline"><div><div>Would Tuesday work for you?</div></div></blockquote></div><br></body></html>"##;
        assert_folded(
            raw,
            &["Sounds good, see you Tuesday."],
            &["Example Support", "Would Tuesday work for you?"],
        );
        // Older Apple Mail puts the attribution outside the blockquote.
        let raw = r##"<div>Yes, please.</div><div><br></div><div>On 3 Mar 2026, at 10:00, Support wrote:</div><br><blockquote type="cite"><div>Shall we replace it?</div></blockquote>"##;
        assert_folded(
            raw,
            &["Yes, please."],
            &["Support wrote:", "Shall we replace it?"],
        );
    }

    #[test]
    fn outlook_web_reply_header_and_everything_after_it_is_folded() {
        let raw = r##"<html><head><style>p{margin:0}</style></head><body dir="ltr"><div class="elementToProof" style="font-family: Aptos;">Hallo, anbei die Nummer: 4471-B.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt" color="#000000"><b>From:</b> Example Support &lt;support@example.com&gt;<br><b>Sent:</b> Monday, March 3, 2026 10:00<br><b>Subject:</b> Seriennummer</font><div>&nbsp;</div></div><div class="BodyFragment"><font size="2"><span style="font-size:11pt;"><div class="PlainText">Wie lautet die Seriennummer?</div></span></font></div></body></html>"##;
        assert_folded(
            raw,
            &["Hallo, anbei die Nummer: 4471-B."],
            &["From:", "Example Support", "Wie lautet die Seriennummer?"],
        );
    }

    #[test]
    fn outlook_desktop_border_top_header_folds_the_rest_of_the_word_section() {
        let raw = r##"<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><style>@page WordSection1 {size:612.0pt 792.0pt;}</style></head><body lang="DE" link="#0563C1"><div class="WordSection1"><p class="MsoNormal">Guten Tag,<o:p></o:p></p><p class="MsoNormal">der Termin passt.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>Von:</b> Example Support &lt;support@example.com&gt; <br><b>Gesendet:</b> Montag, 3. März 2026 10:00<br><b>Betreff:</b> Schulungstermin<o:p></o:p></p></div></div><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Passt Ihnen der 12. Mai?<o:p></o:p></p></div></body></html>"##;
        assert_folded(
            raw,
            &["Guten Tag,", "der Termin passt."],
            &["Von:", "Gesendet:", "Passt Ihnen der 12. Mai?"],
        );
        // Outlook 2010's colour, the header straight inside the section.
        let raw = r##"<div class="WordSection1"><p>OK.</p><div style="border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>From:</b> Support</p></div><p>Question?</p></div>"##;
        assert_folded(raw, &["OK."], &["From:", "Question?"]);
    }

    #[test]
    fn yahoo_quoted_is_folded() {
        let raw = r##"<html><body><div class="ydp1a2b3c4dyahoo-style-wrap"><div>Received, thank you.</div></div><div id="yahoo_quoted_8812345" class="yahoo_quoted"><div style="font-family:'Helvetica Neue';font-size:13px;color:#26282a;"><div>On Monday, March 3, 2026, 10:00:00 AM GMT+1, Example Support &lt;support@example.com&gt; wrote:</div><div><br></div><div>Your parcel has shipped.</div></div></div></body></html>"##;
        assert_folded(
            raw,
            &["Received, thank you."],
            &["Example Support", "Your parcel has shipped."],
        );
    }

    #[test]
    fn a_forward_with_nothing_of_its_own_is_not_hidden() {
        let gmail_forward = r##"<div dir="ltr"><br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <b>Vendor</b><br>Date: Mon, 3 Mar 2026</div><br><br><div>Lieferung verzögert sich.</div></div></div>"##;
        let out = email_html(gmail_forward);
        assert!(!out.contains("<details"), "{out}");
        assert!(out.contains("Lieferung verzögert sich."));
        let outlook_forward = r##"<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Vendor</div><div>Invoice attached.</div>"##;
        assert!(!email_html(outlook_forward).contains("<details"));
        // Only an attribution line above the quote is not new text either.
        let bare =
            r##"<div>On 3 Mar 2026, Support wrote:</div><blockquote type="cite">Hi</blockquote>"##;
        assert!(!email_html(bare).contains("<details"));
    }

    #[test]
    fn quotes_answered_inline_stay_visible() {
        let raw = r##"<p>See my answers.</p><blockquote type="cite">Which model?</blockquote><p>The X200.</p><blockquote type="cite">Since when?</blockquote><p>Since Monday.</p>"##;
        assert!(!email_html(raw).contains("<details"));
        // The trailing history after the last answer is folded, the answered quotes are not.
        let raw = r##"<p>See my answers.</p><blockquote type="cite">Which model?</blockquote><p>The X200.</p><div class="moz-cite-prefix">On 3/3/26 Support wrote:</div><blockquote type="cite">Which model? Since when?</blockquote>"##;
        let out = email_html(raw);
        let (before, inside) = split(&out);
        assert!(before.contains("Which model?</blockquote>") && before.contains("The X200."));
        assert!(inside.contains("Since when?") && inside.contains("Support wrote:"));
    }

    #[test]
    fn mail_without_markers_is_untouched() {
        assert_eq!(fold("<p>Hello, my printer is broken.</p>"), None);
        // A marker word in the text alone is no marker.
        assert_eq!(fold("<p>Please cite gmail_quote in the docs.</p>"), None);
        // A newsletter's grey rule is not Outlook's header block.
        let rule = r##"<p>News</p><div style="border-top: solid #e1e1e1 1px">Footer</div>"##;
        assert_eq!(fold(rule), None);
    }

    #[test]
    fn thousands_of_quotes_before_a_last_line_cost_little() {
        // Each quote is followed by only blanks and quotes up to the last line, so checking
        // every one would read the rest of the mail each time (quadratic). Four times the quotes
        // must cost about four times as much, not sixteen: a ratio measured in this run (the
        // fastest of three tries each), whatever the machine's speed.
        let mail = |n: usize| {
            let mut raw = String::from("<p>Answers below.</p>");
            for i in 0..n {
                raw.push_str(&format!(r#"<blockquote type="cite">q{i}</blockquote><br>"#));
            }
            raw.push_str("<p>And one last word.</p>");
            raw
        };
        let fastest = |raw: &str| {
            (0..3)
                .map(|_| {
                    let start = std::time::Instant::now();
                    assert_eq!(fold(raw), None);
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let (small, large) = (mail(2000), mail(8000));
        let ratio = fastest(&large).as_secs_f64() / fastest(&small).as_secs_f64();
        assert!(ratio < 9.0, "4x the quotes cost {ratio:.1}x the time");
    }

    #[test]
    fn the_fold_keeps_the_sanitiser_guarantees() {
        let raw = r##"<p>New text<img src=x onerror="alert(1)"></p><div class="gmail_quote"><script>alert(2)</script><a href="javascript:alert(3)">x</a><details open ontoggle="alert(4)"><summary onclick="alert(5)">s</summary></details><p style="position:fixed">old</p></div>"##;
        let out = email_html(raw);
        let lower = out.to_lowercase();
        for bad in [
            "<script",
            "onerror",
            "ontoggle",
            "onclick",
            "javascript:",
            "style=",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {out}");
        }
        assert!(out.contains(&format!("<details><summary>{SUMMARY}</summary>")));
        assert!(out.contains("New text") && out.contains("old"));
    }
}
