//! News standards on the web pages, checked with the clients of their ecosystems: Atom feeds
//! with RFC 6721 deleted entries (feedparser), schema.org JSON-LD with corrections (extruct),
//! Memento for search, and hostile `Accept-Datetime` values.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::server::Server;

/// Runs one of `tests/py`'s scripts against a URL; `None` when its Python package is missing
/// outside CI.
fn python(script: &str, package: &str, url: &str) -> Option<Value> {
    let installed = Command::new("python3")
        .args(["-c", &format!("import {package}")])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(std::env::var_os("CI").is_none(), "CI must install {package} (.ci/run does)");
        eprintln!("skipped: {package} is not installed");
        return None;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    let out = Command::new("python3").arg(path).arg(url).output().unwrap();
    assert!(out.status.success(), "{script} {url}: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The fixture events of a type: (article id, payload).
fn fixture_events(event_type: &str) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl"))
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == event_type)
        .map(|e| {
            (e["stream"].as_str().unwrap().trim_start_matches("article-").to_owned(), e["payload"].clone())
        })
        .collect()
}

fn drafted(id: &str) -> Value {
    fixture_events("ArticleDrafted").into_iter().find(|(a, _)| a == id).unwrap().1
}

fn feed_url(s: &Server, pairs: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{}/feeds/atom?{query}", s.base)
}

#[test]
fn atom_feeds_parse_cleanly_and_list_corrections_and_withdrawals() {
    let s = Server::with_fixtures();
    let Some(all) = python("feed_check.py", "feedparser", &feed_url(&s, &[])) else { return };
    assert_eq!((all["bozo"].as_bool(), all["version"].as_str()), (Some(false), Some("atom10")), "{all}");
    assert!(all["contentType"].as_str().unwrap().starts_with("application/atom+xml"));
    let entries = all["entries"].as_array().unwrap();
    assert!(entries.len() >= 10, "{all}");
    let updated: Vec<&str> = entries.iter().map(|e| e["updated"].as_str().unwrap()).collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]), "newest first: {updated:?}");

    // A story published, corrected and retracted: its publication is a deleted entry; its
    // correction and its retraction are entries.
    let ed = Some(s.editor.as_str());
    let id = s.ok(
        ed,
        "mutation { draftArticle(input: {headline: \"Tide tables misprinted\", body: \"The tables were wrong.\", section: \"tidewatch\"}) { article { id } } }",
        json!({}),
    )["draftArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (mutation, input) in [
        ("publishArticle", json!({"id": id})),
        ("appendCorrection", json!({"id": id, "text": "High water on Friday is at 06:12."})),
        ("retractArticle", json!({"id": id, "reason": "The tables came from the wrong port."})),
    ] {
        let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
        s.ok(
            ed,
            &format!("mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ position }} }}"),
            json!({"i": input}),
        );
    }
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let feed = python("feed_check.py", "feedparser", &feed_url(&s, &[("section", "tidewatch")])).unwrap();
    assert_eq!(feed["bozo"], false, "{feed}");
    let publication = format!("urn:morgue:article:{id}");
    let deleted = feed["deleted"].as_array().unwrap();
    assert!(
        deleted
            .iter()
            .any(|d| d["ref"] == publication.as_str()
                && d["comment"] == "The tables came from the wrong port."),
        "{feed}"
    );
    let entries = feed["entries"].as_array().unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&format!("{publication}:retraction").as_str()), "{ids:?}");
    assert!(
        !ids.contains(&publication.as_str()),
        "a withdrawn publication is not listed as an entry: {ids:?}"
    );
    let correction =
        entries.iter().find(|e| e["id"] == format!("{publication}:correction:1").as_str()).unwrap();
    assert_eq!(correction["summary"], "High water on Friday is at 06:12.");

    // Filtered by section and by author.
    let (corrected, _) = fixture_events("CorrectionAppended").remove(0);
    let section = drafted(&corrected)["section"].as_str().unwrap().to_owned();
    let feed = python("feed_check.py", "feedparser", &feed_url(&s, &[("section", &section)])).unwrap();
    assert!(!feed["entries"].as_array().unwrap().is_empty() && feed["bozo"] == false, "{feed}");
    let author =
        s.ok(None, "{ authors(first: 1) { edges { node { id name } } } }", json!({}))["authors"]["edges"][0]
            ["node"]
            .clone();
    let feed =
        python("feed_check.py", "feedparser", &feed_url(&s, &[("author", author["id"].as_str().unwrap())]))
            .unwrap();
    for e in feed["entries"].as_array().unwrap() {
        assert!(e["authors"].as_array().unwrap().contains(&author["name"]), "{e}");
    }
}

