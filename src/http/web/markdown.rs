//! Article bodies, Markdown, rendered safely: raw HTML in the source is shown as text, and
//! links and images keep only http(s), mailto and relative addresses.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        Some((scheme, _)) if !scheme.contains('/') && !scheme.contains('?') && !scheme.contains('#') => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Renders Markdown to HTML that cannot carry scripts.
pub fn render(source: &str) -> String {
    let parser =
        Parser::new_ext(source, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| {
            match event {
                Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
                Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
                    Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed("#"), title, id })
                }
                Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
                    Event::Start(Tag::Image { link_type, dest_url: CowStr::Borrowed("#"), title, id })
                }
                other => other,
            }
        });
    let mut out = String::with_capacity(source.len() * 5 / 4);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn scripts_and_javascript_links_do_not_survive() {
        let html =
            render("Hello <script>alert(1)</script> [x](javascript:alert(1)) [y](https://example.org) *em*");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
        assert!(html.contains("<em>em</em>"), "{html}");
        let block = render("<div onclick=\"x()\">hi</div>\n\n<img src=x onerror=alert(1)>");
        assert!(!block.contains("<div") && !block.contains("<img"), "{block}");
    }
}
