//! The log: concurrency, idempotency, invariants, tampering, upcasting.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};

use chrono::{Duration, Utc};
use morgue::Position;
use morgue::domain::events::{AuthorRegistered, AuthorRenamed, Event};
use morgue::store::{self, AppendRequest, Claim, ExpectedVersion, Store, StoreOptions};

use crate::support::{proposed, raw_log, temp_store};

fn renamed(name: &str) -> Event {
    Event::AuthorRenamed(AuthorRenamed { name: name.into() })
}

fn registered(name: &str) -> Event {
    Event::AuthorRegistered(AuthorRegistered { name: name.into(), bio: None })
}

#[test]
fn concurrent_writers_on_one_stream_win_each_version_once() {
    let (_dir, store) = temp_store();
    let stream = "author-01J0000000000000000000000A";
    store
        .append(AppendRequest::new(stream, ExpectedVersion::NoStream, vec![proposed(&registered("A"))]))
        .expect("first");
    let writers = 16;
    let rounds = 25;
    let barrier = Arc::new(Barrier::new(writers));
    let wins: Vec<Vec<(u64, Position)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (store, barrier) = (store.clone(), barrier.clone());
                s.spawn(move || {
                    let mut wins = Vec::new();
                    barrier.wait();
                    for round in 0..rounds {
                        let version = store.reader().unwrap().stream_head(stream).unwrap().unwrap().0;
                        let request = AppendRequest::new(
                            stream,
                            ExpectedVersion::Exact(version),
                            vec![proposed(&renamed(&format!("w{w} r{round}")))],
                        );
                        match store.append(request) {
                            Ok(a) => wins.push((a.version, a.last_position)),
                            Err(store::Error::WrongVersion { actual, .. }) => assert!(actual > version),
                            Err(e) => panic!("unexpected error {e}"),
                        }
                    }
                    wins
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut by_version = BTreeMap::new();
    for (version, position) in wins.into_iter().flatten() {
        assert!(by_version.insert(version, position).is_none(), "version {version} won twice");
    }
    let head = store.head().get();
    // Every version from 2 to the head was won exactly once, at increasing positions.
    assert_eq!(by_version.keys().copied().collect::<Vec<_>>(), (2..=head).collect::<Vec<_>>());
    assert!(by_version.values().zip(by_version.values().skip(1)).all(|(a, b)| a < b));
    let report = store::verify(&store.reader().unwrap(), |_| {}).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, head);
}

#[test]
fn many_streams_many_writers_stay_gapless_and_verify() {
    let (_dir, store) = temp_store();
    let positions: Vec<Position> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|w| {
                let store = store.clone();
                s.spawn(move || {
                    let stream = format!("author-01J00000000000000000000{w:03}");
                    let mut out = Vec::new();
                    for i in 0..20 {
                        let event = if i == 0 { registered("x") } else { renamed(&format!("x{i}")) };
                        let a = store
                            .append(AppendRequest::new(
                                &stream,
                                ExpectedVersion::Exact(i),
                                vec![proposed(&event)],
                            ))
                            .unwrap();
                        assert_eq!(a.version, i + 1);
                        out.push(a.last_position);
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let unique: HashSet<_> = positions.iter().collect();
    assert_eq!(unique.len(), 640);
    assert_eq!(store.head(), Position(640));
    let all = store.read_all(Position::ZERO, 10_000).unwrap();
    assert_eq!(all.iter().map(|e| e.position.get()).collect::<Vec<_>>(), (1..=640).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[0].recorded_at < w[1].recorded_at));
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
}

#[test]
fn idempotency_key_replays_same_request_and_refuses_a_different_one() {
    let (_dir, store) = temp_store();
    let stream = "author-01J0000000000000000000000B";
    let mut request = AppendRequest::new(stream, ExpectedVersion::Any, vec![proposed(&registered("B"))]);
    request.idempotency_key = Some("import-line-1".into());
    let first = store.append(request.clone()).unwrap();
    assert!(!first.deduplicated);
    let again = store.append(request.clone()).unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        (again.first_position, again.last_position, again.version),
        (first.first_position, first.last_position, 1)
    );
    assert_eq!(store.head(), Position(1), "a replay appends nothing");

    let before = raw_log(&store);
    let mut different = AppendRequest::new(stream, ExpectedVersion::Any, vec![proposed(&renamed("C"))]);
    different.idempotency_key = Some("import-line-1".into());
    assert!(matches!(store.append(different), Err(store::Error::IdempotencyMismatch { .. })));
    assert_eq!(raw_log(&store), before);
}

#[test]
fn rejected_appends_leave_the_log_byte_for_byte_unchanged() {
    let (_dir, store) = temp_store();
    let a = "article-01J0000000000000000000000A";
    let b = "article-01J0000000000000000000000B";
    let mut first = AppendRequest::new(a, ExpectedVersion::NoStream, vec![proposed(&registered("x"))]);
    first.claims = vec![Claim { namespace: "slug".into(), value: "harbour".into() }];
    first.events[0].effective_at = Some(Utc::now() - Duration::days(365 * 100));
    store.append(first).unwrap();
    let before = raw_log(&store);
    let head = store.head();

    let with = |stream: &str, expected, effective: Option<chrono::DateTime<Utc>>| {
        let mut r = AppendRequest::new(stream, expected, vec![proposed(&renamed("y"))]);
        r.events[0].effective_at = effective;
        r
    };
    let mut taken = with(b, ExpectedVersion::NoStream, None);
    taken.claims = vec![Claim { namespace: "slug".into(), value: "harbour".into() }];
    type Check = fn(&store::Error) -> bool;
    let cases: Vec<(AppendRequest, Check)> = vec![
        (with(a, ExpectedVersion::Exact(7), None), |e| {
            matches!(e, store::Error::WrongVersion { actual: 1, .. })
        }),
        (with(a, ExpectedVersion::NoStream, None), |e| matches!(e, store::Error::WrongVersion { .. })),
        (with(b, ExpectedVersion::Exact(1), None), |e| {
            matches!(e, store::Error::WrongVersion { actual: 0, .. })
        }),
        (taken, |e| matches!(e, store::Error::ClaimTaken { .. })),
        (with(a, ExpectedVersion::Any, Some(Utc::now() + Duration::days(1))), |e| {
            matches!(e, store::Error::EffectiveInFuture { .. })
        }),
        (with(a, ExpectedVersion::Any, Some(Utc::now() - Duration::days(365 * 150))), |e| {
            matches!(e, store::Error::EffectiveOutOfOrder { .. })
        }),
        (AppendRequest::new(a, ExpectedVersion::Any, vec![]), |e| matches!(e, store::Error::Invalid(_))),
        (with("", ExpectedVersion::Any, None), |e| matches!(e, store::Error::Invalid(_))),
    ];
    for (request, expected) in cases {
        let err = store.append(request).expect_err("must be rejected");
        assert!(expected(&err), "unexpected error: {err}");
        assert_eq!(store.head(), head);
        assert_eq!(raw_log(&store), before);
    }
    // A batch of several events fails whole when its second event breaks the order.
    let mut batch = AppendRequest::new(
        a,
        ExpectedVersion::Exact(1),
        vec![proposed(&renamed("p")), proposed(&renamed("q"))],
    );
    batch.events[1].effective_at = Some(Utc::now() - Duration::days(365 * 120));
    assert!(store.append(batch).is_err());
    assert_eq!(raw_log(&store), before);
}

#[test]
fn recorded_instants_strictly_increase_and_effective_defaults_to_recorded() {
    let (_dir, store) = temp_store();
    let stream = "author-01J0000000000000000000000C";
    let events = (0..50).map(|i| proposed(&renamed(&format!("n{i}")))).collect();
    store.append(AppendRequest::new(stream, ExpectedVersion::Any, events)).unwrap();
    let all = store.read_stream(stream, 1, 100).unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.windows(2).all(|w| w[0].recorded_at < w[1].recorded_at));
    assert!(all.iter().all(|e| e.effective_at == e.recorded_at));
    assert_eq!(
        store.read_stream(stream, 49, 100).unwrap().iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![49, 50]
    );
}

#[test]
fn a_flipped_byte_is_found_by_verify_at_its_position() {
    let (dir, store) = temp_store();
    for i in 0..5u64 {
        let stream = format!("author-01J0000000000000000000000{i}");
        let name = if i == 3 { "NEEDLE-IN-PAYLOAD".to_owned() } else { format!("plain {i}") };
        store
            .append(AppendRequest::new(
                &stream,
                ExpectedVersion::NoStream,
                vec![proposed(&registered(&name))],
            ))
            .unwrap();
    }
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
    // Payloads are sealed: the fourth record's sealed bytes are what is on disk.
    let stored = store.reader().unwrap().stored_event(Position(4)).unwrap();
    assert!(stored.sealed && !stored.payload.windows(6).any(|w| w == b"NEEDLE"), "sealed on disk");
    let needle = stored.payload[..16].to_vec();
    drop(store);

    let copy = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(dir.path().join("log/data.mdb")).unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"NEEDLE"), "no payload is on disk in the clear");
    // LMDB copies pages on write, so stale copies of the record may sit in free pages: flip
    // the byte wherever it appears.
    let places: Vec<usize> =
        bytes.windows(16).enumerate().filter(|(_, w)| *w == needle.as_slice()).map(|(i, _)| i).collect();
    assert!(!places.is_empty(), "the sealed payload is stored verbatim");
    for at in places {
        bytes[at] ^= 0x01;
    }
    std::fs::write(copy.path().join("data.mdb"), bytes).unwrap();
    let damaged = Store::open(copy.path(), StoreOptions { map_size: 1 << 30 }).unwrap();
    let report = store::verify(&damaged.reader().unwrap(), |_| {}).unwrap();
    let problem = report.problem.expect("the flip is detected");
    assert_eq!(problem.position, Position(4));
    assert_eq!(report.events, 3, "the events before it are intact");
}

