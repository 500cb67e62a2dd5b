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

use chrono::Utc;
use heed::{PutFlags, RoTxn, RwTxn, WithoutTls};
use tokio::sync::{oneshot, watch};

use super::codec::{self, micros};
use super::durable::{Durability, Synced};
use super::envelope::{AppendRequest, Appended, GENESIS_HASH, Hash, RecordedEvent};
use super::seal::StreamKey;
use super::wal::{Redo, Table, Wal};
use super::{Env, Error, Result, Tables, checkpoint, limits};
use crate::Position;

mod rules;

pub(crate) use rules::stream_head;
use rules::{check_name, check_shape, corrupt_key, erase_stream, into_heed};

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

    /// Copies one stored record verbatim after checking that it continues the log exactly:
    /// position, hash chain, checksum, stream version and instants.
    fn restore(&mut self, wtxn: &mut RwTxn, record: &Restored) -> heed::Result<Result<Appended>> {
        let e = &record.event;
        let bad = |reason: String| Ok(Err(Error::Corrupt { position: e.position, reason }));
        if e.position != self.tail.next {
            return bad(format!("the log continues at position {}", self.tail.next));
        }
        for (what, name) in [("stream id", Some(&e.stream)), ("event type", Some(&e.event_type))]
            .into_iter()
            .chain([("envelope field", e.actor.as_ref()), ("idempotency key", e.idempotency_key.as_ref())])
        {
            if let Some(name) = name
                && let Err(error) = check_name(what, name)
            {
                return bad(error.to_string());
            }
        }
        for claim in &record.claims {
            if let Err(error) = check_name("claim namespace", &claim.namespace)
                .and_then(|()| check_name("claim value", &claim.value))
            {
                return bad(error.to_string());
            }
        }
        if !limits::instant_in_range(e.effective_at) || !limits::instant_in_range(e.recorded_at) {
            return bad(format!(
                "its instants are outside the years {} to {}",
                limits::MIN_YEAR,
                limits::MAX_YEAR
            ));
        }
        if e.prev_hash != self.tail.last_hash {
            return bad("its previous-hash does not match the log's last checksum".into());
        }
        let bytes = codec::encode_record(e);
        if bytes[bytes.len() - 32..] != e.checksum {
            return bad("its checksum does not match its fields".into());
        }
        let recorded_us = micros(e.recorded_at);
        if recorded_us <= self.tail.last_recorded_us {
            return bad("recorded_at does not increase".into());
        }
        if e.effective_at > e.recorded_at {
            return bad("effective_at is later than recorded_at".into());
        }
        let t = self.tables;
        // A stream erased at position 0 was erased after this log's end (a restore was told
        // so): its later records still come, keyless, until its own erasure does.
        let erased_before = t.erased.get(wtxn, &e.stream)?;
        if erased_before.is_some_and(|p| p != 0) {
            return bad(format!("stream {} was erased; nothing follows its erasure", e.stream));
        }
        let current = stream_head(&t, wtxn, &e.stream).map_err(into_heed)?;
        let actual = current.map_or(0, |(v, _)| v);
        if e.version != actual + 1 {
            return bad(format!(
                "stream {} is at version {actual}, record has version {}",
                e.stream, e.version
            ));
        }
        if let Some((_, position)) = current {
            let previous = t.events.get(wtxn, &position.0)?.and_then(|b| codec::header_of_record(b).ok());
            if previous.is_some_and(|(_, effective_at)| effective_at > e.effective_at) {
                return bad("effective_at goes back within its stream".into());
            }
        }
        for claim in &record.claims {
            let key = codec::claim_key(&claim.namespace, &claim.value);
            if let Some(holder) = t.claims.get(wtxn, &key)?
                && holder != e.stream
            {
                return Ok(Err(Error::ClaimTaken {
                    namespace: claim.namespace.clone(),
                    value: claim.value.clone(),
                    holder: holder.to_owned(),
                }));
            }
        }
        let redo = &mut self.redo;
        t.events.put_with_flags(wtxn, PutFlags::APPEND, &e.position.0, &bytes)?;
        redo.put(Table::Events, &e.position.0.to_be_bytes(), &bytes);
        let stream_key = codec::stream_key(&e.stream, e.version);
        t.streams.put(wtxn, &stream_key, &e.position.0)?;
        redo.put(Table::Streams, &stream_key, &e.position.0.to_be_bytes());
        for claim in &record.claims {
            let key = codec::claim_key(&claim.namespace, &claim.value);
            t.claims.put(wtxn, &key, &e.stream)?;
            redo.put(Table::Claims, &key, e.stream.as_bytes());
        }
        if let Some(key) = &record.key
            && erased_before.is_none()
            && t.keys.get(wtxn, &e.stream)?.is_none()
        {
            t.keys.put(wtxn, &e.stream, &key.0)?;
            redo.put(Table::Keys, e.stream.as_bytes(), &key.0);
        }
        if record.erases {
            erase_stream(&t, wtxn, redo, &e.stream, e.position)?;
        }
        if let Some(key) = &e.idempotency_key {
            // The original fingerprint is not part of the record: a restored key is extended
            // over every event it wrote, and any reuse with a new request is a CONFLICT.
            let first = match t.idempotency.get(wtxn, key)?.and_then(codec::decode_idempotency) {
                Some((_, first, last)) if last.next() == e.position => first,
                _ => e.position,
            };
            let value = codec::encode_idempotency(&RESTORED_FINGERPRINT, first, e.position);
            t.idempotency.put(wtxn, key, &value)?;
            redo.put(Table::Idempotency, key.as_bytes(), &value);
        }
        self.tail = Tail { next: e.position.next(), last_hash: e.checksum, last_recorded_us: recorded_us };
        Ok(Ok(Appended {
            stream: e.stream.clone(),
            first_position: e.position,
            last_position: e.position,
            version: e.version,
            deduplicated: false,
        }))
    }

    /// Checks one request against the log as this transaction sees it, then writes it.
    ///
    /// The outer error is LMDB failing (the batch is lost); the inner one is this request's
    /// rejection, in which case nothing of it was written.
    fn apply(&mut self, wtxn: &mut RwTxn, request: &AppendRequest) -> heed::Result<Result<Appended>> {
        if let Err(e) = check_shape(request) {
            return Ok(Err(e));
        }
        let t = self.tables;
        let fingerprint = request.effective_fingerprint();
        if let Some(key) = &request.idempotency_key
            && let Some(bytes) = t.idempotency.get(wtxn, key)?
        {
            return Ok(match codec::decode_idempotency(bytes) {
                Some((seen, first, last)) if seen == fingerprint => {
                    let version = t
                        .events
                        .get(wtxn, &last.0)?
                        .and_then(|b| codec::decode_record(b).ok())
                        .map_or(0, |e| e.version);
                    Ok(Appended {
                        stream: request.stream.clone(),
                        first_position: first,
                        last_position: last,
                        version,
                        deduplicated: true,
                    })
                }
                _ => Err(Error::IdempotencyMismatch { key: key.clone() }),
            });
        }

        let current = stream_head(&t, wtxn, &request.stream).map_err(into_heed)?;
        let actual = current.map_or(0, |(v, _)| v);
        if !request.expected.admits(actual) {
            return Ok(Err(Error::WrongVersion {
                stream: request.stream.clone(),
                expected: request.expected,
                actual,
            }));
        }
        for claim in &request.claims {
            let key = codec::claim_key(&claim.namespace, &claim.value);
            if let Some(holder) = t.claims.get(wtxn, &key)?
                && holder != request.stream
            {
                return Ok(Err(Error::ClaimTaken {
                    namespace: claim.namespace.clone(),
                    value: claim.value.clone(),
                    holder: holder.to_owned(),
                }));
            }
        }
        if t.erased.get(wtxn, &request.stream)?.is_some() {
            return Ok(Err(Error::Erased { stream: request.stream.clone() }));
        }
        // Every stream is sealed with a key of its own, made with its first event; the
        // erasure's own events are written unsealed, as its tombstone. A stream without a key
        // whose last record is unsealed was written before sealing and stays unsealed (and
        // cannot be erased: its text is in the chain); one whose last record is sealed has
        // lost its key, and takes nothing until it is given back.
        let head = match current {
            Some((_, position)) => {
                t.events.get(wtxn, &position.0)?.and_then(|b| codec::header_of_record(b).ok())
            }
            None => None,
        };
        let head_sealed = head.map(|(sealed, _)| sealed);
        let (key, new_key) = match (t.keys.get(wtxn, &request.stream)?, head_sealed) {
            (Some(bytes), _) => match StreamKey::from_slice(bytes) {
                Some(key) if !request.erase => (Some(key), false),
                Some(_) => (None, false),
                None => return Ok(Err(corrupt_key(&request.stream, current))),
            },
            (None, None) if !request.erase => (Some(StreamKey::generate().map_err(heed::Error::Io)?), true),
            (None, None) => (None, false),
            (None, Some(true)) => return Ok(Err(corrupt_key(&request.stream, current))),
            (None, Some(false)) if request.erase => {
                return Ok(Err(Error::Unsealed { stream: request.stream.clone() }));
            }
            (None, Some(false)) => (None, false),
        };
        let mut previous_effective = head.map(|(_, effective_at)| effective_at);

        // Build every record before writing any, so a rejection leaves nothing behind.
        let mut tail = self.tail;
        let mut records = Vec::with_capacity(request.events.len());
        for (i, proposed) in request.events.iter().enumerate() {
            let recorded_us = micros(Utc::now()).max(tail.last_recorded_us.saturating_add(1));
            let recorded_at = codec::from_micros(recorded_us).expect("the current instant is representable");
            let effective_at = match proposed.effective_at {
                // Stored at microsecond precision, so compare at it too.
                Some(at) => codec::from_micros(micros(at)).expect("a valid instant stays valid"),
                None => recorded_at,
            };
            if !limits::instant_in_range(effective_at) {
                return Ok(Err(Error::Invalid(format!(
                    "effective_at {effective_at} is outside the years {} to {}",
                    limits::MIN_YEAR,
                    limits::MAX_YEAR
                ))));
            }
            if effective_at > recorded_at {
                return Ok(Err(Error::EffectiveInFuture { effective: effective_at, recorded: recorded_at }));
            }
            if let Some(previous) = previous_effective
                && effective_at < previous
            {
                return Ok(Err(Error::EffectiveOutOfOrder { effective: effective_at, previous }));
            }
            previous_effective = Some(effective_at);
            let mut event = RecordedEvent {
                position: tail.next,
                stream: request.stream.clone(),
                version: actual + 1 + i as u64,
                event_type: proposed.event_type.clone(),
                schema_version: proposed.schema_version,
                recorded_at,
                effective_at,
                actor: request.actor.clone(),
                idempotency_key: request.idempotency_key.clone(),
                correlation_id: request.correlation_id.clone(),
                payload: match &key {
                    Some(key) => key.seal(tail.next, &request.stream, &proposed.payload),
                    None => proposed.payload.clone(),
                },
                sealed: key.is_some(),
                prev_hash: tail.last_hash,
                checksum: [0; 32],
            };
            let bytes = codec::encode_record(&event);
            event.checksum.copy_from_slice(&bytes[bytes.len() - 32..]);
            tail = Tail { next: tail.next.next(), last_hash: event.checksum, last_recorded_us: recorded_us };
            records.push((event.position, event.version, bytes));
        }

        let first_position = records[0].0;
        let redo = &mut self.redo;
        for (position, version, bytes) in &records {
            t.events.put_with_flags(wtxn, PutFlags::APPEND, &position.0, bytes)?;
            redo.put(Table::Events, &position.0.to_be_bytes(), bytes);
            let stream_key = codec::stream_key(&request.stream, *version);
            t.streams.put(wtxn, &stream_key, &position.0)?;
            redo.put(Table::Streams, &stream_key, &position.0.to_be_bytes());
        }
        for claim in &request.claims {
            let claim_key = codec::claim_key(&claim.namespace, &claim.value);
            t.claims.put(wtxn, &claim_key, &request.stream)?;
            redo.put(Table::Claims, &claim_key, request.stream.as_bytes());
        }
        if let (Some(key), true) = (&key, new_key) {
            t.keys.put(wtxn, &request.stream, &key.0)?;
            redo.put(Table::Keys, request.stream.as_bytes(), &key.0);
        }
        if request.erase {
            erase_stream(&t, wtxn, redo, &request.stream, first_position)?;
        }
        if let Some(key) = &request.idempotency_key {
            let value = codec::encode_idempotency(&fingerprint, first_position, tail.head());
            t.idempotency.put(wtxn, key, &value)?;
            redo.put(Table::Idempotency, key.as_bytes(), &value);
        }
        self.tail = tail;
        Ok(Ok(Appended {
            stream: request.stream.clone(),
            first_position,
            last_position: tail.head(),
            version: actual + records.len() as u64,
            deduplicated: false,
        }))
    }
}
