//! Memento (RFC 7089) on the article and author pages: TimeGate redirects, mementos with
//! `Memento-Datetime`, TimeMaps in link format and JSON, checked by hand and with the Memento
//! project's Python client; and Robust Links on "Cite this page".

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::server::Server;

/// A GET without following redirects: status, headers and body.
fn fetch(s: &Server, path: &str, accept_datetime: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    s.rt.block_on(async {
        let mut req = client.get(format!("{}{path}", s.base));
        if let Some(t) = accept_datetime {
            req = req.header("accept-datetime", t);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
    })
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A fixture article with public versions in at least three distinct seconds, and those
/// seconds, oldest first.
fn article_with_history(s: &Server) -> (String, Vec<DateTime<Utc>>, Value) {
    let data = s.ok(
        None,
        "{ articles(first: 40) { edges { node { slug revisions { effectiveAt } } } } }",
        json!({}),
    );
    for edge in data["articles"]["edges"].as_array().unwrap() {
        let node = &edge["node"];
        let seconds: BTreeSet<DateTime<Utc>> = node["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let t: DateTime<Utc> = r["effectiveAt"].as_str().unwrap().parse().unwrap();
                DateTime::from_timestamp(t.timestamp(), 0).unwrap()
            })
            .collect();
        if seconds.len() >= 3 {
            return (node["slug"].as_str().unwrap().to_owned(), seconds.into_iter().collect(), node.clone());
        }
    }
    panic!("the fixtures have an article with three public versions: {data}");
}

#[test]
fn an_article_page_is_its_own_timegate_with_mementos_and_timemaps() {
    let s = Server::with_fixtures();
    let (slug, seconds, _) = article_with_history(&s);
    let path = format!("/articles/{slug}");

    // The original: Vary and a Link to its TimeMaps.
    let (status, h, _) = fetch(&s, &path, None);
    assert_eq!(status, 200);
    assert!(h.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("accept-datetime")), "{h:?}");
    let link = h["link"].to_str().unwrap();
    assert!(link.contains("rel=\"original timegate\"") && link.contains("/timemap/link/articles/"), "{link}");

    // The TimeMap lists one memento per second a public version took effect.
    let (status, h, timemap) = fetch(&s, &format!("/timemap/link{path}"), None);
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/link-format");
    let dated: Vec<&str> = timemap.lines().filter(|l| l.contains("memento\"; datetime=")).collect();
    assert_eq!(dated.len(), seconds.len(), "{timemap}");
    for (line, t) in dated.iter().zip(&seconds) {
        assert!(line.contains(&format!("datetime=\"{}\"", http_date(*t))), "{line}");
    }
    assert!(
        dated[0].contains("rel=\"first memento\"") && dated.last().unwrap().contains("rel=\"last memento\"")
    );
    let (_, _, json_map) = fetch(&s, &format!("/timemap/json{path}"), None);
    let json_map: Value = serde_json::from_str(&json_map).unwrap();
    assert_eq!(json_map["mementos"]["list"].as_array().unwrap().len(), seconds.len());

    // The TimeGate: an instant between the first two versions goes to the first memento.
    let between = seconds[0] + (seconds[1] - seconds[0]) / 2;
    let (status, h, _) = fetch(&s, &path, Some(&http_date(between)));
    assert_eq!(status, 302);
    assert!(h["vary"].to_str().unwrap().contains("accept-datetime"));
    let location = h["location"].to_str().unwrap().to_owned();
    let link = h["link"].to_str().unwrap();
    for rel in ["original timegate", "first memento", "next memento", "last memento"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{rel}: {link}");
    }
    // The memento answers with its Memento-Datetime and a Link naming its neighbours.
    let memento_path =
        location.split_once("://").unwrap().1.split_once('/').map(|(_, p)| format!("/{p}")).unwrap();
    let (status, h, page) = fetch(&s, &memento_path, None);
    assert_eq!(status, 200, "{memento_path}");
    assert_eq!(h["memento-datetime"], http_date(seconds[0]).as_str());
    assert!(h["link"].to_str().unwrap().contains("rel=\"original timegate\""));
    assert!(page.contains("You are reading the archive as it stood on"), "a memento is a past reading");

    // A date before the first memento goes to the first; a later one to the one before it.
    let (_, h, _) = fetch(&s, &path, Some("Mon, 01 Jan 1900 00:00:00 GMT"));
    assert_eq!(h["location"], location.as_str());
    let (_, h, _) = fetch(&s, &path, Some(&http_date(seconds[2])));
    assert!(h["location"].to_str().unwrap().contains(&seconds[2].format("%Y-%m-%dT%H").to_string()));
    // A malformed date is refused, not guessed.
    assert_eq!(fetch(&s, &path, Some("yesterday")).0, 400);
    // No such article: no TimeMap.
    assert_eq!(fetch(&s, "/timemap/link/articles/no-such-article", None).0, 404);

    // Robust Links on "Cite this page".
    let (_, _, html) = fetch(&s, &path, None);
    for attribute in ["data-originalurl=", "data-versionurl=", "data-versiondate="] {
        assert!(html.contains(attribute), "{attribute}");
    }
}

