//! IPTC ninjs: the article page's ninjs (content negotiation, `.ninjs.json`, `asOf` and
//! `basis`), the export and its import (the same articles again, idempotently), and the output
//! validated against IPTC's published JSON Schema by Python's `jsonschema` (Draft 2020-12),
//! which `.ci/run` installs. Imports from elsewhere and hostile lines: `ninjs_import`.

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::{code, fixtures, json, morgue};
use crate::server::Server;

/// IPTC's schema, beside the project (read-only; never copied into it).
const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/standards/ninjs-schema_3.1.json");
const NINJS: &str = "application/ninjs+json";
/// A fixture article with two public versions, the first current at the end of 1920.
const AIRSHIP: &str = "airship-seen-over-gannet-head";

/// A GET with an optional `Accept`: status, headers, body.
fn fetch(s: &Server, path: &str, accept: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    s.rt.block_on(async {
        let mut req = s.http.get(format!("{}{path}", s.base));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
    })
}

/// The ninjs of a path, which must answer 200 with the ninjs media type.
fn ninjs(s: &Server, path: &str, accept: Option<&str>) -> Value {
    let (status, headers, body) = fetch(s, path, accept);
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(headers["content-type"], NINJS, "{path}");
    serde_json::from_str(&body).unwrap()
}

/// The fixtures' slugs in order, and those of the retracted and never published articles.
fn fixture_slugs() -> (Vec<String>, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(fixtures()).unwrap();
    let (mut slugs, mut streams) = (Vec::new(), std::collections::HashMap::new());
    let (mut retracted, mut published) = (Vec::new(), std::collections::HashSet::new());
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let stream = e["stream"].as_str().unwrap().to_owned();
        match e["type"].as_str().unwrap() {
            "ArticleDrafted" => {
                let slug = e["payload"]["slug"].as_str().unwrap().to_owned();
                slugs.push(slug.clone());
                streams.insert(stream, slug);
            }
            "ArticlePublished" => drop(published.insert(streams[&stream].clone())),
            "ArticleRetracted" => retracted.push(streams[&stream].clone()),
            _ => {}
        }
    }
    let drafts = slugs.iter().filter(|s| !published.contains(*s)).cloned().collect();
    (slugs, retracted, drafts)
}

/// Validates the ninjs objects in `file` (JSON Lines) with `jsonschema` against IPTC's schema;
/// the number found valid, or `None` when the schema or `jsonschema` is absent (outside CI).
fn validate(file: &Path) -> Option<u64> {
    if !Path::new(SCHEMA).exists() {
        eprintln!("skipped: {SCHEMA} is absent");
        return None;
    }
    let installed = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(std::env::var_os("CI").is_none(), "CI must install jsonschema (.ci/run does)");
        eprintln!("skipped: python3 with jsonschema is not installed (pip install jsonschema)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/ninjs_validate.py");
    let out = std::process::Command::new("python3").arg(script).arg(SCHEMA).arg(file).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the schema refuses the objects:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(said.trim()).unwrap();
    report["valid"].as_u64()
}

/// Lines of JSON with the fields that belong to one log (its stream versions and recording
/// times) taken out: what two archives holding the same articles must agree on.
fn without_log_fields(text: &str, fields: &[&str]) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for f in fields {
                v.as_object_mut().unwrap().remove(*f);
            }
            v
        })
        .collect()
}

