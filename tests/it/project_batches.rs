//! Views built from large batches (states encoded on a thread beside the fold) equal views
//! built one event at a time, through takedowns and erasures in the middle of a batch.

use std::time::Duration;

use morgue::archive::{Archive, WriteOptions};
use morgue::domain::{ArticleCommand, ArticleId, Command, Lifecycle};
use morgue::project::views::DumpRow;
use morgue::project::{Projections, Which};

use crate::support::{random_history, runtime, temp_archive};

const WAIT: Duration = Duration::from_secs(60);

fn run(archive: &Archive, id: ArticleId, command: ArticleCommand) {
    runtime()
        .block_on(archive.execute(Some("desk"), Command::Article(id, command), WriteOptions::default()))
        .expect("write");
}

fn revise(archive: &Archive, id: ArticleId, body: &str) {
    let revise = ArticleCommand::Revise {
        headline: None,
        summary: None,
        body: Some(body.into()),
        section: None,
        tags: None,
        note: None,
    };
    run(archive, id, revise);
}

/// A published article with `revisions` revisions, the last ones written just now.
fn story(archive: &Archive, word: &str, revisions: usize) -> ArticleId {
    let id = ArticleId::generate();
    let draft = ArticleCommand::Draft {
        slug: None,
        headline: format!("The {word} story"),
        summary: None,
        body: format!("{word} ").repeat(200),
        section: "city".into(),
        tags: vec![],
        language: Some("en".into()),
    };
    run(archive, id, draft);
    run(archive, id, ArticleCommand::Publish);
    for n in 0..revisions {
        revise(archive, id, &format!("{word} revised {n} ").repeat(120));
    }
    id
}

fn rebuilt_views(p: &Projections, batch: usize) -> Vec<DumpRow> {
    p.set_batch(batch);
    p.rebuild(Which::Views, |_, _| {}).expect("rebuild");
    p.views().read().unwrap().dump().unwrap()
}

fn rows_of(dump: &[DumpRow], table: &str, id: ArticleId) -> Vec<DumpRow> {
    let id = id.0.to_bytes();
    dump.iter().filter(|(t, k, _)| t == table && k.windows(16).any(|w| w == id)).cloned().collect()
}

#[test]
fn views_from_large_batches_equal_views_event_by_event_through_takedowns_and_erasures() {
    let (_dir, archive) = temp_archive();
    random_history(&archive, 0xba7c4, 120);
    let held = story(&archive, "quayside", 5);
    run(&archive, held, ArticleCommand::TakeDown { reason: "a court order".into(), legal_reference: None });
    revise(&archive, held, "after the order");
    let erased = story(&archive, "zebrafinch", 6);
    run(&archive, erased, ArticleCommand::Lifecycle(Lifecycle::Erase { reason: "a request".into() }));
    random_history(&archive, 0xba7c5, 80);
    let p = archive.projections().expect("projectors run");
    p.catch_up(WAIT).unwrap();
    let head = archive.store().head().get();
    assert!(head > 100, "a batch of the whole log is encoded beside the fold ({head} events)");

    let one_by_one = rebuilt_views(p, 1);
    let batched = rebuilt_views(p, 2000);
    assert!(one_by_one.len() > 100, "{} rows", one_by_one.len());
    assert_eq!(one_by_one.len(), batched.len(), "the same rows");
    assert!(one_by_one == batched, "views built in large batches differ from views built event by event");

    // What the batch had to get right: the takedown lists every version of the article, the
    // ones encoded beside the fold included. And the erased article left nothing.
    assert!(rows_of(&batched, "states", erased).is_empty(), "an erased article's states were written back");
    let states = rows_of(&batched, "states", held).len();
    let takedown = rows_of(&batched, "takedowns", held);
    assert_eq!(states, 9, "draft, publication, five revisions, takedown and one more revision");
    assert_eq!(takedown.len(), 1);
    assert_eq!(takedown[0].2.len(), 8 * states, "the takedown lists every version");
    archive.close();
}