#[test]
fn a_committed_v1_store_reads_as_today_s_events() {
    // tests/fixtures/store-v1 was written by the first format: `ArticleDrafted` v1 said `title`.
    let copy = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/data.mdb");
    std::fs::copy(fixture, copy.path().join("data.mdb")).unwrap();
    let store = Store::open(copy.path(), StoreOptions { map_size: 1 << 30 }).unwrap();
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
    let archive = morgue::archive::Archive::new(store.clone());
    let id = "01HZX3QB2C8E5F7G9H1J3K4M6N".parse().unwrap();
    let (version, article) = archive.article_state(id).unwrap();
    let article = article.expect("the article folds");
    assert_eq!(version, 3);
    assert_eq!(article.headline, "Harbour ice breaks early");
    assert_eq!(article.status, morgue::domain::ArticleStatus::Published);
    assert_eq!(article.bylines.len(), 1);
    assert_eq!(article.published_at.unwrap().to_rfc3339(), "1923-05-01T12:00:00+00:00");
    let drafted = store.read_stream(&id.stream(), 1, 1).unwrap().remove(0);
    assert_eq!(drafted.schema_version, 1, "the stored payload is still v1");
}

#[test]
fn a_backup_of_a_live_store_is_consistent() {
    let (_dir, store) = temp_store();
    for i in 0..50u64 {
        store
            .append(AppendRequest::new(
                format!("author-01J00000000000000000000{i:03}"),
                ExpectedVersion::NoStream,
                vec![proposed(&registered("w"))],
            ))
            .unwrap();
    }
    let before = store.head();
    let out = tempfile::tempdir().unwrap();
    let head = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 50..300u64 {
                let stream = format!("author-01J00000000000000000000{i:03}");
                store
                    .append(AppendRequest::new(
                        stream,
                        ExpectedVersion::NoStream,
                        vec![proposed(&registered("w"))],
                    ))
                    .unwrap();
            }
        });
        store.backup(&out.path().join("log")).unwrap()
    });
    assert!(head >= before && head <= store.head());
    let copy = Store::open(out.path().join("log"), StoreOptions { map_size: 1 << 30 }).unwrap();
    let report = store::verify(&copy.reader().unwrap(), |_| {}).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.head, head);
    assert!(store.backup(&out.path().join("log")).is_err(), "a backup never overwrites");
}

