//! Generated hostile input (proptest): search syntax, instants, cursors, import lines and
//! GraphQL variables. Every case must answer, Ok or a coded error, and never panic. Thousands
//! of cases run per `cargo test`; `PROPTEST_CASES=N` asks for more.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use morgue::archive::{Archive, ReadRequest, Reading, WriteOptions};
use morgue::domain::{ArticleCommand, ArticleId, AuthorCommand, AuthorId, Command};
use morgue::project::search::SearchRequest;
use morgue::project::views::Group;

/// The codes a refused read may carry: anything else (INTERNAL above all) is a bug.
const READ_CODES: [&str; 3] = ["BAD_INPUT", "LIMIT", "NOT_FOUND"];

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

struct World {
    _dir: tempfile::TempDir,
    archive: Archive,
    rt: tokio::runtime::Runtime,
    schema: morgue::graphql::MorgueSchema,
}

/// One small archive shared by every case: an author, and articles published across centuries.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (dir, archive) = crate::support::temp_archive();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let author = AuthorId::generate();
        let at = |s: &str| Some(chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let register = Command::Author(author, AuthorCommand::Register { name: "Ada".into(), bio: None });
        let options = WriteOptions { effective_at: at("1600-01-01T00:00:00Z"), ..Default::default() };
        rt.block_on(archive.execute(Some("gen"), register, options)).unwrap();
        for (i, year) in ["1665", "1851", "1918", "2001"].iter().enumerate() {
            let id = ArticleId::generate();
            let when = at(&format!("{year}-06-01T00:00:00Z"));
            let commands = [
                ArticleCommand::Draft {
                    slug: None,
                    headline: format!("Harbour news {i}"),
                    summary: None,
                    body: "The harbour froze; the mayor spoke of the storm and the railway.".into(),
                    section: "city".into(),
                    tags: vec!["harbour".into()],
                    language: None,
                },
                ArticleCommand::AddByline { author_id: author, role: None },
                ArticleCommand::Publish,
            ];
            for command in commands {
                let options = WriteOptions { effective_at: when, ..Default::default() };
                rt.block_on(archive.execute(Some("gen"), Command::Article(id, command), options)).unwrap();
            }
        }
        archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
        let schema = morgue::graphql::schema(archive.clone());
        World { _dir: dir, archive, rt, schema }
    })
}

fn reading(w: &World, as_of: Option<chrono::DateTime<chrono::Utc>>) -> Result<Reading, morgue::Error> {
    w.rt.block_on(w.archive.reading(ReadRequest { as_of, ..Default::default() }))
}

fn refused_as_a_read(result: Result<impl Sized, morgue::Error>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(READ_CODES.contains(&e.code().as_str()), "{} ({})", e, e.code());
    }
    Ok(())
}

