//! What sealing costs: every payload of the corpus sealed with a stream key and opened again,
//! in process, timed apart from everything else. The rows give it per event and as a share of
//! the import and of the views rebuild measured in the same run (which seal and open each
//! event once).

use std::time::{Duration, Instant};

use morgue::Position;
use morgue::store::StreamKey;

use super::corpus::Corpus;

/// Time to seal every payload, and to open every sealed one (each sealed payload is dropped as
/// soon as it is made, as an append does, so the timing is the cipher's and not the memory's).
pub fn measure(corpus: &Corpus) -> anyhow::Result<(Duration, Duration)> {
    let key = StreamKey::generate()?;
    let started = Instant::now();
    let mut sealed_bytes = 0;
    for (i, e) in corpus.events.iter().enumerate() {
        sealed_bytes +=
            std::hint::black_box(key.seal(Position(i as u64 + 1), &e.stream, e.payload.as_bytes())).len();
    }
    let seal = started.elapsed();
    anyhow::ensure!(sealed_bytes > 0 || corpus.events.is_empty(), "nothing sealed");
    let sealed: Vec<Vec<u8>> = corpus
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| key.seal(Position(i as u64 + 1), &e.stream, e.payload.as_bytes()))
        .collect();
    let started = Instant::now();
    let mut bytes = 0;
    for (i, (e, s)) in corpus.events.iter().zip(&sealed).enumerate() {
        bytes += key.open(Position(i as u64 + 1), &e.stream, s).map_err(|e| anyhow::anyhow!("{e}"))?.len();
    }
    let open = started.elapsed();
    anyhow::ensure!(
        bytes == corpus.events.iter().map(|e| e.payload.len()).sum::<usize>(),
        "opened other bytes"
    );
    Ok((seal, open))
}
