//! What the store keeps around each event: the envelope, and the shape of an append request.
//!
//! The store treats an event's type and payload as opaque: it checks envelopes (versions,
//! instants, idempotency, unique claims), never what an event means.

use chrono::{DateTime, Utc};

use crate::Position;

/// A BLAKE3 digest: an event's checksum, a link of the hash chain, a request fingerprint.
pub type Hash = [u8; 32];

/// The hash the chain starts from: the `prev_hash` of the event at position 1.
pub const GENESIS_HASH: Hash = [0; 32];

/// An event as the caller proposes it, before the store gives it a place in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedEvent {
    /// The event type, such as `ArticleDrafted`.
    pub event_type: String,
    /// The schema version of the payload's encoding.
    pub schema_version: u16,
    /// The payload bytes (JSON by convention; opaque to the store).
    pub payload: Vec<u8>,
    /// When the change took effect in the world; `None` means "when it is recorded".
    pub effective_at: Option<DateTime<Utc>>,
}

/// An event as stored: its envelope and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position, gapless from 1.
    pub position: Position,
    /// The stream it belongs to (`article-<id>`, `author-<id>`).
    pub stream: String,
    /// Version within its stream, gapless from 1.
    pub version: u64,
    /// The event type.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u16,
    /// When the archive recorded it: assigned by the store, strictly increasing across the log.
    pub recorded_at: DateTime<Utc>,
    /// When it took effect in the world: non-decreasing within a stream, never after `recorded_at`.
    pub effective_at: DateTime<Utc>,
    /// Who wrote it.
    pub actor: Option<String>,
    /// The idempotency key of the append that wrote it.
    pub idempotency_key: Option<String>,
    /// Shared by all events written for one command.
    pub correlation_id: Option<String>,
    /// The payload bytes: as stored when `sealed`, otherwise the payload itself.
    pub payload: Vec<u8>,
    /// Whether `payload` is sealed with the stream's key (see [`super::seal`]). Reads open
    /// what they can; an event still sealed after a read belongs to an erased stream.
    pub sealed: bool,
    /// The checksum of the previous event in the log ([`GENESIS_HASH`] for position 1).
    pub prev_hash: Hash,
    /// BLAKE3 of this record's encoded fields and `prev_hash`: its checksum and chain link.
    pub checksum: Hash,
}

/// What the caller expects the stream's current version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this one.
    Exact(u64),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream yet"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `actual` (0: no stream) satisfies this.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

/// A value that at most one stream in the whole log may hold, such as an article's slug.
///
/// The store checks and records claims inside the append transaction, so two concurrent
/// appends can never both take one value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    /// What kind of value (`slug`).
    pub namespace: String,
    /// The value itself.
    pub value: String,
}

/// One call to append: events for one stream, written all or nothing.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    /// The target stream.
    pub stream: String,
    /// The version check made inside the append transaction.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<ProposedEvent>,
    /// Makes retries safe: the same key and fingerprint returns the first append's answer.
    pub idempotency_key: Option<String>,
    /// What "the same request" means for the idempotency key. `None`: the events themselves.
    pub fingerprint: Option<Hash>,
    /// Who writes.
    pub actor: Option<String>,
    /// Ties together the events of one command.
    pub correlation_id: Option<String>,
    /// Unique values the stream takes with this append.
    pub claims: Vec<Claim>,
    /// Whether this append erases the stream: its events are written unsealed (the erasure's
    /// tombstone), the stream's key is destroyed and its unique values are released, all in
    /// the append's transaction. Nothing may be appended to the stream afterwards.
    pub erase: bool,
}

impl AppendRequest {
    /// A request with no idempotency key, actor, correlation id or claims.
    pub fn new(stream: impl Into<String>, expected: ExpectedVersion, events: Vec<ProposedEvent>) -> Self {
        AppendRequest {
            stream: stream.into(),
            expected,
            events,
            idempotency_key: None,
            fingerprint: None,
            actor: None,
            correlation_id: None,
            claims: Vec::new(),
            erase: false,
        }
    }

    /// The fingerprint compared for a repeated idempotency key.
    pub fn effective_fingerprint(&self) -> Hash {
        if let Some(fingerprint) = self.fingerprint {
            return fingerprint;
        }
        let mut hasher = blake3::Hasher::new();
        hash_field(&mut hasher, self.stream.as_bytes());
        for event in &self.events {
            hash_field(&mut hasher, event.event_type.as_bytes());
            hasher.update(&event.schema_version.to_be_bytes());
            hash_field(&mut hasher, &event.payload);
            match event.effective_at {
                Some(at) => hasher.update(&[1]).update(&at.timestamp_micros().to_be_bytes()),
                None => hasher.update(&[0]),
            };
        }
        *hasher.finalize().as_bytes()
    }
}

fn hash_field(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// The answer to a successful append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The stream written.
    pub stream: String,
    /// Position of the first event written.
    pub first_position: Position,
    /// Position of the last event written (the one to wait for to read this write).
    pub last_position: Position,
    /// The stream's version after the append.
    pub version: u64,
    /// True when the idempotency key had been seen: nothing new was appended.
    pub deduplicated: bool,
}
