//! The single writer: group commit of concurrent appends.
//!
//! Appenders send jobs over a channel. The writer takes every job waiting (up to a batch
//! limit), checks and writes them one after another in one LMDB write transaction, records
//! every table write in one write-ahead record and syncs it (one sync for the whole batch),
//! commits LMDB without a sync, then answers each job and moves the head. A job that
//! fails its checks writes nothing and does not disturb the others: every check of a job runs
//! before its first write. If LMDB itself fails, the whole batch is abandoned and every job in
//! it is told that nothing was appended.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use heed::{RoTxn, RwTxn, WithoutTls};
use tokio::sync::{oneshot, watch};

use super::codec::{self, micros};
use super::durable::{Durability, Synced};
use super::envelope::{AppendRequest, Appended, GENESIS_HASH, Hash, RecordedEvent};
use super::seal::StreamKey;
use super::wal::{Redo, Wal};
use super::{Env, Error, Result, Tables, checkpoint};
use crate::Position;

mod append;
mod rules;

pub(crate) use rules::stream_head;

/// The fingerprint recorded for idempotency keys that arrive by restore.
const RESTORED_FINGERPRINT: Hash = [0xff; 32];

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 4096;

/// What a job asks the writer to do.
pub(crate) enum Work {
    /// One append.
    One(AppendRequest),
    /// Several appends, all or nothing (an import batch).
    All(Vec<AppendRequest>),
    /// Stored records copied verbatim, all or nothing (a restore or a replica).
    Restore(Vec<Restored>),
    /// A change to the log's side tables (keys, erasures) that is not an append: it writes
    /// through the recorder it is given, so it is in the write-ahead log like any other.
    Direct(DirectWrite),
}

/// A change of [`Work::Direct`].
pub(crate) type DirectWrite = Box<dyn Fn(&Tables, &mut RwTxn, &mut Redo) -> Result<()> + Send>;

/// A record to copy verbatim, with the unique values its event takes.
#[derive(Clone, Debug)]
pub struct Restored {
    /// The record as it was stored elsewhere.
    pub event: RecordedEvent,
    /// The claims its event makes (the store cannot know them from the record).
    pub claims: Vec<super::Claim>,
    /// The stream's sealing key, when the source still has it and this log may not.
    pub key: Option<StreamKey>,
    /// Whether the event erases its stream (see [`AppendRequest::erase`]).
    pub erases: bool,
}

/// One unit of work waiting for the writer.
pub(crate) struct Job {
    pub work: Work,
    pub reply: oneshot::Sender<Result<Vec<Appended>>>,
}

/// The end of the log, as the writer tracks it between commits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tail {
    next: Position,
    last_hash: Hash,
    last_recorded_us: i64,
}

impl Tail {
    /// Reads the tail from the last stored event.
    pub fn load(tables: &Tables, rtxn: &RoTxn) -> Result<Tail> {
        match tables.events.last(rtxn)? {
            None => Ok(Tail { next: Position(1), last_hash: GENESIS_HASH, last_recorded_us: i64::MIN }),
            Some((key, bytes)) => {
                let position = Position(key);
                let event = codec::decode_record(bytes)
                    .map_err(|e| Error::Corrupt { position, reason: e.to_string() })?;
                Ok(Tail {
                    next: position.next(),
                    last_hash: event.checksum,
                    last_recorded_us: micros(event.recorded_at),
                })
            }
        }
    }

    /// The position of the last event.
    pub fn head(&self) -> Position {
        Position(self.next.0 - 1)
    }
}

/// Everything the writer thread owns.
pub(crate) struct Setup {
    pub env: Env,
    pub tables: Tables,
    pub tail: Tail,
    pub head: watch::Sender<Position>,
    pub map_size: usize,
    pub dir: PathBuf,
    /// The write-ahead log, for the owner; `None` opens the log for reading only.
    pub wal: Option<Wal>,
    /// The owner's lock, released when the writer stops.
    pub owner: Option<std::fs::File>,
    pub durability: Durability,
    /// The checkpoint on disk (transaction and generation), when LMDB still stands at it and
    /// the write-ahead log holds nothing since: opening and closing a log then writes nothing.
    pub current: Option<(u64, u64)>,
}

