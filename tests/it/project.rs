//! Projectors: incremental equals rebuild, crash safety, search behaviour, lag.

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use morgue::Position;
use morgue::archive::{Archive, Entity, WriteOptions};
use morgue::domain::{ArticleCommand, ArticleId, AuthorCommand, AuthorId, Command};
use morgue::project::search::{SearchRequest, SearchResults, Sort};
use morgue::project::{At, Projections, Which};

use crate::support::{random_history, runtime, temp_archive};

const WAIT: Duration = Duration::from_secs(30);

fn projections(archive: &Archive) -> &Projections {
    archive.projections().expect("projectors run")
}

/// A fixed set of searches whose answers must not depend on how the index was built, hits in
/// their ranked order (`determinism.rs` also compares the scores bit for bit).
fn fixed_searches(p: &Projections) -> Vec<String> {
    let queries = [
        "harbour",
        "storm OR flood",
        "\"river flood\"",
        "council -mayor",
        "headline:bridge",
        "section:city",
        "",
    ];
    let mut answers = Vec::new();
    for q in queries {
        for at in [At::default(), At { as_of: Some("1950-06-01T00:00:00Z".parse().unwrap()), basis: None }] {
            let r = p
                .search()
                .search(&SearchRequest { query: q.into(), first: 1000, at, ..Default::default() }, &p.views())
                .expect("search");
            let ids = ids(&r);
            answers.push(format!(
                "{q:?} {at:?} -> {:?} {ids:?} {:?} {:?} {:?}",
                r.total, r.sections, r.years, r.authors
            ));
        }
    }
    answers
}

fn ids(r: &SearchResults) -> Vec<(String, u64)> {
    r.hits.iter().map(|h| (h.article.to_string(), h.version)).collect()
}

fn snapshot(p: &Projections) -> (Vec<morgue::project::views::DumpRow>, Vec<String>, Vec<String>) {
    let views = p.views();
    let dump = views.read().unwrap().dump().unwrap();
    (dump, p.search().dump().unwrap(), fixed_searches(p))
}

#[test]
fn incremental_build_equals_a_rebuild() {
    let (_dir, archive) = temp_archive();
    let seed = 0x5eed_0001 ^ std::process::id() as u64;
    eprintln!("history seed {seed}");
    random_history(&archive, seed, 400);
    let p = projections(&archive);
    p.catch_up(WAIT).unwrap();
    let incremental = snapshot(p);
    assert!(!incremental.0.is_empty() && !incremental.1.is_empty(), "the history published something");

    let mut seen = Vec::new();
    p.rebuild(Which::Views, |pos, _| seen.push(pos)).unwrap();
    p.rebuild(Which::Search, |_, _| {}).unwrap();
    assert_eq!(seen.last(), Some(&archive.store().head()), "progress reaches the head");
    let rebuilt = snapshot(p);
    assert_eq!(incremental.0, rebuilt.0, "views differ");
    assert_eq!(incremental.1, rebuilt.1, "search documents differ");
    assert_eq!(incremental.2, rebuilt.2, "search answers differ");
    let status = p.status();
    assert!(status.iter().all(|s| s.lag == 0 && s.error.is_none()), "{status:?}");
    archive.close();
}

#[test]
fn rebuild_serves_throughout_and_keeps_up_with_new_writes() {
    let (_dir, archive) = temp_archive();
    random_history(&archive, 7, 150);
    let p = projections(&archive).clone();
    p.catch_up(WAIT).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            random_history(&archive, 8, 100);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Reads keep answering while generations are rebuilt and switched.
        let reader = s.spawn(|| {
            let mut answered = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                p.search()
                    .search(
                        &SearchRequest { query: "harbour".into(), first: 5, ..Default::default() },
                        &p.views(),
                    )
                    .unwrap();
                p.views().read().unwrap().checkpoint().unwrap();
                answered += 1;
            }
            answered
        });
        p.rebuild(Which::Views, |_, _| {}).unwrap();
        p.rebuild(Which::Search, |_, _| {}).unwrap();
        assert!(reader.join().unwrap() > 0);
    });
    p.catch_up(WAIT).unwrap();
    let live = snapshot(&p);
    p.rebuild(Which::Views, |_, _| {}).unwrap();
    p.rebuild(Which::Search, |_, _| {}).unwrap();
    let rebuilt = snapshot(&p);
    assert_eq!(live.0, rebuilt.0, "views differ");
    assert_eq!(live.1, rebuilt.1, "search documents differ");
    assert_eq!(live.2, rebuilt.2, "search answers differ");
    archive.close();
}

