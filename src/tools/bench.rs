//! Measurements an operator can run on their own disk: durable append rate, and the disk's own
//! sync rate measured the same way (the limit group commit works against).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::domain::AuthorId;
use crate::domain::events::{AuthorRegistered, AuthorRenamed, Event};
use crate::store::{AppendRequest, ExpectedVersion, ProposedEvent, Store};

/// What a timed run measured.
#[derive(Clone, Debug)]
pub struct Rate {
    /// Operations completed.
    pub ops: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Median latency of one operation.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl Rate {
    /// Operations per second.
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The rate and percentiles of operations that took `latencies`, in `elapsed` wall time.
    pub fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Rate {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Rate { ops: latencies.len() as u64, elapsed, p50: at(0.50), p99: at(0.99) }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ops in {:.2}s = {:.0}/s (p50 {:.2} ms, p99 {:.2} ms)",
            self.ops,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// Durable appends of one small event each, from `writers` threads, each on its own author
/// stream, for `duration` (or forever when `duration` is `None`). With `acks`, every
/// acknowledged position is printed to standard output as `ack <position>` the moment the
/// append returns: what the crash test checks after killing the process.
pub fn append(store: &Store, writers: usize, duration: Option<Duration>, acks: bool) -> crate::Result<Rate> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let results: Vec<crate::Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers.max(1))
            .map(|w| {
                let stop = stop.clone();
                scope.spawn(move || {
                    let id = AuthorId::generate();
                    let mut latencies = Vec::new();
                    let mut version = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if duration.is_some_and(|d| started.elapsed() >= d) {
                            break;
                        }
                        let event = if version == 0 {
                            Event::AuthorRegistered(AuthorRegistered {
                                name: format!("Writer {w}"),
                                bio: None,
                            })
                        } else {
                            Event::AuthorRenamed(AuthorRenamed { name: format!("Writer {w} #{version}") })
                        };
                        let request = AppendRequest::new(
                            id.stream(),
                            ExpectedVersion::Exact(version),
                            vec![ProposedEvent {
                                event_type: event.event_type().into(),
                                schema_version: event.schema_version(),
                                payload: event.to_payload(),
                                effective_at: None,
                            }],
                        );
                        let t = Instant::now();
                        let appended = store.append(request)?;
                        latencies.push(t.elapsed());
                        version = appended.version;
                        if acks {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ack {}", appended.last_position)
                                .map_err(crate::store::Error::from)?;
                            out.flush().map_err(crate::store::Error::from)?;
                        }
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("bench writer thread panicked")).collect()
    });
    let elapsed = started.elapsed();
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(Rate::from_latencies(all, elapsed))
}

/// The disk's own durable write rate: a small record written and `fdatasync`ed, repeatedly, in
/// a file under `dir`, for `duration`. One LMDB commit costs two such syncs.
pub fn sync(dir: &Path, duration: Duration) -> std::io::Result<Rate> {
    let path = dir.join(format!("morgue-sync-bench-{}", std::process::id()));
    let mut file = OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
    let record = [0x5au8; 64];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Rate::from_latencies(latencies, elapsed))
}

/// Publish-to-searchable delay: drafts and publishes `count` articles one after another through
/// the archive and measures, for each, the time from the publish being acknowledged to the
/// search index having committed it (what a reader's search sees).
pub fn searchable(archive: &crate::archive::Archive, count: usize) -> crate::Result<Rate> {
    use crate::archive::WriteOptions;
    use crate::domain::{ArticleCommand, ArticleId, Command};
    let projections = archive.projections().ok_or_else(|| crate::Error::BadInput("no projectors".into()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(crate::store::Error::from)?;
    let mut latencies = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        let id = ArticleId::generate();
        let draft = ArticleCommand::Draft {
            slug: None,
            headline: format!("Bench article {i}"),
            summary: None,
            body: format!("Body of bench article {i}, about the harbour and the tide."),
            section: "bench".into(),
            tags: vec![],
            language: None,
        };
        rt.block_on(archive.execute(Some("bench"), Command::Article(id, draft), WriteOptions::default()))?;
        let written = rt.block_on(archive.execute(
            Some("bench"),
            Command::Article(id, ArticleCommand::Publish),
            WriteOptions::default(),
        ))?;
        let t = Instant::now();
        rt.block_on(projections.wait_for(written.position, Duration::from_secs(30)))?;
        latencies.push(t.elapsed());
    }
    Ok(Rate::from_latencies(latencies, started.elapsed()))
}

/// What [`time_travel`] measured.
#[derive(Debug)]
pub struct TimeTravel {
    /// `article(asOf)` on an article with 1 revision.
    pub short: Rate,
    /// `article(asOf)` on an article with `revisions` revisions.
    pub long: Rate,
    /// `article` (now) on an article with 1 revision.
    pub short_now: Rate,
    /// `article` (now) on an article with `revisions` revisions.
    pub long_now: Rate,
    /// A search of the present.
    pub search_now: Rate,
    /// The same search as of a past instant.
    pub search_past: Rate,
}

/// Point-in-time reads on a short and a long history, and search with and without `asOf`,
/// in process (no HTTP), on a scratch archive.
pub fn time_travel(
    archive: &crate::archive::Archive,
    revisions: usize,
    reads: usize,
) -> crate::Result<TimeTravel> {
    use crate::archive::{ReadRequest, Reading};
    use crate::domain::ArticleId;
    use crate::domain::events::{ArticleDrafted, ArticlePublished, ArticleRevised, Event};
    use crate::store::{AppendRequest, ExpectedVersion, ProposedEvent};
    let projections = archive.projections().ok_or_else(|| crate::Error::BadInput("no projectors".into()))?;
    let start =
        chrono::DateTime::parse_from_rfc3339("1851-01-01T00:00:00Z").expect("a valid instant").to_utc();
    let proposed = |event: &Event, at: chrono::DateTime<chrono::Utc>| ProposedEvent {
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.to_payload(),
        effective_at: Some(at),
    };
    let mut ids = Vec::new();
    for (n, count) in [(0u64, 1usize), (1, revisions)] {
        let id = ArticleId::generate();
        let draft = Event::ArticleDrafted(ArticleDrafted {
            slug: format!("time-travel-bench-{n}-{id}").to_lowercase(),
            headline: "The harbour at high tide".into(),
            summary: None,
            body: "The tide came in over the harbour wall.".into(),
            section: "bench".into(),
            tags: vec![],
            language: None,
        });
        let publish = Event::ArticlePublished(ArticlePublished {});
        let mut events = vec![proposed(&draft, start), proposed(&publish, start)];
        let step = chrono::Duration::days(175 * 365) / (count as i32).max(1);
        for r in 0..count {
            let revised = Event::ArticleRevised(ArticleRevised {
                body: Some(format!("The tide came in over the harbour wall, revision {r}.")),
                ..Default::default()
            });
            events.push(proposed(&revised, start + step * (r as i32 + 1)));
        }
        let mut version = 0;
        for chunk in events.chunks(1000) {
            let appended = archive.store().append(AppendRequest::new(
                id.stream(),
                ExpectedVersion::Exact(version),
                chunk.to_vec(),
            ))?;
            version = appended.version;
        }
        ids.push(id);
    }
    projections.catch_up(Duration::from_secs(600))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(crate::store::Error::from)?;
    let mut seed = 0x5eedu64;
    let mut instant = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        start + chrono::Duration::days((seed % (175 * 365)) as i64)
    };
    let mut measure = |id: ArticleId, past: bool| -> crate::Result<Rate> {
        let mut latencies = Vec::with_capacity(reads);
        let began = Instant::now();
        for _ in 0..reads {
            let request = ReadRequest { as_of: past.then(&mut instant), ..Default::default() };
            let t = Instant::now();
            let reading: Reading = rt.block_on(archive.reading(request))?;
            let found = archive.article(&reading, id)?;
            latencies.push(t.elapsed());
            std::hint::black_box(found);
        }
        Ok(Rate::from_latencies(latencies, began.elapsed()))
    };
    let short = measure(ids[0], true)?;
    let long = measure(ids[1], true)?;
    let short_now = measure(ids[0], false)?;
    let long_now = measure(ids[1], false)?;
    let search = |as_of: Option<chrono::DateTime<chrono::Utc>>| -> crate::Result<Rate> {
        let mut latencies = Vec::with_capacity(reads);
        let began = Instant::now();
        for _ in 0..reads {
            let t = Instant::now();
            let reading = rt.block_on(archive.reading(ReadRequest { as_of, ..Default::default() }))?;
            let request = crate::project::search::SearchRequest {
                query: "harbour tide".into(),
                first: 10,
                ..Default::default()
            };
            std::hint::black_box(archive.search(&reading, request)?);
            latencies.push(t.elapsed());
        }
        Ok(Rate::from_latencies(latencies, began.elapsed()))
    };
    let search_now = search(None)?;
    let search_past = search(Some(start + chrono::Duration::days(100 * 365)))?;
    Ok(TimeTravel { short, long, short_now, long_now, search_now, search_past })
}
