//! The write-ahead log: what makes one sync enough for an acknowledged commit.
//!
//! LMDB syncs twice per commit (its pages, then its meta page). The writer instead records every
//! table write of a group commit as one redo record here, syncs this file once, and only then
//! commits the LMDB transaction without a sync (so readers see it at once). LMDB is synced in
//! the background by a checkpoint ([`super::checkpoint`]), which starts a new generation of this
//! file. After a crash, the log is rolled back to the last checkpoint and the records of its
//! generation are applied again, in order.
//!
//! A record is `MWAL ‖ payload length (u32) ‖ generation (u64) ‖ sequence (u64) ‖ payload ‖
//! BLAKE3 of all that`, written at the next offset of a file that is kept filled with zeros
//! beyond its end, so a sync writes data only and never the file's size. Replay stops at the
//! first record that is torn, of another generation or out of sequence: only records that were
//! synced, or written whole and in order, are ever applied.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use heed::RwTxn;
use heed::types::Bytes;

use super::{Error, Result, Tables};
use crate::Position;

/// The file's name in the store's directory.
pub const FILE: &str = "wal";
const MAGIC: &[u8; 4] = b"MWAL";
const HEADER: usize = 24;
const TRAILER: usize = 32;
/// The size the file is first filled to, and the step it grows by at least.
const GROW: u64 = 1 << 20;
/// The largest payload a record may carry; larger commits are checkpointed instead.
pub const MAX_PAYLOAD: usize = 32 << 20;

/// A log table, as a redo record names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Table {
    Events = 0,
    Streams = 1,
    Idempotency = 2,
    Claims = 3,
    Meta = 4,
    Keys = 5,
    Erased = 6,
}

impl Table {
    fn from_byte(byte: u8) -> Option<Table> {
        [
            Table::Events,
            Table::Streams,
            Table::Idempotency,
            Table::Claims,
            Table::Meta,
            Table::Keys,
            Table::Erased,
        ]
        .get(usize::from(byte))
        .copied()
    }

    fn raw(self, t: &Tables) -> heed::Database<Bytes, Bytes> {
        match self {
            Table::Events => t.events.remap_types(),
            Table::Streams => t.streams.remap_types(),
            Table::Idempotency => t.idempotency.remap_types(),
            Table::Claims => t.claims.remap_types(),
            Table::Meta => t.meta.remap_types(),
            Table::Keys => t.keys.remap_types(),
            Table::Erased => t.erased.remap_types(),
        }
    }
}

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// The table writes of one group commit, in order: the payload of a redo record.
///
/// Past [`MAX_PAYLOAD`] it stops recording and only remembers that it overflowed (the commit is
/// then made durable by a checkpoint), so a large import batch is never held twice in memory.
#[derive(Default)]
pub(crate) struct Redo {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl Redo {
    /// Records a put.
    pub fn put(&mut self, table: Table, key: &[u8], value: &[u8]) {
        if self.overflowed {
            return;
        }
        self.op(PUT, table, key);
        self.bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(value);
        self.check();
    }

    /// Records a delete.
    pub fn delete(&mut self, table: Table, key: &[u8]) {
        if self.overflowed {
            return;
        }
        self.op(DELETE, table, key);
        self.check();
    }

    fn op(&mut self, kind: u8, table: Table, key: &[u8]) {
        self.bytes.push(kind);
        self.bytes.push(table as u8);
        self.bytes.extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(key);
    }

    fn check(&mut self) {
        if self.bytes.len() > MAX_PAYLOAD {
            self.overflowed = true;
            self.bytes = Vec::new();
        }
    }

    /// How much is recorded (a mark to roll back to).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.overflowed
    }

    /// Whether the writes outgrew one record.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Forgets what was recorded after `mark` (a rolled-back nested transaction). Once
    /// overflowed, it stays so until cleared: the commit is checkpointed, which is always safe.
    pub fn truncate(&mut self, mark: usize) {
        if !self.overflowed {
            self.bytes.truncate(mark);
        }
    }

    /// Starts a new commit.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.overflowed = false;
    }

    /// The payload.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Applies a redo payload to the log's tables.
