//! Scheduled publishing (issue 17, point 1): `publishArticle` with a future `effectiveAt` is
//! recorded now and takes effect then. Until that instant a reader sees nothing of it on any
//! path; from then on it is everywhere, with no further write. Staff see it SCHEDULED, and can
//! reschedule it or call it off.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::server::Server;

const WORD: &str = "tidewardenlantern";

fn get(s: &Server, path: &str) -> (u16, String) {
    s.rt.block_on(async {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

/// Drafts a story holding the word, credited to a new author; returns (id, slug, author id).
fn draft(s: &Server, headline: &str) -> (String, String, String) {
    let ed = Some(s.editor.as_str());
    let author =
        s.ok(ed, "mutation { registerAuthor(input: {name: \"Ines Marlow\"}) { author { id } } }", json!({}))
            ["registerAuthor"]["author"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let d = s.ok(
        ed,
        "mutation($h: String!, $b: String!) { draftArticle(input: {headline: $h, body: $b, section: \"tides\"}) { article { id slug } } }",
        json!({"h": headline, "b": format!("The {WORD} was lit at the turn of the tide.")}),
    )["draftArticle"]["article"]
        .clone();
    let id = d["id"].as_str().unwrap().to_owned();
    s.ok(
        ed,
        "mutation($id: ID!, $a: ID!) { addByline(input: {articleId: $id, authorId: $a}) { position } }",
        json!({"id": id, "a": author}),
    );
    (id, d["slug"].as_str().unwrap().to_owned(), author)
}

fn schedule(s: &Server, id: &str, at: chrono::DateTime<Utc>) -> Value {
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!, $at: DateTime!) { publishArticle(input: {id: $id, effectiveAt: $at}) { position article { status scheduledAt publishedAt } } }",
        json!({"id": id, "at": at.to_rfc3339_opts(SecondsFormat::Micros, true)}),
    )["publishArticle"]
        .clone()
}

/// What every reader path shows of the story: one flag per path, true when it shows it.
fn reader_view(s: &Server, id: &str, slug: &str, author: &str) -> Vec<(String, bool)> {
    let mut seen = Vec::new();
    let graphql = [
        format!("{{ article(id: \"{id}\") {{ body }} }}"),
        format!("{{ search(query: \"{WORD}\") {{ totalCount hits {{ article {{ slug }} }} }} }}"),
        "{ articles(section: \"tides\") { totalCount edges { node { slug } } } }".to_owned(),
        "{ articles { edges { node { slug } } } }".to_owned(),
        format!("{{ author(id: \"{author}\") {{ articles {{ totalCount edges {{ node {{ slug }} }} }} }} }}"),
        format!("{{ timeline(bucket: YEAR, query: \"{WORD}\") {{ count }} }}"),
        format!("{{ article(id: \"{id}\", asOf: \"2999-01-01\") {{ body }} }}"),
    ];
    for q in graphql {
        let (_, body) = s.post(None, &q, json!({}));
        let text = body.to_string();
        let counted = body
            .pointer("/data/timeline")
            .and_then(|b| b.as_array())
            .is_some_and(|b| b.iter().any(|c| c["count"].as_i64().unwrap_or(0) > 0));
        seen.push((q, text.contains(WORD) || text.contains(slug) || counted));
    }
    for path in [
        format!("/articles/{slug}"),
        format!("/?q={WORD}"),
        "/?section=tides".to_owned(),
        format!("/authors/{author}"),
        "/feeds/atom?section=tides".to_owned(),
        format!("/timemap/link/articles/{slug}"),
    ] {
        let (status, page) = get(s, &path);
        let shows = status == 200 && (page.contains(slug) || page.contains("lit at the turn"));
        seen.push((path, shows));
    }
    seen
}

#[test]
fn a_scheduled_story_appears_everywhere_at_its_instant_and_nowhere_before() {
    let s = Server::start();
    let (id, slug, author) = draft(&s, "Tide lantern relit");
    let at = chrono::DateTime::from_timestamp_micros(
        (Utc::now() + chrono::Duration::seconds(4)).timestamp_micros(),
    )
    .unwrap();
    let scheduled = schedule(&s, &id, at);
    assert_eq!(scheduled["article"]["status"], "SCHEDULED", "{scheduled}");
    assert!(scheduled["article"]["publishedAt"].is_null());
    let position = scheduled["position"].as_str().unwrap().to_owned();
    s.archive.projections().unwrap().catch_up(Duration::from_secs(30)).unwrap();

    // Before its instant: nothing, on any path (checked while the instant is still ahead).
    let before = reader_view(&s, &id, &slug, &author);
    assert!(Utc::now() < at, "the checks ran before the instant; schedule further ahead on a slower machine");
    for (path, shows) in &before {
        assert!(!shows, "{path} shows the story before its instant");
    }
    let staff =
        s.ok(Some(&s.editor), &format!("{{ article(id: \"{id}\") {{ status scheduledAt }} }}"), json!({}));
    assert_eq!(staff["article"]["status"], "SCHEDULED");

    // At its instant, with no further write: everywhere. Poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let after = reader_view(&s, &id, &slug, &author);
        let missing: Vec<&String> = after.iter().filter(|(_, shows)| !shows).map(|(p, _)| p).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still missing after the instant: {missing:?}");
        std::thread::yield_now();
    }
    assert_eq!(s.archive.store().head().to_string(), position, "nothing was written meanwhile");
    let (_, body) = s.post(None, &format!("{{ article(id: \"{id}\") {{ status publishedAt }} }}"), json!({}));
    assert_eq!(body["data"]["article"]["status"], "PUBLISHED", "{body}");
    let published: chrono::DateTime<Utc> =
        body["data"]["article"]["publishedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(published, at, "published at its scheduled instant");
    // A past reading before the instant still shows nothing; one after shows it.
    let before_at = (at - chrono::Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Micros, true);
    let (_, body) =
        s.post(None, &format!("{{ article(id: \"{id}\", asOf: \"{before_at}\") {{ body }} }}"), json!({}));
    assert!(body["data"]["article"].is_null(), "{body}");
    // Now live, it takes corrections like any published story.
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { appendCorrection(input: {id: $id, text: \"Relit at dusk.\"}) { position } }",
        json!({"id": id}),
    );
}

#[test]
fn a_schedule_can_be_moved_or_called_off_and_a_called_off_one_never_shows() {
    let s = Server::start();
    let (id, slug, author) = draft(&s, "Lantern schedule moved");
    let first = Utc::now() + chrono::Duration::seconds(2);
    schedule(&s, &id, first);
    // Rescheduled far ahead, then called off: it is a draft again.
    let moved = schedule(&s, &id, Utc::now() + chrono::Duration::days(2));
    assert_eq!(moved["article"]["status"], "SCHEDULED");
    let off = s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { unscheduleArticle(input: {id: $id}) { position article { status scheduledAt } } }",
        json!({"id": id}),
    )["unscheduleArticle"]
        .clone();
    assert_eq!(off["article"]["status"], "DRAFT", "{off}");
    assert!(off["article"]["scheduledAt"].is_null());
    let (_, again) = s.post(
        Some(&s.editor),
        "mutation($id: ID!) { unscheduleArticle(input: {id: $id}) { position } }",
        json!({"id": id}),
    );
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT", "{again}");
    s.archive.projections().unwrap().catch_up(Duration::from_secs(30)).unwrap();
    // Once the first instant has passed, the version scheduled for it still never shows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Utc::now() <= first {
        assert!(Instant::now() < deadline, "the clock reaches the first instant");
        std::thread::yield_now();
    }
    for (path, shows) in reader_view(&s, &id, &slug, &author) {
        assert!(!shows, "{path} shows a story whose schedule was called off");
    }
}

#[test]
fn schedules_refuse_bad_instants_and_append_nothing() {
    let s = Server::start();
    let (id, _, _) = draft(&s, "Lantern bad schedule");
    let head = s.archive.store().head();
    for at in ["10000-01-01T00:00:00Z", "not a date"] {
        let (_, body) = s.post(
            Some(&s.editor),
            "mutation($id: ID!, $at: DateTime!) { publishArticle(input: {id: $id, effectiveAt: $at}) { position } }",
            json!({"id": id, "at": at}),
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_INPUT", "{at}: {body}");
    }
    let (_, body) = s.post(
        None,
        "mutation($id: ID!) { unscheduleArticle(input: {id: $id}) { position } }",
        json!({"id": id}),
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert_eq!(s.archive.store().head(), head, "refusals append nothing");
}