#[test]
fn projecting_survives_sigkill_and_equals_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let open_store = || {
        morgue::store::Store::open(dir.path().join("log"), morgue::store::StoreOptions { map_size: 1 << 30 })
            .unwrap()
    };
    let mut rng = crate::support::Rng(std::process::id() as u64 | 1);
    for round in 0..4u64 {
        // New events for this round, written while no projector runs.
        random_history(&Archive::new(open_store()), 11 + round, 600);
        let kill_after = 1 + rng.below(20);
        let mut child = Process::new(env!("CARGO_BIN_EXE_morgue"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--fixtures",
                "none",
                "--map-size",
                "1073741824",
                "--projector-batch",
                "40",
                "--data",
            ])
            .arg(dir.path())
            .env("MORGUE_LOG", "morgue=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut batches = 0;
        let mut caught_up = 0;
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if line.contains("views applied")
                || line.contains("search applied")
                || line.contains("search committed")
            {
                batches += 1;
            }
            caught_up += usize::from(line.contains("caught up"));
            if batches == kill_after || caught_up == 2 {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!("round {round}: killed after {batches} batches");
    }
    let p = Projections::open(open_store(), dir.path(), 1 << 30).unwrap();
    let before = p.status();
    p.start().unwrap();
    p.catch_up(WAIT).unwrap();
    let recovered = snapshot(&p);
    p.rebuild(Which::Views, |_, _| {}).unwrap();
    p.rebuild(Which::Search, |_, _| {}).unwrap();
    assert_eq!(recovered, snapshot(&p), "recovered from {before:?}");
    p.stop();
}

struct Desk {
    archive: Archive,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        let (dir, archive) = temp_archive();
        Desk { archive, rt: runtime(), _dir: dir }
    }

    fn run(&self, command: Command) -> morgue::archive::Written {
        let w =
            self.rt.block_on(self.archive.execute(Some("desk"), command, WriteOptions::default())).unwrap();
        // Read your writes: wait until the projectors include this write.
        self.rt.block_on(projections(&self.archive).wait_for(w.position, WAIT)).unwrap();
        w
    }

    fn article(&self, headline: &str, body: &str, section: &str, publish: bool) -> ArticleId {
        let id = ArticleId::generate();
        self.run(Command::Article(
            id,
            ArticleCommand::Draft {
                slug: None,
                headline: headline.into(),
                summary: None,
                body: body.into(),
                section: section.into(),
                tags: vec![],
                language: Some("en".into()),
            },
        ));
        if publish {
            self.run(Command::Article(id, ArticleCommand::Publish));
        }
        id
    }

    fn search(&self, query: &str) -> SearchResults {
        projections(&self.archive)
            .search()
            .search(
                &SearchRequest { query: query.into(), first: 10, ..Default::default() },
                &projections(&self.archive).views(),
            )
            .unwrap()
    }
}