/// Requests with keys and names LMDB could not hold, sent at once with honest ones so the
/// writer batches them into the same commits: each hostile one is refused on its own
/// (BAD_INPUT), and every honest one is written.
#[test]
fn a_hostile_request_never_fails_the_honest_ones_batched_with_it() {
    let (_dir, store) = temp_store();
    let hostile = |i: u64| -> AppendRequest {
        let mut r = AppendRequest::new(
            format!("author-01J00000000000000000001{i:03}"),
            ExpectedVersion::NoStream,
            vec![proposed(&registered("h"))],
        );
        match i % 4 {
            0 => r.idempotency_key = Some("k".repeat(600)),
            1 => r.idempotency_key = Some(String::new()),
            2 => r.claims = vec![Claim { namespace: "slug".into(), value: "s".repeat(600) }],
            _ => r.stream = "a".repeat(600),
        }
        r
    };
    let results: Vec<(bool, Result<store::Appended, store::Error>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64u64)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    if i % 2 == 0 {
                        (false, store.append(hostile(i / 2)))
                    } else {
                        let stream = format!("author-01J00000000000000000002{i:03}");
                        let request = AppendRequest::new(
                            stream,
                            ExpectedVersion::NoStream,
                            vec![proposed(&registered("ok"))],
                        );
                        (true, store.append(request))
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (honest, result) in results {
        match (honest, result) {
            (true, Ok(_)) => {}
            (false, Err(e @ store::Error::Invalid(_))) => {
                assert_eq!(morgue::Error::from(e).code(), "BAD_INPUT")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(store.head(), Position(32), "every honest request, and only those, was written");
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
}

#[test]
fn an_erased_stream_keeps_its_envelopes_loses_its_key_and_takes_nothing_more() {
    let (_dir, store) = temp_store();
    let stream = "author-01J00000000000000000000ERA";
    let mut first =
        AppendRequest::new(stream, ExpectedVersion::NoStream, vec![proposed(&registered("Secretname"))]);
    first.claims = vec![Claim { namespace: "handle".into(), value: "secret".into() }];
    store.append(first).unwrap();
    let read = store.read_stream(stream, 1, 10).unwrap();
    assert!(!read[0].sealed && read[0].payload.windows(10).any(|w| w == b"Secretname"), "opened on read");
    assert!(store.reader().unwrap().stored_event(Position(1)).unwrap().sealed, "sealed on disk");

    let mut erase =
        AppendRequest::new(stream, ExpectedVersion::Exact(1), vec![proposed(&renamed("tombstone"))]);
    erase.erase = true;
    store.append(erase).unwrap();
    let reader = store.reader().unwrap();
    assert_eq!(reader.key(stream).unwrap(), None, "the key is destroyed");
    assert_eq!(reader.erased().unwrap(), vec![(stream.to_owned(), Position(2))]);
    assert_eq!(reader.claim_holder("handle", "secret").unwrap(), None, "its unique values are released");
    let read = store.read_stream(stream, 1, 10).unwrap();
    assert!(read[0].sealed, "the erased event stays sealed: its envelope alone is readable");
    assert!(!read[1].sealed, "the tombstone is in the clear");
    drop(reader);
    let more =
        store.append(AppendRequest::new(stream, ExpectedVersion::Any, vec![proposed(&renamed("again"))]));
    assert!(matches!(more, Err(store::Error::Erased { .. })), "{more:?}");
    assert_eq!(store.head(), Position(2), "nothing was appended");
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok(), "the chain still verifies");
}

#[test]
fn unsealed_or_keyless_streams_refuse_what_would_leak_and_erasure_forgets_idempotent_texts() {
    let (_dir, store) = temp_store();
    let sealed_stream = "author-01J00000000000000000000SEA";
    let mut first =
        AppendRequest::new(sealed_stream, ExpectedVersion::NoStream, vec![proposed(&registered("Quill"))]);
    first.idempotency_key = Some("register-quill".into());
    store.append(first).unwrap();
    let (copy_dir, copy) = temp_store();
    // A record copied without its key (a backup cut short): the stream takes nothing more, so
    // nothing is ever written to it in the clear.
    let record = store.reader().unwrap().stored_event(Position(1)).unwrap();
    copy.restore(vec![store::Restored { event: record, claims: vec![], key: None, erases: false }]).unwrap();
    let more =
        copy.append(AppendRequest::new(sealed_stream, ExpectedVersion::Any, vec![proposed(&renamed("Q"))]));
    assert!(matches!(more, Err(store::Error::Corrupt { .. })), "{more:?}");
    drop((copy, copy_dir));

    // An unsealed stream (written before sealing) cannot be erased: its text is in the chain.
    let (_old_dir, old) = temp_store();
    let mut legacy = store.reader().unwrap().event(Position(1)).unwrap();
    legacy.checksum = store::codec::checksum_of(&legacy);
    assert!(!legacy.sealed);
    old.restore(vec![store::Restored { event: legacy, claims: vec![], key: None, erases: false }]).unwrap();
    let mut erase = AppendRequest::new(sealed_stream, ExpectedVersion::Any, vec![proposed(&renamed("x"))]);
    erase.erase = true;
    let refused = old.append(erase.clone());
    assert!(matches!(refused, Err(store::Error::Unsealed { .. })), "{refused:?}");
    assert_eq!(old.head(), Position(1), "nothing appended");

    // Erasing forgets what idempotency keys remembered of the stream's commands.
    let (seen, _, _) = store.reader().unwrap().idempotency("register-quill").unwrap().unwrap();
    assert_ne!(seen, [0xff; 32]);
    store.append(erase).unwrap();
    let (forgotten, _, _) = store.reader().unwrap().idempotency("register-quill").unwrap().unwrap();
    assert_eq!(forgotten, [0xff; 32], "the fingerprint of the text is gone");
}

#[test]
fn a_stream_a_restore_was_told_is_erased_still_takes_its_later_records_keyless() {
    let (_dir, store) = temp_store();
    let stream = "author-01J00000000000000000000LAT";
    store
        .append(AppendRequest::new(stream, ExpectedVersion::NoStream, vec![proposed(&registered("Ink"))]))
        .unwrap();
    store
        .append(AppendRequest::new(stream, ExpectedVersion::Exact(1), vec![proposed(&renamed("Inkwell"))]))
        .unwrap();
    let reader = store.reader().unwrap();
    let (first, second) =
        (reader.stored_event(Position(1)).unwrap(), reader.stored_event(Position(2)).unwrap());
    let key = reader.key(stream).unwrap();
    drop(reader);
    let (_copy_dir, copy) = temp_store();
    copy.restore(vec![store::Restored { event: first, claims: vec![], key, erases: false }]).unwrap();
    // The restore learned the stream was erased later: no key; the later record still comes.
    copy.put_keys(&[], &[stream.to_owned()]).unwrap();
    assert_eq!(copy.reader().unwrap().key(stream).unwrap(), None);
    copy.restore(vec![store::Restored { event: second, claims: vec![], key, erases: false }]).unwrap();
    assert_eq!(copy.reader().unwrap().key(stream).unwrap(), None, "the key is not given back");
    assert!(copy.read_stream(stream, 1, 10).unwrap().iter().all(|e| e.sealed), "nothing opens");
}
