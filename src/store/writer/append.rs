//! What one request writes: a new append checked against its stream ([`Writer::apply`]), or
//! a stored record copied verbatim after checking that it continues the log
//! ([`Writer::restore`]).

use chrono::Utc;
use heed::{PutFlags, RwTxn};

use super::super::codec::{self, micros};
use super::super::envelope::{AppendRequest, Appended, RecordedEvent};
use super::super::seal::StreamKey;
use super::super::wal::Table;
use super::super::{Error, Result, limits};
use super::rules::{check_name, check_shape, corrupt_key, erase_stream, into_heed, stream_head};
use super::{RESTORED_FINGERPRINT, Restored, Tail, Writer};

impl Writer {
    /// Copies one stored record verbatim after checking that it continues the log exactly:
    /// position, hash chain, checksum, stream version and instants.
    pub(super) fn restore(&mut self, wtxn: &mut RwTxn, record: &Restored) -> heed::Result<Result<Appended>> {
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
    pub(super) fn apply(
        &mut self,
        wtxn: &mut RwTxn,
        request: &AppendRequest,
    ) -> heed::Result<Result<Appended>> {
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
