//! Email HTML made safe to store and show, with ammonia.
//!
//! Scripts, event handlers, `javascript:` URLs, forms, frames, `<base>`, `<meta>` and
//! `style` (overlays) go; `cid:` image URLs stay in the stored HTML. [`render`] shows stored
//! HTML: it runs it through the same cleaner again, which resolves `cid:` URLs to the stored
//! inline parts as it writes the attribute (never by editing sanitised text: a Content-ID is
//! attacker-chosen). Remote resources are held back by [`render`] too (moved to `data-fd-…`
//! placeholders) until the agent asks for them, so its HTML is safe outside our page; the
//! page's Content-Security-Policy stays as a second wall. Quoted history is folded
//! first ([`super::quote`]), so the only markup the fold adds, `<details>` and `<summary>`, is
//! allowed here and everything else still goes through the same cleaner.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// The cleaner's rules, shared by [`email_html`] and [`render`].
fn rules() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.add_url_schemes(["cid"])
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes(
            "td",
            ["align", "valign", "colspan", "rowspan", "width", "bgcolor"],
        )
        .add_tag_attributes("th", ["align", "valign", "colspan", "rowspan", "width"])
        .add_tag_attributes(
            "table",
            ["width", "cellpadding", "cellspacing", "border", "align"],
        )
        .add_tag_attributes("img", ["width", "height", "alt", "src"])
        .add_tag_attributes("font", ["color", "size"])
        .add_tags(["font", "center", "details", "summary"]);
    b
}

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(rules);

/// Sanitises an email's HTML body, its quoted history folded behind a closed `<details>`;
/// the result is an HTML fragment.
pub fn email_html(html: &str) -> String {
    let folded = super::quote::fold(html);
    CLEANER.clean(folded.as_deref().unwrap_or(html)).to_string()
}

/// Whether [`render`] lets remote resources load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// Nothing remote loads: each remote `src`, `srcset`, lazy-load `data-src` /
    /// `data-srcset`, `lowsrc`, `background` or `poster` moves to a `data-fd-…` placeholder
    /// attribute (`data-fd-src`, `data-fd-srcset`), which nothing loads; a client that the
    /// agent asks to show images moves it back.
    Hold,
    /// Remote images load (the agent asked for them).
    Load,
}

/// The attributes through which HTML loads a resource by itself, and the placeholder each
/// moves to under [`Remote::Hold`].
const LOADING: [(&str, &str); 8] = [
    ("src", "data-fd-src"),
    ("srcset", "data-fd-srcset"),
    ("data-src", "data-fd-src"),
    ("data-srcset", "data-fd-srcset"),
    ("lowsrc", "data-fd-src"),
    ("dynsrc", "data-fd-src"),
    ("background", "data-fd-background"),
    ("poster", "data-fd-poster"),
];

/// Stored (sanitised) HTML ready to show, safe on its own (outside our page and its CSP too):
/// cleaned again by the same rules, every `cid:` URL (`src` or `href`) replaced by the URL of
/// its inline part from `inline` (Content-ID, without angle brackets → URL:
/// `/attachments/{id}?inline=1` or `/api/v1/attachments/{id}`; a `cid:` with no part is
/// dropped), and remote resources held back unless `remote` is [`Remote::Load`]. The `cid:`
/// replacement happens inside the cleaner, on the parsed attribute, so whatever a Content-ID
/// holds stays inside its attribute value; remote resources are moved on the parsed DOM
/// before cleaning.
pub fn render(stored: &str, inline: HashMap<String, String>, remote: Remote) -> String {
    let dom = dom_query::Document::from(stored);
    if remote == Remote::Hold {
        hold_remote(&dom);
    }
    let own = OwnUrls(inline.values().cloned().collect());
    let mut b = rules();
    b.url_relative(ammonia::UrlRelative::Custom(Box::new(own)))
        .add_tag_attributes("img", ["data-fd-src", "data-fd-srcset"])
        .attribute_filter(move |_element, attribute, value| {
            if attribute.starts_with("data-fd-") {
                return is_remote(value).then_some(Cow::Borrowed(value));
            }
            resolve_cid(&inline, attribute, value)
        });
    b.clean(&dom.html()).to_string()
}

/// Moves every remote resource URL of `dom` to its placeholder attribute (see [`LOADING`]);
/// anything else in those attributes but a `cid:` URL is dropped.
fn hold_remote(dom: &dom_query::Document) {
    for (attribute, placeholder) in LOADING {
        for node in dom.select(&format!("[{attribute}]")).nodes() {
            let Some(value) = node.attr(attribute) else {
                continue;
            };
            if strip_prefix_ignore_case(value.trim(), "cid:").is_some() {
                continue;
            }
            node.remove_attr(attribute);
            if is_remote(&value) && !node.has_attr(placeholder) {
                node.set_attr(placeholder, &value);
            }
        }
    }
}

