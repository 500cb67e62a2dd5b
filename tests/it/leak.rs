//! The leak suite: words that were only ever in a draft, in a revision made before
//! publication, in a draft-era note, and the editor's token name, must come back on no path a
//! reader without a token can take: GraphQL, the web pages and the WebSocket, now and at every
//! instant and basis.

use serde_json::{Value, json};

use crate::server::Server;
use crate::subscription::{connect, next_json, send};

/// Words that never were public.
const SECRETS: [&str; 4] = ["zanzibarquokka", "quixoticwombat", "notewordxyzzy", "night-desk"];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

struct Story {
    id: String,
    slug: String,
    author: String,
    /// Positions of the draft-era events, and of the publication.
    draft_positions: Vec<u64>,
    published_position: u64,
    version: u64,
}

/// A story drafted with a secret, revised before publication with another secret and a secret
/// note, cleaned, then published and revised in public.
fn secret_story(s: &Server) -> Story {
    let ed = Some(s.editor.as_str());
    let author = s.ok(
        ed,
        "mutation { registerAuthor(input: {name: \"Ada Harbourmaster\"}) { author { id } } }",
        json!({}),
    )["registerAuthor"]["author"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let drafted = s.ok(
        ed,
        "mutation($b: String!) { draftArticle(input: {headline: \"Harbour ice breaks early\", body: $b, section: \"city\", tags: [\"harbour\"]}) { article { id slug } position } }",
        json!({"b": "The ice broke near zanzibarquokka wharf."}),
    )["draftArticle"]
        .clone();
    let id = drafted["article"]["id"].as_str().unwrap().to_owned();
    let slug = drafted["article"]["slug"].as_str().unwrap().to_owned();
    let mut draft_positions = vec![drafted["position"].as_str().unwrap().parse().unwrap()];
    let write = |query: &str, vars: Value| -> u64 {
        let data = s.ok(ed, query, vars);
        let field = data.as_object().unwrap().values().next().unwrap().clone();
        field["position"].as_str().unwrap().parse().unwrap()
    };
    draft_positions.push(write(
        "mutation($id: ID!) { reviseArticle(input: {id: $id, body: \"Seen by quixoticwombat at dawn.\", note: \"notewordxyzzy\"}) { position } }",
        json!({"id": id}),
    ));
    draft_positions.push(write(
        "mutation($id: ID!, $a: ID!) { addByline(input: {articleId: $id, authorId: $a}) { position } }",
        json!({"id": id, "a": author}),
    ));
    draft_positions.push(write(
        "mutation($id: ID!) { reviseArticle(input: {id: $id, body: \"The harbour ice broke on Tuesday.\"}) { position } }",
        json!({"id": id}),
    ));
    let published_position =
        write("mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }", json!({"id": id}));
    write(
        "mutation($id: ID!) { reviseArticle(input: {id: $id, body: \"The harbour ice broke on Tuesday, a week early.\", note: \"date\"}) { position } }",
        json!({"id": id}),
    );
    let version = draft_positions.len() as u64 + 2;
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    Story { id, slug, author, draft_positions, published_position, version }
}

fn get(s: &Server, path: &str) -> (u16, String) {
    s.rt.block_on(async {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn no_reader_path_shows_a_word_that_was_never_public() {
    let s = Server::start();
    let story = secret_story(&s);
    let last_draft = *story.draft_positions.last().unwrap();
    let bases: Vec<Option<u64>> = story
        .draft_positions
        .iter()
        .copied()
        .chain([story.published_position, story.published_position + 1])
        .map(Some)
        .chain([None])
        .collect();
    let instants = [None, Some("1900-01-01"), Some("2999-01-01")];

    for basis in &bases {
        for as_of in instants {
            let vars = json!({"id": story.id, "slug": story.slug, "author": story.author,
                "basis": basis.map(|b| b.to_string()), "asOf": as_of});
            let queries = [
                "query($slug: String!, $basis: Position, $asOf: DateTime) { article(slug: $slug, basis: $basis, asOf: $asOf) { headline body status version bylines { name } revisions { version eventType note actor changedFields } } }",
                "query($id: ID!, $basis: Position, $asOf: DateTime) { article(id: $id, basis: $basis, asOf: $asOf) { body revisions { note actor } } }",
                "query($basis: Position, $asOf: DateTime) { articles(basis: $basis, asOf: $asOf) { totalCount edges { node { headline body } } } }",
                "query($basis: Position, $asOf: DateTime) { a: search(query: \"zanzibarquokka\", basis: $basis, asOf: $asOf) { totalCount hits { snippets { html } } facets { sections { value count } } }
                    b: search(query: \"quixoticwombat OR notewordxyzzy\", basis: $basis, asOf: $asOf) { totalCount }
                    c: search(query: \"harbour\", basis: $basis, asOf: $asOf) { totalCount hits { article { body } snippets { field html } } facets { years { value } authors { value } } } }",
                "query($basis: Position, $asOf: DateTime) { timeline(query: \"zanzibarquokka\", bucket: YEAR, basis: $basis, asOf: $asOf) { start count } }",
                "query($author: ID!, $basis: Position, $asOf: DateTime) { author(id: $author, basis: $basis, asOf: $asOf) { name history { actor note } articles { edges { node { body revisions { note actor } } } } } }",
                "query($basis: Position, $asOf: DateTime) { authors(basis: $basis, asOf: $asOf) { edges { node { name history { actor } } } } }",
                "{ status { head projectors { name checkpoint lag error } role replication { target error } } }",
            ];
            for query in queries {
                let (status, body) = s.post(None, query, vars.clone());
                assert_eq!(status, 200, "{query}: {body}");
                assert!(body.get("errors").is_none(), "{query}: {body}");
                assert_clean(query, &body.to_string());
            }
            // Diffs reach no draft-era version: asking for one is NOT_FOUND, and the public
            // versions' diffs hold only public words.
            let diff = "query($slug: String!, $basis: Position, $asOf: DateTime, $from: Int!, $to: Int!) { article(slug: $slug, basis: $basis, asOf: $asOf) { diff(fromVersion: $from, toVersion: $to) { fields { hunks { text } } } } }";
            for from in 1..=story.version as i64 {
                for to in from..=story.version as i64 {
                    let mut v = vars.clone();
                    v["from"] = json!(from);
                    v["to"] = json!(to);
                    let (_, body) = s.post(None, diff, v);
                    assert_clean("diff", &body.to_string());
                    if from < 5 && body["data"]["article"].is_object() {
                        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
                    }
                }
            }
        }
    }

    // The secret words are really in the log: staff see them, so the checks above could fail.
    let staff = s.ok(
        Some(&s.editor),
        "query($slug: String!, $basis: Position) { article(slug: $slug, basis: $basis) { body revisions { note actor } } }",
        json!({"slug": story.slug, "basis": story.draft_positions[1].to_string()}),
    );
    let staff = staff.to_string();
    assert!(
        staff.contains("quixoticwombat") && staff.contains("notewordxyzzy") && staff.contains("night-desk")
    );

    // The raw log is for staff.
    let (_, body) = s.post(None, "{ events { edges { node { type actor payload } } } }", json!({}));
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert_clean("events", &body.to_string());
    let staff_events = s.ok(Some(&s.editor), "{ events { edges { node { actor payload } } } }", json!({}));
    assert!(staff_events.to_string().contains("zanzibarquokka"));

    // Every web page, at every basis and instant.
    for basis in &bases {
        for as_of in instants {
            let mut time = String::new();
            if let Some(b) = basis {
                time.push_str(&format!("&basis={b}"));
            }
            if let Some(t) = as_of {
                time.push_str(&format!("&asOf={t}"));
            }
            // A search for a secret echoes the reader's own words: it must find nothing.
            for path in [format!("/?q=zanzibarquokka{time}"), format!("/?q=quixoticwombat&sort=date{time}")] {
                let (status, body) = get(&s, &path);
                assert_eq!(status, 200, "{path}");
                assert!(body.contains("0 articles for"), "{path}: {body}");
            }
            let (_, body) = get(&s, &format!("/timeline?q=notewordxyzzy{time}"));
            assert!(body.contains("No published article matches"), "{body}");
            let mut paths = vec![
                format!("/?q=harbour{time}"),
                format!("/?q=harbour&sort=date{time}"),
                format!("/?{time}"),
                format!("/articles/{}?{time}", story.slug),
                format!("/authors/{}?{time}", story.author),
                format!("/timeline?bucket=month{time}"),
            ];
            for from in 1..=story.version {
                for to in from..=story.version {
                    paths.push(format!("/articles/{}/history?from={from}&to={to}{time}", story.slug));
                }
            }
            for path in paths {
                let (status, body) = get(&s, &path);
                assert!(status == 200 || status == 404, "{path}: {status}");
                assert_clean(&path, &body);
            }
        }
    }
    let (_, history) = get(&s, &format!("/articles/{}/history", story.slug));
    assert!(history.contains("a week early"), "the public history is shown");
    assert!(last_draft < story.published_position);

    // The WebSocket: anonymous subscriptions to the log are refused, with no event sent.
    s.rt.block_on(async {
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init"})).await;
        assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
        send(&mut ws, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { type actor payload } }"}})).await;
        let answer = next_json(&mut ws).await;
        // A field error of the subscription: `next` with `errors` and no data, then the end.
        assert_eq!(answer["type"], "next", "{answer}");
        assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
        assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");
        assert_clean("subscription", &answer.to_string());
        // Reads over the socket follow the same rule.
        send(&mut ws, json!({"id": "2", "type": "subscribe", "payload": {"query": "query($s: String!) { article(slug: $s) { body revisions { note actor } } }", "variables": {"s": story.slug}}})).await;
        let answer = loop {
            let message = next_json(&mut ws).await;
            assert_clean("the socket", &message.to_string());
            if message["id"] == "2" {
                break message;
            }
        };
        assert_eq!(answer["type"], "next", "{answer}");
        assert_clean("query over the socket", &answer.to_string());
    });
}

/// A retracted article leaves a text-less mark in the search index (it ends the last public
/// version's window). A reader's query that names the index's own fields finds neither the mark
/// nor the retracted text at the present.
#[test]
fn the_marks_that_end_windows_are_never_hits() {
    let s = Server::start();
    let ed = Some(s.editor.as_str());
    let id = s.ok(
        ed,
        "mutation { draftArticle(input: {headline: \"Comet over the mill\", body: \"A marmaladecomet crossed the sky.\", section: \"science\"}) { article { id } } }",
        json!({}),
    )["draftArticle"]["article"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.ok(ed, "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }", json!({"id": id}));
    s.ok(
        ed,
        "mutation($id: ID!) { retractArticle(input: {id: $id, reason: \"wrong comet\"}) { position } }",
        json!({"id": id}),
    );
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    for query in ["public:0", "public:[0 TO 1]", "marmaladecomet", &format!("article:{id}"), ""] {
        let data = s.ok(
            None,
            "query($q: String!) { search(query: $q, first: 100) { totalCount hits { article { id } } } }",
            json!({"q": query}),
        );
        let hits = data["search"]["hits"].as_array().unwrap();
        assert!(hits.iter().all(|h| h["article"]["id"] != id.as_str()), "{query:?}: {data}");
        if !query.is_empty() {
            assert_eq!(data["search"]["totalCount"], 0, "{query:?}: {data}");
        }
    }
    // The staff's log shows the retraction happened, so the test can fail.
    let staff = s.ok(ed, "query($id: ID!) { article(id: $id) { status } }", json!({"id": id}));
    assert_eq!(staff["article"]["status"], "RETRACTED");
}

/// Memento's paths (TimeMaps, the TimeGate's redirects and their headers, every memento) list
/// and show only public versions; a story that was never public has none.
#[test]
fn memento_paths_show_no_word_that_was_never_public() {
    let s = Server::start();
    let story = secret_story(&s);
    let draft_only = s.ok(
        Some(&s.editor),
        "mutation { draftArticle(input: {headline: \"Zanzibarquokka plans\", body: \"zanzibarquokka\", section: \"city\"}) { article { slug } } }",
        json!({}),
    )["draftArticle"]["article"]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let fetch = |path: &str, when: Option<&str>| {
        s.rt.block_on(async {
            let mut req = client.get(format!("{}{path}", s.base));
            if let Some(t) = when {
                req = req.header("accept-datetime", t);
            }
            let r = req.send().await.unwrap();
            let headers = format!("{:?}", r.headers());
            (
                r.status().as_u16(),
                r.headers().get("location").map(|l| l.to_str().unwrap().to_owned()),
                headers + &r.text().await.unwrap(),
            )
        })
    };
    for slug in [&story.slug, &draft_only] {
        for path in [format!("/timemap/link/articles/{slug}"), format!("/timemap/json/articles/{slug}")] {
            let (_, _, text) = fetch(&path, None);
            assert_clean(&path, &text);
        }
        for when in ["Mon, 01 Jan 1900 00:00:00 GMT", "Fri, 01 Jan 2999 00:00:00 GMT"] {
            let (status, location, text) = fetch(&format!("/articles/{slug}"), Some(when));
            assert_clean(&format!("the TimeGate of {slug} at {when}"), &text);
            if let Some(location) = location {
                let path = location.split_once("://").unwrap().1.split_once('/').unwrap().1;
                let (_, _, page) = fetch(&format!("/{path}"), None);
                assert_clean(&location, &page);
            } else {
                assert_eq!((slug, status), (&draft_only, 404), "only the draft has no memento");
            }
        }
    }
    assert_eq!(fetch(&format!("/timemap/link/articles/{draft_only}"), None).0, 404);
}

/// The Atom feeds and the article page's JSON-LD show no word that was never public.
#[test]
fn feeds_and_json_ld_show_no_word_that_was_never_public() {
    let s = Server::start();
    let story = secret_story(&s);
    s.ok(
        Some(&s.editor),
        "mutation { draftArticle(input: {headline: \"Quixoticwombat harbour plans\", body: \"zanzibarquokka\", section: \"city\"}) { article { id } } }",
        json!({}),
    );
    for path in [
        "/feeds/atom".to_owned(),
        "/feeds/atom?q=harbour".to_owned(),
        "/feeds/atom?q=wharf".to_owned(),
        "/feeds/atom?section=city".to_owned(),
        format!("/feeds/atom?author={}", story.author),
        "/feeds/atom?section=city&asOf=2999-01-01".to_owned(),
        format!("/articles/{}", story.slug),
    ] {
        let (status, text) = get(&s, &path);
        assert_eq!(status, 200, "{path}");
        assert_clean(&path, &text);
    }
    let (_, feed) = get(&s, "/feeds/atom?section=city");
    assert!(feed.contains("Harbour ice breaks early"), "the public story is in the feed: {feed}");
}

/// IPTC ninjs (the page's representation at every basis and instant, and the export) shows
/// only public versions; a story that was never public has none.
#[test]
fn ninjs_shows_no_word_that_was_never_public() {
    let s = Server::start();
    let story = secret_story(&s);
    let draft_only = s.ok(
        Some(&s.editor),
        "mutation { draftArticle(input: {headline: \"Quixoticwombat plans\", body: \"zanzibarquokka\", section: \"city\"}) { article { slug } } }",
        json!({}),
    )["draftArticle"]["article"]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let ninjs = |path: &str, accept: &str| {
        s.rt.block_on(async {
            let r = s.http.get(format!("{}{path}", s.base)).header("accept", accept).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let bases =
        story.draft_positions.iter().chain([&story.published_position]).map(|b| format!("&basis={b}"));
    for time in bases.chain(["".into(), "&asOf=1900-01-01".into(), "&asOf=2999-01-01".into()]) {
        for slug in [&story.slug, &draft_only] {
            for (path, accept) in [
                (format!("/articles/{slug}.ninjs.json?{time}"), "text/html"),
                (format!("/articles/{slug}?{time}"), "application/ninjs+json"),
            ] {
                let (status, body) = ninjs(&path, accept);
                assert!(status == 200 || status == 404, "{path}: {status}");
                assert!(slug == &story.slug || status == 404, "{path} was never public");
                assert_clean(&path, &body);
            }
        }
    }
    let (_, present) = ninjs(&format!("/articles/{}.ninjs.json", story.slug), "*/*");
    assert!(present.contains("a week early"), "the public version is shown: {present}");

    let mut export = Vec::new();
    let objects = morgue::archive::export_ninjs(s.archive.store(), &mut export, |_| {}).unwrap();
    let export = String::from_utf8(export).unwrap();
    assert_clean("the ninjs export", &export);
    assert_eq!(objects, 2, "the publication and the revision after it: {export}");
    assert!(!export.contains("Quixoticwombat plans"), "{export}");
}

/// A revision and a correction scheduled a day ahead hold words no reader may see before then:
/// not in the article (nor its `scheduledChanges`), the lists, search, the pages or the feed,
/// even asking for a later `asOf` (a reader's future reads as now).
#[test]
fn changes_scheduled_ahead_show_no_word_before_their_instant() {
    let s = Server::start();
    let ed = Some(s.editor.as_str());
    let d = s.ok(
        ed,
        "mutation { draftArticle(input: {headline: \"Harbour lamps\", body: \"The lamps were lit.\", section: \"city\"}) { article { id slug } } }",
        json!({}),
    )["draftArticle"]["article"]
        .clone();
    let id = d["id"].as_str().unwrap();
    let slug = d["slug"].as_str().unwrap();
    s.ok(ed, "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }", json!({"id": id}));
    let at = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    s.ok(
        ed,
        "mutation($id: ID!, $at: DateTime!) { reviseArticle(input: {id: $id, body: \"Lit by zanzibarquokka.\", effectiveAt: $at}) { position } }",
        json!({"id": id, "at": at}),
    );
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    for query in [
        "query($id: ID!) { article(id: $id) { body corrections { text } scheduledChanges { body correction } revisions { note } } }",
        "query($id: ID!) { article(id: $id, asOf: \"2999-01-01T00:00:00Z\") { body scheduledChanges { body } } }",
        "{ articles { edges { node { body scheduledChanges { body } } } } }",
        "{ search(query: \"zanzibarquokka OR harbour\") { totalCount hits { snippets { html } article { body } } } }",
    ] {
        let (status, body) = s.post(None, query, json!({"id": id}));
        assert_eq!(status, 200, "{query}: {body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        assert_clean(query, &body.to_string());
    }
    for path in [format!("/articles/{slug}"), "/?q=harbour+lamps".to_owned(), "/feeds/atom".to_owned()] {
        let (status, page) = get(&s, &path);
        assert_eq!(status, 200, "{path}");
        assert_clean(&path, &page);
    }
    let (_, found) = get(&s, "/?q=harbour+lamps");
    assert!(found.contains(slug), "the search page finds the story itself");
    let (_, staff) =
        s.post(ed, "query($id: ID!) { article(id: $id) { scheduledChanges { body } } }", json!({"id": id}));
    assert!(staff.to_string().contains("zanzibarquokka"), "staff see the pending change: {staff}");
}
