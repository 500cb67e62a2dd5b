//! Criterion benches for the hot paths: encode and decode of a stored event, the fold of an
//! article's history, one durable append, one point-in-time lookup, one search.
//!
//! `cargo bench --bench hot` (add `-- <filter>` for one).

use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use morgue::Position;
use morgue::archive::{Archive, ReadRequest};
use morgue::domain::events::{ArticleDrafted, ArticlePublished, ArticleRevised, Event};
use morgue::domain::{Article, ArticleId, Meta};
use morgue::store::{AppendRequest, ExpectedVersion, ProposedEvent, RecordedEvent, Store, StoreOptions};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("1851-01-01T00:00:00Z").expect("instant").to_utc()
}

fn body(n: usize) -> String {
    (0..n)
        .map(|i| ["harbour", "tide", "council", "lighthouse", "storm", "ferry"][i % 6])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A history: draft, publish, then `revisions` body revisions a week apart.
fn history(revisions: usize) -> Vec<Event> {
    let mut events = vec![
        Event::ArticleDrafted(ArticleDrafted {
            slug: "the-harbour-at-high-tide".into(),
            headline: "The harbour at high tide".into(),
            summary: None,
            body: body(600),
            section: "city".into(),
            tags: vec!["harbour".into()],
            language: Some("en".into()),
        }),
        Event::ArticlePublished(ArticlePublished {}),
    ];
    for r in 0..revisions {
        events.push(Event::ArticleRevised(ArticleRevised {
            body: Some(format!("{} revision {r}", body(600))),
            ..Default::default()
        }));
    }
    events
}

fn proposed(e: &Event, at: DateTime<Utc>) -> ProposedEvent {
    ProposedEvent {
        event_type: e.event_type().into(),
        schema_version: e.schema_version(),
        payload: e.to_payload(),
        effective_at: Some(at),
    }
}

fn codec(c: &mut Criterion) {
    let e = &history(1)[2];
    let record = RecordedEvent {
        position: Position(42),
        stream: ArticleId::generate().stream(),
        version: 3,
        event_type: e.event_type().into(),
        schema_version: e.schema_version(),
        recorded_at: Utc::now(),
        effective_at: start(),
        actor: Some("night-desk".into()),
        idempotency_key: None,
        correlation_id: None,
        payload: e.to_payload(),
        sealed: false,
        prev_hash: [7; 32],
        checksum: [0; 32],
    };
    let mut record = record;
    record.checksum = morgue::store::codec::checksum_of(&record);
    let bytes = morgue::store::codec::encode_record(&record);
    c.bench_function("encode an event (600-word revision)", |b| {
        b.iter(|| morgue::store::codec::encode_record(std::hint::black_box(&record)))
    });
    c.bench_function("decode and verify an event (600-word revision)", |b| {
        b.iter(|| morgue::store::codec::decode_record(std::hint::black_box(&bytes)).expect("decodes"))
    });
    // What sealing adds to every append and every read of that event.
    let key = morgue::store::StreamKey::generate().expect("random");
    let sealed = key.seal(record.position, &record.stream, &record.payload);
    c.bench_function("seal an event's payload (600-word revision)", |b| {
        b.iter(|| key.seal(record.position, &record.stream, std::hint::black_box(&record.payload)))
    });
    c.bench_function("open an event's payload (600-word revision)", |b| {
        b.iter(|| key.open(record.position, &record.stream, std::hint::black_box(&sealed)).expect("opens"))
    });
}

fn fold(c: &mut Criterion) {
    let id = ArticleId::generate();
    let events = history(100);
    let metas: Vec<Meta> = (0..events.len())
        .map(|i| Meta { version: i as u64 + 1, effective_at: start() + chrono::Duration::days(i as i64) })
        .collect();
    c.bench_function("fold an article's 102 events", |b| {
        b.iter(|| Article::fold(id, events.iter().zip(metas.iter().copied())).expect("an article"))
    });
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("log"), StoreOptions { map_size: 1 << 32 }).expect("store");
    let stream = morgue::domain::AuthorId::generate().stream();
    let e = Event::AuthorRegistered(morgue::domain::events::AuthorRegistered {
        name: "Ada Byron".into(),
        bio: None,
    });
    let mut version = 0;
    c.bench_function("durable append of one small event (commit + sync)", |b| {
        b.iter(|| {
            let request = AppendRequest::new(
                stream.clone(),
                if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) },
                vec![proposed(&e, Utc::now())],
            );
            version = store.append(request).expect("append").version;
        })
    });
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = Archive::open(dir.path(), 1 << 32).expect("archive");
    let id = ArticleId::generate();
    let events = history(1000);
    let step = chrono::Duration::days(60);
    let proposed: Vec<_> =
        events.iter().enumerate().map(|(i, e)| proposed(e, start() + step * i as i32)).collect();
    let mut version = 0;
    for chunk in proposed.chunks(500) {
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        version = archive
            .store()
            .append(AppendRequest::new(id.stream(), expected, chunk.to_vec()))
            .expect("append")
            .version;
    }
    archive.projections().expect("projectors").catch_up(Duration::from_secs(600)).expect("caught up");
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let as_of = start() + chrono::Duration::days(60 * 400);
    c.bench_function("article(id, asOf) on a 1,002-version history", |b| {
        b.iter(|| {
            let reading = rt
                .block_on(archive.reading(ReadRequest { as_of: Some(as_of), ..Default::default() }))
                .expect("reading");
            archive.article(&reading, id).expect("read").expect("found")
        })
    });
    c.bench_function("search, top 10, present", |b| {
        b.iter(|| {
            let reading = rt.block_on(archive.reading(ReadRequest::default())).expect("reading");
            let request = morgue::project::search::SearchRequest {
                query: "harbour tide".into(),
                first: 10,
                ..Default::default()
            };
            archive.search(&reading, request).expect("search")
        })
    });
    archive.close();
}

criterion_group! {
    name = hot;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = codec, fold, append, reads
}
criterion_main!(hot);
