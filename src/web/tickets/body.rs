//! A message's HTML body, served to the sandboxed frame of the ticket page.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ingest::sanitize::Remote;
use crate::tickets;
use crate::web::extract::PathNumber;
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct BodyQuery {
    /// `1` to let this message load remote images.
    images: Option<String>,
}

/// The sanitised HTML of one message, as a document for a sandboxed iframe. Remote resources
/// are held in placeholders (nothing loads) and its own CSP allows no script at all and images
/// only from us (inline parts), unless the agent asked for remote images for this message
/// ("Show with remote images", `?images=1`).
pub(super) async fn show_message_body(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<BodyQuery>,
) -> Result<Response, PageError> {
    let remote = q.images.as_deref() == Some("1");
    let load = if remote { Remote::Load } else { Remote::Hold };
    let html = tickets::message_html(&state.pool, who.visible.as_deref(), id, load)
        .await?
        .ok_or(AppError::NotFound)?;
    let csp = if remote {
        "default-src 'none'; img-src 'self' data: https: http:; style-src 'unsafe-inline'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    } else {
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    };
    let doc = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><base target=\"_blank\"><style>body{{font:14px/1.5 system-ui,sans-serif;margin:0;word-wrap:break-word}}img{{max-width:100%;height:auto}}summary{{cursor:pointer;color:#555;margin:.5em 0}}</style></head><body>{html}</body></html>"
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        doc,
    )
        .into_response())
}

/// Whether a sanitised HTML body would load anything from another server once remote images
/// are allowed: an `http:`, `https:` or protocol-relative URL in `src`, `srcset`,
/// `background` or `poster`, or in a CSS `url()`, or a remote resource held back in a
/// `data-fd-*` placeholder. Errs on the side of yes (the ticket page
/// then offers "Show with remote images", which is harmless when nothing loads).
pub(super) fn has_remote_images(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let remote = |v: &str| {
        let v = v.trim_start_matches(['"', '\'', ' ', '\t', '\n', '\r']);
        v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")
    };
    let attr_hit = ["src=", "srcset=", "background=", "poster="]
        .iter()
        .any(|attr| {
            lower.match_indices(attr).any(|(i, _)| {
                // `data-src=` and the like are not loaded: the attribute must start a word.
                let head = &lower[..i];
                let before = head.chars().next_back();
                // ... and be inside a tag, not in the text.
                let in_tag = head.rfind('<') > head.rfind('>');
                in_tag
                    && before.is_some_and(|c| {
                        c.is_ascii_whitespace() || c == '"' || c == '\'' || c == '/'
                    })
                    && remote(&lower[i + attr.len()..])
            })
        });
    // Rendered HTML holds remote resources back in `data-fd-*` placeholders, written only for
    // remote URLs (see `ingest::sanitize::render`).
    let held = [
        "data-fd-src=",
        "data-fd-srcset=",
        "data-fd-background=",
        "data-fd-poster=",
    ]
    .iter()
    .any(|attr| lower.contains(attr));
    attr_hit
        || held
        || lower.match_indices("url(").any(|(i, _)| {
            let head = &lower[..i];
            (head.rfind('<') > head.rfind('>') || head.rfind("<style") > head.rfind("</style"))
                && remote(&lower[i + 4..])
        })
}

#[cfg(test)]
mod tests {
    use super::has_remote_images;

    #[test]
    fn remote_images_are_found_in_attributes_and_css_only() {
        for html in [
            r#"<p>Hi <img src="https://tracker.example/p.gif"></p>"#,
            r#"<img alt=x SRC='http://a.example/x.png'>"#,
            r#"<img src=//cdn.example/x.png>"#,
            r#"<table background="https://a.example/bg.png">"#,
            r#"<div style="background: url( 'https://a.example/bg.png')">"#,
            r#"<img srcset="https://a.example/x.png 2x">"#,
            // As `tickets::get_ticket` renders it: held in a placeholder until asked for.
            r#"<img data-fd-src="https://tracker.example/p.gif" alt="">"#,
        ] {
            assert!(has_remote_images(html), "{html}");
        }
        for html in [
            "<p>See https://example.com/page for src=https://x or url(https://y)</p>",
            r#"<a href="https://example.com">link</a>"#,
            r#"<img src="/attachments/7?inline=1"><img src="data:image/png;base64,AAAA">"#,
            r#"<img data-src="https://a.example/x.png">"#,
        ] {
            assert!(!has_remote_images(html), "{html}");
        }
    }
}
