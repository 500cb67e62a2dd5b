//! Byte layouts of everything the store writes: event records and composite keys.
//!
//! An event record, all integers big-endian:
//!
//! ```text
//! format u8 = 1 | position u64 | version u64 | recorded_at i64 µs | effective_at i64 µs
//! | schema_version u16 | stream str16 | event_type str16 | actor opt16 | idempotency_key opt16
//! | correlation_id opt16 | payload u32 len + bytes | prev_hash [32] | checksum [32]
//! ```
//!
//! Format 1 holds the payload as given; format 2 is the same layout with the payload sealed
//! with the stream's key (see [`super::seal`]).
//!
//! `str16` is a u16 length and UTF-8 bytes; `opt16` is a presence byte then a `str16`. The
//! checksum is BLAKE3 of every byte before it, `prev_hash` included, so one digest both detects
//! a damaged record and links the hash chain.

use chrono::{DateTime, Utc};

use super::envelope::{Hash, RecordedEvent};
use crate::Position;

/// The record format of an unsealed payload.
pub const RECORD_FORMAT: u8 = 1;

/// The record format of a sealed payload.
pub const SEALED_FORMAT: u8 = 2;

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The record ends before a field does.
    #[error("record truncated while reading {0}")]
    Truncated(&'static str),
    /// The format byte is not one this build reads.
    #[error("unknown record format {0}")]
    UnknownFormat(u8),
    /// A text field is not UTF-8.
    #[error("field {0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// An instant is outside what chrono represents.
    #[error("field {0} is not a valid instant")]
    BadInstant(&'static str),
    /// Bytes follow the checksum.
    #[error("{0} unexpected bytes after the checksum")]
    Trailing(usize),
    /// The stored checksum does not match the record's bytes.
    #[error("checksum mismatch")]
    Checksum,
}

/// Converts an instant to the stored microseconds since the Unix epoch.
pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Converts stored microseconds back to an instant.
pub fn from_micros(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// The record's bytes without the trailing checksum, and the checksum over them.
pub fn encode_record(event: &RecordedEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + event.payload.len() + event.stream.len());
    out.push(if event.sealed { SEALED_FORMAT } else { RECORD_FORMAT });
    out.extend_from_slice(&event.position.0.to_be_bytes());
    out.extend_from_slice(&event.version.to_be_bytes());
    out.extend_from_slice(&micros(event.recorded_at).to_be_bytes());
    out.extend_from_slice(&micros(event.effective_at).to_be_bytes());
    out.extend_from_slice(&event.schema_version.to_be_bytes());
    put_str(&mut out, &event.stream);
    put_str(&mut out, &event.event_type);
    put_opt(&mut out, event.actor.as_deref());
    put_opt(&mut out, event.idempotency_key.as_deref());
    put_opt(&mut out, event.correlation_id.as_deref());
    out.extend_from_slice(&(event.payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&event.payload);
    out.extend_from_slice(&event.prev_hash);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

/// The checksum a record's fields produce: what [`encode_record`] would write.
pub fn checksum_of(event: &RecordedEvent) -> Hash {
    let bytes = encode_record(event);
    let mut checksum = [0; 32];
    checksum.copy_from_slice(&bytes[bytes.len() - 32..]);
    checksum
}

/// A record's fixed-size header: its format and envelope words, everything before the stream.
struct Header {
    sealed: bool,
    position: Position,
    version: u64,
    recorded_at: DateTime<Utc>,
    effective_at: DateTime<Utc>,
    schema_version: u16,
}

/// Reads the fixed header of a record (the format first, which must be known).
fn header(r: &mut Reader<'_>) -> Result<Header, DecodeError> {
    let format = r.u8("format")?;
    if format != RECORD_FORMAT && format != SEALED_FORMAT {
        return Err(DecodeError::UnknownFormat(format));
    }
    Ok(Header {
        sealed: format == SEALED_FORMAT,
        position: Position(r.u64("position")?),
        version: r.u64("version")?,
        recorded_at: r.instant("recorded_at")?,
        effective_at: r.instant("effective_at")?,
        schema_version: r.u16("schema_version")?,
    })
}

/// The stream a stored record belongs to, read from its header alone: no payload is copied
/// and the checksum is not checked (for listings of streams, never for content).
pub fn stream_of_record(bytes: &[u8]) -> Result<String, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    header(&mut r)?;
    r.string("stream")
}

/// Whether a stored record is sealed, and its effective instant, read from its header alone:
/// no payload is copied and the checksum is not checked. For the writer's checks on a stream's
/// last record, which the same log wrote and whose checksum the chain carries.
pub fn header_of_record(bytes: &[u8]) -> Result<(bool, DateTime<Utc>), DecodeError> {
    let h = header(&mut Reader { bytes, at: 0 })?;
    Ok((h.sealed, h.effective_at))
}

/// Decodes a record and checks its checksum.
pub fn decode_record(bytes: &[u8]) -> Result<RecordedEvent, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let Header { sealed, position, version, recorded_at, effective_at, schema_version } = header(&mut r)?;
    let stream = r.string("stream")?;
    let event_type = r.string("event_type")?;
    let actor = r.opt("actor")?;
    let idempotency_key = r.opt("idempotency_key")?;
    let correlation_id = r.opt("correlation_id")?;
    let payload_len = r.u32("payload")? as usize;
    let payload = r.take(payload_len, "payload")?.to_vec();
    let prev_hash = r.hash("prev_hash")?;
    let body_end = r.at;
    let checksum = r.hash("checksum")?;
    if r.at != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - r.at));
    }
    if blake3::hash(&bytes[..body_end]).as_bytes() != &checksum {
        return Err(DecodeError::Checksum);
    }
    Ok(RecordedEvent {
        position,
        stream,
        version,
        event_type,
        schema_version,
        recorded_at,
        effective_at,
        actor,
        idempotency_key,
        correlation_id,
        payload,
        sealed,
        prev_hash,
        checksum,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Lengths are checked before anything is encoded (see `Limits` in the writer).
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Truncated(field))?;
        let slice = self.bytes.get(self.at..end).ok_or(DecodeError::Truncated(field))?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn instant(&mut self, field: &'static str) -> Result<DateTime<Utc>, DecodeError> {
        let us = i64::from_be_bytes(self.array(field)?);
        from_micros(us).ok_or(DecodeError::BadInstant(field))
    }

    fn hash(&mut self, field: &'static str) -> Result<Hash, DecodeError> {
        self.array(field)
    }

    fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.u16(field)? as usize;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::NotUtf8(field))
    }

    fn opt(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        match self.u8(field)? {
            0 => Ok(None),
            _ => self.string(field).map(Some),
        }
    }
}

