//! Walking the whole log to prove it intact: positions, versions, instants, checksums, chain.

use std::collections::HashMap;

use super::envelope::{GENESIS_HASH, Hash};
use super::{LogReader, Result, codec};
use crate::Position;

/// What a walk of the log found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Distinct streams seen.
    pub streams: u64,
    /// The last position checked.
    pub head: Position,
    /// The checksum of the last event: the head of the hash chain.
    pub head_hash: Hash,
    /// The first problem found, if any; the walk stops there.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// Whether the log is intact.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// The first place where the log is not what it must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The first bad position.
    pub position: Position,
    /// What is wrong there.
    pub reason: String,
}

/// Checks every event in order; `progress` is called with each position checked.
///
/// Checks: positions gapless from 1 and matching their keys; each record's checksum; each
/// `prev_hash` equal to the previous record's checksum; stream versions gapless from 1 and
/// indexed at the right position; `recorded_at` strictly increasing; `effective_at` never after
/// `recorded_at` and non-decreasing within a stream.
pub fn verify(reader: &LogReader<'_>, mut progress: impl FnMut(Position)) -> Result<VerifyReport> {
    let (tables, txn) = reader.parts();
    let mut report =
        VerifyReport { events: 0, streams: 0, head: Position::ZERO, head_hash: GENESIS_HASH, problem: None };
    let mut streams: HashMap<String, (u64, i64)> = HashMap::new();
    let mut last_recorded = i64::MIN;
    let mut expected = Position(1);
    for entry in tables.events.iter(txn)? {
        let (key, bytes) = entry?;
        let position = Position(key);
        let fail = |reason: String| Some(Problem { position, reason });
        let problem = (|| {
            if position != expected {
                return fail(format!("expected position {expected} next, found {position}"));
            }
            let event = match codec::decode_record(bytes) {
                Ok(event) => event,
                Err(e) => return fail(e.to_string()),
            };
            if event.position != position {
                return fail(format!("record claims position {}", event.position));
            }
            if event.prev_hash != report.head_hash {
                return fail("previous-hash link does not match the previous event's checksum".into());
            }
            let recorded = codec::micros(event.recorded_at);
            if recorded <= last_recorded {
                return fail("recorded_at does not increase".into());
            }
            if event.effective_at > event.recorded_at {
                return fail("effective_at is later than recorded_at".into());
            }
            let effective = codec::micros(event.effective_at);
            let (version, last_effective) = streams.get(&event.stream).copied().unwrap_or((0, i64::MIN));
            if event.version != version + 1 {
                return fail(format!(
                    "stream {} jumps from version {version} to {}",
                    event.stream, event.version
                ));
            }
            if effective < last_effective {
                return fail(format!("effective_at goes back in stream {}", event.stream));
            }
            let key = codec::stream_key(&event.stream, event.version);
            match tables.streams.get(txn, &key) {
                Ok(Some(p)) if p == position.0 => {}
                Ok(found) => {
                    return fail(format!(
                        "stream index points {} v{} at {found:?}",
                        event.stream, event.version
                    ));
                }
                Err(e) => return fail(e.to_string()),
            }
            streams.insert(event.stream, (event.version, effective));
            last_recorded = recorded;
            report.head_hash = event.checksum;
            None
        })();
        if problem.is_some() {
            report.problem = problem;
            break;
        }
        report.events += 1;
        report.head = position;
        expected = position.next();
        progress(position);
    }
    report.streams = streams.len() as u64;
    Ok(report)
}