#[test]
fn article_pages_carry_schema_org_json_ld_with_their_corrections() {
    let s = Server::with_fixtures();
    let (corrected, correction) = fixture_events("CorrectionAppended").remove(0);
    let slug = drafted(&corrected)["slug"].as_str().unwrap().to_owned();
    let Some(found) = python("jsonld_extract.py", "extruct", &format!("{}/articles/{slug}", s.base)) else {
        return;
    };
    let article = found
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "NewsArticle")
        .unwrap_or_else(|| panic!("a NewsArticle: {found}"))
        .clone();
    let data = s.ok(
        None,
        "query($slug: String!) { article(slug: $slug) { headline section firstPublishedAt bylines { author { name } } } }",
        json!({"slug": slug}),
    )["article"]
        .clone();
    assert_eq!(article["headline"], data["headline"]);
    assert_eq!(article["articleSection"], data["section"]);
    let published: chrono::DateTime<chrono::Utc> =
        data["firstPublishedAt"].as_str().unwrap().parse().unwrap();
    let stated: chrono::DateTime<chrono::Utc> = article["datePublished"].as_str().unwrap().parse().unwrap();
    assert_eq!(stated, published);
    assert!(article["dateModified"].is_string());
    let authors = article["author"].as_array().unwrap();
    assert_eq!(authors.len(), data["bylines"].as_array().unwrap().len());
    assert!(
        authors.iter().all(|a| a["@type"] == "Person" && a["url"].as_str().unwrap().contains("/authors/"))
    );
    let corrections = article["correction"].as_array().unwrap();
    assert!(
        corrections.iter().any(|c| c["@type"] == "CorrectionComment"
            && c["text"] == correction["text"]
            && c["datePublished"].is_string()),
        "{article}"
    );
}

fn fetch(s: &Server, path: &str, accept_datetime: &str) -> (u16, reqwest::header::HeaderMap) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    s.rt.block_on(async {
        let r = client
            .get(format!("{}{path}", s.base))
            .header("accept-datetime", accept_datetime)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers().clone())
    })
}

#[test]
fn a_search_is_its_own_timegate_pinned_by_basis() {
    let s = Server::with_fixtures();
    let (status, h) = fetch(&s, "/?q=lighthouse", "Fri, 31 Dec 1920 12:00:00 GMT");
    assert_eq!(status, 302);
    assert!(h["vary"].to_str().unwrap().contains("accept-datetime"));
    let location = h["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("q=lighthouse") && location.contains("asOf=1920-12-31T12%3A00%3A00Z"),
        "{location}"
    );
    let basis: u64 = location.split("basis=").nth(1).unwrap().parse().unwrap();
    assert_eq!(basis, s.archive.store().head().get(), "pinned at what the archive knows now");
    let path = format!("/{}", location.split_once("://").unwrap().1.split_once('/').unwrap().1);
    let (status, body, headers) = s.rt.block_on(async {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        (r.status().as_u16(), String::new(), r.headers().clone())
    });
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(headers["memento-datetime"], "Fri, 31 Dec 1920 12:00:00 GMT");
    assert!(headers["link"].to_str().unwrap().contains("rel=\"original timegate\""));
}

#[test]
fn hostile_accept_datetimes_get_400_and_the_node_goes_on() {
    let s = Server::with_fixtures();
    let slug = fixture_events("ArticlePublished")
        .first()
        .map(|(id, _)| drafted(id)["slug"].as_str().unwrap().to_owned())
        .unwrap();
    let long = format!("Fri, 31 Dec 1920 12:00:00 GMT{}", "x".repeat(4000));
    let hostile = [
        "yesterday",
        "",
        "Mon, 01 Jan 0000 00:00:00 GMT",
        "Sat, 01 Jan 99999 00:00:00 GMT",
        "Fri, 31 Dec 1920 25:61:61 GMT",
        "Fri, 31 Dec 1920 12:00:00 +9999",
        long.as_str(),
        "\u{7f}\u{7f}",
    ];
    for path in
        [format!("/articles/{slug}"), "/?q=harbour".to_owned(), "/authors/01H0000000000000000000A001".into()]
    {
        for value in hostile {
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                continue;
            }
            let (status, _) = fetch(&s, &path, value);
            assert_eq!(status, 400, "{path} with Accept-Datetime {value:?}");
        }
    }
    let (status, _) = fetch(&s, &format!("/articles/{slug}"), "Fri, 31 Dec 1920 12:00:00 GMT");
    assert_eq!(status, 302, "the node goes on");
}