#[test]
fn the_article_page_answers_ninjs_that_iptcs_schema_accepts() {
    let s = Server::with_fixtures();
    let (slugs, retracted, drafts) = fixture_slugs();
    let mut objects = Vec::new();
    for slug in slugs.iter().step_by(7).chain(&retracted) {
        for time in ["", "?asOf=1921-01-01", "?asOf=1963-04-25"] {
            let (status, headers, body) = fetch(&s, &format!("/articles/{slug}.ninjs.json{time}"), None);
            if status == 404 {
                assert!(body.contains("NOT_FOUND"), "{body}");
                continue;
            }
            assert_eq!((status, &headers["content-type"]), (200, &NINJS.parse().unwrap()), "{slug}{time}");
            objects.push(serde_json::from_str::<Value>(&body).unwrap());
        }
    }
    let past = objects.iter().filter(|o| o["firstCreated"].as_str().unwrap() < "1921").count();
    assert!(objects.len() > 20 && past > 2, "{} objects, {past} of the past", objects.len());
    for o in &objects {
        for field in
            ["uri", "version", "firstCreated", "versionCreated", "contentCreated", "headlines", "bodies"]
        {
            assert!(o.get(field).is_some(), "{field} in {o}");
        }
        assert!(o["uri"].as_str().unwrap().starts_with("urn:morgue:article:"), "{o}");
        for t in ["firstCreated", "contentCreated", "versionCreated"] {
            chrono::DateTime::parse_from_rfc3339(o[t].as_str().unwrap()).unwrap();
        }
        assert!(o["firstCreated"].as_str() <= o["contentCreated"].as_str(), "{o}");
    }
    // A retraction is `canceled`, with its notice; readers never get a draft.
    for slug in &retracted {
        let o = ninjs(&s, &format!("/articles/{slug}.ninjs.json"), None);
        assert_eq!(o["pubStatus"], "canceled", "{o}");
        assert!(o["descriptions"].as_array().unwrap().iter().any(|d| d["role"] == "retraction"), "{o}");
    }
    assert!(objects.iter().all(|o| o["pubStatus"] != "withheld"));
    for slug in &drafts {
        assert_eq!(
            fetch(&s, &format!("/articles/{slug}.ninjs.json"), None).0,
            404,
            "{slug} was never public"
        );
        assert_eq!(fetch(&s, &format!("/articles/{slug}"), Some(NINJS)).0, 404);
    }
    // Corrections are descriptions.
    assert!(objects.iter().any(|o| o["descriptions"].to_string().contains("\"correction\"")));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.jsonl");
    let lines: Vec<String> = objects.iter().map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    if let Some(valid) = validate(&file) {
        assert_eq!(valid, objects.len() as u64);
    }
    // The export too.
    let mut export = Vec::new();
    let n = morgue::archive::export_ninjs(s.archive.store(), &mut export, |_| {}).unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &export).unwrap();
    if let Some(valid) = validate(&file) {
        assert_eq!(valid, n);
    }
}