#[test]
fn the_memento_projects_python_client_finds_the_memento() {
    let probe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/memento_probe.py");
    let installed = std::process::Command::new("python3")
        .args(["-c", "import memento_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(std::env::var_os("CI").is_none(), "CI must install memento_client (.ci/run does)");
        eprintln!("skipped: the Memento Python client is not installed (pip install memento_client)");
        return;
    }
    let s = Server::with_fixtures();
    let (slug, seconds, _) = article_with_history(&s);
    let last = seconds.len() - 1;
    let cases = [
        ("before the first version", seconds[0] - chrono::Duration::days(400), 0),
        ("between versions", seconds[1] + chrono::Duration::seconds(1), 1),
        ("after the last version", seconds[last] + chrono::Duration::days(400), last),
    ];
    let mut info = Value::Null;
    for (case, when, expected) in cases {
        let out = std::process::Command::new("python3")
            .arg(&probe)
            .arg(format!("{}/articles/{slug}", s.base))
            .arg(http_date(when))
            .output()
            .unwrap();
        assert!(out.status.success(), "memento_client ({case}): {}", String::from_utf8_lossy(&out.stderr));
        info = serde_json::from_slice(&out.stdout).unwrap();
        let mementos = &info["mementos"];
        let closest = &mementos["closest"];
        let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        assert_eq!(closest["datetime"], stamp(seconds[expected]), "{case}: {info}");
        let uri = closest["uri"][0].as_str().unwrap_or_else(|| closest["uri"].as_str().unwrap());
        assert!(uri.contains(&format!("/articles/{slug}?asOf=")), "{case}: {info}");
        assert_eq!(mementos["first"]["datetime"], stamp(seconds[0]), "{case}: {info}");
        assert_eq!(mementos["last"]["datetime"], stamp(seconds[last]), "{case}: {info}");
        assert_eq!(mementos.get("prev").is_some(), expected > 0, "{case}: {info}");
        assert_eq!(mementos.get("next").is_some(), expected < last, "{case}: {info}");
    }
    assert_eq!(info["original_uri"], format!("{}/articles/{slug}", s.base));
}

#[test]
fn an_author_page_has_mementos_too() {
    let s = Server::with_fixtures();
    let data = s.ok(None, "{ authors(first: 1) { edges { node { id } } } }", json!({}));
    let id = data["authors"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    let (status, h, _) = fetch(&s, &format!("/authors/{id}"), Some("Mon, 01 Jan 1900 00:00:00 GMT"));
    assert_eq!(status, 302);
    assert!(h["location"].to_str().unwrap().contains(&format!("/authors/{id}?asOf=")));
    let (status, _, timemap) = fetch(&s, &format!("/timemap/link/authors/{id}"), None);
    assert_eq!(status, 200);
    assert!(timemap.contains("rel=\"first"), "{timemap}");
}
