//! The single writer: group commit of concurrent appends.
//!
//! Appenders send jobs over a channel. The writer takes every job waiting (up to a batch
//! limit), checks and writes them one after another in one LMDB write transaction, commits
//! once (one sync for the whole batch), then answers each job and moves the head. A job that
//! fails its checks writes nothing and does not disturb the others: every check of a job runs
//! before its first write. If LMDB itself fails, the whole batch is abandoned and every job in
//! it is told that nothing was appended.

use std::sync::mpsc;
use std::thread::JoinHandle;

use chrono::Utc;
use heed::{PutFlags, RoTxn, RwTxn};
use tokio::sync::{oneshot, watch};

use super::codec::{self, micros};
use super::envelope::{AppendRequest, Appended, GENESIS_HASH, Hash, RecordedEvent};
use super::seal::StreamKey;
use super::{Env, Error, Result, Tables, limits};
use crate::Position;

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
}

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

pub(crate) fn spawn(
    env: Env,
    tables: Tables,
    tail: Tail,
    jobs: mpsc::Receiver<Job>,
    head: watch::Sender<Position>,
    map_size: usize,
) -> Result<JoinHandle<()>> {
    let writer = Writer { env, tables, tail, head, map_size };
    Ok(std::thread::Builder::new().name("morgue-writer".into()).spawn(move || writer.run(jobs))?)
}

struct Writer {
    env: Env,
    tables: Tables,
    tail: Tail,
    head: watch::Sender<Position>,
    map_size: usize,
}

