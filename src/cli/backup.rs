//! `morgue backup`: a consistent copy of a live log, its tokens and the writer's key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::*;

/// What `backup --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    out: String,
    head: String,
    copied: Vec<&'static str>,
}

/// `morgue backup`.
pub(super) fn backup(data: DataArgs, out: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    if out.join("log").join("data.mdb").exists() {
        return Err(
            exit::Failure::Occupied { dir: out, head: None, what: "back up into a new directory" }.into()
        );
    }
    let store = data.open_reader()?;
    let copy = out.join("log");
    let head = store.backup(&copy).with_context(|| format!("backing up into {}", out.display()))?;
    // The keys go in a file of their own, apart from the log; the list of erased streams goes
    // beside them, for restores of older backups.
    // The keys are written (and synced) before the copy loses them, so a crash in between
    // leaves them on disk twice rather than nowhere.
    let copied = store::Store::open(&copy, store::StoreOptions { map_size: data.map_size })?;
    let reader = copied.reader()?;
    let erased: Vec<String> = reader.erased()?.into_iter().map(|(s, _)| s).collect();
    let keys = reader.keys()?;
    drop(reader);
    keyring::write_keys(&out.join(keyring::KEYS_FILE), &keys)?;
    keyring::write_erased(&out.join(keyring::ERASED_FILE), &erased)?;
    copied.take_keys()?;
    drop(copied);
    store::compact::compact(&copy, data.map_size).context("compacting the backup's log")?;
    // The tokens, and the writer's signing key: a writer restored from the backup
    // signs as before, so its replicas keep trusting it.
    let mut copied = Vec::new();
    for file in ["tokens.json", WRITER_KEY_FILE] {
        let from = data.data.join(file);
        if from.exists() {
            std::fs::copy(&from, out.join(file)).with_context(|| format!("copying {}", from.display()))?;
            copied.push(file);
        }
    }
    // The images' bytes, each checked against its name on the way.
    let blobs = store::blobs::Blobs::at(data.data.join("blobs"))
        .copy_into(&store::blobs::Blobs::at(out.join("blobs")))
        .context("copying the blobs")?;
    if blobs > 0 {
        copied.push("blobs");
    }
    if json {
        print_json(&Summary { out: out.display().to_string(), head: head.to_string(), copied })?;
    } else {
        println!("backed up the log up to position {head} into {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
