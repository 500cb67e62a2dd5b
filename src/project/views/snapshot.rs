//! How a version's state is stored in the views.
//!
//! Envelope facts (four big-endian words: version, position, effective and recorded instants in
//! µs), then a byte saying how the state JSON follows:
//! - 0: as is;
//! - 1: a u32 length and a zstd frame (states of [`COMPRESS_FROM`] bytes or more);
//! - 2: the position of the snapshot of the same entity that holds the body, then the state
//!   JSON without its body. An article's body is stored once per version that changed it.

use std::cell::RefCell;

use chrono::DateTime;
use heed::RoTxn;

use super::{Error, Result, Snapshot, State, Tables, state_key};
use crate::Position;
use crate::domain::{Article, Author, Image};
use crate::store::RecordedEvent;

/// A state JSON at least this long is stored compressed (zstd, level 1): article bodies make
/// most of the views' bytes, and compressed they also fit LMDB's pages with less slack.
const COMPRESS_FROM: usize = 512;

/// The most a state may claim to decompress to: a state is far smaller (a body is at most 1
/// MiB), so a larger claim is damage, refused before allocating.
const MAX_STATE: usize = 64 << 20;

thread_local! {
    /// A compressor and a decompressor per thread: making their contexts costs more than
    /// compressing one state.
    static ZSTD: RefCell<(zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)> =
        RefCell::new((
            zstd::bulk::Compressor::new(1).expect("zstd level 1"),
            zstd::bulk::Decompressor::new().expect("zstd context"),
        ));
}

/// A state that may have its body stored in another snapshot.
pub trait Stated: serde::de::DeserializeOwned {
    /// Takes the body of `holder`, the state whose snapshot stores it.
    fn take_body(&mut self, holder: Self);
}

impl Stated for Article {
    fn take_body(&mut self, holder: Self) {
        self.body = holder.body;
    }
}

impl Stated for Author {
    fn take_body(&mut self, _holder: Self) {}
}

impl Stated for Image {
    fn take_body(&mut self, _holder: Self) {}
}

/// The envelope facts a snapshot stores: those of the event that produced it.
pub(super) struct Envelope {
    version: u64,
    position: u64,
    effective_us: i64,
    recorded_us: i64,
}

impl Envelope {
    /// The facts of `event`.
    pub(super) fn of(event: &RecordedEvent) -> Envelope {
        Envelope {
            version: event.version,
            position: event.position.0,
            effective_us: event.effective_at.timestamp_micros(),
            recorded_us: event.recorded_at.timestamp_micros(),
        }
    }
}

/// The bytes of `state` after the event of `envelope`; `body_at` is the position of the
/// snapshot holding the same body, when an earlier one does.
pub(super) fn encode_snapshot(envelope: &Envelope, state: &State, body_at: Option<u64>) -> Vec<u8> {
    let json = match (state, body_at) {
        (State::Article(a), Some(_)) => {
            let without = Article { body: String::new(), ..a.as_ref().clone() };
            serde_json::to_vec(&without)
        }
        (State::Article(a), None) => serde_json::to_vec(a),
        (State::Author(a), _) => serde_json::to_vec(a),
        (State::Image(i), _) => serde_json::to_vec(i),
    };
    let json = json.expect("states of strings, ids and instants always serialize");
    let mut out = Vec::with_capacity(64 + json.len());
    out.extend_from_slice(&envelope.version.to_be_bytes());
    out.extend_from_slice(&envelope.position.to_be_bytes());
    out.extend_from_slice(&envelope.effective_us.to_be_bytes());
    out.extend_from_slice(&envelope.recorded_us.to_be_bytes());
    match body_at {
        Some(at) => {
            out.push(2);
            out.extend_from_slice(&at.to_be_bytes());
            out.extend_from_slice(&json);
        }
        None if json.len() < COMPRESS_FROM => {
            out.push(0);
            out.extend_from_slice(&json);
        }
        None => {
            out.push(1);
            out.extend_from_slice(&(json.len() as u32).to_be_bytes());
            let packed = ZSTD.with_borrow_mut(|z| z.0.compress(&json));
            out.extend_from_slice(&packed.expect("compressing to memory cannot fail"));
        }
    }
    out
}

/// The snapshot in `bytes` of the entity `entity`, its body fetched when stored elsewhere.
pub(super) fn decode_snapshot<T: Stated>(
    t: &Tables,
    txn: &RoTxn,
    entity: &[u8; 17],
    bytes: &[u8],
) -> Result<Snapshot<T>> {
    Ok(decode_with_body(t, txn, entity, bytes)?.0)
}

/// [`decode_snapshot`], and the position of the snapshot that held the body if another did.
pub(super) fn decode_with_body<T: Stated>(
    t: &Tables,
    txn: &RoTxn,
    entity: &[u8; 17],
    bytes: &[u8],
) -> Result<(Snapshot<T>, Option<u64>)> {
    let (mut snap, body_at) = decode_alone::<T>(bytes)?;
    if let Some(at) = body_at {
        let held = t
            .states
            .get(txn, &state_key(entity, Position(at)))?
            .ok_or_else(|| Error::Corrupt(format!("no snapshot at position {at} for a shared body")))?;
        match decode_alone::<T>(held)? {
            (holder, None) => snap.state.take_body(holder.state),
            (_, Some(_)) => return Err(Error::Corrupt("a shared body points at another".into())),
        }
    }
    Ok((snap, body_at))
}