impl Writer {
    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        let mut batch = Vec::new();
        while let Ok(first) = jobs.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn commit(&mut self, batch: &mut Vec<Job>) {
        let before = self.tail;
        let env = self.env.clone();
        let outcome = (|| -> heed::Result<Vec<Result<Vec<Appended>>>> {
            let mut wtxn = env.write_txn()?;
            let mut answers = Vec::with_capacity(batch.len());
            for job in batch.iter() {
                let answer = match &job.work {
                    Work::One(request) => self.apply(&mut wtxn, request)?.map(|a| vec![a]),
                    Work::All(requests) => self.all_or_nothing(&env, &mut wtxn, requests, Self::apply)?,
                    Work::Restore(records) => self.all_or_nothing(&env, &mut wtxn, records, Self::restore)?,
                };
                answers.push(answer);
            }
            wtxn.commit()?;
            Ok(answers)
        })();
        match outcome {
            Ok(answers) => {
                self.head.send_replace(self.tail.head());
                for (job, answer) in batch.drain(..).zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(error) => {
                self.tail = before;
                let message = match error {
                    heed::Error::Mdb(heed::MdbError::MapFull) => {
                        Error::Full { map_size: self.map_size }.to_string()
                    }
                    other => other.to_string(),
                };
                tracing::error!(%message, jobs = batch.len(), "append batch failed; nothing written");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(Error::WriteFailed(message.clone())));
                }
            }
        }
    }

    /// Runs `f` in a nested transaction: kept if it answers `Ok`, rolled back (with the tail)
    /// if it answers a rejection, so a batch job is all or nothing.
    fn nested<T>(
        &mut self,
        env: &Env,
        wtxn: &mut RwTxn,
        f: impl FnOnce(&mut Self, &mut RwTxn) -> heed::Result<Result<T>>,
    ) -> heed::Result<Result<T>> {
        let before = self.tail;
        let mut nested = env.nested_write_txn(wtxn)?;
        match f(self, &mut nested)? {
            Ok(value) => {
                nested.commit()?;
                Ok(Ok(value))
            }
            Err(rejection) => {
                nested.abort();
                self.tail = before;
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
        t.events.put_with_flags(wtxn, PutFlags::APPEND, &e.position.0, &bytes)?;
        t.streams.put(wtxn, &codec::stream_key(&e.stream, e.version), &e.position.0)?;
        for claim in &record.claims {
            t.claims.put(wtxn, &codec::claim_key(&claim.namespace, &claim.value), &e.stream)?;
        }
        if let Some(key) = &record.key
            && erased_before.is_none()
            && t.keys.get(wtxn, &e.stream)?.is_none()
        {
            t.keys.put(wtxn, &e.stream, &key.0)?;
        }
        if record.erases {
            erase_stream(&t, wtxn, &e.stream, e.position)?;
        }
        if let Some(key) = &e.idempotency_key {
            // The original fingerprint is not part of the record: a restored key is extended
            // over every event it wrote, and any reuse with a new request is a CONFLICT.
            let first = match t.idempotency.get(wtxn, key)?.and_then(codec::decode_idempotency) {
                Some((_, first, last)) if last.next() == e.position => first,
                _ => e.position,
            };
            t.idempotency.put(
                wtxn,
                key,
                &codec::encode_idempotency(&RESTORED_FINGERPRINT, first, e.position),
            )?;
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
        let t = &self.tables;
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

        let current = stream_head(t, wtxn, &request.stream).map_err(into_heed)?;
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
        for (position, version, bytes) in &records {
            t.events.put_with_flags(wtxn, PutFlags::APPEND, &position.0, bytes)?;
            t.streams.put(wtxn, &codec::stream_key(&request.stream, *version), &position.0)?;
        }
        for claim in &request.claims {
            t.claims.put(wtxn, &codec::claim_key(&claim.namespace, &claim.value), &request.stream)?;
        }
        if let (Some(key), true) = (&key, new_key) {
            t.keys.put(wtxn, &request.stream, &key.0)?;
        }
        if request.erase {
            erase_stream(t, wtxn, &request.stream, first_position)?;
        }
        if let Some(key) = &request.idempotency_key {
            let value = codec::encode_idempotency(&fingerprint, first_position, tail.head());
            t.idempotency.put(wtxn, key, &value)?;
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

fn corrupt_key(stream: &str, current: Option<(u64, Position)>) -> Error {
    Error::Corrupt {
        position: current.map_or(Position::ZERO, |(_, p)| p),
        reason: format!("stream {stream} is sealed but its key is missing or damaged"),
    }
}

/// Erases a stream in the transaction of its erasure event at `position`: destroys its key,
/// marks it erased, and releases the unique values it held (a scan of the claims, which an
/// erasure can afford).
fn erase_stream(t: &Tables, wtxn: &mut RwTxn, stream: &str, position: Position) -> heed::Result<()> {
    t.keys.delete(wtxn, stream)?;
    t.erased.put(wtxn, stream, &position.0)?;
    // What idempotency keys of the stream remember of its commands (a hash of their text) is
    // forgotten too: a retry with a guessed text can no longer be told from any other.
    let mut remembered = Vec::new();
    for entry in t.idempotency.iter(wtxn)? {
        let (key, value) = entry?;
        if let Some((fingerprint, first, last)) = codec::decode_idempotency(value)
            && fingerprint != RESTORED_FINGERPRINT
            && let Some(record) = t.events.get(wtxn, &first.0)?
            && codec::stream_of_record(record).is_ok_and(|s| s == stream)
        {
            remembered.push((key.to_owned(), codec::encode_idempotency(&RESTORED_FINGERPRINT, first, last)));
        }
    }
    for (key, value) in remembered {
        t.idempotency.put(wtxn, &key, &value)?;
    }
    let held: Vec<Vec<u8>> = t
        .claims
        .iter(wtxn)?
        .filter_map(|entry| entry.ok())
        .filter(|(_, holder)| *holder == stream)
        .map(|(key, _)| key.to_vec())
        .collect();
    for key in held {
        t.claims.delete(wtxn, &key)?;
    }
    Ok(())
}

/// A stream's last version and its position, in one seek.
pub(crate) fn stream_head(tables: &Tables, txn: &RoTxn, stream: &str) -> Result<Option<(u64, Position)>> {
    let key = codec::stream_key(stream, u64::MAX);
    match tables.streams.get_lower_than_or_equal_to(txn, &key)? {
        Some((found, position)) => match codec::split_stream_key(found) {
            Some((s, version)) if s == stream => Ok(Some((version, Position(position)))),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

fn into_heed(error: Error) -> heed::Error {
    match error {
        Error::Lmdb(e) => e,
        other => heed::Error::Io(std::io::Error::other(other.to_string())),
    }
}

fn check_shape(request: &AppendRequest) -> Result<()> {
    let invalid = |m: String| Err(Error::Invalid(m));
    if request.events.is_empty() {
        return invalid("an append needs at least one event".into());
    }
    if request.events.len() > limits::MAX_EVENTS {
        return invalid(format!(
            "{} events in one append, limit is {}",
            request.events.len(),
            limits::MAX_EVENTS
        ));
    }
    check_name("stream id", &request.stream)?;
    for name in [&request.actor, &request.idempotency_key, &request.correlation_id].into_iter().flatten() {
        check_name("envelope field", name)?;
    }
    for claim in &request.claims {
        check_name("claim namespace", &claim.namespace)?;
        if claim.value.len() > limits::MAX_NAME {
            return invalid(format!(
                "claim value is {} bytes, limit is {}",
                claim.value.len(),
                limits::MAX_NAME
            ));
        }
    }
    for event in &request.events {
        check_name("event type", &event.event_type)?;
        if event.payload.len() > limits::MAX_PAYLOAD {
            return invalid(format!(
                "{} payload is {} bytes, limit is {}",
                event.event_type,
                event.payload.len(),
                limits::MAX_PAYLOAD
            ));
        }
    }
    Ok(())
}

fn check_name(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::Invalid(format!("{what} is empty")));
    }
    if value.len() > limits::MAX_NAME {
        return Err(Error::Invalid(format!(
            "{what} is {} bytes, limit is {}",
            value.len(),
            limits::MAX_NAME
        )));
    }
    if value.contains('\0') {
        return Err(Error::Invalid(format!("{what} contains a NUL character")));
    }
    Ok(())
}
