//! Import and export: the log as JSON Lines, one event per line.
//!
//! An exported line carries the whole envelope (position, instants, hashes) and the payload
//! exactly as stored; importing an export into an empty store restores an identical log, hash
//! chain included. An authored line (the fixtures, other systems' data) carries only `stream`,
//! `version`, `type`, `effective_at`, `actor` and `payload`: it is checked against the domain's
//! rules and appended, with an idempotency key derived from its content, so running the same
//! import twice appends nothing the second time.
//!
//! [`ninjs`] is the other format: IPTC ninjs objects, one version of an article each.

pub mod corpus;
pub mod ninjs;

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::Position;
use crate::domain::events::{Event, current_version};
use crate::store::{self, RecordedEvent, Restored, Store, StreamKey};

/// Lines per transaction when importing, unless set otherwise.
pub const DEFAULT_BATCH: usize = 5000;

/// One line of the JSON Lines format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Global position (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// `article-<id>` or `author-<id>`.
    pub stream: String,
    /// Version within the stream; checked to follow on from the stream's last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Payload schema version (default: today's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u16>,
    /// When recorded (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
    /// When it took effect (default: when imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<Utc>>,
    /// Who made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Idempotency key (default for authored lines: derived from the content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The payload, kept byte for byte (`null` when only its sealed bytes travel).
    pub payload: Box<RawValue>,
    /// The stored payload is sealed with its stream's key (exports and the feed only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
    /// The stream's key, 64 hex digits: on an export's first line of each sealed stream, so
    /// that an import seals the payloads again into the same bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The sealed payload, base64, where the payload itself does not travel: on the feed,
    /// and in exports for streams erased (whose key is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
    /// Previous checksum, hex (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// Checksum, hex (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Writes the log after `from` as JSON Lines; returns how many events were written.
pub fn export(
    store: &Store,
    from: Position,
    out: &mut impl Write,
    mut progress: impl FnMut(Position),
) -> crate::Result<u64> {
    let reader = store.reader()?;
    let mut count = 0;
    let mut keyed = rustc_hash::FxHashSet::default();
    for event in reader.stored_after(from)? {
        let event = event?;
        let key = if event.sealed { reader.key(&event.stream)? } else { None };
        let line = Line::exported(&event, key, &mut keyed)?;
        serde_json::to_writer(&mut *out, &line).map_err(|e| store::Error::Io(e.into()))?;
        out.write_all(b"\n").map_err(store::Error::Io)?;
        count += 1;
        progress(event.position);
    }
    out.flush().map_err(store::Error::Io)?;
    Ok(count)
}

impl Line {
    /// An event as stored, for the feed: a sealed payload travels as `ciphertext` only.
    pub fn of(e: &RecordedEvent) -> Line {
        if e.sealed {
            let mut line = Line::with_payload(e, null());
            line.sealed = true;
            line.ciphertext = Some(BASE64.encode(&e.payload));
            return line;
        }
        let payload = std::str::from_utf8(&e.payload)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .unwrap_or_else(null);
        Line::with_payload(e, payload)
    }

    /// The line `morgue export` writes for a stored event: a sealed payload opened with its
    /// stream's `key` (given on the stream's first line, tracked in `keyed`), or as
    /// `ciphertext` when the stream was erased.
    pub fn exported(
        e: &RecordedEvent,
        key: Option<StreamKey>,
        keyed: &mut rustc_hash::FxHashSet<String>,
    ) -> store::Result<Line> {
        let (Some(key), true) = (key, e.sealed) else { return Ok(Line::of(e)) };
        let plain = key
            .open(e.position, &e.stream, &e.payload)
            .map_err(|err| store::Error::Corrupt { position: e.position, reason: err.to_string() })?;
        let opened = RecordedEvent { payload: plain, sealed: false, ..e.clone() };
        let mut line = Line::of(&opened);
        line.sealed = true;
        if keyed.insert(e.stream.clone()) {
            line.key = Some(hex(&key.0));
        }
        Ok(line)
    }

    fn with_payload(e: &RecordedEvent, payload: Box<RawValue>) -> Line {
        Line {
            position: Some(e.position.get()),
            stream: e.stream.clone(),
            version: Some(e.version),
            event_type: e.event_type.clone(),
            schema_version: Some(e.schema_version),
            recorded_at: Some(e.recorded_at),
            effective_at: Some(e.effective_at),
            actor: e.actor.clone(),
            idempotency_key: e.idempotency_key.clone(),
            correlation_id: e.correlation_id.clone(),
            payload,
            sealed: false,
            key: None,
            ciphertext: None,
            prev_hash: Some(hex(&e.prev_hash)),
            checksum: Some(hex(&e.checksum)),
        }
    }

    /// The stream key a line carries, if any.
    pub fn stream_key(&self) -> Result<Option<StreamKey>, FieldError> {
        match &self.key {
            None => Ok(None),
            Some(k) => unhex(k)
                .map(|k| Some(StreamKey(k)))
                .ok_or_else(|| FieldError::new("key", "a stream key is 64 hex digits")),
        }
    }

