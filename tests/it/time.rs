//! Time travel: the worked examples of docs/time.md, edge cases, and a model-based test that
//! compares the API with a naive fold of the raw events.

use serde_json::{Value, json};

use crate::server::Server;

#[test]
fn the_examples_in_docs_time_md_hold() {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/time.md"))
        .unwrap();
    let s = Server::with_fixtures();
    let mut examples = 0;
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```graphql\n") {
        let after = &rest[start + 11..];
        let end = after.find("```").unwrap();
        let query = &after[..end];
        let json_start = after.find("```json\n").expect("every query is followed by its answer") + 8;
        let json_end = after[json_start..].find("```").unwrap() + json_start;
        let expected: Value = serde_json::from_str(&after[json_start..json_end]).expect("the answer is JSON");
        let data = s.ok(None, query, json!({}));
        assert_eq!(data, expected, "docs/time.md example:\n{query}");
        examples += 1;
        rest = &after[json_end..];
    }
    assert!(examples >= 8, "{examples} examples");
}

mod model {
    //! The model: fold the raw events naively for an (asOf, knownAt) and compare.

    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{DateTime, Utc};
    use morgue::Position;
    use morgue::domain::{Article, ArticleStatus, Author, StreamKind};
    use serde_json::{Value, json};

    use crate::server::Server;
    use crate::support::{Rng, random_history};

    struct World {
        articles: BTreeMap<String, Article>,
        authors: BTreeMap<String, Author>,
    }

    /// The state at (asOf, knownAt) by folding every event that passes both filters.
    fn fold(events: &[morgue::store::RecordedEvent], as_of: DateTime<Utc>, known_at: DateTime<Utc>) -> World {
        let mut articles: BTreeMap<String, Option<Article>> = BTreeMap::new();
        let mut authors: BTreeMap<String, Option<Author>> = BTreeMap::new();
        for e in events.iter().filter(|e| e.effective_at <= as_of && e.recorded_at <= known_at) {
            let (event, meta) = morgue::archive::decode(e).unwrap();
            match StreamKind::parse(&e.stream).unwrap() {
                StreamKind::Article(id) => {
                    let slot = articles.entry(id.to_string()).or_default();
                    *slot = Article::apply(slot.take(), id, &event, meta);
                }
                StreamKind::Author(id) => {
                    let slot = authors.entry(id.to_string()).or_default();
                    *slot = Author::apply(slot.take(), id, &event, meta);
                }
                // The generated histories hold no images.
                StreamKind::Image(_) => {}
            }
        }
        World {
            articles: articles.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(),
            authors: authors.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(),
        }
    }