pub(crate) fn spawn(setup: Setup, jobs: mpsc::Receiver<Job>) -> Result<JoinHandle<()>> {
    let Setup { env, tables, tail, head, map_size, dir, wal, owner, durability, current } = setup;
    let Some(wal) = wal else {
        // Opened for reading only: every write is refused, and nothing is ever synced here.
        return Ok(std::thread::Builder::new().name("morgue-reader".into()).spawn(move || {
            for job in jobs {
                let _ = job.reply.send(Err(Error::ReadOnly));
            }
        })?);
    };
    let mut writer = Writer {
        env,
        tables,
        tail,
        head,
        map_size,
        dir,
        wal,
        _owner: owner,
        durability,
        redo: Redo::default(),
        pin: None,
        checkpointed: 0,
        since: Instant::now(),
        broken: None,
    };
    let pin = writer.env.clone().static_read_txn()?;
    match current {
        Some((txnid, generation)) if txnid == pin.id() as u64 => {
            writer.pin = Some(pin);
            writer.checkpointed = txnid;
            writer.wal.reset(generation);
        }
        _ => {
            drop(pin);
            writer.checkpoint()?;
        }
    }
    Ok(std::thread::Builder::new().name("morgue-writer".into()).spawn(move || writer.run(jobs))?)
}

struct Writer {
    env: Env,
    tables: Tables,
    tail: Tail,
    head: watch::Sender<Position>,
    map_size: usize,
    dir: PathBuf,
    wal: Wal,
    /// Held for the writer's life: this process owns the log.
    _owner: Option<std::fs::File>,
    durability: Durability,
    /// The table writes of the batch in hand.
    redo: Redo,
    /// A read transaction on the last checkpoint's snapshot: LMDB keeps its pages.
    pin: Option<RoTxn<'static, WithoutTls>>,
    /// The transaction of the last checkpoint.
    checkpointed: u64,
    since: Instant,
    /// Why the writer stopped taking writes (a commit's outcome could not be settled).
    broken: Option<String>,
}

