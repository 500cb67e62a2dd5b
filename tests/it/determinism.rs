//! The same log gives the same search answers, to the bit: hits, order, scores, snippets,
//! facets and totals, whatever segments the index happens to have. Checked before and after a
//! rebuild and across a restart here; between a writer and its replicas in `replicate.rs`.

use std::time::Duration;

use morgue::Position;
use morgue::archive::Archive;
use morgue::project::search::{SearchRequest, Sort};
use morgue::project::{At, Projections, Which};

use crate::support::{random_history, temp_archive};

const WAIT: Duration = Duration::from_secs(60);

const QUERIES: &[&str] = &[
    "harbour",
    "storm OR flood OR harbour OR council",
    "\"river flood\"",
    "council -mayor",
    "headline:bridge",
    "section:city",
    "",
];

/// Every answer of a fixed mix, as text that keeps each score's every bit.
fn answers(p: &Projections) -> Vec<String> {
    let head = p.store().head().get();
    answers_at(
        p,
        &[
            At::default(),
            At { as_of: Some("1950-06-01T00:00:00Z".parse().unwrap()), basis: None },
            At { as_of: Some("1990-01-01T00:00:00Z".parse().unwrap()), basis: None },
            At { as_of: None, basis: Some(Position(head / 2)) },
        ],
    )
}

/// The mix's answers at each of `instants`.
fn answers_at(p: &Projections, instants: &[At]) -> Vec<String> {
    let mut out = Vec::new();
    for query in QUERIES {
        for &at in instants {
            for sort in [Sort::Relevance, Sort::Date] {
                for (offset, first) in [(0, 20), (5, 3)] {
                    let request = SearchRequest {
                        query: (*query).into(),
                        first,
                        offset,
                        sort,
                        at,
                        ..Default::default()
                    };
                    let r = p.search().search(&request, &p.views()).expect("search");
                    let hits: Vec<String> = r
                        .hits
                        .iter()
                        .map(|h| {
                            format!("{} v{} {:08x} {:?}", h.article, h.version, h.score.to_bits(), h.snippets)
                        })
                        .collect();
                    out.push(format!(
                        "{query:?} {at:?} {sort:?} {offset}+{first} -> {:?} {hits:?} {:?} {:?} {:?}",
                        r.total, r.sections, r.years, r.authors
                    ));
                }
            }
        }
    }
    out
}

fn projections(archive: &Archive) -> &Projections {
    archive.projections().expect("projectors run")
}

#[test]
fn the_same_log_answers_alike_after_a_rebuild_and_a_restart() {
    let (dir, archive) = temp_archive();
    // Few articles, many steps: many revisions, corrections, retractions and bylines each.
    random_history(&archive, 0xd5e7_0015, 900);
    let p = projections(&archive);
    p.catch_up(WAIT).unwrap();
    let incremental = answers(p);
    let scored = incremental.iter().filter(|a| a.contains("Relevance") && a.contains(" v")).count();
    assert!(scored > 20, "the mix finds scored hits: {incremental:#?}");

    p.rebuild(Which::Search, |_, _| {}).unwrap();
    let rebuilt = answers(p);
    for (a, b) in incremental.iter().zip(&rebuilt) {
        assert_eq!(a, b, "a rebuild changed an answer");
    }
    assert_eq!(incremental.len(), rebuilt.len());

    archive.close();
    drop(archive);
    let archive = Archive::open(dir.path(), 1 << 30).expect("reopen");
    let p = projections(&archive);
    p.catch_up(WAIT).unwrap();
    let restarted = answers(p);
    for (a, b) in incremental.iter().zip(&restarted) {
        assert_eq!(a, b, "a restart changed an answer");
    }
    archive.close();
}

#[test]
fn a_node_further_ahead_answers_a_past_basis_as_a_node_that_stopped_there() {
    let (_ahead_dir, ahead) = temp_archive();
    random_history(&ahead, 0xd5e7_0016, 700);
    let p = projections(&ahead);
    p.catch_up(WAIT).unwrap();
    let basis = ahead.store().head().get() * 2 / 3;

    // A second node holding the log only up to `basis`: the same events, restored verbatim.
    let mut export = Vec::new();
    morgue::transfer::export(ahead.store(), Position::ZERO, &mut export, |_| {}).unwrap();
    let lines: Vec<String> =
        String::from_utf8(export).unwrap().lines().take(basis as usize).map(str::to_owned).collect();
    let (_behind_dir, behind) = temp_archive();
    morgue::archive::import(behind.store(), lines.into_iter().map(Ok), 500, |_| {}).unwrap();
    let q = projections(&behind);
    q.catch_up(WAIT).unwrap();
    assert_eq!(behind.store().head().get(), basis);

    let at =
        |as_of: Option<&str>| At { as_of: as_of.map(|t| t.parse().unwrap()), basis: Some(Position(basis)) };
    let instants = [at(None), at(Some("1950-06-01T00:00:00Z")), at(Some("1990-01-01T00:00:00Z"))];
    let (far, near) = (answers_at(p, &instants), answers_at(q, &instants));
    assert!(far.iter().filter(|a| a.contains(" v")).count() > 20, "the mix finds hits: {far:#?}");
    for (a, b) in far.iter().zip(&near) {
        assert_eq!(a, b, "the node further ahead answered the past basis differently");
    }
    ahead.close();
    behind.close();
}