#[test]
fn search_behaves_as_readers_expect() {
    let desk = Desk::new();
    let keeper = desk.article(
        "Lighthouse keeper retires after forty years",
        "Agnes Pell kept the lamp burning through every storm on the point.",
        "city",
        true,
    );
    let lamps = desk.article(
        "New lamps for the harbour",
        "The council bought lamps; the lighthouse will be inspected. He retires the keeper's cottage.",
        "city",
        true,
    );
    let zeppelin = desk.article(
        "Airship over the valley",
        "A zeppelin was seen above the mill at dawn.",
        "science",
        true,
    );
    let draft =
        desk.article("Unpublished lighthouse notes", "lighthouse lighthouse lighthouse", "city", false);

    // A headline word ranks its article first; drafts are never found.
    let r = desk.search("lighthouse");
    assert_eq!(r.hits.first().map(|h| h.article), Some(keeper));
    assert_eq!(r.total, Some(2));
    assert!(r.hits.iter().all(|h| h.article != draft));
    // Stemming: "retiring" finds "retires".
    assert!(desk.search("retiring").hits.iter().any(|h| h.article == keeper));
    // A phrase matches only that phrase.
    let r = desk.search("\"keeper retires\"");
    assert_eq!(r.hits.iter().map(|h| h.article).collect::<Vec<_>>(), vec![keeper]);
    // Boolean and field syntax.
    assert_eq!(
        desk.search("lighthouse -council").hits.iter().map(|h| h.article).collect::<Vec<_>>(),
        vec![keeper]
    );
    assert_eq!(desk.search("headline:lamps").hits.iter().map(|h| h.article).collect::<Vec<_>>(), vec![lamps]);
    assert_eq!(desk.search("section:science").total, Some(1));
    // Snippets highlight the matched words and escape the rest.
    let hit = &desk.search("storm").hits[0];
    assert!(
        hit.snippets.iter().any(|s| s.field == "body" && s.html.contains("<mark>storm</mark>")),
        "{hit:?}"
    );
    let hit = &desk.search("keeper").hits.iter().find(|h| h.article == lamps).unwrap().clone();
    assert!(hit.snippets.iter().any(|s| s.html.contains("</mark>&#x27;s")), "{hit:?}");
    // Facets count every match, not just the page.
    let all = desk.search("");
    assert_eq!(all.sections, vec![("city".to_string(), 2), ("science".to_string(), 1)]);

    // A revised-away word stops matching the current text.
    desk.run(Command::Article(
        zeppelin,
        ArticleCommand::Revise {
            headline: None,
            summary: None,
            body: Some("A balloon was seen above the mill at dawn.".into()),
            section: None,
            tags: None,
            note: Some("it was a balloon".into()),
        },
    ));
    assert_eq!(desk.search("zeppelin").total, Some(0));
    assert_eq!(desk.search("balloon").total, Some(1));
    // ... but the past still has it.
    let before = projections(&desk.archive)
        .search()
        .search(
            &SearchRequest {
                query: "zeppelin".into(),
                first: 10,
                at: At { as_of: None, basis: Some(Position(desk.archive.store().head().get() - 1)) },
                ..Default::default()
            },
            &projections(&desk.archive).views(),
        )
        .unwrap();
    assert_eq!(before.total, Some(1));

    // A retracted article disappears.
    desk.run(Command::Article(keeper, ArticleCommand::Retract { reason: "wrong keeper".into() }));
    assert!(desk.search("lighthouse").hits.iter().all(|h| h.article != keeper));

    // Sort by date: newest publication first.
    let by_date = projections(&desk.archive)
        .search()
        .search(
            &SearchRequest { query: "".into(), first: 10, sort: Sort::Date, ..Default::default() },
            &projections(&desk.archive).views(),
        )
        .unwrap();
    assert_eq!(by_date.hits.first().map(|h| h.article), Some(zeppelin));

    // Author names are searchable with `author:`.
    let author = AuthorId::generate();
    desk.run(Command::Author(author, AuthorCommand::Register { name: "Ottoline Marsh".into(), bio: None }));
    desk.run(Command::Article(zeppelin, ArticleCommand::AddByline { author_id: author, role: None }));
    assert_eq!(
        desk.search("author:marsh").hits.iter().map(|h| h.article).collect::<Vec<_>>(),
        vec![zeppelin]
    );
    let r = projections(&desk.archive)
        .search()
        .search(
            &SearchRequest { query: "".into(), author_id: Some(author), first: 10, ..Default::default() },
            &projections(&desk.archive).views(),
        )
        .unwrap();
    assert_eq!(r.total, Some(1));
    assert_eq!(r.authors, vec![(author.to_string(), 1)]);
    desk.archive.close();
}

#[test]
fn views_serve_current_state_listings_and_counts() {
    let desk = Desk::new();
    let a = desk.article("Tram line opens", "The first tram ran.", "city", true);
    let b = desk.article("Tram fares rise", "Fares rose.", "city", true);
    let _draft = desk.article("Draft", "Not yet.", "city", false);
    let views = projections(&desk.archive).views();
    let r = views.read().unwrap();
    let page = r.list(&morgue::project::views::Group::Section("city".into()), None, 1).unwrap();
    assert_eq!((page.items.len(), page.has_next, page.total), (1, true, 2));
    assert_eq!(page.items[0].1, b, "newest first");
    let next =
        r.list(&morgue::project::views::Group::Section("city".into()), Some(&page.items[0].0), 5).unwrap();
    assert_eq!(next.items.iter().map(|i| i.1).collect::<Vec<_>>(), vec![a]);
    assert!(!next.has_next);
    let snap = r.article(a, At::default()).unwrap().unwrap();
    assert_eq!(snap.state.headline, "Tram line opens");
    assert_eq!(r.article_by_slug("tram-line-opens").unwrap(), Some(a));
    assert!(
        r.list(&morgue::project::views::Group::All, Some("zz"), 1).is_err(),
        "a forged cursor is refused"
    );
    desk.archive.close();
}

#[test]
fn lag_reaches_zero_after_a_burst() {
    let (_dir, archive) = temp_archive();
    let rt = runtime();
    let p = projections(&archive);
    let mut last = Position::ZERO;
    for i in 0..300 {
        let w = rt
            .block_on(archive.execute(
                None,
                Command::Author(
                    AuthorId::generate(),
                    AuthorCommand::Register { name: format!("Reporter {i}"), bio: None },
                ),
                WriteOptions::default(),
            ))
            .unwrap();
        last = w.position;
        assert!(matches!(w.entity, Entity::Author(_)));
    }
    rt.block_on(p.wait_for(last, WAIT)).unwrap();
    let status = p.status();
    assert_eq!(status.len(), 2);
    for s in status {
        assert_eq!((s.checkpoint, s.lag), (last, 0), "{s:?}");
    }
    // A position beyond the head cannot be reached: STALE after the bound.
    let err = rt.block_on(p.wait_for(Position(last.get() + 10), Duration::from_millis(50))).unwrap_err();
    assert!(matches!(err, morgue::project::Error::Stale { .. }));
    archive.close();
}
