//! The log: an append-only, hash-chained sequence of events in LMDB.
//!
//! The store owns positions, stream versions, instants, idempotency keys, unique claims and the
//! hash chain. It knows nothing of what an event means (that is `domain`) nor of who reads the
//! log (that is `project` and everything above it). Nothing in it is ever updated or deleted.
//!
//! Writes go through one writer thread ([`writer`]) that batches concurrent appends into one
//! LMDB transaction (group commit), made durable by one sync of a write-ahead log ([`wal`])
//! before LMDB commits it unsynced; LMDB itself is synced in the background by checkpoints
//! ([`checkpoint`]). One process owns a log and writes it ([`durable`]). Reads use LMDB read
//! transactions and never block the writer.

pub mod blobs;
mod checkpoint;
pub mod codec;
pub mod compact;
pub mod durable;
pub mod envelope;
mod open;
pub mod seal;
pub mod tables;
pub mod verify;
mod wal;
mod writer;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use heed::{RoTxn, WithoutTls};
use tokio::sync::{oneshot, watch};

pub use durable::{Durability, SyncObserver, Synced};
pub use envelope::{
    AppendRequest, Appended, Claim, ExpectedVersion, GENESIS_HASH, Hash, ProposedEvent, RecordedEvent,
};
pub use seal::StreamKey;
pub use tables::Tables;
pub use verify::{VerifyReport, verify};
pub use writer::Restored;

use crate::Position;

/// The LMDB environment type morgue uses: read transactions not tied to a thread.
pub type Env = heed::Env<WithoutTls>;

/// The default LMDB map size: 256 GiB of address space.
///
/// The map is sized so that it never runs out in practice rather than grown at run time:
/// growing an LMDB map safely needs every read transaction in the process closed, which a
/// server with long catch-up reads cannot promise. The file itself only grows as pages are
/// used, so a large map costs address space, not disk or memory. When it does fill, appends
/// fail with [`Error::Full`], which names the setting to raise (`MORGUE_MAP_SIZE`).
pub const DEFAULT_MAP_SIZE: usize = 256 << 30;

/// The store format this build writes and reads.
pub const STORE_FORMAT: u64 = 1;

/// Limits on an append, checked before anything is written.
pub mod limits {
    /// Events in one append.
    pub const MAX_EVENTS: usize = 10_000;
    /// Bytes of one event payload.
    pub const MAX_PAYLOAD: usize = 16 << 20;
    /// Bytes of a stream id, event type, actor, idempotency key, correlation id or claim.
    /// Two of them make a claim key, which must stay under LMDB's 511-byte key limit.
    pub const MAX_NAME: usize = 240;
    /// The first year an instant may fall in (the log keeps microseconds; the API and the
    /// index read years 1 to 9999, RFC 3339's four digits).
    pub const MIN_YEAR: i32 = 1;
    /// The last year an instant may fall in.
    pub const MAX_YEAR: i32 = 9999;

