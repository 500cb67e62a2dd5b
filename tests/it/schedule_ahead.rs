//! Revisions and corrections scheduled ahead (issue 17, point 1): `reviseArticle` and
//! `appendCorrection` with a future `effectiveAt` are recorded now and take effect then. Before
//! that instant no reader path shows them; from then on every path does, with no further
//! write. Staff see them in `scheduledChanges`; `unscheduleArticle` calls them off.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::server::Server;

const OLD: &str = "brinekeeperold";
const NEW: &str = "brinekeepernew";
const NOTE: &str = "brinekeepercorrection";

fn get(s: &Server, path: &str) -> String {
    s.rt.block_on(async {
        s.http.get(format!("{}{path}", s.base)).send().await.unwrap().text().await.unwrap()
    })
}

fn instant(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn ahead(seconds: i64) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_micros(
        (Utc::now() + chrono::Duration::seconds(seconds)).timestamp_micros(),
    )
    .unwrap()
}

/// A published story whose body holds OLD; returns (id, slug).
fn published(s: &Server) -> (String, String) {
    let d = s.ok(
        Some(&s.editor),
        "mutation($b: String!) { draftArticle(input: {headline: \"Brine keeper\", body: $b, section: \"coast\"}) { article { id slug } } }",
        json!({"b": format!("The {OLD} kept the brine.")}),
    )["draftArticle"]["article"]
        .clone();
    let id = d["id"].as_str().unwrap().to_owned();
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }",
        json!({"id": id}),
    );
    (id, d["slug"].as_str().unwrap().to_owned())
}

fn count(s: &Server, word: &str) -> i64 {
    let (_, body) = s.post(None, &format!("{{ search(query: \"{word}\") {{ totalCount }} }}"), json!({}));
    body["data"]["search"]["totalCount"].as_i64().unwrap_or(-1)
}

/// What readers see: the body's word on GraphQL and the page, the search counts, and whether
/// the correction shows in the article, its page and the feed.
fn reader(s: &Server, id: &str, slug: &str) -> Value {
    let (_, body) =
        s.post(None, &format!("{{ article(id: \"{id}\") {{ body corrections {{ text }} }} }}"), json!({}));
    let page = get(s, &format!("/articles/{slug}"));
    let feed = get(s, "/feeds/atom?section=coast");
    json!({
        "graphql_new": body.to_string().contains(NEW),
        "graphql_old": body.to_string().contains(OLD),
        "page_new": page.contains(NEW),
        "search_new": count(s, NEW),
        "search_old": count(s, OLD),
        "correction": body.to_string().contains(NOTE) || page.contains(NOTE) || feed.contains(NOTE),
    })
}

fn wait_for(s: &Server, id: &str, slug: &str, want: &Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = reader(s, id, slug);
        if &seen == want {
            return;
        }
        assert!(Instant::now() < deadline, "readers see {seen}, not {want}");
        std::thread::yield_now();
    }
}

