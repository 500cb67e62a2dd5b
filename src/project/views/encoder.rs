//! Encoding snapshots beside the fold. Serializing and compressing a version's state is most of
//! the views' work on a body-heavy log, and it needs nothing but the state. So while one thread
//! folds a large batch and writes its index rows, another encodes the states it folded, and
//! once the fold is done both encode what is left. Every state is put in the batch's own
//! transaction, before it commits.
//!
//! Rows that read or delete the states of an entity (a takedown's list of versions, an
//! erasure) first wait for every state handed over so far ([`Encoder::flush`]), so nothing is
//! read before it is written, and nothing erased is written after.

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use heed::RwTxn;

use super::snapshot::{Envelope, encode_snapshot};
use super::{Error, Result, State, Tables};

/// Batches at least this long are encoded beside the fold; a shorter one (a live write) is
/// encoded in line, as starting a thread would cost more than it saves.
pub(super) const BESIDE_FROM: usize = 64;

/// States handed over at once: one wake-up of the encoding thread per this many.
const CHUNK: usize = 32;

/// Chunks handed over and not yet taken, at most: this bounds the memory held by a batch.
const QUEUE: usize = 8;

/// One state to encode, and the key it goes under.
pub(super) struct Job {
    key: [u8; 25],
    envelope: Envelope,
    state: State,
    body_at: Option<u64>,
}

/// Encoded states, with their keys.
type Encoded = Vec<([u8; 25], Vec<u8>)>;

fn encode(jobs: Vec<Job>) -> Encoded {
    jobs.into_iter().map(|j| (j.key, encode_snapshot(&j.envelope, &j.state, j.body_at))).collect()
}

/// Where the states of one batch are encoded.
pub(super) enum Encoder {
    /// On the folding thread, at once.
    Inline,
    /// On a thread beside it, and on the folding thread when it waits.
    Beside {
        /// Chunks to encode; both threads take from it.
        jobs: Sender<Vec<Job>>,
        /// The same queue, for the folding thread to take from.
        taken: Receiver<Vec<Job>>,
        /// Chunks the encoding thread encoded.
        done: Receiver<Encoded>,
        /// States not handed over yet.
        chunk: Vec<Job>,
        /// Chunks handed over whose states are not put yet.
        outstanding: usize,
    },
}

impl Encoder {
    /// Runs `work` with an encoder for a batch of `len` events: one beside it on a scoped thread
    /// when the batch is long enough. Every state `work` handed over is in `wtxn` when this
    /// returns `Ok`.
    pub(super) fn run<R>(
        t: &Tables,
        wtxn: &mut RwTxn,
        len: usize,
        work: impl FnOnce(&mut RwTxn, &mut Encoder) -> Result<R>,
    ) -> Result<R> {
        if len < BESIDE_FROM {
            return work(wtxn, &mut Encoder::Inline);
        }
        std::thread::scope(|scope| {
            let (jobs, taken) = bounded::<Vec<Job>>(QUEUE);
            let (encoded, done) = unbounded();
            let queue = taken.clone();
            scope.spawn(move || {
                for chunk in queue {
                    if encoded.send(encode(chunk)).is_err() {
                        return;
                    }
                }
            });
            let mut encoder =
                Encoder::Beside { jobs, taken, done, chunk: Vec::with_capacity(CHUNK), outstanding: 0 };
            // On an error, dropping the encoder closes the queue, which ends the thread.
            let out = work(wtxn, &mut encoder)?;
            encoder.flush(t, wtxn)?;
            Ok(out)
        })
    }

    /// Puts `state` under `key`, now or once encoded (a copy, then).
    pub(super) fn put(
        &mut self,
        t: &Tables,
        wtxn: &mut RwTxn,
        key: [u8; 25],
        envelope: Envelope,
        state: &State,
        body_at: Option<u64>,
    ) -> Result<()> {
        match self {
            Encoder::Inline => Ok(t.states.put(wtxn, &key, &encode_snapshot(&envelope, state, body_at))?),
            Encoder::Beside { jobs, done, chunk, outstanding, .. } => {
                // Only a state encoded on the other thread is copied.
                chunk.push(Job { key, envelope, state: state.clone(), body_at });
                if chunk.len() < CHUNK {
                    return Ok(());
                }
                let full = std::mem::replace(chunk, Vec::with_capacity(CHUNK));
                match jobs.try_send(full) {
                    Ok(()) => *outstanding += 1,
                    // The encoding thread is behind: encode this chunk here rather than wait.
                    Err(TrySendError::Full(full)) => put_all(t, wtxn, encode(full))?,
                    Err(TrySendError::Disconnected(_)) => return Err(gone()),
                }
                while let Ok(encoded) = done.try_recv() {
                    put_all(t, wtxn, encoded)?;
                    *outstanding -= 1;
                }
                Ok(())
            }
        }
    }

    /// Puts every state handed over so far, encoding on this thread too while any is waiting.
    pub(super) fn flush(&mut self, t: &Tables, wtxn: &mut RwTxn) -> Result<()> {
        let Encoder::Beside { taken, done, chunk, outstanding, .. } = self else { return Ok(()) };
        if !chunk.is_empty() {
            put_all(t, wtxn, encode(std::mem::take(chunk)))?;
        }
        while let Ok(waiting) = taken.try_recv() {
            put_all(t, wtxn, encode(waiting))?;
            *outstanding -= 1;
        }
        while *outstanding > 0 {
            put_all(t, wtxn, done.recv().map_err(|_| gone())?)?;
            *outstanding -= 1;
        }
        Ok(())
    }
}

fn put_all(t: &Tables, wtxn: &mut RwTxn, encoded: Encoded) -> Result<()> {
    for (key, bytes) in encoded {
        t.states.put(wtxn, &key, &bytes)?;
    }
    Ok(())
}

fn gone() -> Error {
    Error::Event("the views' encoding thread stopped".into())
}
