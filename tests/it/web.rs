//! The web page: HTML snapshots of every page type over the fixtures, and the reader's journey
//! with plain HTTP (no JavaScript).

use chrono::Datelike;

use crate::server::Server;

fn get(s: &Server, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    s.rt.block_on(async {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.text().await.unwrap(), headers)
    })
}

/// The page with what depends on today's date redacted.
fn stable(html: &str) -> String {
    let year = chrono::Utc::now().year();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    html.replace(&format!("data-versiondate=\"{today}\""), "data-versiondate=\"[today]\"")
        .replace(&format!("max=\"{year}\""), "max=\"[this year]\"")
        .replace(&format!("value=\"{year}\""), "value=\"[this year]\"")
        .replace(&format!("<span class=\"year\">{year}</span>"), "<span class=\"year\">[this year]</span>")
        .replace("><", ">\n<")
}

/// The first `href` after `marker` in `html`, unescaped.
fn link_after(html: &str, marker: &str) -> String {
    let at = html.find(marker).unwrap_or_else(|| panic!("{marker:?} is on the page"));
    let rest = &html[at..];
    let start = rest.find("href=\"").expect("a link follows") + 6;
    let end = rest[start..].find('"').unwrap() + start;
    rest[start..end].replace("&amp;", "&")
}

#[test]
fn every_page_type_renders_as_reviewed() {
    let s = Server::with_fixtures();
    let pages = [
        ("search", "/?q=influenza"),
        ("front", "/"),
        ("search_past", "/?q=zeppelin&asOf=1920-12-31"),
        ("article_past", "/articles/airship-seen-over-gannet-head?asOf=1920-12-31"),
        ("article_retracted", "/articles/port-ellery-line-to-close-report-says"),
        ("history", "/articles/airship-seen-over-gannet-head/history?from=3&to=4"),
        ("author", "/authors/01H0000000000000000000A012"),
        ("author_1960", "/authors/01H0000000000000000000A012?asOf=1960-01-01"),
        ("timeline", "/timeline?q=influenza&bucket=year"),
        ("not_found", "/articles/no-such-story"),
    ];
    for (name, path) in pages {
        let (status, html, headers) = get(&s, path);
        let expected = if name == "not_found" { 404 } else { 200 };
        assert_eq!(status, expected, "{path}");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"), "{path}");
        // No inline script anywhere: every <script> has a src, or is data (JSON-LD), which no
        // browser runs.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=").count()
                + html.matches("<script type=\"application/ld+json\">").count(),
            "{path}"
        );
        insta::assert_snapshot!(format!("page_{name}"), stable(&html));
    }
}