    fn rfc(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    #[test]
    fn the_api_answers_what_a_naive_fold_of_the_log_says() {
        let s = Server::start();
        let seed = time_seed();
        eprintln!("model seed {seed}");
        random_history(&s.archive, seed, 700);
        s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(60)).unwrap();
        let events = s.archive.store().read_all(Position::ZERO, usize::MAX).unwrap();
        assert!(events.len() > 120, "the history is substantial: {} events", events.len());
        let mut rng = Rng(seed);
        let words =
            ["harbour", "council", "storm", "bridge", "market", "river", "flood", "mill", "tram", "comet"];
        let mut cases = 0;
        for round in 0..100 {
            // Instants: often exactly an event's (inclusive bounds), sometimes between, before
            // everything, or after.
            let pick =
                |rng: &mut Rng, f: fn(&morgue::store::RecordedEvent) -> DateTime<Utc>| -> DateTime<Utc> {
                    let e = &events[rng.below(events.len())];
                    match rng.below(4) {
                        0 => f(e) - chrono::Duration::microseconds(1),
                        1 => f(e) + chrono::Duration::microseconds(1),
                        _ => f(e),
                    }
                };
            let as_of = if round % 10 == 0 {
                "1700-01-01T00:00:00Z".parse().unwrap()
            } else {
                pick(&mut rng, |e| e.effective_at)
            };
            let known_at = if round % 7 == 0 {
                Utc::now() + chrono::Duration::days(1)
            } else {
                pick(&mut rng, |e| e.recorded_at)
            };
            let world = fold(&events, as_of, known_at);
            let at = json!({"asOf": rfc(as_of), "knownAt": rfc(known_at)});
            let public = |a: &Article| a.status != ArticleStatus::Draft;

            // article(id) for a few articles, bylines with names as of then.
            for _ in 0..3 {
                let e = &events[rng.below(events.len())];
                let Some(StreamKind::Article(id)) = StreamKind::parse(&e.stream) else { continue };
                let got = s.ok(
                    None,
                    "query($id: ID!, $asOf: DateTime, $knownAt: DateTime) { article(id: $id, asOf: $asOf, knownAt: $knownAt) { headline body status version bylines { name } corrections { text } } }",
                    json!({"id": id.to_string(), "asOf": at["asOf"], "knownAt": at["knownAt"]}),
                );
                let want = world.articles.get(&id.to_string()).filter(|a| public(a)).map(|a| {
                    json!({
                        "headline": a.headline, "body": a.body,
                        "status": match a.status { ArticleStatus::Draft => "DRAFT", ArticleStatus::Published => "PUBLISHED", ArticleStatus::Retracted => "RETRACTED" },
                        "version": a.version,
                        "bylines": a.bylines.iter().filter_map(|b| world.authors.get(&b.author_id.to_string())).map(|au| json!({"name": au.name})).collect::<Vec<_>>(),
                        "corrections": a.corrections.iter().map(|c| json!({"text": c.text})).collect::<Vec<_>>(),
                    })
                });
                assert_eq!(got["article"], want.unwrap_or(Value::Null), "article {id} at {at}");
                cases += 1;
            }

            // author(id).
            let e = &events[rng.below(events.len())];
            if let Some(StreamKind::Author(id)) = StreamKind::parse(&e.stream) {
                let got = s.ok(
                    None,
                    "query($id: ID!, $asOf: DateTime, $knownAt: DateTime) { author(id: $id, asOf: $asOf, knownAt: $knownAt) { name version } }",
                    json!({"id": id.to_string(), "asOf": at["asOf"], "knownAt": at["knownAt"]}),
                );
                let want =
                    world.authors.get(&id.to_string()).map(|a| json!({"name": a.name, "version": a.version}));
                assert_eq!(got["author"], want.unwrap_or(Value::Null), "author {id} at {at}");
                cases += 1;
            }

            // articles: the published ones, as a set.
            let got = s.ok(
                None,
                "query($asOf: DateTime, $knownAt: DateTime) { articles(first: 100, asOf: $asOf, knownAt: $knownAt) { totalCount edges { node { id } } } }",
                at.clone(),
            );
            let want: BTreeSet<String> = world
                .articles
                .iter()
                .filter(|(_, a)| a.status == ArticleStatus::Published)
                .map(|(k, _)| k.clone())
                .collect();
            let have: BTreeSet<String> = got["articles"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(have, want, "articles at {at}");
            assert_eq!(got["articles"]["totalCount"], want.len(), "articles at {at}");
            cases += 1;

            // search: published articles whose headline or body has the word.
            let word = words[rng.below(words.len())];
            let got = s.ok(
                None,
                "query($q: String!, $asOf: DateTime, $knownAt: DateTime) { search(query: $q, first: 100, asOf: $asOf, knownAt: $knownAt) { totalCount hits { article { id } } } }",
                json!({"q": format!("headline:{word} OR body:{word}"), "asOf": at["asOf"], "knownAt": at["knownAt"]}),
            );
            let has = |text: &str| text.split(' ').any(|w| w == word);
            let want: BTreeSet<String> = world
                .articles
                .iter()
                .filter(|(_, a)| a.status == ArticleStatus::Published && (has(&a.headline) || has(&a.body)))
                .map(|(k, _)| k.clone())
                .collect();
            let have: BTreeSet<String> = got["search"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["article"]["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(have, want, "search {word:?} at {at}");
            cases += 1;
        }
        assert!(cases >= 200, "{cases} cases");
    }

    fn time_seed() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    }
}