/// An absolute http(s) URL, or a scheme-relative one (`//host/x`).
fn is_remote(value: &str) -> bool {
    let v = value.trim_start();
    strip_prefix_ignore_case(v, "http://").is_some()
        || strip_prefix_ignore_case(v, "https://").is_some()
        || v.starts_with("//")
}

/// The only relative URLs [`render`] keeps: the ones it wrote for inline parts.
struct OwnUrls(HashSet<String>);

impl<'a> ammonia::UrlRelativeEvaluate<'a> for OwnUrls {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        self.0.contains(url).then_some(Cow::Borrowed(url))
    }
}

fn resolve_cid<'u>(
    inline: &HashMap<String, String>,
    attribute: &str,
    value: &'u str,
) -> Option<Cow<'u, str>> {
    if !matches!(attribute, "src" | "href") {
        return Some(Cow::Borrowed(value));
    }
    let Some(cid) = strip_prefix_ignore_case(value.trim(), "cid:") else {
        return Some(Cow::Borrowed(value));
    };
    // RFC 2392 percent-encodes the Content-ID in the URL; mailers also write it raw.
    let decoded = percent_encoding::percent_decode_str(cid).decode_utf8_lossy();
    inline
        .get(cid)
        .or_else(|| inline.get(decoded.as_ref()))
        .map(|url| Cow::Owned(url.clone()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_markup_is_removed_and_text_kept() {
        let raw = crate::test_cases::case("12-xss-html-body.eml");
        let html = crate::ingest::parse::parse(&raw).unwrap().html.unwrap();
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "<iframe",
            "<object",
            "<embed",
            "<form",
            "<base",
            "<meta",
            "javascript:",
            "<style",
            "style=",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {html}");
        }
        assert!(
            !regex_like_on_attr(&lower),
            "an on* attribute survived: {html}"
        );
        assert!(html.contains("Bitte prüfen Sie mein Kundenkonto 3341."));
    }

    /// True when some tag still has an attribute starting with "on".
    fn regex_like_on_attr(html: &str) -> bool {
        html.split('<').skip(1).any(|tag| {
            let tag = tag.split('>').next().unwrap_or("");
            tag.split(|c: char| c.is_whitespace() || c == '/')
                .skip(1)
                .any(|attr| attr.starts_with("on"))
        })
    }

    #[test]
    fn cid_images_survive() {
        let out =
            email_html(r#"<img src="cid:a@b" onerror="x()"><a href="JaVaScRiPt:alert(1)">x</a>"#);
        assert!(out.contains(r#"src="cid:a@b""#), "{out}");
        assert!(!out.to_lowercase().contains("javascript"), "{out}");
        assert!(!out.contains("onerror"));
    }

    fn inline(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(c, u)| (c.to_string(), u.to_string()))
            .collect()
    }

    /// Every attribute name of every tag in `html` (after an HTML parse, as a browser sees it).
    fn attribute_names(html: &str) -> Vec<String> {
        let doc = dom_query::Document::fragment(html);
        doc.select("*")
            .nodes()
            .iter()
            .flat_map(|n| n.attrs())
            .map(|a| a.name.local.to_string())
            .collect()
    }

    #[test]
    fn cid_urls_are_resolved_inside_the_cleaner_and_hostile_content_ids_stay_in_their_value() {
        let hostile = [
            r#"abc" alt="#,
            r#"x" onerror="alert(1)"#,
            r#"x' onerror='alert(1)"#,
            r#"x"><img src=x onerror=alert(1)>"#,
            r#"a" style="position:fixed;inset:0"#,
            r#"a" http-equiv="refresh" content="0;url=https://evil.example"#,
            "javascript:alert(1)",
            "<script>alert(1)</script>",
            "a\" \t onclick=x",
        ];
        for cid in hostile {
            let mut map = inline(&[(cid, "/attachments/7?inline=1")]);
            map.insert("other@x".into(), "/attachments/8?inline=1".into());
            // As stored: the cleaner escaped the Content-ID inside the attribute.
            let stored = email_html(&format!(
                "<p>hi</p><img src=\"cid:{}\" alt=\"logo\"><img src=\"cid:other@x\">",
                cid.replace('&', "&amp;").replace('"', "&quot;")
            ));
            let out = render(&stored, map, Remote::Hold);
            let names = attribute_names(&out);
            assert!(
                names.iter().all(|n| ["src", "alt"].contains(&n.as_str())),
                "{cid:?} gave attributes {names:?}: {out}"
            );
            assert!(
                out.contains(r#"src="/attachments/7?inline=1""#),
                "{cid:?}: {out}"
            );
            assert!(out.contains(r#"src="/attachments/8?inline=1""#), "{out}");
            assert!(!out.contains("cid:"), "{out}");
        }
    }

    #[test]
    fn generated_content_ids_never_produce_an_attribute() {
        // A small deterministic fuzz: Content-IDs built from the characters that matter.
        let alphabet: Vec<char> = "a\"'<>= /\\\t\n&;:#%()onerrorstylehttp-equiv"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 1 + (seed % 24) as usize;
            let cid: String = (0..len)
                .map(|i| alphabet[((seed >> (i % 8 * 8)) as usize + i * 7) % alphabet.len()])
                .collect();
            let escaped = cid.replace('&', "&amp;").replace('"', "&quot;");
            let stored = email_html(&format!(
                "<img src=\"cid:{escaped}\" alt=\"a\"><a href=\"cid:{escaped}\">x</a>"
            ));
            let out = render(
                &stored,
                inline(&[(&cid, "/attachments/1?inline=1")]),
                Remote::Hold,
            );
            for name in attribute_names(&out) {
                assert!(
                    ["src", "alt", "href", "rel"].contains(&name.as_str()),
                    "{cid:?} gave attribute {name:?}: {out}"
                );
            }
            let lower = out.to_ascii_lowercase();
            assert!(
                !lower.contains("<script") && !lower.contains("<meta"),
                "{cid:?}: {out}"
            );
        }
    }

    #[test]
    fn an_unknown_cid_is_dropped_and_relative_urls_stay_denied() {
        let out = render(
            r#"<img src="cid:nope" alt="x"><a href="/logout">l</a><img src="/attachments/1">"#,
            inline(&[("known", "/attachments/2?inline=1")]),
            Remote::Load,
        );
        assert!(!out.contains("src="), "{out}");
        assert!(!out.contains("/logout"), "{out}");
    }

    #[test]
    fn remote_resources_are_held_in_placeholders_until_asked_for() {
        let raw = concat!(
            r#"<p>hi</p><img src="https://t.example/pixel.gif" alt="a">"#,
            r#"<img srcset="https://t.example/a.png 1x, //t.example/b.png 2x">"#,
            r#"<img data-src="http://t.example/lazy.png"><img src="HTTPS://T.EXAMPLE/UP.PNG">"#,
            r#"<table background="https://t.example/bg.png"><tr><td background="https://t.example/td.png">x</td></tr></table>"#,
            r#"<video poster="https://t.example/p.png"></video><img src="cid:logo@x">"#,
            r#"<img src="http://t.example/dangling?<p>rest of the mail</p>"#,
        );
        // Rendered as it comes (render cleans it too), so that attributes the stored form
        // never has (`srcset`, `data-src`) are tried as well.
        let stored = raw;
        let cids = || inline(&[("logo@x", "/api/v1/attachments/5")]);
        let held = render(stored, cids(), Remote::Hold);
        let doc = dom_query::Document::fragment(held.as_str());
        let loading: Vec<String> = doc
            .select("[src], [srcset], [data-src], [background], [poster]")
            .nodes()
            .iter()
            .flat_map(|n| n.attrs())
            .filter(|a| {
                ["src", "srcset", "data-src", "background", "poster"].contains(&&*a.name.local)
            })
            .map(|a| a.value.to_string())
            .collect();
        assert_eq!(loading, ["/api/v1/attachments/5"], "{held}");
        assert!(
            held.contains(r#"data-fd-src="https://t.example/pixel.gif""#),
            "{held}"
        );
        assert!(
            held.contains(r#"data-fd-src="http://t.example/lazy.png""#),
            "{held}"
        );
        assert!(held.contains("data-fd-srcset="), "{held}");

        let shown = render(stored, cids(), Remote::Load);
        assert!(
            shown.contains(r#"src="https://t.example/pixel.gif""#),
            "{shown}"
        );
        assert!(shown.contains(r#"src="/api/v1/attachments/5""#), "{shown}");
    }

    #[test]
    fn a_placeholder_in_the_mail_itself_is_never_a_way_to_a_script_url() {
        let out = render(
            r#"<img data-fd-src="javascript:alert(1)"><img data-fd-src="https://ok.example/a.png">"#,
            HashMap::new(),
            Remote::Hold,
        );
        assert!(!out.contains("javascript"), "{out}");
        assert!(
            out.contains(r#"data-fd-src="https://ok.example/a.png""#),
            "{out}"
        );
    }
}
