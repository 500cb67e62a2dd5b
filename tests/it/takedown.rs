//! Takedown (issue 17): an admin takes an article down, and from then on no reader sees any
//! version of it on any path, at any instant or basis, past ones included; its pages answer
//! 451 (RFC 7725) with the notice; GraphQL answers null with UNAVAILABLE_FOR_LEGAL_REASONS.
//! Staff still read it, and `restoreArticle` brings it back.

use serde_json::{Value, json};

use crate::server::Server;

/// A word only the taken-down story holds.
const WORD: &str = "kestrelmoonquay";
const REFERENCE: &str = "High Court order 2026/117";

fn get(s: &Server, path: &str) -> (u16, String) {
    s.rt.block_on(async {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

struct Story {
    id: String,
    slug: String,
    author: String,
    published: u64,
}

/// A story with the word in its body, a revision and a correction, by a registered author.
fn story(s: &Server) -> Story {
    let ed = Some(s.editor.as_str());
    let author =
        s.ok(ed, "mutation { registerAuthor(input: {name: \"Wren Talbot\"}) { author { id } } }", json!({}))
            ["registerAuthor"]["author"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let drafted = s.ok(
        ed,
        "mutation($b: String!) { draftArticle(input: {headline: \"Quay lamps fail\", body: $b, section: \"harbour\"}) { article { id slug } } }",
        json!({"b": format!("The lamps at {WORD} failed at dusk.")}),
    )["draftArticle"]["article"]
        .clone();
    let id = drafted["id"].as_str().unwrap().to_owned();
    let write = |q: &str| -> u64 {
        let data = s.ok(ed, q, json!({"id": id, "a": author}));
        data.as_object().unwrap().values().next().unwrap()["position"].as_str().unwrap().parse().unwrap()
    };
    write("mutation($id: ID!, $a: ID!) { addByline(input: {articleId: $id, authorId: $a}) { position } }");
    let published = write("mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }");
    write(&format!(
        "mutation($id: ID!) {{ reviseArticle(input: {{id: $id, body: \"The lamps at {WORD} failed again.\"}}) {{ position }} }}"
    ));
    write(
        "mutation($id: ID!) { appendCorrection(input: {id: $id, text: \"The lamps failed at nine.\"}) { position } }",
    );
    Story { id, slug: drafted["slug"].as_str().unwrap().to_owned(), author, published }
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

fn take_down(s: &Server, token: &str, id: &str) -> (u16, Value) {
    s.post(
        Some(token),
        "mutation($id: ID!, $r: String) { takeDownArticle(input: {id: $id, reason: \"Court order\", legalReference: $r}) { position article { takedown { reason legalReference } } } }",
        json!({"id": id, "r": REFERENCE}),
    )
}

/// Every reader path, at instants and bases before and after the takedown, shows nothing of
/// the story; returns how many paths were checked.
fn assert_gone(s: &Server, st: &Story, bases: &[u64]) -> usize {
    let mut checked = 0;
    let times: Vec<String> = ["", "asOf: \"1900-01-01\"", "asOf: \"2999-01-01\""]
        .iter()
        .map(|t| t.to_string())
        .chain(bases.iter().map(|b| format!("basis: \"{b}\"")))
        .collect();
    for t in &times {
        let sep = if t.is_empty() { "" } else { ", " };
        let (_, body) =
            s.post(None, &format!("{{ article(id: \"{}\"{sep}{t}) {{ body }} }}", st.id), json!({}));
        assert!(body["data"]["article"].is_null(), "{t}: {body}");
        assert_eq!(code(&body), Some("UNAVAILABLE_FOR_LEGAL_REASONS"), "{t}: {body}");
        let (_, body) =
            s.post(None, &format!("{{ article(slug: \"{}\"{sep}{t}) {{ body }} }}", st.slug), json!({}));
        assert_eq!(code(&body), Some("UNAVAILABLE_FOR_LEGAL_REASONS"), "{t}: {body}");
        let args = if t.is_empty() { String::new() } else { format!("({t})") };
        for query in [
            format!("{{ search(query: \"{WORD}\"{sep}{t}) {{ totalCount hits {{ article {{ body }} }} }} }}"),
            format!(
                "{{ search(query: \"lamps\"{sep}{t}) {{ totalCount facets {{ sections {{ value count }} }} hits {{ article {{ slug }} }} }} }}"
            ),
            format!(
                "{{ articles(section: \"harbour\"{sep}{t}) {{ totalCount edges {{ node {{ slug body }} }} }} }}"
            ),
            format!(
                "{{ author(id: \"{}\"{sep}{t}) {{ articles {{ totalCount edges {{ node {{ slug }} }} }} }} }}",
                st.author
            ),
            format!("{{ timeline(bucket: YEAR, query: \"{WORD}\"{sep}{t}) {{ start count }} }}"),
            format!("{{ articles{args} {{ edges {{ node {{ slug }} }} }} }}"),
        ] {
            let (_, body) = s.post(None, &query, json!({}));
            let text = body.to_string();
            assert!(!text.contains(WORD) && !text.contains(&st.slug), "{query}: {text}");
            if let Some(count) = body.pointer("/data/search/totalCount") {
                assert!(count == 0 || !query.contains(WORD), "{query}: {text}");
            }
            if let Some(buckets) = body.pointer("/data/timeline").and_then(|b| b.as_array()) {
                assert!(buckets.iter().all(|b| b["count"] == 0), "{query}: {text}");
            }
            assert!(body.get("errors").is_none() || query.contains("article("), "{query}: {text}");
            checked += 1;
        }
    }
    for path in [
        format!("/articles/{}", st.slug),
        format!("/articles/{}/history", st.slug),
        format!("/articles/{}?asOf=1900-01-01", st.slug),
        format!("/articles/{}?basis={}", st.slug, st.published),
        format!("/timemap/link/articles/{}", st.slug),
    ] {
        let (status, page) = get(s, &path);
        assert_eq!(status, 451, "{path}");
        assert!(page.contains(REFERENCE) && !page.contains(WORD), "{path}: the notice, not the story");
        checked += 1;
    }
    for path in [
        format!("/?q={WORD}"),
        "/?q=lamps".to_owned(),
        "/?section=harbour".to_owned(),
        format!("/authors/{}", st.author),
        "/timeline".to_owned(),
        "/feeds/atom".to_owned(),
        "/feeds/atom?section=harbour".to_owned(),
        format!("/feeds/atom?author={}", st.author),
    ] {
        let (_, page) = get(s, &path);
        // The search page repeats the reader's own words; nothing of the story may follow.
        let echoed = path.contains(WORD);
        assert!(echoed || !page.contains(WORD), "{path}: {page}");
        for told in ["Quay lamps fail", "lamps at", &st.slug] {
            assert!(!page.contains(told), "{path} shows {told:?}: {page}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn a_taken_down_article_is_gone_for_readers_at_every_instant_and_kept_for_staff() {
    let s = Server::start();
    let st = story(&s);
    // Before: readers see it.
    let (_, body) = s.post(
        None,
        &format!("{{ search(query: \"{WORD}\", minPosition: \"{}\") {{ totalCount }} }}", st.published),
        json!({}),
    );
    assert_eq!(body["data"]["search"]["totalCount"], 1, "{body}");

    // Only admins take down; a refusal appends nothing.
    let head = s.archive.store().head();
    let (_, body) = take_down(&s, &s.editor, &st.id);
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    let (_, body) = s.post(
        None,
        "mutation($id: ID!) { takeDownArticle(input: {id: $id, reason: \"x\"}) { position } }",
        json!({"id": st.id}),
    );
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert_eq!(s.archive.store().head(), head);

    let (_, body) = take_down(&s, &s.admin, &st.id);
    let taken: u64 = body["data"]["takeDownArticle"]["position"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["data"]["takeDownArticle"]["article"]["takedown"]["legalReference"], REFERENCE, "{body}");
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let (_, again) = take_down(&s, &s.admin, &st.id);
    assert_eq!(code(&again), Some("CONFLICT"), "{again}");

    let checked = assert_gone(&s, &st, &[st.published, taken - 1, taken]);
    assert!(checked >= 40, "every path was checked ({checked})");

    // Staff still read it, now and in the past.
    let staff = s.ok(
        Some(&s.editor),
        &format!("{{ now: article(id: \"{}\") {{ body takedown {{ reason legalReference at }} }} then: article(id: \"{}\", basis: \"{}\") {{ body }} }}", st.id, st.id, st.published),
        json!({}),
    );
    assert!(staff["now"]["body"].as_str().unwrap().contains(WORD), "{staff}");
    assert_eq!(staff["now"]["takedown"]["legalReference"], REFERENCE);
    assert!(staff["then"]["body"].as_str().unwrap().contains(WORD), "{staff}");

    // Restored: readers see it again.
    let restored = s.ok(
        Some(&s.admin),
        "mutation($id: ID!) { restoreArticle(input: {id: $id, reason: \"Order lifted\"}) { position article { takedown { reason } } } }",
        json!({"id": st.id}),
    )["restoreArticle"]
        .clone();
    assert!(restored["article"]["takedown"].is_null());
    let at = restored["position"].as_str().unwrap();
    let (_, body) = s.post(
        None,
        &format!("{{ article(id: \"{}\", minPosition: \"{at}\") {{ body }} search(query: \"{WORD}\", minPosition: \"{at}\") {{ totalCount }} past: article(id: \"{}\", basis: \"{}\") {{ body }} }}", st.id, st.id, st.published),
        json!({}),
    );
    assert!(body["data"]["article"]["body"].as_str().unwrap().contains(WORD), "{body}");
    assert_eq!(body["data"]["search"]["totalCount"], 1, "{body}");
    assert!(body["data"]["past"]["body"].as_str().unwrap().contains(WORD), "{body}");
    assert_eq!(get(&s, &format!("/articles/{}", st.slug)).0, 200);
}

#[test]
fn bad_takedowns_are_refused_and_append_nothing() {
    let s = Server::start();
    let st = story(&s);
    let head = s.archive.store().head();
    let long = "x".repeat(morgue::domain::commands::limits::REFERENCE + 1);
    for (reason, reference, expected) in [
        ("", None, "BAD_INPUT"),
        ("   ", None, "BAD_INPUT"),
        ("order", Some(long.as_str()), "BAD_INPUT"),
        ("order", Some("ok"), "NOT_FOUND"),
    ] {
        let id =
            if expected == "NOT_FOUND" { "01H0000000000000000000ZZZZ".to_owned() } else { st.id.clone() };
        let (_, body) = s.post(
            Some(&s.admin),
            "mutation($id: ID!, $r: String!, $l: String) { takeDownArticle(input: {id: $id, reason: $r, legalReference: $l}) { position } }",
            json!({"id": id, "r": reason, "l": reference}),
        );
        assert_eq!(code(&body), Some(expected), "{reason:?} {reference:?}: {body}");
    }
    let (_, body) = s.post(
        Some(&s.admin),
        "mutation($id: ID!) { restoreArticle(input: {id: $id}) { position } }",
        json!({"id": st.id}),
    );
    assert_eq!(code(&body), Some("CONFLICT"), "not taken down: {body}");
    assert_eq!(s.archive.store().head(), head, "refusals append nothing");
}
