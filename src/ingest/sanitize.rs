//! Email HTML made safe to store and show, with ammonia.
//!
//! Scripts, event handlers, `javascript:` URLs, forms, frames, `<base>`, `<meta>` and
//! `style` (overlays) go; `cid:` image URLs stay so the UI can resolve them to stored inline
//! parts. Remote images are kept in the markup and blocked at render time by the page's
//! Content-Security-Policy until the agent asks for them. Quoted history is folded first
//! ([`super::quote`]), so the only markup the fold adds, `<details>` and `<summary>`, is
//! allowed here and everything else still goes through the same cleaner.

use std::sync::LazyLock;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
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
});

/// Sanitises an email's HTML body, its quoted history folded behind a closed `<details>`;
/// the result is an HTML fragment.
pub fn email_html(html: &str) -> String {
    let folded = super::quote::fold(html);
    CLEANER.clean(folded.as_deref().unwrap_or(html)).to_string()
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
}