#[test]
fn accept_or_the_suffix_chooses_ninjs_and_as_of_and_basis_apply() {
    let s = Server::with_fixtures();
    let page = format!("/articles/{AIRSHIP}");
    let graphql = |as_of: Option<&str>| {
        s.ok(
            None,
            "query($s: String!, $t: DateTime) { article(slug: $s, asOf: $t) { headline body version section tags revisions { version recordedAt } } }",
            json!({"s": AIRSHIP, "t": as_of}),
        )["article"]
            .clone()
    };
    let now = graphql(None);
    for accept in [NINJS, "application/ninjs+json, */*;q=0.1", "text/html;q=0.5, application/ninjs+json"] {
        let (status, headers, body) = fetch(&s, &page, Some(accept));
        assert_eq!((status, &headers["content-type"]), (200, &NINJS.parse().unwrap()), "{accept}");
        assert!(headers.get_all("vary").iter().any(|v| v == "accept"), "{headers:?}");
        let o: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(o["headlines"][0]["value"], now["headline"]);
        assert_eq!(o["bodies"][0]["value"], now["body"]);
        assert_eq!(o["version"], now["version"].to_string());
        assert_eq!(o["subjects"][0], json!({"name": now["section"], "rel": "section"}));
        let recorded = now["revisions"].as_array().unwrap().last().unwrap()["recordedAt"].as_str().unwrap();
        let recorded: chrono::DateTime<chrono::Utc> = recorded.parse().unwrap();
        let version_created: chrono::DateTime<chrono::Utc> =
            o["versionCreated"].as_str().unwrap().parse().unwrap();
        assert_eq!(version_created, recorded, "versionCreated is when the version was recorded");
    }
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for accept in [
        None,
        Some("text/html"),
        Some("*/*"),
        Some(browser),
        Some("text/html, application/ninjs+json"),
        Some("application/ninjs+json;q=0"),
    ] {
        let (status, headers, body) = fetch(&s, &page, accept);
        assert_eq!(status, 200);
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{accept:?}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{accept:?}");
        assert!(headers.get_all("vary").iter().any(|v| v == "accept"), "{headers:?}");
    }
    // The suffix wins over Accept; `asOf` gives the version readers saw then.
    let then = graphql(Some("1920-12-31"));
    assert_ne!(then["version"], now["version"], "the fixture changed after 1920");
    for (path, accept) in [
        (format!("{page}.ninjs.json?asOf=1920-12-31"), Some("text/html")),
        (format!("{page}?asOf=1920-12-31"), Some(NINJS)),
    ] {
        let o = ninjs(&s, &path, accept);
        assert_eq!(o["version"], then["version"].to_string(), "{path}");
        assert_eq!(o["headlines"][0]["value"], then["headline"], "{path}");
        assert_eq!(o["contentCreated"], o["firstCreated"], "the first public version: {o}");
    }

    // `basis` pins what the archive knew: a revision made now is not in an answer pinned before it.
    let before = s.head();
    let id = s.ok(None, "query($s: String!) { article(slug: $s) { id } }", json!({"s": AIRSHIP}))["article"]
        ["id"]
        .clone();
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { reviseArticle(input: {id: $id, headline: \"Airship over Gannet Head, says keeper\"}) { position } }",
        json!({"id": id}),
    );
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let revised = ninjs(&s, &format!("{page}.ninjs.json"), None);
    assert_eq!(revised["headlines"][0]["value"], "Airship over Gannet Head, says keeper");
    let pinned = ninjs(&s, &format!("{page}.ninjs.json?basis={before}"), None);
    assert_eq!(pinned["headlines"][0]["value"], now["headline"]);
    assert_eq!(pinned["version"], now["version"].to_string());

    // Not found, and bad input, answer as JSON.
    let (status, headers, body) = fetch(&s, "/articles/no-such-story", Some(NINJS));
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (404, "application/json"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "NOT_FOUND");
    let (status, _, body) = fetch(&s, &format!("{page}.ninjs.json?asOf=yesterday"), None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "BAD_INPUT");
}

#[test]
fn importing_the_export_makes_the_same_articles_again() {
    let dirs = tempfile::tempdir().unwrap();
    let [a, b, c] = ["a", "b", "c"].map(|d| dirs.path().join(d));
    let file = |name: &str| dirs.path().join(name).to_str().unwrap().to_owned();
    assert!(morgue(&a, &["import", fixtures().to_str().unwrap()]).status.success());
    let summary = json(&morgue(&a, &["export", "--format", "ninjs", "--out", &file("a.jsonl"), "--json"]));
    assert_eq!(
        (summary["format"].as_str(), summary["articles"].as_u64()),
        (Some("ninjs"), Some(83)),
        "{summary}"
    );
    let first = std::fs::read_to_string(file("a.jsonl")).unwrap();
    assert_eq!(summary["objects"].as_u64(), Some(first.lines().count() as u64));

    let imported = json(&morgue(&b, &["import", "--format", "ninjs", &file("a.jsonl"), "--json"]));
    assert!(imported["appended"].as_u64().unwrap() > 200, "{imported}");
    assert!(morgue(&b, &["export", "--format", "ninjs", "--out", &file("b.jsonl")]).status.success());
    let second = std::fs::read_to_string(file("b.jsonl")).unwrap();
    // The same articles: every public version with the same texts, section, tags, status,
    // bylines (names, roles), corrections and valid times. Only what belongs to a log differs.
    let log_fields = ["version", "versionCreated"];
    assert_eq!(without_log_fields(&second, &log_fields), without_log_fields(&first, &log_fields));
    let statuses: Vec<String> = without_log_fields(&second, &[])
        .iter()
        .map(|o| o["pubStatus"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "canceled").count(), 2);
    assert!(second.contains("\"rel\":\"photographer\"") && second.contains("\"role\":\"correction\""));

    // Re-running the import appends nothing, whichever export it reads.
    let head = json(&morgue(&b, &["stats", "--json"]))["head"].clone();
    for again in ["a.jsonl", "b.jsonl"] {
        let report = json(&morgue(&b, &["import", "--format", "ninjs", &file(again), "--json"]));
        assert_eq!(report["appended"], 0, "{again}: {report}");
        assert_eq!(json(&morgue(&b, &["stats", "--json"]))["head"], head);
    }
    assert!(json(&morgue(&b, &["verify", "--json"]))["ok"].as_bool().unwrap());

    // From the second generation on, exports are byte for byte the same but for the recording
    // instants, which are each log's own.
    assert!(morgue(&c, &["import", "--format", "ninjs", &file("b.jsonl")]).status.success());
    assert!(morgue(&c, &["export", "--format", "ninjs", "--out", &file("c.jsonl")]).status.success());
    let third = std::fs::read_to_string(file("c.jsonl")).unwrap();
    let blank = |text: &str| -> String {
        text.lines()
            .map(|l| {
                let at = l.find("\"versionCreated\":\"").unwrap() + 18;
                let end = at + l[at..].find('"').unwrap();
                format!("{}{}", &l[..at], &l[end..])
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(blank(&third), blank(&second));

    if let Some(valid) = validate(Path::new(&file("a.jsonl"))) {
        assert_eq!(valid, first.lines().count() as u64);
    }
    // `--from` is the morgue format's; a bad line is BAD_INPUT, naming its line and field.
    assert_eq!(code(&morgue(&a, &["export", "--format", "ninjs", "--from", "3"])), 1);
    let good = first.lines().next().unwrap();
    std::fs::write(file("bad.jsonl"), format!("{good}\n{{\"uri\":\"urn:x:1\",\"headlines\":\"Sea\"}}\n"))
        .unwrap();
    let out = morgue(&dirs.path().join("d"), &["import", "--format", "ninjs", &file("bad.jsonl")]);
    assert_eq!(code(&out), i32::from(morgue::cli::exit::BAD_INPUT), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("line 2, field headlines") && said.contains("nothing was imported"), "{said}");
}
