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

use crate::Position;
use crate::domain::events::{Event, current_version};
use crate::store::{self, RecordedEvent, Restored, Store};

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
    /// The payload, kept byte for byte.
    pub payload: Box<RawValue>,
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
    for event in reader.events_after(from)? {
        let event = event?;
        let line = Line::of(&event);
        serde_json::to_writer(&mut *out, &line).map_err(|e| store::Error::Io(e.into()))?;
        out.write_all(b"\n").map_err(store::Error::Io)?;
        count += 1;
        progress(event.position);
    }
    out.flush().map_err(store::Error::Io)?;
    Ok(count)
}

impl Line {
    /// The line `morgue export` writes for an event; also the payload of a published event.
    pub fn of(e: &RecordedEvent) -> Line {
        let payload = std::str::from_utf8(&e.payload)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON"));
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
            prev_hash: Some(hex(&e.prev_hash)),
            checksum: Some(hex(&e.checksum)),
        }
    }

    /// The stored record an exported line describes (every envelope field must be present).
    pub fn record(&self, schema_version: u16, position: Position) -> Result<RecordedEvent, FieldError> {
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
            payload: self.payload.get().as_bytes().to_vec(),
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
/// what a restore or a replica writes to its log.
pub fn restored(line: &Line) -> Result<Restored, FieldError> {
    let (schema_version, event) = event_of(line)?;
    let position = line.position.ok_or_else(|| FieldError::new("position", "an exported line needs it"))?;
    Ok(Restored {
        event: line.record(schema_version, Position(position))?,
        claims: crate::domain::claims(&event),
    })
}

/// The line's schema version and its payload decoded as that event.
pub fn event_of(line: &Line) -> Result<(u16, Event), FieldError> {
    use crate::domain::events::DecodeError;
    let schema_version = line.schema_version.unwrap_or_else(|| current_version(&line.event_type));
    let event = Event::decode(&line.event_type, schema_version, line.payload.get().as_bytes()).map_err(
        |e| match &e {
            DecodeError::UnknownType(_) => FieldError::new("type", e.to_string()),
            DecodeError::UnknownVersion { .. } => FieldError::new("schema_version", e.to_string()),
            DecodeError::Payload { source, .. } => {
                let (field, message) = json_field(source);
                FieldError::new(
                    &format!("payload.{}", field.trim_start_matches('(').trim_end_matches(')')),
                    message,
                )
            }
        },
    )?;
    Ok((schema_version, event))
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
