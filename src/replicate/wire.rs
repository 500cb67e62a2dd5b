//! The wire: what one event is on the stream. Its subject (`morgue.article.<id>`), its
//! headers (position, stream, version, type, instants, checksum, and the writer's signature)
//! and its payload: the event's export line, so that a feed consumer, a replica and
//! `morgue import` read one format (docs/feed.md documents it for other services).

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

use super::trust::H_SIGNATURE;
use super::{SigningKey, hex};
use crate::store::{RecordedEvent, Restored};
use crate::transfer::Line;

/// Header: the event's global position (also in `Nats-Msg-Id`).
pub const H_POSITION: &str = "Morgue-Position";
/// Header: the event's stream (`article-<id>`, `author-<id>`).
pub const H_STREAM: &str = "Morgue-Stream";
/// Header: the event's version within its stream.
pub const H_VERSION: &str = "Morgue-Version";
/// Header: the event type.
pub const H_TYPE: &str = "Morgue-Type";
/// Header: when it took effect (RFC 3339).
pub const H_EFFECTIVE_AT: &str = "Morgue-Effective-At";
/// Header: when it was recorded (RFC 3339).
pub const H_RECORDED_AT: &str = "Morgue-Recorded-At";
/// Header: the record's checksum (hex), its link in the hash chain.
pub const H_CHECKSUM: &str = "Morgue-Checksum";

/// One event as it travels on the stream.
pub struct WireEvent {
    /// The subject it is published on.
    pub subject: String,
    /// Its position: the message id, and one more than the sequence it expects before it.
    pub position: u64,
    /// Its headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// Its export line, as JSON.
    pub payload: Vec<u8>,
}

impl WireEvent {
    /// An event of the log as the writer publishes it, signed when it has a key.
    pub fn of(e: &RecordedEvent, key: Option<&SigningKey>) -> WireEvent {
        let mut headers = vec![
            ("Content-Type", "application/json".to_owned()),
            (H_POSITION, e.position.get().to_string()),
            (H_STREAM, e.stream.clone()),
            (H_VERSION, e.version.to_string()),
            (H_TYPE, e.event_type.clone()),
            (H_EFFECTIVE_AT, instant(&e.effective_at)),
            (H_RECORDED_AT, instant(&e.recorded_at)),
            (H_CHECKSUM, checksum_of(e)),
        ];
        if let Some(key) = key {
            headers.push((H_SIGNATURE, key.sign(&e.checksum)));
        }
        WireEvent {
            subject: subject_of(&e.stream),
            position: e.position.get(),
            headers,
            payload: serde_json::to_vec(&Line::of(e)).unwrap_or_default(),
        }
    }

    /// The JetStream message: deduplicated by position, and refused unless the stream's last
    /// sequence is the position before.
    pub fn into_message(self) -> (String, PublishMessage) {
        let mut message = PublishMessage::build()
            .payload(Bytes::from(self.payload))
            .message_id(self.position.to_string())
            .expected_last_sequence(self.position.saturating_sub(1));
        for (name, value) in &self.headers {
            message = message.header(*name, value.as_str());
        }
        (self.subject, message)
    }

    /// The line a message's payload carries.
    pub fn line(payload: &[u8]) -> Result<Line, String> {
        serde_json::from_slice(payload).map_err(|e| format!("payload: {e}"))
    }

    /// The record a line carries, for a verbatim restore; `key` is its stream's, if known.
    pub fn restored(line: &Line, key: Option<crate::store::StreamKey>) -> Result<Restored, String> {
        if line.key.is_some() {
            return Err("field key: the feed never carries keys".into());
        }
        crate::transfer::restored(line, key).map_err(|e| e.to_string())
    }
}

/// The subject an event is published on: `morgue.article.<id>` or `morgue.author.<id>`.
pub fn subject_of(stream: &str) -> String {
    match stream.split_once('-') {
        Some((kind, id)) => format!("morgue.{kind}.{id}"),
        None => format!("morgue.other.{stream}"),
    }
}

/// The checksum header of a record.
pub(super) fn checksum_of(e: &RecordedEvent) -> String {
    hex(&e.checksum)
}

/// RFC 3339 in UTC with `Z`, as in the payload.
fn instant(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
