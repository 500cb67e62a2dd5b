//! The write path end to end: commands checked against state, nothing appended on refusal.

use chrono::{Duration, Utc};
use morgue::archive::{Archive, Entity, WriteOptions};
use morgue::domain::commands::limits;
use morgue::domain::{ArticleCommand, ArticleId, AuthorCommand, AuthorId, Command};

use crate::support::{raw_log, temp_store};

fn draft(slug: Option<&str>, headline: &str, body: &str) -> ArticleCommand {
    ArticleCommand::Draft {
        slug: slug.map(Into::into),
        headline: headline.into(),
        summary: None,
        body: body.into(),
        section: "city".into(),
        tags: vec!["harbour".into()],
        language: Some("en".into()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn refused_commands_name_the_problem_and_append_nothing() {
    let (_dir, store) = temp_store();
    let archive = Archive::new(store.clone());
    let rt = rt();
    let run = |c: Command, o: WriteOptions| rt.block_on(archive.execute(Some("desk"), c, o));
    let article = ArticleId::generate();
    run(
        Command::Article(article, draft(Some("harbour-ice"), "Harbour ice", "It broke.")),
        WriteOptions::default(),
    )
    .unwrap();
    let retracted = ArticleId::generate();
    run(Command::Article(retracted, draft(None, "Wrong tide", "Tides.")), WriteOptions::default()).unwrap();
    run(Command::Article(retracted, ArticleCommand::Publish), WriteOptions::default()).unwrap();
    run(
        Command::Article(retracted, ArticleCommand::Retract { reason: "error".into() }),
        WriteOptions::default(),
    )
    .unwrap();
    let before = raw_log(&store);

    let cases: Vec<(Command, WriteOptions, &str, &str)> = vec![
        (
            Command::Article(ArticleId::generate(), ArticleCommand::Publish),
            WriteOptions::default(),
            "NOT_FOUND",
            "does not exist",
        ),
        (
            Command::Article(
                article,
                ArticleCommand::AddByline { author_id: AuthorId::generate(), role: None },
            ),
            WriteOptions::default(),
            "NOT_FOUND",
            "author",
        ),
        (
            Command::Article(retracted, ArticleCommand::Publish),
            WriteOptions::default(),
            "CONFLICT",
            "retracted",
        ),
        (
            Command::Article(ArticleId::generate(), draft(Some("harbour-ice"), "Another", "Text.")),
            WriteOptions::default(),
            "CONFLICT",
            "harbour-ice",
        ),
        (
            Command::Article(ArticleId::generate(), draft(None, "  ", "Text.")),
            WriteOptions::default(),
            "BAD_INPUT",
            "headline",
        ),
        (
            Command::Article(ArticleId::generate(), draft(None, "H", "")),
            WriteOptions::default(),
            "BAD_INPUT",
            "body",
        ),
        (
            Command::Article(ArticleId::generate(), draft(None, "H", &"x".repeat(limits::BODY + 1))),
            WriteOptions::default(),
            "BAD_INPUT",
            "limit is 1048576",
        ),
        (
            Command::Article(article, ArticleCommand::Publish),
            WriteOptions { expected_version: Some(5), ..Default::default() },
            "CONFLICT",
            "version 1",
        ),
        (
            Command::Article(article, ArticleCommand::Publish),
            WriteOptions { effective_at: Some(Utc::now() + Duration::hours(2)), ..Default::default() },
            "BAD_INPUT",
            "future",
        ),
        (
            Command::Author(AuthorId::generate(), AuthorCommand::Rename { name: "Nobody".into() }),
            WriteOptions::default(),
            "NOT_FOUND",
            "author",
        ),
    ];
    for (command, options, code, words) in cases {
        let err = run(command.clone(), options).expect_err("must be refused");
        assert_eq!(err.code(), code, "{command:?}: {err}");
        assert!(err.to_string().contains(words), "{err} should mention {words:?}");
        assert_eq!(raw_log(&store), before, "{command:?} changed the log");
    }
}

#[test]
fn derived_slugs_are_made_unique_and_writes_answer_with_state_version_and_position() {
    let (_dir, store) = temp_store();
    let archive = Archive::new(store.clone());
    let rt = rt();
    let mut slugs = Vec::new();
    for _ in 0..3 {
        let w = rt
            .block_on(archive.execute(
                None,
                Command::Article(ArticleId::generate(), draft(None, "Harbour Ice Breaks!", "b")),
                WriteOptions::default(),
            ))
            .unwrap();
        assert_eq!(w.version, 1);
        assert_eq!(w.position, store.head());
        let Entity::Article(a) = w.entity else { panic!("an article") };
        slugs.push(a.slug);
    }
    assert_eq!(slugs, ["harbour-ice-breaks", "harbour-ice-breaks-2", "harbour-ice-breaks-3"]);
}

#[test]
fn an_idempotency_key_makes_a_command_safe_to_retry() {
    let (_dir, store) = temp_store();
    let archive = Archive::new(store.clone());
    let rt = rt();
    let key = WriteOptions { idempotency_key: Some("req-42".into()), ..Default::default() };
    let register = AuthorCommand::Register { name: "Ida Tarbell".into(), bio: None };
    let first = rt
        .block_on(archive.execute(
            Some("ed"),
            Command::Author(AuthorId::generate(), register.clone()),
            key.clone(),
        ))
        .unwrap();
    // A retry arrives with a fresh id (clients do not choose ids): still the same request.
    let again = rt
        .block_on(archive.execute(Some("ed"), Command::Author(AuthorId::generate(), register), key.clone()))
        .unwrap();
    assert!(again.replayed);
    assert_eq!((again.position, again.version, &again.entity), (first.position, 1, &first.entity));
    assert_eq!(store.head(), first.position);
    let other = AuthorCommand::Register { name: "Someone Else".into(), bio: None };
    let err = rt
        .block_on(archive.execute(Some("ed"), Command::Author(AuthorId::generate(), other), key))
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert_eq!(store.head(), first.position);
}

#[test]
fn effective_instants_of_old_content_are_kept() {
    let (_dir, store) = temp_store();
    let archive = Archive::new(store.clone());
    let rt = rt();
    let then = "1851-09-18T08:00:00Z".parse().unwrap();
    let id = ArticleId::generate();
    let opts = WriteOptions { effective_at: Some(then), ..Default::default() };
    rt.block_on(archive.execute(
        None,
        Command::Article(id, draft(None, "First issue", "Body.")),
        opts.clone(),
    ))
    .unwrap();
    let w = rt.block_on(archive.execute(None, Command::Article(id, ArticleCommand::Publish), opts)).unwrap();
    let Entity::Article(a) = w.entity else { panic!() };
    assert_eq!(a.published_at, Some(then));
    let events = store.read_stream(&id.stream(), 1, 10).unwrap();
    assert!(events.iter().all(|e| e.effective_at == then && e.recorded_at > then));
}

#[test]
fn decisions_read_state_from_the_views_exactly_as_the_log_folds_it() {
    let (_dir, archive) = crate::support::temp_archive();
    crate::support::random_history(&archive, 4242, 300);
    archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    let log_only = Archive::new(archive.store().clone());
    let events = archive.store().read_all(morgue::Position::ZERO, usize::MAX).unwrap();
    let mut checked = 0;
    for e in &events {
        match morgue::domain::StreamKind::parse(&e.stream) {
            Some(morgue::domain::StreamKind::Article(id)) => {
                assert_eq!(archive.article_state(id).unwrap(), log_only.article_state(id).unwrap());
            }
            Some(morgue::domain::StreamKind::Author(id)) => {
                assert_eq!(archive.author_state(id).unwrap(), log_only.author_state(id).unwrap());
            }
            Some(morgue::domain::StreamKind::Image(id)) => {
                assert_eq!(archive.image_state(id).unwrap(), log_only.image_state(id).unwrap());
            }
            None => {}
        }
        checked += 1;
    }
    assert!(checked > 100);
    assert_eq!(archive.article_state(ArticleId::generate()).unwrap(), (0, None));
    archive.close();
}

/// One snapshot per request: while the search index lags the views (a fresh start over an
/// imported log), a count and the page it counts come from the same position.
#[test]
fn a_count_and_its_page_come_from_one_snapshot_while_a_projector_lags() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        morgue::store::Store::open(dir.path().join("log"), morgue::store::StoreOptions { map_size: 1 << 30 })
            .unwrap();
    let writer = Archive::new(store.clone());
    let rt = crate::support::runtime();
    for i in 0..5 {
        let id = ArticleId::generate();
        let draft = ArticleCommand::Draft {
            slug: None,
            headline: format!("Harbour report {i}"),
            summary: None,
            body: "The tide was high.".into(),
            section: "city".into(),
            tags: vec![],
            language: None,
        };
        for command in [draft, ArticleCommand::Publish] {
            rt.block_on(writer.execute(Some("desk"), Command::Article(id, command), Default::default()))
                .unwrap();
        }
    }
    // The views reach the head; the search index has applied nothing yet.
    let projections = morgue::project::Projections::open(store.clone(), dir.path(), 1 << 30).unwrap();
    projections.apply_views_to_head().unwrap();
    let archive = Archive::from_parts(store.clone(), projections.clone());
    let schema = morgue::graphql::schema(archive.clone());
    let query = "{ articles { totalCount edges { node { id } } } search(query: \"harbour\") { totalCount hits { cursor } } }";
    let ask = |snapshot: morgue::archive::ReadSnapshot| {
        let response = rt.block_on(schema.execute(async_graphql::Request::new(query).data(snapshot)));
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    };
    let early = ask(rt.block_on(archive.snapshot(false, None)).unwrap());
    let edges = early["articles"]["edges"].as_array().unwrap().len();
    assert_eq!(early["articles"]["totalCount"], edges, "{early}");
    assert_eq!(early["search"]["totalCount"], early["search"]["hits"].as_array().unwrap().len(), "{early}");
    // Once both have caught up, the same request sees all five, from the same position.
    projections.start().unwrap();
    projections.catch_up(std::time::Duration::from_secs(30)).unwrap();
    let snapshot = rt.block_on(archive.snapshot(false, None)).unwrap();
    assert_eq!(snapshot.basis(), store.head());
    let late = ask(snapshot);
    assert_eq!(late["articles"]["totalCount"], 5, "{late}");
    assert_eq!(late["articles"]["edges"].as_array().unwrap().len(), 5);
    assert_eq!(late["search"]["totalCount"], 5);
    projections.stop();
}