#[test]
fn a_reader_travels_in_time_without_javascript() {
    let s = Server::with_fixtures();
    // Search for a word that a 1921 revision removed: today nothing, in 1920 one story.
    let (_, today, _) = get(&s, "/?q=zeppelin");
    assert!(today.contains("0 articles"), "{today}");
    let (_, then, _) = get(&s, "/?q=zeppelin&asOf=1920-12-31");
    assert!(then.contains("You are reading the archive as it stood on <strong>31 December 1920</strong>"));
    assert!(then.contains("<mark>zeppelin</mark>"));
    // Open the first result: the link keeps the date; the old headline shows.
    let first = link_after(&then, "<div class=\"hit\">");
    assert_eq!(first, "/articles/airship-seen-over-gannet-head?asOf=1920-12-31");
    let (status, article, _) = get(&s, &first);
    assert_eq!(status, 200);
    assert!(article.contains("<h1>Zeppelin Seen Over Gannet Head</h1>"));
    let (_, now, _) = get(&s, "/articles/airship-seen-over-gannet-head");
    assert!(now.contains("<h1>Mystery Over Gannet Head Was a Runaway Balloon</h1>"));
    // Its history, with a word diff of the 1921 revision.
    let history = link_after(&now, "version 4 · ");
    assert_eq!(history, "/articles/airship-seen-over-gannet-head/history");
    let (_, page, _) = get(&s, &history);
    let diff_link = link_after(&page, "<td>4</td>");
    assert_eq!(diff_link, "/articles/airship-seen-over-gannet-head/history?from=3&to=4");
    let (_, diff, _) = get(&s, &diff_link);
    assert!(diff.contains("<del>") && diff.contains("<ins>"), "{diff}");
    assert!(diff.contains("Zeppelin") && diff.contains("Balloon"));

    // Cite the page; a new revision recorded later does not change the cited page.
    let cite = link_after(&now, "class=\"cite\"");
    assert_eq!(cite, "/articles/airship-seen-over-gannet-head?basis=339");
    let (_, cited_before, _) = get(&s, &cite);
    let editor = s.editor.clone();
    s.ok(
        Some(&editor),
        "mutation { reviseArticle(input: {id: \"01H0000000000000000000B033\", headline: \"Balloon Over Gannet Head\", note: \"shorter\"}) { position } }",
        serde_json::json!({}),
    );
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let (_, now_after, _) = get(&s, "/articles/airship-seen-over-gannet-head");
    assert!(now_after.contains("<h1>Balloon Over Gannet Head</h1>"));
    let (_, cited_after, _) = get(&s, &cite);
    assert_eq!(cited_before, cited_after, "a citation reproduces the page");

    // Drafts are never shown; unknown pages are 404s; a bad date is a 400 with a message.
    let (_, drafts, _) = get(&s, "/?q=lockout");
    assert!(!drafts.contains("mill-owners-letter-threatens-lockout"), "a draft leaked");
    assert_eq!(get(&s, "/articles/mill-owners-letter-threatens-lockout").0, 404);
    let (status, bad, _) = get(&s, "/?asOf=yesterday-ish");
    assert_eq!(status, 400);
    assert!(bad.contains("is not an RFC 3339 instant"));
    // A month's bar on the timeline leads to that month's search.
    let (_, months, _) = get(&s, "/timeline?q=influenza&bucket=month");
    assert!(
        months.contains("href=\"/?q=influenza&amp;year=1918&amp;month=10\""),
        "the October 1918 bar links to its month"
    );
    let (_, one_month, _) = get(&s, "/?q=influenza&year=1918&month=10");
    assert!(one_month.contains(">1 article for"), "{one_month}");
    let (_, one_year, _) = get(&s, "/?q=influenza&year=1918");
    assert!(one_year.contains(">2 articles for"));
    // Facets are filters: following the section link narrows the results.
    let (_, flu, _) = get(&s, "/?q=influenza");
    let science = link_after(&flu, "<h3>Sections</h3>");
    let (_, narrowed, _) = get(&s, &science);
    assert!(narrowed.contains("section="), "{science}");
    assert!(!narrowed.contains("6 articles"));
}

#[test]
fn hostile_text_is_escaped() {
    let s = Server::start();
    let editor = s.editor.clone();
    let d = s.ok(
        Some(&editor),
        "mutation { draftArticle(input: {headline: \"<script>alert(1)</script> Harbour\", body: \"Hello <img src=x onerror=alert(2)> [x](javascript:alert(3))\", section: \"city\"}) { article { id slug } } }",
        serde_json::json!({}),
    );
    let id = d["draftArticle"]["article"]["id"].as_str().unwrap().to_owned();
    let slug = d["draftArticle"]["article"]["slug"].as_str().unwrap().to_owned();
    let p = s.ok(
        Some(&editor),
        &format!("mutation {{ publishArticle(input: {{id: \"{id}\"}}) {{ position }} }}"),
        serde_json::json!({}),
    );
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    assert!(p["publishArticle"]["position"].is_string());
    for path in [format!("/articles/{slug}"), "/?q=harbour".to_owned(), "/?q=%3Cscript%3E".to_owned()] {
        let (_, html, _) = get(&s, &path);
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("javascript:"), "{path}");
    }
}
