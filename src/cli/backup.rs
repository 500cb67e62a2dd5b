//! `morgue backup`: a consistent copy of a live log, its tokens and the writer's key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

/// `morgue backup`.
pub(super) fn backup(data: DataArgs, out: PathBuf) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let head =
        store.backup(&out.join("log")).with_context(|| format!("backing up into {}", out.display()))?;
    // The tokens, and the writer's signing key: a writer restored from the backup
    // signs as before, so its replicas keep trusting it.
    for file in ["tokens.json", WRITER_KEY_FILE] {
        let from = data.data.join(file);
        if from.exists() {
            std::fs::copy(&from, out.join(file))?;
        }
    }
    println!("backed up the log up to position {head} into {}", out.display());
    Ok(ExitCode::SUCCESS)
}
