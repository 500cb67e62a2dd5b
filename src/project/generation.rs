//! Generations: each derived output (views, search index) lives in a numbered directory, and a
//! `CURRENT` file names the one that serves. A rebuild fills the next generation while the
//! current one keeps serving, then the pointer moves in one atomic rename.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The generations of one projector under `root`.
#[derive(Clone, Debug)]
pub struct Generations {
    root: PathBuf,
}

impl Generations {
    /// The generations kept under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Generations> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Generations { root })
    }

    /// The number of the serving generation, if any.
    pub fn current(&self) -> std::io::Result<Option<u64>> {
        match fs::read_to_string(self.root.join("CURRENT")) {
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The directory of generation `n`.
    pub fn dir(&self, n: u64) -> PathBuf {
        self.root.join(format!("gen-{n:06}"))
    }

    /// The serving generation, creating generation 1 when there is none.
    pub fn current_or_first(&self) -> std::io::Result<u64> {
        match self.current()? {
            Some(n) => Ok(n),
            None => {
                self.switch_to(1)?;
                Ok(1)
            }
        }
    }

    /// A fresh, empty directory for the next generation (after any that exists).
    pub fn next(&self) -> std::io::Result<u64> {
        let mut highest = self.current()?.unwrap_or(0);
        for entry in fs::read_dir(&self.root)? {
            let name = entry?.file_name();
            if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("gen-")).and_then(|n| n.parse().ok()) {
                highest = highest.max(n);
            }
        }
        let n = highest + 1;
        let dir = self.dir(n);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        Ok(n)
    }

    /// Makes generation `n` the serving one: write a temporary file, sync it, rename it over
    /// `CURRENT`, sync the directory. A crash leaves either the old or the new pointer.
    pub fn switch_to(&self, n: u64) -> std::io::Result<()> {
        fs::create_dir_all(self.dir(n))?;
        let tmp = self.root.join("CURRENT.tmp");
        let mut file = fs::File::create(&tmp)?;
        writeln!(file, "{n}")?;
        file.sync_all()?;
        fs::rename(&tmp, self.root.join("CURRENT"))?;
        sync_dir(&self.root)
    }

    /// Removes every generation but the serving one (unfinished rebuilds, replaced ones).
    pub fn remove_others(&self) -> std::io::Result<()> {
        let keep = self.current()?;
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) =
                name.to_str().and_then(|n| n.strip_prefix("gen-")).and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if Some(n) != keep {
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