/// Key of the `streams` table: the stream id, a 0 byte, then the version big-endian, so that a
/// stream's versions sort together and in order, and no stream id is a prefix of another's keys.
pub fn stream_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 9);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Splits a `streams` key back into stream id and version.
pub fn split_stream_key(key: &[u8]) -> Option<(&str, u64)> {
    if key.len() < 9 || key[key.len() - 9] != 0 {
        return None;
    }
    let (stream, rest) = key.split_at(key.len() - 9);
    let version = u64::from_be_bytes(rest[1..].try_into().ok()?);
    Some((std::str::from_utf8(stream).ok()?, version))
}

/// Key of the `claims` table: namespace, a 0 byte, value.
pub fn claim_key(namespace: &str, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(namespace.len() + value.len() + 1);
    key.extend_from_slice(namespace.as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    key
}

/// Value of the `idempotency` table: the request fingerprint and the positions it wrote.
pub fn encode_idempotency(fingerprint: &Hash, first: Position, last: Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(&first.0.to_be_bytes());
    out.extend_from_slice(&last.0.to_be_bytes());
    out
}

/// Decodes an `idempotency` value.
pub fn decode_idempotency(bytes: &[u8]) -> Option<(Hash, Position, Position)> {
    if bytes.len() != 48 {
        return None;
    }
    let fingerprint: Hash = bytes[..32].try_into().ok()?;
    let first = u64::from_be_bytes(bytes[32..40].try_into().ok()?);
    let last = u64::from_be_bytes(bytes[40..48].try_into().ok()?);
    Some((fingerprint, Position(first), Position(last)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(payload: Vec<u8>, actor: Option<String>, stream: String, us: i64) -> RecordedEvent {
        let sealed = us % 2 == 0;
        let mut e = RecordedEvent {
            position: Position(7),
            stream,
            version: 3,
            event_type: "ArticleRevised".into(),
            schema_version: 1,
            recorded_at: from_micros(us.abs()).expect("in range"),
            effective_at: from_micros(-us.abs()).expect("in range"),
            actor,
            idempotency_key: None,
            correlation_id: Some("c".into()),
            payload,
            sealed,
            prev_hash: [9; 32],
            checksum: [0; 32],
        };
        e.checksum = checksum_of(&e);
        e
    }

    proptest! {
        #[test]
        fn records_round_trip(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            actor in proptest::option::of("[a-zé ]{0,20}"),
            stream in "[a-z]{1,8}-[0-9A-Z]{1,26}",
            us in 0i64..4_000_000_000_000_000,
        ) {
            let e = event(payload, actor, stream, us);
            let bytes = encode_record(&e);
            prop_assert_eq!(header_of_record(&bytes), Ok((e.sealed, e.effective_at)));
            prop_assert_eq!(decode_record(&bytes), Ok(e));
        }

        #[test]
        fn any_bytes_give_a_header_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            // No panic, whatever the bytes; a header only from a known format.
            if header_of_record(&bytes).is_ok() {
                prop_assert!(bytes[0] == RECORD_FORMAT || bytes[0] == SEALED_FORMAT);
            }
        }

        #[test]
        fn any_flipped_byte_is_detected(at in 0usize..200, bit in 0u8..8) {
            let e = event(b"{\"body\":\"some text\"}".to_vec(), Some("ed".into()), "article-1".into(), 5);
            let mut bytes = encode_record(&e);
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            prop_assert_ne!(decode_record(&bytes), Ok(e));
        }

        #[test]
        fn stream_keys_sort_by_stream_then_version(a in "[a-z0-9-]{1,12}", b in "[a-z0-9-]{1,12}", va in 1u64..u64::MAX, vb in 1u64..u64::MAX) {
            let (ka, kb) = (stream_key(&a, va), stream_key(&b, vb));
            prop_assert_eq!(ka.cmp(&kb), (a.as_bytes(), va).cmp(&(b.as_bytes(), vb)));
            prop_assert_eq!(split_stream_key(&ka), Some((a.as_str(), va)));
        }
    }
}