    /// The sealed bytes a `ciphertext` line carries.
    fn sealed_bytes(&self) -> Result<Option<Vec<u8>>, FieldError> {
        let Some(text) = &self.ciphertext else { return Ok(None) };
        if !self.sealed {
            return Err(FieldError::new("ciphertext", "only a sealed line carries one"));
        }
        if text.len() > store::limits::MAX_PAYLOAD / 3 * 4 + 4 {
            return Err(FieldError::new("ciphertext", "longer than the largest payload"));
        }
        BASE64.decode(text).map(Some).map_err(|e| FieldError::new("ciphertext", format!("not base64: {e}")))
    }

    /// The stored record an exported line describes (every envelope field must be present).
    /// A sealed line's payload is sealed again with `key`, its stream's, unless it carries
    /// its sealed bytes.
    pub fn record(
        &self,
        schema_version: u16,
        position: Position,
        key: Option<StreamKey>,
    ) -> Result<RecordedEvent, FieldError> {
        let missing = |field: &str| FieldError::new(field, "an exported line needs it");
        let need = |v: Option<&str>, field: &str| -> Result<[u8; 32], FieldError> {
            v.and_then(unhex)
                .ok_or_else(|| FieldError::new(field, "an exported line needs this as 64 hex digits"))
        };
        Ok(RecordedEvent {
            position,
            stream: self.stream.clone(),
            version: self.version.ok_or_else(|| missing("version"))?,
            event_type: self.event_type.clone(),
            schema_version,
            recorded_at: self.recorded_at.ok_or_else(|| missing("recorded_at"))?,
            effective_at: self.effective_at.ok_or_else(|| missing("effective_at"))?,
            actor: self.actor.clone(),
            idempotency_key: self.idempotency_key.clone(),
            correlation_id: self.correlation_id.clone(),
            payload: match (self.sealed_bytes()?, self.sealed, key) {
                (Some(bytes), _, _) => bytes,
                (None, false, _) => self.payload.get().as_bytes().to_vec(),
                (None, true, Some(key)) => key.seal(position, &self.stream, self.payload.get().as_bytes()),
                (None, true, None) => {
                    return Err(FieldError::new(
                        "key",
                        "a sealed line needs its stream's key (on the stream's first exported line)",
                    ));
                }
            },
            sealed: self.sealed,
            prev_hash: need(self.prev_hash.as_deref(), "prev_hash")?,
            checksum: need(self.checksum.as_deref(), "checksum")?,
        })
    }
}

/// A field of a line at fault, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {message}")]
pub struct FieldError {
    /// The field (`payload.headline`, `checksum`, ...).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError { field: field.to_owned(), message: message.into() }
    }
}

/// The record an exported (or published) line describes, with the claims its event makes:
/// what a restore or a replica writes to its log. `known` is the stream's key where the
/// line does not carry it (`None`: the stream is erased, or unsealed).
pub fn restored(line: &Line, known: Option<StreamKey>) -> Result<Restored, FieldError> {
    let position =
        Position(line.position.ok_or_else(|| FieldError::new("position", "an exported line needs it"))?);
    let given = line.stream_key()?;
    let key = given.or(known);
    let schema_version = line.schema_version.unwrap_or_else(|| current_version(&line.event_type));
    let record = line.record(schema_version, position, key)?;
    // The claims come from the payload, when it can be read: an erased stream claims nothing.
    let plain = match (record.sealed, key) {
        (false, _) => Some(record.payload.clone()),
        (true, Some(key)) => Some(
            key.open(position, &line.stream, &record.payload)
                .map_err(|e| FieldError::new("ciphertext", e.to_string()))?,
        ),
        (true, None) => None,
    };
    let (claims, erases) = match plain {
        Some(bytes) => {
            let event = decode_payload(&line.event_type, schema_version, &bytes)?;
            (crate::domain::claims(&event), event.erases())
        }
        None => {
            if current_version(&line.event_type) == 0 {
                return Err(FieldError::new("type", format!("unknown event type {:?}", line.event_type)));
            }
            (Vec::new(), false)
        }
    };
    Ok(Restored { event: record, claims, key: key.filter(|_| !erases), erases })
}

/// The line's schema version and its payload decoded as that event.
pub fn event_of(line: &Line) -> Result<(u16, Event), FieldError> {
    let schema_version = line.schema_version.unwrap_or_else(|| current_version(&line.event_type));
    if line.ciphertext.is_some() {
        return Err(FieldError::new("ciphertext", "this line carries its payload sealed, not in the clear"));
    }
    Ok((schema_version, decode_payload(&line.event_type, schema_version, line.payload.get().as_bytes())?))
}

fn decode_payload(event_type: &str, schema_version: u16, payload: &[u8]) -> Result<Event, FieldError> {
    use crate::domain::events::DecodeError;
    Event::decode(event_type, schema_version, payload).map_err(|e| match &e {
        DecodeError::UnknownType(_) => FieldError::new("type", e.to_string()),
        DecodeError::UnknownVersion { .. } => FieldError::new("schema_version", e.to_string()),
        DecodeError::Payload { source, .. } => {
            let (field, message) = json_field(source);
            FieldError::new(
                &format!("payload.{}", field.trim_start_matches('(').trim_end_matches(')')),
                message,
            )
        }
    })
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("null is JSON")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The field a serde_json error is about, and its message without the position suffix.
pub fn json_field(e: &serde_json::Error) -> (String, String) {
    let message = e.to_string();
    let field = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| message.split(p).nth(1).and_then(|rest| rest.split('`').next()).map(str::to_owned))
        .unwrap_or_else(|| "(json)".to_owned());
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    (field, message)
}