/// An article's state without its text: what lists of its versions need (feeds, TimeMaps),
/// read without fetching or keeping any body, so a long history of long articles stays cheap.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ArticleFacts {
    /// Id.
    pub id: crate::domain::ArticleId,
    /// URL name.
    pub slug: String,
    /// Headline.
    pub headline: String,
    /// Summary.
    pub summary: Option<String>,
    /// Section.
    pub section: String,
    /// Status.
    pub status: crate::domain::ArticleStatus,
    /// Credits.
    pub bylines: Vec<crate::domain::Byline>,
    /// Corrections, oldest first.
    pub corrections: Vec<crate::domain::Correction>,
    /// When it was first published.
    pub first_published_at: Option<DateTime<chrono::Utc>>,
    /// Why it was retracted.
    pub retraction_reason: Option<String>,
    /// The takedown in force at this version.
    #[serde(default)]
    pub takedown: Option<crate::domain::Takedown>,
    /// A draft's scheduled publication.
    #[serde(default)]
    pub scheduled_at: Option<DateTime<chrono::Utc>>,
    /// Changes scheduled ahead, not yet in effect.
    #[serde(default)]
    pub pending: Vec<crate::domain::schedule::PendingChange>,
}

impl ArticleFacts {
    /// As it stands at `t`: a scheduled publication in effect by then is a publication
    /// (see [`crate::domain::Article::settled`]).
    pub fn settled(mut self, t: DateTime<chrono::Utc>) -> ArticleFacts {
        if let (crate::domain::ArticleStatus::Draft, Some(at)) = (self.status, self.scheduled_at)
            && at <= t
        {
            self.status = crate::domain::ArticleStatus::Published;
            self.first_published_at.get_or_insert(at);
            self.scheduled_at = None;
        }
        let due = self.pending.partition_point(|p| p.at <= t);
        for change in self.pending.drain(..due).collect::<Vec<_>>() {
            crate::domain::schedule::apply_text(
                &change,
                &mut self.headline,
                &mut self.summary,
                None,
                &mut self.corrections,
            );
        }
        self
    }
}

/// The facts of the snapshot in `bytes` (its body, wherever it is, is skipped).
pub(super) fn decode_facts(bytes: &[u8]) -> Result<Snapshot<ArticleFacts>> {
    Ok(decode_alone::<ArticleFacts>(bytes)?.0)
}

/// The snapshot in `bytes` alone, and where its body is if another snapshot holds it.
fn decode_alone<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<(Snapshot<T>, Option<u64>)> {
    let corrupt = || Error::Corrupt("state snapshot is damaged".into());
    if bytes.len() < 33 {
        return Err(corrupt());
    }
    let word = |i: usize| -> [u8; 8] { bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes") };
    let instant = |i| DateTime::from_timestamp_micros(i64::from_be_bytes(word(i))).ok_or_else(corrupt);
    let inflated;
    let (json, body_at) = match bytes[32] {
        0 => (&bytes[33..], None),
        1 if bytes.len() >= 37 => {
            let len = u32::from_be_bytes(bytes[33..37].try_into().expect("4 bytes")) as usize;
            if len > MAX_STATE {
                return Err(corrupt());
            }
            inflated = match ZSTD.with_borrow_mut(|z| z.1.decompress(&bytes[37..], len)) {
                Ok(out) if out.len() == len => out,
                _ => return Err(corrupt()),
            };
            (&inflated[..], None)
        }
        2 if bytes.len() >= 41 => {
            let at = u64::from_be_bytes(bytes[33..41].try_into().expect("8 bytes"));
            (&bytes[41..], Some(at))
        }
        _ => return Err(corrupt()),
    };
    let snap = Snapshot {
        version: u64::from_be_bytes(word(0)),
        position: Position(u64::from_be_bytes(word(1))),
        effective_at: instant(2)?,
        recorded_at: instant(3)?,
        state: serde_json::from_slice(json).map_err(|e| Error::Corrupt(e.to_string()))?,
    };
    Ok((snap, body_at))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::decode_alone;
    use crate::Position;
    use crate::domain::Article;
    use crate::project::views::{VIEWS_VERSION, Views};

    proptest! {
        /// Damaged snapshot bytes are an error, never a panic or a huge allocation.
        #[test]
        fn damaged_snapshots_are_errors(mut bytes in proptest::collection::vec(any::<u8>(), 0..300), kind in 0u8..4) {
            if bytes.len() > 32 {
                bytes[32] = kind;
            }
            let _ = decode_alone::<Article>(&bytes);
        }
    }

    #[test]
    fn a_compressed_state_claiming_more_than_the_bound_is_refused_before_allocating() {
        let mut bytes = vec![0u8; 32];
        bytes.push(1);
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
        let error = decode_alone::<Article>(&bytes).unwrap_err();
        assert!(error.to_string().contains("damaged"), "{error}");
    }

    #[test]
    fn views_built_in_another_format_start_again_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let views = Views::open(dir.path(), 1 << 26).unwrap();
        let mut w = views.env.write_txn().unwrap();
        views.t.meta.put(&mut w, "built_by", b"views/1").unwrap();
        views.t.meta.put(&mut w, "checkpoint", &7u64.to_be_bytes()).unwrap();
        w.commit().unwrap();
        assert_eq!(views.checkpoint().unwrap(), Position(7));
        drop(views);
        let views = Views::open(dir.path(), 1 << 26).unwrap();
        assert_eq!(views.built_by().unwrap(), VIEWS_VERSION);
        assert_eq!(views.checkpoint().unwrap(), Position::ZERO);
    }
}