pub(crate) fn apply(tables: &Tables, wtxn: &mut RwTxn, mut payload: &[u8], at: u64) -> Result<()> {
    let bad = |what: &str| Error::Corrupt {
        position: Position::ZERO,
        reason: format!("write-ahead log record {at}: {what}"),
    };
    fn take<'a>(payload: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (payload.get(..n)?, payload.get(n..)?);
        *payload = rest;
        Some(head)
    }
    fn take_len(payload: &mut &[u8]) -> Option<usize> {
        take(payload, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    while !payload.is_empty() {
        let head = take(&mut payload, 2).ok_or_else(|| bad("a cut operation"))?;
        let table = Table::from_byte(head[1]).ok_or_else(|| bad("an unknown table"))?;
        let key_len = take_len(&mut payload).ok_or_else(|| bad("a cut key"))?;
        let key = take(&mut payload, key_len).ok_or_else(|| bad("a cut key"))?;
        let db = table.raw(tables);
        match head[0] {
            PUT => {
                let len = take_len(&mut payload).ok_or_else(|| bad("a cut value"))?;
                let value = take(&mut payload, len).ok_or_else(|| bad("a cut value"))?;
                db.put(wtxn, key, value)?;
            }
            DELETE => {
                db.delete(wtxn, key)?;
            }
            _ => return Err(bad("an unknown operation")),
        }
    }
    Ok(())
}

/// The write-ahead log file, positioned where the next record goes.
pub(crate) struct Wal {
    file: File,
    len: u64,
    offset: u64,
    generation: u64,
    sequence: u64,
    last: Option<u64>,
}

impl Wal {
    /// Opens (or creates) the file in `dir`, filled with zeros to at least [`GROW`] bytes,
    /// writing from its start in `generation`.
    pub fn open(dir: &Path, generation: u64) -> Result<Wal> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(FILE))?;
        let len = file.metadata()?.len();
        let mut wal = Wal { file, len, offset: 0, generation, sequence: 0, last: None };
        if len < GROW {
            wal.grow(GROW)?;
        }
        Ok(wal)
    }

    /// Starts a new generation at the start of the file: what came before is no longer needed.
    pub fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.offset = 0;
        self.sequence = 0;
        self.last = None;
    }

    /// Bytes written in this generation.
    pub fn written(&self) -> u64 {
        self.offset
    }

    /// Writes one record and syncs it: when this returns, the record survives a crash.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::Invalid("a write-ahead record is too large".into()));
        }
        let mut record = Vec::with_capacity(HEADER + payload.len() + TRAILER);
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&self.generation.to_le_bytes());
        record.extend_from_slice(&self.sequence.to_le_bytes());
        record.extend_from_slice(payload);
        let hash = blake3::hash(&record);
        record.extend_from_slice(hash.as_bytes());
        let end = self.offset + record.len() as u64;
        if end > self.len {
            self.grow(end.max(self.len * 2))?;
        }
        self.file.write_all_at(&record, self.offset)?;
        self.file.sync_data()?;
        self.last = Some(self.offset);
        self.offset = end;
        self.sequence += 1;
        Ok(())
    }

    /// Takes back the last record (its LMDB commit failed): its header is zeroed and synced, so
    /// a replay stops before it.
    pub fn revoke_last(&mut self) -> Result<()> {
        if let Some(at) = self.last.take() {
            self.file.write_all_at(&[0; HEADER], at)?;
            self.file.sync_data()?;
            self.offset = at;
            self.sequence -= 1;
        }
        Ok(())
    }

    /// Fills the file with zeros up to `len`, and syncs its new size.
    fn grow(&mut self, len: u64) -> Result<()> {
        let zeros = vec![0u8; GROW as usize];
        let mut at = self.len;
        while at < len {
            let n = (len - at).min(GROW);
            self.file.write_all_at(&zeros[..n as usize], at)?;
            at += n;
        }
        self.file.sync_all()?;
        self.len = at;
        Ok(())
    }
}

/// The payloads of generation `generation` in the file in `dir`, in order, up to the first
/// record that is missing, torn, of another generation or out of sequence.
pub(crate) fn replay(dir: &Path, generation: u64) -> Result<Vec<Vec<u8>>> {
    let Ok(file) = File::open(dir.join(FILE)) else {
        return Ok(Vec::new());
    };
    let len = file.metadata()?.len();
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut header = [0u8; HEADER];
        if offset + (HEADER as u64) > len || file.read_exact_at(&mut header, offset).is_err() {
            break;
        }
        let payload_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let found_generation = u64::from_le_bytes(header[8..16].try_into().unwrap_or([0; 8]));
        let sequence = u64::from_le_bytes(header[16..24].try_into().unwrap_or([0; 8]));
        let total = (HEADER + payload_len + TRAILER) as u64;
        if &header[..4] != MAGIC
            || found_generation != generation
            || sequence != out.len() as u64
            || payload_len > MAX_PAYLOAD
            || offset + total > len
        {
            break;
        }
        let mut record = vec![0u8; total as usize];
        file.read_exact_at(&mut record, offset)?;
        let body = HEADER + payload_len;
        if blake3::hash(&record[..body]).as_bytes() != &record[body..] {
            break;
        }
        record.truncate(body);
        record.drain(..HEADER);
        out.push(record);
        offset += total;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redo_past_one_record_overflows_and_stays_overflowed_until_cleared() {
        let mut redo = Redo::default();
        redo.put(Table::Events, b"k", &[7; 100]);
        let mark = redo.len();
        assert!(!redo.overflowed() && !redo.is_empty());
        redo.put(Table::Events, b"big", &vec![1; MAX_PAYLOAD]);
        assert!(redo.overflowed(), "past the limit");
        assert_eq!(redo.len(), 0, "nothing more is held in memory");
        redo.put(Table::Meta, b"after", b"x");
        redo.truncate(mark);
        assert!(redo.overflowed() && !redo.is_empty(), "a nested roll-back does not undo it");
        redo.clear();
        assert!(!redo.overflowed() && redo.is_empty());
    }
}
