//! Helpers shared by the integration tests.

use morgue::Position;
use morgue::domain::events::Event;
use morgue::store::{ProposedEvent, Store, StoreOptions};

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("log"), StoreOptions { map_size: 1 << 30 }).expect("open store");
    (dir, store)
}

/// A domain event as the store would be asked to append it.
pub fn proposed(event: &Event) -> ProposedEvent {
    ProposedEvent {
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.to_payload(),
        effective_at: None,
    }
}

/// Every stored record, raw: what "the log is unchanged" compares.
pub fn raw_log(store: &Store) -> Vec<(Position, Vec<u8>)> {
    let reader = store.reader().expect("reader");
    reader
        .raw_after(Position::ZERO)
        .expect("iterate")
        .map(|r| r.map(|(p, b)| (p, b.to_vec())))
        .collect::<Result<_, _>>()
        .expect("read")
}

/// An archive with projectors running, in a fresh temporary directory.
pub fn temp_archive() -> (tempfile::TempDir, morgue::archive::Archive) {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = morgue::archive::Archive::open(dir.path(), 1 << 30).expect("open archive");
    (dir, archive)
}

/// A current-thread runtime with timers, for driving async APIs from tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime")
}

/// A small deterministic random generator (xorshift64*), so failures print a seed to replay.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "harbour",
    "council",
    "election",
    "railway",
    "lighthouse",
    "storm",
    "bridge",
    "mayor",
    "strike",
    "market",
    "influenza",
    "school",
    "theatre",
    "river",
    "flood",
    "harvest",
    "telegraph",
    "zeppelin",
    "parliament",
    "mill",
    "cathedral",
    "steamship",
    "orchard",
    "library",
    "tram",
    "museum",
    "quarry",
    "regatta",
    "census",
    "comet",
];

/// A few random words.
pub fn words(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

/// Writes a random history through the archive: authors registered and renamed, articles
/// drafted, revised, published, corrected, retracted, bylines added and removed, with effective
/// instants spread from 1851 to 2020. Commands the domain refuses are part of the test too.
pub fn random_history(archive: &morgue::archive::Archive, seed: u64, steps: usize) {
    use morgue::archive::WriteOptions;
    use morgue::domain::{ArticleCommand, ArticleId, AuthorCommand, AuthorId, Command};
    let rt = runtime();
    let mut rng = Rng(seed | 1);
    let mut authors: Vec<AuthorId> = Vec::new();
    let mut articles: Vec<ArticleId> = Vec::new();
    let start = chrono::DateTime::parse_from_rfc3339("1851-01-01T00:00:00Z").unwrap().to_utc();
    let span = chrono::Duration::days(365 * 169);
    for step in 0..steps {
        let effective_at = start + span * (step as i32) / (steps as i32);
        let roll = rng.below(100);
        let command = if authors.is_empty() || roll < 8 {
            let id = AuthorId::generate();
            authors.push(id);
            Command::Author(
                id,
                AuthorCommand::Register { name: format!("{} {}", words(&mut rng, 1), step), bio: None },
            )
        } else if roll < 12 {
            Command::Author(*rng.pick(&authors), AuthorCommand::Rename { name: format!("Renamed {step}") })
        } else if articles.is_empty() || roll < 30 {
            let id = ArticleId::generate();
            articles.push(id);
            Command::Article(
                id,
                ArticleCommand::Draft {
                    slug: None,
                    headline: words(&mut rng, 3),
                    summary: None,
                    body: words(&mut rng, 20),
                    section: rng.pick(&["city", "politics", "science", "sport"]).to_string(),
                    tags: vec![words(&mut rng, 1)],
                    language: Some("en".into()),
                },
            )
        } else {
            let id = *rng.pick(&articles);
            let cmd = match rng.below(8) {
                0 | 1 => ArticleCommand::Publish,
                2 | 3 => ArticleCommand::Revise {
                    headline: (rng.below(2) == 0).then(|| words(&mut rng, 3)),
                    summary: None,
                    body: Some(words(&mut rng, 20)),
                    section: None,
                    tags: None,
                    note: Some("update".into()),
                },
                4 => ArticleCommand::AddByline { author_id: *rng.pick(&authors), role: None },
                5 => ArticleCommand::RemoveByline { author_id: *rng.pick(&authors) },
                6 => ArticleCommand::AppendCorrection { text: words(&mut rng, 6) },
                _ => ArticleCommand::Retract { reason: words(&mut rng, 4) },
            };
            Command::Article(id, cmd)
        };
        let options = WriteOptions { effective_at: Some(effective_at), ..Default::default() };
        let _ = rt.block_on(archive.execute(Some("generator"), command, options));
    }
}