    /// Whether an instant lies in the years every path can read and write.
    pub fn instant_in_range(at: chrono::DateTime<chrono::Utc>) -> bool {
        use chrono::Datelike;
        (MIN_YEAR..=MAX_YEAR).contains(&at.year())
    }
}

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stream is not at the version the caller expected.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    WrongVersion {
        /// The stream.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// Its actual last version (0: the stream does not exist).
        actual: u64,
    },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// A unique value is held by another stream.
    #[error("{namespace} {value:?} is already taken by {holder}")]
    ClaimTaken {
        /// What kind of value.
        namespace: String,
        /// The value.
        value: String,
        /// The stream that holds it.
        holder: String,
    },
    /// An event would take effect after it is recorded.
    #[error(
        "effective instant {effective} is later than the recording instant {recorded}: future-dated events are not accepted"
    )]
    EffectiveInFuture {
        /// The instant asked for.
        effective: chrono::DateTime<chrono::Utc>,
        /// When the store recorded it.
        recorded: chrono::DateTime<chrono::Utc>,
    },
    /// An event would take effect before the stream's previous event.
    #[error(
        "effective instant {effective} is earlier than {previous}, when the stream's last event took effect"
    )]
    EffectiveOutOfOrder {
        /// The instant asked for.
        effective: chrono::DateTime<chrono::Utc>,
        /// The stream's last effective instant.
        previous: chrono::DateTime<chrono::Utc>,
    },
    /// The request breaks a shape rule (empty, too large, bad name).
    #[error("invalid append: {0}")]
    Invalid(String),
    /// One request of an all-or-nothing batch was refused; nothing of the batch was written.
    #[error("item {index} of the batch: {source}")]
    InBatch {
        /// Which request or record (0-based).
        index: usize,
        /// Why.
        source: Box<Error>,
    },
    /// The stream was erased: nothing more may be appended to it.
    #[error("stream {stream} was erased")]
    Erased {
        /// The stream.
        stream: String,
    },
    /// The stream was written before payloads were sealed: its text is in the hash chain, and
    /// no erasure can take it out.
    #[error(
        "stream {stream} was written before payloads were sealed: its text cannot be erased from the log"
    )]
    Unsealed {
        /// The stream.
        stream: String,
    },
    /// The LMDB map is full.
    #[error("the store is full at its map size of {map_size} bytes; restart with a larger MORGUE_MAP_SIZE")]
    Full {
        /// The current map size.
        map_size: usize,
    },
    /// A stored record is damaged or out of place.
    #[error("corrupt log at position {position}: {reason}")]
    Corrupt {
        /// Where.
        position: Position,
        /// What is wrong.
        reason: String,
    },
    /// The store on disk has a format this build does not read.
    #[error("store format {found} is not supported (this build reads format {STORE_FORMAT})")]
    Format {
        /// The format found.
        found: u64,
    },
    /// A batch failed in LMDB; nothing of it was written.
    #[error("the write failed and nothing was appended: {0}")]
    WriteFailed(String),
    /// LMDB failed.
    #[error("LMDB: {0}")]
    Lmdb(#[from] heed::Error),
    /// The file system failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The writer thread has stopped (the store is closing).
    #[error("the store is closed")]
    Closed,
    /// This process opened the log for reading ([`Store::open_reader`]): it writes nothing.
    #[error("the log was opened for reading only; writes go through the process that owns it")]
    ReadOnly,
    /// Another process owns the log and writes it.
    #[error("the log in {dir} is owned by another process (see {dir}/owner.lock); stop it first")]
    Owned {
        /// The log's directory.
        dir: PathBuf,
    },
}

/// A `Result` with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// LMDB map size in bytes ([`DEFAULT_MAP_SIZE`] unless set).
    pub map_size: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { map_size: DEFAULT_MAP_SIZE }
    }
}

