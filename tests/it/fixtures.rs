//! The authored fixtures through the API: response shapes reviewed as insta snapshots, and
//! reads in the past.

use serde_json::json;

use crate::server::Server;

#[test]
fn an_article_read_now_and_in_the_past() {
    let s = Server::with_fixtures();
    let q = "query($at: DateTime) { article(slug: \"airship-seen-over-gannet-head\", asOf: $at) {
        id headline summary status version section tags
        bylines { name role }
        corrections { text effectiveAt }
        firstPublishedAt
        revisions { version eventType effectiveAt recordedAt actor note changedFields position }
    } }";
    let now = s.ok(None, q, json!({}));
    insta::assert_json_snapshot!("airship_now", now, { ".article.revisions[].recordedAt" => "[recorded]" });
    let then = s.ok(None, q, json!({"at": "1920-12-31"}));
    insta::assert_json_snapshot!("airship_1920", then, { ".article.revisions[].recordedAt" => "[recorded]" });
    assert!(then.to_string().to_lowercase().contains("zeppelin"));
    assert!(!now["article"]["headline"].as_str().unwrap().to_lowercase().contains("zeppelin"));
    // Before it was written, it did not exist.
    assert_eq!(s.ok(None, q, json!({"at": "1900-01-01"}))["article"], serde_json::Value::Null);
}

#[test]
fn authors_are_counted_at_the_instant_of_the_read() {
    let s = Server::with_fixtures();
    let q = "query($at: DateTime) { authors(first: 100, asOf: $at) { totalCount edges { node { name } } } }";
    let now = s.ok(None, q, json!({}));
    assert_eq!(now["authors"]["totalCount"], 20);
    let then = s.ok(None, q, json!({"at": "1900-01-01"}));
    let listed = then["authors"]["edges"].as_array().unwrap().len();
    assert!(listed > 0 && listed < 20, "{then}");
    assert_eq!(then["authors"]["totalCount"], listed);
}

#[test]
fn searching_the_fixtures() {
    let s = Server::with_fixtures();
    let q = "query($q: String!, $at: DateTime) { search(query: $q, asOf: $at, first: 3) {
        totalCount hits { article { slug headline } snippets { field html } } facets { sections { value count } years { value count } }
    } }";
    let flu = s.ok(None, q, json!({"q": "influenza"}));
    insta::assert_json_snapshot!("search_influenza", flu);
    assert_eq!(flu["search"]["totalCount"], 6);
    // Date ranges in the query syntax, and as arguments.
    let in_1919 =
        s.ok(None, q, json!({"q": "influenza AND published:[1919-01-01T00:00:00Z TO 1920-01-01T00:00:00Z]"}));
    assert_eq!(in_1919["search"]["totalCount"], 2, "{in_1919}");
    let args = s.ok(
        None,
        "{ search(query: \"influenza\", publishedFrom: \"1919-01-01\", publishedTo: \"1920-01-01\") { totalCount } }",
        json!({}),
    );
    assert_eq!(args["search"]["totalCount"], 2);
    let zeppelin_then = s.ok(None, q, json!({"q": "zeppelin", "at": "1920-12-31"}));
    let zeppelin_now = s.ok(None, q, json!({"q": "zeppelin"}));
    assert_eq!(zeppelin_then["search"]["totalCount"], 1);
    assert_eq!(zeppelin_now["search"]["totalCount"], 0);
}