impl Writer {
    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        let mut batch = Vec::new();
        loop {
            let first = match jobs.recv_timeout(self.durability.checkpoint_every) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.checkpoint_if_due();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
            self.checkpoint_if_due();
        }
        if self.broken.is_none()
            && self.env.clone().static_read_txn().is_ok_and(|now| now.id() as u64 != self.checkpointed)
            && let Err(error) = self.checkpoint()
        {
            tracing::error!(%error, "the last checkpoint failed; the write-ahead log still holds every commit");
        }
    }

    fn observe(&self, synced: Synced) {
        if let Some(observer) = &self.durability.observer {
            observer(synced);
        }
    }

    fn checkpoint_if_due(&mut self) {
        let written = self.wal.written();
        let due = written >= self.durability.checkpoint_bytes
            || (written > 0 && self.since.elapsed() >= self.durability.checkpoint_every);
        if due
            && self.broken.is_none()
            && let Err(error) = self.checkpoint()
        {
            tracing::error!(%error, "checkpoint failed; commits stay in the write-ahead log");
        }
    }

    /// Syncs LMDB, records its newest transaction as the checkpoint, moves the pin onto it and
    /// starts a new generation of the write-ahead log.
    fn checkpoint(&mut self) -> Result<()> {
        let pin = self.env.clone().static_read_txn()?;
        let txnid = pin.id() as u64;
        let observer = self.durability.observer.clone();
        let generation = checkpoint::take(&self.env, &self.dir, txnid, |synced| {
            if let Some(observer) = &observer {
                observer(synced);
            }
        })?;
        self.pin = Some(pin);
        self.checkpointed = txnid;
        self.wal.reset(generation);
        self.since = Instant::now();
        Ok(())
    }

    fn commit(&mut self, batch: &mut Vec<Job>) {
        if let Some(message) = &self.broken {
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(Error::WriteFailed(message.clone())));
            }
            return;
        }
        let before = self.tail;
        self.redo.clear();
        match self.write(batch) {
            Ok(answers) => {
                self.head.send_replace(self.tail.head());
                for (job, answer) in batch.drain(..).zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(error) => {
                self.tail = before;
                let message = error.to_string();
                tracing::error!(%message, jobs = batch.len(), "append batch failed; nothing written");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(Error::WriteFailed(message.clone())));
                }
            }
        }
    }

    /// Checks and writes the batch, makes it durable, and commits it. An error means nothing of
    /// the batch was written.
    fn write(&mut self, batch: &[Job]) -> Result<Vec<Result<Vec<Appended>>>> {
        let env = self.env.clone();
        let map_size = self.map_size;
        let full = move |error: heed::Error| match error {
            heed::Error::Mdb(heed::MdbError::MapFull) => Error::Full { map_size },
            other => Error::Lmdb(other),
        };
        let mut wtxn = env.write_txn().map_err(full)?;
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            let answer = match &job.work {
                Work::One(request) => self.apply(&mut wtxn, request).map_err(full)?.map(|a| vec![a]),
                Work::All(requests) => {
                    self.all_or_nothing(&env, &mut wtxn, requests, Self::apply).map_err(full)?
                }
                Work::Restore(records) => {
                    self.all_or_nothing(&env, &mut wtxn, records, Self::restore).map_err(full)?
                }
                Work::Direct(f) => {
                    let mark = self.redo.len();
                    let mut nested = env.nested_write_txn(&mut wtxn).map_err(full)?;
                    match f(&self.tables, &mut nested, &mut self.redo) {
                        Ok(()) => nested.commit().map_err(full)?,
                        Err(e) => {
                            nested.abort();
                            self.redo.truncate(mark);
                            answers.push(Err(e));
                            continue;
                        }
                    }
                    Ok(Vec::new())
                }
            };
            answers.push(answer);
        }
        if self.redo.is_empty() {
            // Nothing changed (every job was refused or a repeat): nothing to make durable.
            wtxn.abort();
            return Ok(answers);
        }
        if self.redo.overflowed() {
            // Too large for one record: committed, then made durable by a checkpoint.
            wtxn.commit().map_err(full)?;
            if let Err(error) = self.checkpoint() {
                let message = format!("a large commit could not be made durable: {error}");
                self.broken = Some(message.clone());
                return Err(Error::WriteFailed(message));
            }
            return Ok(answers);
        }
        self.wal.append(self.redo.bytes())?;
        self.observe(Synced::Wal);
        if let Err(error) = wtxn.commit() {
            // The record is durable but LMDB refused the commit: take the record back, or stop.
            if let Err(revoke) = self.wal.revoke_last() {
                let message = format!("commit failed ({error}) and could not be taken back ({revoke})");
                self.broken = Some(message.clone());
                return Err(Error::WriteFailed(message));
            }
            return Err(full(error));
        }
        Ok(answers)
    }

    /// Runs `f` in a nested transaction: kept if it answers `Ok`, rolled back (with the tail
    /// and the recorded writes) if it answers a rejection, so a batch job is all or nothing.
    fn nested<T>(
        &mut self,
        env: &Env,
        wtxn: &mut RwTxn,
        f: impl FnOnce(&mut Self, &mut RwTxn) -> heed::Result<Result<T>>,
    ) -> heed::Result<Result<T>> {
        let before = self.tail;
        let mark = self.redo.len();
        let mut nested = env.nested_write_txn(wtxn)?;
        match f(self, &mut nested)? {
            Ok(value) => {
                nested.commit()?;
                Ok(Ok(value))
            }
            Err(rejection) => {
                nested.abort();
                self.tail = before;
                self.redo.truncate(mark);
                Ok(Err(rejection))
            }
        }
    }

    /// Applies `step` to every item in one nested transaction: all are written, or none (the
    /// first refusal is reported with its index).
    fn all_or_nothing<T>(
        &mut self,
        env: &Env,
        wtxn: &mut RwTxn,
        items: &[T],
        step: impl Fn(&mut Self, &mut RwTxn, &T) -> heed::Result<Result<Appended>>,
    ) -> heed::Result<Result<Vec<Appended>>> {
        self.nested(env, wtxn, |w, txn| {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match step(w, txn, item)? {
                    Ok(a) => out.push(a),
                    Err(e) => return Ok(Err(Error::InBatch { index, source: Box::new(e) })),
                }
            }
            Ok(Ok(out))
        })
    }
}