/// Search text made of the query language's own pieces, so the parser meets deep and odd
/// shapes, not only noise.
fn query_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\"".to_owned()),
        Just(" AND ".to_owned()),
        Just(" OR ".to_owned()),
        Just("-".to_owned()),
        Just("+".to_owned()),
        Just("headline:".to_owned()),
        Just("author:".to_owned()),
        Just("section:".to_owned()),
        Just("[a TO z]".to_owned()),
        Just("{".to_owned()),
        Just("*".to_owned()),
        Just("~2".to_owned()),
        Just("^3".to_owned()),
        Just("\\".to_owned()),
        Just(" IN [".to_owned()),
        Just("/re.*/".to_owned()),
        "[a-z]{1,8}",
        "\\PC{1,4}",
    ];
    prop::collection::vec(piece, 0..400).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn search_syntax_never_crashes(query in query_text(), offset in 0usize..20_000, first in 0usize..200, past in any::<bool>()) {
        let w = world();
        let r = reading(w, past.then(|| chrono::DateTime::parse_from_rfc3339("1900-01-01T00:00:00Z").unwrap().to_utc())).unwrap();
        let request = SearchRequest { query: query.clone(), offset, first, ..Default::default() };
        refused_as_a_read(w.archive.search(&r, request))?;
        let request = SearchRequest { query: query.clone(), ..Default::default() };
        refused_as_a_read(w.archive.timeline(&r, request, morgue::archive::history::Bucket::Year))?;
        // The same text as an image search (`images(query)`): bounded, and never a crash.
        refused_as_a_read(w.archive.images_matching(&r, &query, first))?;
    }

    #[test]
    fn any_instant_text_parses_or_is_refused(text in "\\PC{0,80}|[+-]?[0-9]{1,7}-[0-9]{1,3}-[0-9]{1,3}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?") {
        if let Ok(t) = morgue::archive::parse_instant(&text) {
            prop_assert!(morgue::store::limits::instant_in_range(t));
        }
    }

    #[test]
    fn every_instant_of_the_years_1_to_9999_reads(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999i64) {
        let w = world();
        let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let r = reading(w, Some(t)).unwrap();
        w.archive.list_at(&r, SearchRequest::default(), 0, 10).unwrap();
        w.archive.search(&r, SearchRequest { query: "harbour".into(), first: 10, ..Default::default() }).unwrap();
        let filter = SearchRequest { published_from: Some(t), ..Default::default() };
        w.archive.search(&r, filter.clone()).unwrap();
        refused_as_a_read(w.archive.timeline(&r, filter, morgue::archive::history::Bucket::Year))?;
        w.archive.authors_at(&r, None, 10).unwrap();
    }

    #[test]
    fn any_cursor_is_a_page_or_bad_input(cursor in "\\PC{0,300}|[0-9a-f]{0,600}|hit:[0-9]{0,30}") {
        let w = world();
        let r = reading(w, None).unwrap();
        refused_as_a_read(w.archive.list(&r, &Group::All, Some(&cursor), 10))?;
        refused_as_a_read(w.archive.authors(Some(&cursor), 10))?;
        refused_as_a_read(w.archive.authors_at(&r, Some(&cursor), 10))?;
        refused_as_a_read(w.archive.list(&r, &Group::Section(cursor.clone()), None, 10))?;
        refused_as_a_read(w.archive.article_by_slug(&r, &cursor))?;
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn graphql_variables_of_any_shape_get_coded_errors(vars in json_value(4)) {
        let w = world();
        let query = "query($q: String!, $first: Int, $after: String, $t: DateTime, $s: String, $b: Position) {
            search(query: $q, first: $first, after: $after, asOf: $t, section: $s, basis: $b) { totalCount hits { cursor snippets { html } } }
            articles(first: $first, after: $after, asOf: $t, section: $s) { totalCount }
            timeline(query: $q, bucket: MONTH, from: $t) { count }
        }";
        let variables = json!({"q": vars.get("q").cloned().unwrap_or(json!("harbour")), "first": vars.get("first"),
            "after": vars.get("after"), "t": vars.get("t"), "s": vars.get("s"), "b": vars.get("b")});
        let request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
        let response = w.rt.block_on(w.schema.execute(request));
        for error in &response.errors {
            let code = error.extensions.as_ref().and_then(|e| e.get("code")).map(|c| c.to_string());
            // async-graphql's own input errors carry no code here; the HTTP layer codes them
            // BAD_INPUT. Ours must be a reader's code.
            if let Some(code) = code {
                prop_assert!(READ_CODES.iter().any(|c| code.contains(c)), "{code}: {}", error.message);
            }
        }
    }

    #[test]
    fn import_lines_of_any_shape_are_refused_by_line_and_field(lines in prop::collection::vec(import_line(), 1..8)) {
        let (_dir, store) = crate::support::temp_store();
        let before = crate::support::raw_log(&store);
        let result = morgue::archive::import(&store, lines.iter().cloned().map(Ok), 5000, |_| {});
        if let Err(e) = result {
            prop_assert!(e.line >= 1 && e.line <= lines.len() as u64, "{e}");
            prop_assert!(!e.field.is_empty(), "{e}");
            prop_assert_eq!(crate::support::raw_log(&store), before);
        }
    }
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "hit:[0-9]{0,25}".prop_map(Value::from),
        "[0-9]{1,6}-[0-9]{2}-[0-9]{2}".prop_map(Value::from),
        "[()\"a-z ]{0,60}".prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("q".to_owned()),
                    Just("first".to_owned()),
                    Just("after".to_owned()),
                    Just("t".to_owned()),
                    Just("s".to_owned()),
                    Just("b".to_owned()),
                    "[a-z]{1,5}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Lines shaped like authored and exported import lines, with fields of every shape.
fn import_line() -> impl Strategy<Value = String> {
    let stream = prop_oneof![
        Just(format!("article-{}", ArticleId::generate())),
        Just(format!("author-{}", AuthorId::generate())),
        "\\PC{0,300}",
        Just(String::new()),
    ];
    let kind = prop_oneof![
        Just("ArticleDrafted"),
        Just("ArticlePublished"),
        Just("AuthorRegistered"),
        Just("ArticleRevised"),
        Just("Nonsense"),
    ];
    let instant = prop_oneof![
        Just(Value::Null),
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T00:00:00Z".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    (stream, kind, instant, json_value(3), any::<u64>(), any::<bool>()).prop_map(|(stream, kind, at, payload, version, raw)| {
        if raw {
            return format!("{{\"stream\": {}, \"type\": \"{kind}\"", serde_json::to_string(&stream).unwrap());
        }
        json!({"stream": stream, "type": kind, "version": version % 5, "effective_at": at, "payload": payload}).to_string()
    })
}