#[test]
fn a_revision_and_a_correction_scheduled_ahead_show_everywhere_at_their_instant_and_nowhere_before() {
    let s = Server::start();
    let (id, slug) = published(&s);
    let at = ahead(4);
    let written = s.ok(
        Some(&s.editor),
        "mutation($id: ID!, $b: String!, $at: DateTime!) { reviseArticle(input: {id: $id, body: $b, effectiveAt: $at}) { position article { status body scheduledChanges { at body } } } }",
        json!({"id": id, "b": format!("The {NEW} keeps the brine now."), "at": instant(at)}),
    )["reviseArticle"]
        .clone();
    assert_eq!(written["article"]["status"], "PUBLISHED", "{written}");
    assert!(written["article"]["body"].as_str().unwrap().contains(OLD), "not in effect yet: {written}");
    let pending: chrono::DateTime<Utc> =
        written["article"]["scheduledChanges"][0]["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(pending, at, "staff see the change and its instant: {written}");
    let position = written["position"].as_str().unwrap().to_owned();
    // While it is pending, the story takes no other change.
    let (_, refused) = s.post(
        Some(&s.editor),
        "mutation($id: ID!) { appendCorrection(input: {id: $id, text: \"now\"}) { position } }",
        json!({"id": id}),
    );
    assert_eq!(refused["errors"][0]["extensions"]["code"], "CONFLICT", "{refused}");
    s.archive.projections().unwrap().catch_up(Duration::from_secs(30)).unwrap();
    let before = reader(&s, &id, &slug);
    assert!(Utc::now() < at, "the checks ran before the instant; schedule further ahead on a slower machine");
    let unchanged = json!({"graphql_new": false, "graphql_old": true, "page_new": false, "search_new": 0, "search_old": 1, "correction": false});
    assert_eq!(before, unchanged);
    let (_, staff) =
        s.post(None, &format!("{{ article(id: \"{id}\") {{ scheduledChanges {{ at }} }} }}"), json!({}));
    assert_eq!(staff["data"]["article"]["scheduledChanges"], json!([]), "readers see no pending change");

    // At its instant, with no further write, every path shows the new text and only it.
    let revised = json!({"graphql_new": true, "graphql_old": false, "page_new": true, "search_new": 1, "search_old": 0, "correction": false});
    wait_for(&s, &id, &slug, &revised);
    assert_eq!(s.archive.store().head().to_string(), position, "nothing was written meanwhile");
    let (_, hits) = s.post(
        None,
        &format!("{{ search(query: \"{NEW}\") {{ hits {{ snippets {{ html }} }} }} }}"),
        json!({}),
    );
    assert!(hits.to_string().contains(&format!("<mark>{NEW}</mark>")), "snippets show the new text: {hits}");
    let past = instant(at - chrono::Duration::milliseconds(500));
    let (_, then) =
        s.post(None, &format!("{{ article(id: \"{id}\", asOf: \"{past}\") {{ body }} }}"), json!({}));
    assert!(then.to_string().contains(OLD), "a reading before the instant shows the old text: {then}");
    let (_, found) = s.post(
        None,
        &format!("{{ search(query: \"{OLD}\", asOf: \"{past}\") {{ totalCount }} }}"),
        json!({}),
    );
    assert_eq!(found["data"]["search"]["totalCount"], 1, "{found}");

    // A correction scheduled ahead: in the article, its page and the feed from its instant on.
    let at = ahead(3);
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!, $t: String!, $at: DateTime!) { appendCorrection(input: {id: $id, text: $t, effectiveAt: $at}) { position } }",
        json!({"id": id, "t": format!("The {NOTE} was misnamed."), "at": instant(at)}),
    );
    s.archive.projections().unwrap().catch_up(Duration::from_secs(30)).unwrap();
    assert_eq!(reader(&s, &id, &slug), revised, "not before its instant");
    assert!(Utc::now() < at, "the checks ran before the instant");
    let corrected = json!({"graphql_new": true, "graphql_old": false, "page_new": true, "search_new": 1, "search_old": 0, "correction": true});
    wait_for(&s, &id, &slug, &corrected);
}

#[test]
fn a_change_called_off_never_shows_and_the_text_in_effect_stays_found_once() {
    let s = Server::start();
    let (id, slug) = published(&s);
    let later = ahead(2);
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!, $b: String!, $at: DateTime!) { reviseArticle(input: {id: $id, body: $b, effectiveAt: $at}) { position } }",
        json!({"id": id, "b": format!("The {NEW} was never printed."), "at": instant(later)}),
    );
    let off = s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { unscheduleArticle(input: {id: $id}) { article { status scheduledChanges { at } } } }",
        json!({"id": id}),
    )["unscheduleArticle"]
        .clone();
    assert_eq!(off["article"]["scheduledChanges"], json!([]), "{off}");
    assert_eq!(off["article"]["status"], "PUBLISHED", "{off}");
    s.archive.projections().unwrap().catch_up(Duration::from_secs(30)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Utc::now() <= later {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    let unchanged = json!({"graphql_new": false, "graphql_old": true, "page_new": false, "search_new": 0, "search_old": 1, "correction": false});
    assert_eq!(reader(&s, &id, &slug), unchanged);
    // A change cannot be scheduled while a publication is; section and tags cannot be
    // scheduled; nothing is appended for a refusal.
    let draft = s.ok(
        Some(&s.editor),
        "mutation { draftArticle(input: {headline: \"Later\", body: \"Not yet.\", section: \"coast\"}) { article { id } } }",
        json!({}),
    )["draftArticle"]["article"]["id"]
        .clone();
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!, $at: DateTime!) { publishArticle(input: {id: $id, effectiveAt: $at}) { position } }",
        json!({"id": draft, "at": instant(ahead(3600))}),
    );
    let (_, body) = s.post(
        Some(&s.editor),
        "mutation($id: ID!, $at: DateTime!) { reviseArticle(input: {id: $id, body: \"Sooner.\", effectiveAt: $at}) { position } }",
        json!({"id": draft, "at": instant(ahead(7200))}),
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");
    let head = s.archive.store().head();
    let far = instant(ahead(3600));
    for (query, code) in [
        (
            "mutation($id: ID!, $at: DateTime!) { reviseArticle(input: {id: $id, section: \"inland\", effectiveAt: $at}) { position } }",
            "BAD_INPUT",
        ),
        (
            "mutation($id: ID!, $at: DateTime!) { reviseArticle(input: {id: $id, tags: [\"x\"], effectiveAt: $at}) { position } }",
            "BAD_INPUT",
        ),
    ] {
        let (_, body) = s.post(Some(&s.editor), query, json!({"id": id, "at": far}));
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    }
    assert_eq!(s.archive.store().head(), head, "refusals append nothing");
}
