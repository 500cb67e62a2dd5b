//! Who may write a log, and how its commits stay durable with one sync each.
//!
//! One process owns a log's directory: it holds an exclusive `flock` on `owner.lock` for as
//! long as its store is open, recovers the log after a crash (see [`super::checkpoint`] and
//! [`super::wal`]), and is the only one that writes. Any other process that opens the same
//! directory meanwhile (a `morgue backup` or `verify` beside a running server) reads only: it
//! neither recovers nor writes, and LMDB keeps their views consistent.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Result;

/// The lock's file in the log's directory.
pub const LOCK_FILE: &str = "owner.lock";

/// Takes ownership of the log in `dir`, waiting up to `wait` for another process to let go:
/// `None` when it could not.
pub(crate) fn own(dir: &Path, wait: Duration) -> Result<Option<File>> {
    let file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(LOCK_FILE))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                // A reader recovering after a crash holds it for moments only.
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

/// How the writer keeps commits durable: when it checkpoints, and who watches its syncs.
#[derive(Clone)]
pub struct Durability {
    /// Checkpoint once the write-ahead log holds this many bytes.
    pub checkpoint_bytes: u64,
    /// Checkpoint when this long has passed since the last one, with anything written since.
    pub checkpoint_every: Duration,
    /// Told after each sync of the log's files (crash tests rebuild what a disk would hold).
    pub observer: Option<SyncObserver>,
}

impl Default for Durability {
    fn default() -> Self {
        Durability { checkpoint_bytes: 64 << 20, checkpoint_every: Duration::from_secs(1), observer: None }
    }
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durability")
            .field("checkpoint_bytes", &self.checkpoint_bytes)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// What a sync just made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// The write-ahead log, up to its last record.
    Wal,
    /// LMDB's file, whole.
    Data,
    /// The checkpoint file (after its rename and the directory's sync).
    Checkpoint,
}

/// A watcher of the writer's syncs.
pub type SyncObserver = Arc<dyn Fn(Synced) + Send + Sync>;