/// A handle on the log; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    env: Env,
    tables: Tables,
    path: PathBuf,
    map_size: usize,
    jobs: Option<mpsc::Sender<writer::Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    head: watch::Sender<Position>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish the batch in hand and stop.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store {
    /// This log's own random salt, for hashes that must not be guessable from outside it (the
    /// idempotency keys an import derives from a line's content).
    pub fn salt(&self) -> Result<[u8; 32]> {
        let rtxn = self.inner.env.read_txn()?;
        let bytes = self.inner.tables.meta.get(&rtxn, "salt")?.unwrap_or(&[0; 32]);
        Ok(bytes.try_into().unwrap_or([0; 32]))
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The blob store beside the log (`blobs/` in the data directory that holds it).
    pub fn blobs(&self) -> blobs::Blobs {
        blobs::Blobs::at(self.inner.path.parent().unwrap_or(Path::new(".")).join("blobs"))
    }

    /// The LMDB environment (for `project`, which keeps nothing in it, and for backups).
    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// The configured map size.
    pub fn map_size(&self) -> usize {
        self.inner.map_size
    }

    /// The position of the last committed event.
    pub fn head(&self) -> Position {
        *self.inner.head.borrow()
    }

    /// A receiver that sees the head move after every commit: how readers wake on append.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.inner.head.subscribe()
    }

    fn submit(&self, work: writer::Work) -> Result<oneshot::Receiver<Result<Vec<Appended>>>> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.inner.jobs.as_ref().ok_or(Error::Closed)?;
        jobs.send(writer::Job { work, reply }).map_err(|_| Error::Closed)?;
        Ok(answer)
    }

    fn one(answer: Result<Vec<Appended>>) -> Result<Appended> {
        answer?.pop().ok_or(Error::Closed)
    }

    /// Appends events to one stream, all or nothing, durable before it returns.
    ///
    /// Blocks the calling thread; from async code use [`Store::append_async`].
    pub fn append(&self, request: AppendRequest) -> Result<Appended> {
        Self::one(self.submit(writer::Work::One(request))?.blocking_recv().map_err(|_| Error::Closed)?)
    }

    /// [`Store::append`] for async callers: waits without blocking a runtime thread.
    pub async fn append_async(&self, request: AppendRequest) -> Result<Appended> {
        Self::one(self.submit(writer::Work::One(request))?.await.map_err(|_| Error::Closed)?)
    }

    /// Appends several requests (to any streams) in one transaction, all or nothing: a refused
    /// request is reported as [`Error::InBatch`] with its index, and nothing is written.
    pub fn append_all(&self, requests: Vec<AppendRequest>) -> Result<Vec<Appended>> {
        self.submit(writer::Work::All(requests))?.blocking_recv().map_err(|_| Error::Closed)?
    }

    /// [`Store::append_all`] without waiting: the answer comes from [`Later::wait`], so the
    /// caller can prepare the next batch while this one commits.
    pub fn append_all_later(&self, requests: Vec<AppendRequest>) -> Result<Later> {
        Ok(Later(self.submit(writer::Work::All(requests))?))
    }

    /// [`Store::restore`] without waiting (see [`Store::append_all_later`]).
    pub fn restore_later(&self, records: Vec<Restored>) -> Result<Later> {
        Ok(Later(self.submit(writer::Work::Restore(records))?))
    }

    /// Copies records from another log verbatim (same positions, instants and hash chain),
    /// all or nothing. Each must continue this log exactly.
    pub fn restore(&self, records: Vec<Restored>) -> Result<Vec<Appended>> {
        self.submit(writer::Work::Restore(records))?.blocking_recv().map_err(|_| Error::Closed)?
    }

    /// Writes a consistent copy of the log (as of one read transaction, while appends go on)
    /// into the directory `dest`, compacted, synced. Returns the copy's head position.
    pub fn backup(&self, dest: &Path) -> Result<Position> {
        std::fs::create_dir_all(dest)?;
        let target = dest.join("data.mdb");
        if target.exists() {
            return Err(Error::Invalid(format!(
                "{} already exists; back up into an empty directory",
                target.display()
            )));
        }
        let file = self.inner.env.copy_to_path(&target, heed::CompactionOption::Enabled)?;
        file.sync_all()?;
        drop(file);
        let copy = Store::open(dest, StoreOptions { map_size: self.inner.map_size })?;
        let head = copy.head();
        Ok(head)
    }

    /// Removes every stream key from this log and returns them: a backup keeps its keys in a
    /// file of their own, apart from the log (run [`compact::compact`] after, so the freed
    /// pages do not keep them).
    pub fn take_keys(&self) -> Result<Vec<(String, StreamKey)>> {
        let keys = self.reader()?.keys()?;
        let streams: Vec<String> = keys.iter().map(|(stream, _)| stream.clone()).collect();
        self.direct(Box::new(move |t, wtxn, redo| {
            for stream in &streams {
                t.keys.delete(wtxn, stream)?;
                redo.delete(wal::Table::Keys, stream.as_bytes());
            }
            Ok(())
        }))?;
        Ok(keys)
    }

    /// Gives back stream keys a backup kept apart, except those of the streams in `erased`,
    /// which are marked erased (after this log's end: at position 0) so nothing more is
    /// appended to them. Returns how many keys were put.
    pub fn put_keys(&self, keys: &[(String, StreamKey)], erased: &[String]) -> Result<usize> {
        let keys = keys.to_vec();
        let erased = erased.to_vec();
        let put = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = put.clone();
        self.direct(Box::new(move |t, wtxn, redo| {
            let dropped: std::collections::HashSet<&String> = erased.iter().collect();
            let mut n = 0;
            for (stream, key) in &keys {
                if !dropped.contains(stream) && t.erased.get(wtxn, stream)?.is_none() {
                    t.keys.put(wtxn, stream, &key.0)?;
                    redo.put(wal::Table::Keys, stream.as_bytes(), &key.0);
                    n += 1;
                }
            }
            for stream in &erased {
                if t.erased.get(wtxn, stream)?.is_none() {
                    t.keys.delete(wtxn, stream)?;
                    redo.delete(wal::Table::Keys, stream.as_bytes());
                    t.erased.put(wtxn, stream, &0)?;
                    redo.put(wal::Table::Erased, stream.as_bytes(), &0u64.to_be_bytes());
                }
            }
            counted.store(n, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(put.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Runs a change to the side tables on the writer, durably.
    fn direct(&self, change: writer::DirectWrite) -> Result<()> {
        self.submit(writer::Work::Direct(change))?.blocking_recv().map_err(|_| Error::Closed)??;
        Ok(())
    }

    /// A consistent read view of the log as of now.
    pub fn reader(&self) -> Result<LogReader<'_>> {
        Ok(LogReader { txn: self.inner.env.read_txn()?, tables: &self.inner.tables })
    }

    /// Up to `limit` events after position `after`, in order, opened (see
    /// [`LogReader::event`]).
    pub fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.reader()?.events_after(after)?.take(limit).collect()
    }

    /// Up to `limit` events after position `after`, in order, as stored (sealed payloads
    /// stay sealed): what a replica or a restore copies.
    pub fn read_all_stored(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.reader()?.stored_after(after)?.take(limit).collect()
    }

    /// Up to `limit` events of `stream` from version `from` on, in order.
    pub fn read_stream(&self, stream: &str, from: u64, limit: usize) -> Result<Vec<RecordedEvent>> {
        let reader = self.reader()?;
        let mut out = Vec::new();
        for position in reader.stream_positions(stream, from)?.take(limit) {
            out.push(reader.event(position?)?);
        }
        Ok(out)
    }
}

/// A batch submitted to the writer whose answer has not been read yet.
pub struct Later(oneshot::Receiver<Result<Vec<Appended>>>);

impl Later {
    /// Blocks until the batch is committed (or refused).
    pub fn wait(self) -> Result<Vec<Appended>> {
        self.0.blocking_recv().map_err(|_| Error::Closed)?
    }
}

/// A consistent snapshot of the log (one LMDB read transaction).
pub struct LogReader<'s> {
    txn: RoTxn<'s, WithoutTls>,
    tables: &'s Tables,
}

impl LogReader<'_> {
    /// The last position in this snapshot.
    pub fn head(&self) -> Result<Position> {
        Ok(Position(self.tables.events.last(&self.txn)?.map_or(0, |(k, _)| k)))
    }

    /// The event at `position`, opened: a sealed payload is given in the clear, unless its
    /// stream was erased, in which case the event comes back still `sealed` (a tombstone of
    /// envelope alone). [`Error::Corrupt`] when it is missing or damaged.
    pub fn event(&self, position: Position) -> Result<RecordedEvent> {
        self.open(self.stored_event(position)?)
    }

    /// The event at `position` as stored.
    pub fn stored_event(&self, position: Position) -> Result<RecordedEvent> {
        let bytes = self
            .tables
            .events
            .get(&self.txn, &position.0)?
            .ok_or_else(|| Error::Corrupt { position, reason: "no event at this position".into() })?;
        decode_at(position, bytes)
    }

    /// Every event after `after`, in position order, opened (see [`LogReader::event`]).
    pub fn events_after(&self, after: Position) -> Result<impl Iterator<Item = Result<RecordedEvent>> + '_> {
        Ok(self.stored_after(after)?.map(|event| self.open(event?)))
    }

    /// Every event after `after`, in position order, as stored.
    pub fn stored_after(&self, after: Position) -> Result<impl Iterator<Item = Result<RecordedEvent>> + '_> {
        let start = after.0.saturating_add(1);
        let iter = self.tables.events.range(&self.txn, &(start..))?;
        Ok(iter.map(|entry| {
            let (key, bytes) = entry?;
            decode_at(Position(key), bytes)
        }))
    }

    /// Opens a stored event's sealed payload with its stream's key; an erased stream's event
    /// is given back still sealed.
    pub fn open(&self, mut event: RecordedEvent) -> Result<RecordedEvent> {
        if !event.sealed {
            return Ok(event);
        }
        let Some(key) = self.key(&event.stream)? else { return Ok(event) };
        event.payload = key
            .open(event.position, &event.stream, &event.payload)
            .map_err(|e| Error::Corrupt { position: event.position, reason: e.to_string() })?;
        event.sealed = false;
        Ok(event)
    }

    /// A stream's sealing key; `None` for a stream erased, unsealed or unknown.
    pub fn key(&self, stream: &str) -> Result<Option<StreamKey>> {
        match self.tables.keys.get(&self.txn, stream)? {
            None => Ok(None),
            Some(bytes) => StreamKey::from_slice(bytes).map(Some).ok_or_else(|| Error::Corrupt {
                position: Position::ZERO,
                reason: format!("the key of stream {stream} is damaged"),
            }),
        }
    }

    /// Every stream erased, with the position of its erasure, in stream order.
    pub fn erased(&self) -> Result<Vec<(String, Position)>> {
        self.tables
            .erased
            .iter(&self.txn)?
            .map(|entry| entry.map(|(s, p)| (s.to_owned(), Position(p))).map_err(Error::from))
            .collect()
    }

    /// Every stream key, in stream order (for backups, which keep them apart from the log).
    pub fn keys(&self) -> Result<Vec<(String, StreamKey)>> {
        let mut out = Vec::new();
        for entry in self.tables.keys.iter(&self.txn)? {
            let (stream, bytes) = entry?;
            let key = StreamKey::from_slice(bytes).ok_or_else(|| Error::Corrupt {
                position: Position::ZERO,
                reason: format!("the key of stream {stream} is damaged"),
            })?;
            out.push((stream.to_owned(), key));
        }
        Ok(out)
    }

    /// The streams of the events after `after`, at most `limit` of them, in position order:
    /// read from the records' headers alone (no payload is copied).
    pub fn streams_after(&self, after: Position, limit: usize) -> Result<Vec<String>> {
        self.raw_after(after)?
            .take(limit)
            .map(|entry| {
                let (position, bytes) = entry?;
                codec::stream_of_record(bytes).map_err(|e| Error::Corrupt { position, reason: e.to_string() })
            })
            .collect()
    }

    /// The raw stored records after `after`: position and bytes, undecoded.
    pub fn raw_after(&self, after: Position) -> Result<impl Iterator<Item = Result<(Position, &[u8])>> + '_> {
        let start = after.0.saturating_add(1);
        let iter = self.tables.events.range(&self.txn, &(start..))?;
        Ok(iter.map(|entry| entry.map(|(k, v)| (Position(k), v)).map_err(Error::from)))
    }

    /// The positions of `stream`'s events from version `from` on, in version order.
    pub fn stream_positions(
        &self,
        stream: &str,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<Position>> + '_> {
        let start = codec::stream_key(stream, from.max(1));
        let end = codec::stream_key(stream, u64::MAX);
        let iter = self
            .tables
            .streams
            .range(&self.txn, &(Bound::Included(start.as_slice()), Bound::Included(end.as_slice())))?;
        Ok(iter.map(|entry| entry.map(|(_, p)| Position(p)).map_err(Error::from)))
    }

    /// The ids of the streams whose id starts with `prefix` (`article-`), in id order, each
    /// once: one seek per stream, whatever their lengths.
    pub fn streams(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut from = Bound::Included(prefix.as_bytes().to_vec());
        loop {
            let range = (from.as_ref().map(Vec::as_slice), Bound::Unbounded);
            let Some(entry) = self.tables.streams.range(&self.txn, &range)?.next() else { break };
            let (key, position) = entry?;
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let (stream, _) = codec::split_stream_key(key).ok_or_else(|| Error::Corrupt {
                position: Position(position),
                reason: "a streams key without a version".into(),
            })?;
            out.push(stream.to_owned());
            // Past this stream's last possible key: its id, the 0 byte, the largest version.
            from = Bound::Excluded(codec::stream_key(stream, u64::MAX));
        }
        Ok(out)
    }

    /// The stream's last version and its position; `None` when the stream does not exist.
    pub fn stream_head(&self, stream: &str) -> Result<Option<(u64, Position)>> {
        writer::stream_head(self.tables, &self.txn, stream)
    }

    /// The stream holding a unique value, if any.
    pub fn claim_holder(&self, namespace: &str, value: &str) -> Result<Option<String>> {
        let key = codec::claim_key(namespace, value);
        Ok(self.tables.claims.get(&self.txn, &key)?.map(str::to_owned))
    }

    /// What an idempotency key wrote: its fingerprint and first and last positions.
    pub fn idempotency(&self, key: &str) -> Result<Option<(Hash, Position, Position)>> {
        match self.tables.idempotency.get(&self.txn, key)? {
            None => Ok(None),
            Some(bytes) => codec::decode_idempotency(bytes).map(Some).ok_or_else(|| Error::Corrupt {
                position: Position::ZERO,
                reason: format!("idempotency record for {key:?} is damaged"),
            }),
        }
    }

    /// The tables and transaction, for [`verify`].
    pub(crate) fn parts(&self) -> (&Tables, &RoTxn<'_, WithoutTls>) {
        (self.tables, &self.txn)
    }
}

fn decode_at(position: Position, bytes: &[u8]) -> Result<RecordedEvent> {
    let event =
        codec::decode_record(bytes).map_err(|e| Error::Corrupt { position, reason: e.to_string() })?;
    if event.position != position {
        return Err(Error::Corrupt {
            position,
            reason: format!("record claims position {}", event.position),
        });
    }
    Ok(event)
}
