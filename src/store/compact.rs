//! Compaction: the log copied entry by entry into a fresh file, which then replaces the old
//! one. LMDB frees the pages a deletion leaves (an erased stream's key, its released claims)
//! but keeps their bytes until it reuses them; a fresh file holds only live entries, in pages
//! written once, so no deleted byte survives in it.

use std::path::Path;

use heed::types::Bytes;
use heed::{Database, EnvOpenOptions, PutFlags};

use super::tables::{TABLE_COUNT, db_name};
use super::{Env, Result};

/// Entries copied per write transaction.
const BATCH: usize = 50_000;

/// Copies the log in `src` (not open elsewhere in this process, and with no writer running
/// anywhere: the caller holds the data directory's lock) into a fresh file, syncs it, and
/// renames it over `src/data.mdb`. Returns the bytes before and after.
pub fn compact(src: &Path, map_size: usize) -> Result<(u64, u64)> {
    let fresh = src.with_extension("compacting");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    std::fs::create_dir_all(&fresh)?;
    // Settle the log first (a crash's write-ahead records applied, everything synced), so the
    // file copied is whole; the fresh file needs no checkpoint of the old one.
    drop(super::Store::open(src, super::StoreOptions { map_size })?);
    super::checkpoint::remove(src)?;
    let before = std::fs::metadata(src.join("data.mdb"))?.len();
    {
        let from = open(src, map_size)?;
        let to = open(&fresh, map_size)?;
        let rtxn = from.read_txn()?;
        for name in [
            db_name::EVENTS,
            db_name::STREAMS,
            db_name::IDEMPOTENCY,
            db_name::CLAIMS,
            db_name::META,
            db_name::KEYS,
            db_name::ERASED,
        ] {
            let mut wtxn = to.write_txn()?;
            let target: Database<Bytes, Bytes> = to.create_database(&mut wtxn, Some(name))?;
            let Some(source) = from.open_database::<Bytes, Bytes>(&rtxn, Some(name))? else {
                wtxn.commit()?;
                continue;
            };
            let mut in_txn = 0;
            for entry in source.iter(&rtxn)? {
                let (key, value) = entry?;
                // Keys come in order: appending writes each page once, full.
                target.put_with_flags(&mut wtxn, PutFlags::APPEND, key, value)?;
                in_txn += 1;
                if in_txn == BATCH {
                    wtxn.commit()?;
                    wtxn = to.write_txn()?;
                    in_txn = 0;
                }
            }
            wtxn.commit()?;
        }
        drop(rtxn);
        to.force_sync()?;
    }
    std::fs::rename(fresh.join("data.mdb"), src.join("data.mdb"))?;
    std::fs::File::open(src)?.sync_all()?;
    std::fs::remove_dir_all(&fresh)?;
    let after = std::fs::metadata(src.join("data.mdb"))?.len();
    Ok((before, after))
}

fn open(path: &Path, map_size: usize) -> Result<Env> {
    // SAFETY: as in `Store::open`: the caller holds the data directory's lock, and neither
    // environment is open elsewhere in this process.
    Ok(unsafe {
        EnvOpenOptions::new().read_txn_without_tls().map_size(map_size).max_dbs(TABLE_COUNT).open(path)?
    })
}
