//! The data-directory lock: one writing process per data directory.
//!
//! The server caches the log's tail and appends with LMDB's APPEND flag, so a second writer in
//! the same directory would break its assumptions. Every command that writes (`serve`,
//! `import`, `rebuild`, `restore`, the benches that write) takes an exclusive `flock` on
//! `morgue.lock` in the data directory for its whole life and writes its pid and command
//! there; read-only commands never touch it. The operating system releases the lock when the
//! process ends, however it ends, so a killed server leaves no stale lock behind: the file's
//! content is only a note for the next one to quote, never what decides.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::exit::Failure;

/// The lock's file in the data directory.
pub const LOCK_FILE: &str = "morgue.lock";

/// How long a refused process waits for a holder that has just taken the lock to write its pid.
const HOLDER_NOTE_WAIT: Duration = Duration::from_millis(500);

/// An exclusive hold on a data directory, released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataLock {
    file: File,
    path: PathBuf,
}

impl DataLock {
    /// Takes the lock of `data` (creating the directory and the file if missing) for
    /// `command`, or fails with [`Failure::Locked`] naming the holder's pid.
    pub fn take(data: &Path, command: &str) -> anyhow::Result<DataLock> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating the data directory {}", data.display()))?;
        let path = data.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Failure::Locked { data: data.to_owned(), holder: holder(&mut file) }.into());
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        let note = format!("{} morgue {command}\n", std::process::id());
        (|| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(note.as_bytes())?;
            file.flush()
        })()
        .with_context(|| format!("writing the holder's pid into {}", path.display()))?;
        tracing::debug!(lock = %path.display(), "data directory locked");
        Ok(DataLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        // Clear the note while still holding the lock, so nobody quotes a pid that has left;
        // closing the file then releases the lock.
        let _ = self.file.set_len(0);
    }
}

/// Who holds the lock, as the file says: `process 1234 (morgue serve)`. A holder that has just
/// taken the lock may not have written its note yet: wait for it briefly.
fn holder(file: &mut File) -> String {
    let deadline = Instant::now() + HOLDER_NOTE_WAIT;
    loop {
        let mut text = String::new();
        let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
        if let (Ok(_), Some((pid, command))) = (read, text.trim().split_once(' ')) {
            return format!("process {pid} ({command})");
        }
        if Instant::now() >= deadline {
            return "another process (it has not written its pid yet)".to_owned();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_hold_is_refused_with_the_holder_s_pid_and_a_released_lock_is_taken_again()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let first = DataLock::take(&data, "import")?;
        let note = std::fs::read_to_string(first.path())?;
        assert_eq!(note, format!("{} morgue import\n", std::process::id()));
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let refused = DataLock::take(&data, "serve").expect_err("the directory is held");
        let message = format!("{refused:#}");
        assert!(
            message.contains(&format!("in use by process {} (morgue import)", std::process::id())),
            "{message}"
        );
        assert_eq!(super::super::exit::code_of(&refused), super::super::exit::LOCKED);
        drop(first);
        assert_eq!(std::fs::read_to_string(data.join(LOCK_FILE))?, "", "the note is cleared");
        let again = DataLock::take(&data, "rebuild")?;
        assert!(std::fs::read_to_string(again.path())?.ends_with(" morgue rebuild\n"));
        Ok(())
    }
}
