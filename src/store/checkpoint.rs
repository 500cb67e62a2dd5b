//! Checkpoints: the last state of LMDB known to be whole on disk, and the way back to it.
//!
//! Between checkpoints LMDB commits without syncing, so after a crash its newest meta page may
//! name pages that never reached the disk. A checkpoint is taken after a full sync of LMDB: it
//! keeps a copy of the meta page of the synced transaction, and the writer holds a read
//! transaction on that snapshot until the next checkpoint, so LMDB never reuses its pages.
//! Whatever a crash leaves, that snapshot is whole: opening the log writes the kept meta page
//! back over both of LMDB's meta slots, and the write-ahead log ([`super::wal`]) of the
//! checkpoint's generation brings it forward again.
//!
//! The file is `MCKP ‖ generation (u64) ‖ transaction id (u64) ‖ meta page bytes ‖ BLAKE3`,
//! replaced atomically (written aside, synced, renamed, directory synced).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::durable::Synced;
use super::{Error, Result};
use crate::Position;

/// The file's name in the store's directory.
pub const FILE: &str = "checkpoint";
const MAGIC: &[u8; 4] = b"MCKP";
/// The bytes of an LMDB meta page that hold its meta record: the 16-byte page header and the
/// 136-byte `MDB_meta` of a 64-bit build.
const META_LEN: usize = 152;
/// Where, in a meta page, the page flags, the magic, the page size and the transaction id are.
const FLAGS_AT: usize = 10;
const MAGIC_AT: usize = 16;
const PSIZE_AT: usize = 40;
const TXNID_AT: usize = 144;
const P_META: u16 = 0x08;
const MDB_MAGIC: u32 = 0xBEEF_C0DE;

/// A checkpoint: its generation (the write-ahead log's records that follow it carry it), the
/// LMDB transaction it synced, and that transaction's meta page.
#[derive(Clone, Debug)]
pub(crate) struct Checkpoint {
    pub generation: u64,
    pub txnid: u64,
    meta: [u8; META_LEN],
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt { position: Position::ZERO, reason: reason.into() }
}

fn u16_at(page: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([page[at], page[at + 1]])
}

fn u32_at(page: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(page[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(page: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(page[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Reads LMDB's two meta pages: `None` for a slot that is not a valid meta page.
fn read_metas(data: &File, psize: Option<u32>) -> Result<[Option<[u8; META_LEN]>; 2]> {
    let mut first = [0u8; META_LEN];
    let first_ok = data.read_exact_at(&mut first, 0).is_ok();
    let psize = psize.unwrap_or_else(|| u32_at(&first, PSIZE_AT));
    if !(512..=65536).contains(&psize) || !psize.is_power_of_two() {
        return Err(corrupt(format!("LMDB's first meta page names a page size of {psize}")));
    }
    let mut second = [0u8; META_LEN];
    let second_ok = data.read_exact_at(&mut second, u64::from(psize)).is_ok();
    let valid =
        |page: &[u8; META_LEN]| u16_at(page, FLAGS_AT) & P_META != 0 && u32_at(page, MAGIC_AT) == MDB_MAGIC;
    let slot = |page: [u8; META_LEN], ok: bool| (ok && valid(&page)).then_some(page);
    Ok([slot(first, first_ok), slot(second, second_ok)])
}

/// Reads the checkpoint in `dir`, if there is one.
pub(crate) fn read(dir: &Path) -> Result<Option<Checkpoint>> {
    let bytes = match std::fs::read(dir.join(FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let body = 4 + 8 + 8 + META_LEN;
    if bytes.len() != body + 32
        || &bytes[..4] != MAGIC
        || blake3::hash(&bytes[..body]).as_bytes() != &bytes[body..]
    {
        return Err(corrupt("the checkpoint file is damaged"));
    }
    let mut meta = [0u8; META_LEN];
    meta.copy_from_slice(&bytes[20..body]);
    Ok(Some(Checkpoint {
        generation: u64::from_le_bytes(bytes[4..12].try_into().unwrap_or([0; 8])),
        txnid: u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8])),
        meta,
    }))
}

/// Syncs LMDB whole and records a checkpoint of `txnid`, its newest transaction, in a new
/// generation (returned), telling `observe` after each sync.
pub(crate) fn take(env: &super::Env, dir: &Path, txnid: u64, observe: impl Fn(Synced)) -> Result<u64> {
    env.force_sync()?;
    observe(Synced::Data);
    let generation = u64::from_le_bytes(super::StreamKey::generate()?.0[..8].try_into().unwrap_or([0; 8]));
    write(dir, generation, txnid)?;
    observe(Synced::Checkpoint);
    Ok(generation)
}

/// Records a checkpoint of transaction `txnid`, which must be LMDB's newest and synced.
fn write(dir: &Path, generation: u64, txnid: u64) -> Result<()> {
    let data = File::open(dir.join("data.mdb"))?;
    let metas = read_metas(&data, None)?;
    let meta = metas
        .into_iter()
        .flatten()
        .find(|page| u64_at(page, TXNID_AT) == txnid)
        .ok_or_else(|| corrupt(format!("no LMDB meta page holds transaction {txnid}")))?;
    let mut bytes = Vec::with_capacity(4 + 16 + META_LEN + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&generation.to_le_bytes());
    bytes.extend_from_slice(&txnid.to_le_bytes());
    bytes.extend_from_slice(&meta);
    let hash = blake3::hash(&bytes);
    bytes.extend_from_slice(hash.as_bytes());
    let aside = dir.join("checkpoint.new");
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&aside)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&aside, dir.join(FILE))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Removes the checkpoint and the write-ahead log of `dir` (its LMDB file was just replaced
/// by a whole, synced one).
pub(crate) fn remove(dir: &Path) -> Result<()> {
    for name in [FILE, super::wal::FILE] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Makes LMDB in `dir` open at the checkpoint's snapshot: when either meta slot holds anything
/// but the checkpoint's meta page or an older one, both are overwritten with it and synced.
pub(crate) fn roll_back(dir: &Path, checkpoint: &Checkpoint) -> Result<bool> {
    let data = OpenOptions::new().read(true).write(true).open(dir.join("data.mdb"))?;
    let psize = u32_at(&checkpoint.meta, PSIZE_AT);
    let metas = read_metas(&data, Some(psize))?;
    let whole = metas.iter().all(|slot| slot.is_some_and(|page| u64_at(&page, TXNID_AT) <= checkpoint.txnid));
    let holds = metas.iter().flatten().any(|page| page[8..] == checkpoint.meta[8..]);
    if whole && holds {
        return Ok(false);
    }
    for slot in 0..2u64 {
        let mut page = checkpoint.meta;
        page[..8].copy_from_slice(&slot.to_ne_bytes());
        data.write_all_at(&page, slot * u64::from(psize))?;
    }
    data.sync_all()?;
    Ok(true)
}
