//! The writer's rules that need no state of their own: the shape of a request, the stream
//! heads, and what an erasure writes.

use heed::{RoTxn, RwTxn};

use super::super::codec;
use super::super::wal::{Redo, Table};
use super::super::{AppendRequest, Error, Result, Tables, limits};
use super::RESTORED_FINGERPRINT;
use crate::Position;

pub(super) fn corrupt_key(stream: &str, current: Option<(u64, Position)>) -> Error {
    Error::Corrupt {
        position: current.map_or(Position::ZERO, |(_, p)| p),
        reason: format!("stream {stream} is sealed but its key is missing or damaged"),
    }
}

/// Erases a stream in the transaction of its erasure event at `position`: destroys its key,
/// marks it erased, and releases the unique values it held (a scan of the claims, which an
/// erasure can afford).
pub(super) fn erase_stream(
    t: &Tables,
    wtxn: &mut RwTxn,
    redo: &mut Redo,
    stream: &str,
    position: Position,
) -> heed::Result<()> {
    t.keys.delete(wtxn, stream)?;
    redo.delete(Table::Keys, stream.as_bytes());
    t.erased.put(wtxn, stream, &position.0)?;
    redo.put(Table::Erased, stream.as_bytes(), &position.0.to_be_bytes());
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
        redo.put(Table::Idempotency, key.as_bytes(), &value);
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
        redo.delete(Table::Claims, &key);
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

pub(super) fn into_heed(error: Error) -> heed::Error {
    match error {
        Error::Lmdb(e) => e,
        other => heed::Error::Io(std::io::Error::other(other.to_string())),
    }
}

pub(super) fn check_shape(request: &AppendRequest) -> Result<()> {
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

pub(super) fn check_name(what: &str, value: &str) -> Result<()> {
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
