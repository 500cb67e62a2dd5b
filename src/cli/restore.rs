//! `morgue restore`: a backup made by `morgue backup` copied into a data directory that holds
//! no log yet, verified, with its tokens and writer key, and its views and search index
//! rebuilt from the restored log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::exit::Failure;
use super::*;

/// The files besides the log a backup carries.
const EXTRAS: [&str; 2] = ["tokens.json", WRITER_KEY_FILE];

/// What `restore --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    from: String,
    data: String,
    head: String,
    events: u64,
    streams: u64,
    chain_head: String,
    copied: Vec<&'static str>,
    rebuilt: Vec<String>,
}

/// `morgue restore`.
pub(super) fn restore(
    data: DataArgs,
    from: PathBuf,
    erased: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let source_log = from.join("log");
    if !source_log.join("data.mdb").is_file() {
        anyhow::bail!(
            "{} is not a backup: it has no log/data.mdb (`morgue backup --out {}` makes one)",
            from.display(),
            from.display()
        );
    }
    if same_dir(&from, &data.data) {
        anyhow::bail!("{} is both the backup and the data directory to restore into", from.display());
    }
    // Everything that would refuse is checked before anything is written.
    let keys_file = from.join(keyring::KEYS_FILE);
    let keys = if keys_file.exists() { keyring::read_keys(&keys_file)? } else { Vec::new() };
    let erased = match &erased {
        Some(path) => keyring::read_erased(path)?,
        None => Vec::new(),
    };
    let empty_log = refuse_a_log(&data)?;
    let copied = extras_to_copy(&from, &data.data)?;
    if empty_log {
        // A log that was only ever opened (by `stats`, say): the copy takes its place.
        let log = data.log_dir();
        std::fs::remove_dir_all(&log)
            .with_context(|| format!("removing the empty log in {}", log.display()))?;
    }

    // The images' bytes first, each checked against its name: a damaged one stops the restore
    // before any log is written.
    store::blobs::Blobs::at(from.join("blobs"))
        .copy_into(&store::blobs::Blobs::at(data.data.join("blobs")))
        .with_context(|| format!("copying the blobs from {}", from.display()))?;
    let source = Store::open(&source_log, store::StoreOptions { map_size: data.map_size })
        .with_context(|| format!("opening the backup's log in {}", source_log.display()))?;
    let target = data.log_dir();
    source.backup(&target).with_context(|| format!("copying the log into {}", target.display()))?;
    drop(source);

    let store = data.open_store()?;
    let bar = progress_bar(store.head().get(), "verifying");
    let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
    bar.finish_and_clear();
    if let Some(problem) = report.problem {
        // Leave the directory as it was found: without a log.
        drop(store);
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("removing the damaged copy in {}", target.display()))?;
        return Err(
            Failure::Damaged { log: source_log, position: problem.position, reason: problem.reason }.into()
        );
    }
    // The keys the backup kept apart, but none of a stream erased since. A backup whose log
    // holds sealed events and has no key file was cut short: its events would not open.
    if !keys_file.exists()
        && store.reader()?.stored_after(crate::Position::ZERO)?.any(|e| e.is_ok_and(|e| e.sealed))
    {
        drop(store);
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("removing the copy in {}", target.display()))?;
        anyhow::bail!(
            "{} has no `{}` file, and its log holds sealed events: the backup is incomplete (nothing was restored)",
            from.display(),
            keyring::KEYS_FILE
        );
    }
    store.put_keys(&keys, &erased)?;
    for file in &copied {
        std::fs::copy(from.join(file), data.data.join(file))
            .with_context(|| format!("copying {file} from {}", from.display()))?;
    }
    if !json {
        println!(
            "restored {} events (head {}, chain head {}) from {} into {}",
            report.events,
            report.head,
            hex(&report.head_hash),
            from.display(),
            data.data.display()
        );
    }
    let mut rebuilt = Vec::new();
    rebuild::derive(&store, &data, &rebuild::BOTH, |built| {
        rebuilt.push(built.name());
        if !json {
            println!("built {:?} in {:.2}s", built.which, built.seconds);
        }
    })
    .with_context(|| {
        format!(
            "the log is restored and verified, but building its views and search index failed: \
             `morgue rebuild --data {}` (or `morgue serve`) builds them",
            data.data.display()
        )
    })?;
    if json {
        print_json(&Summary {
            from: from.display().to_string(),
            data: data.data.display().to_string(),
            head: report.head.to_string(),
            events: report.events,
            streams: report.streams,
            chain_head: hex(&report.head_hash),
            copied,
            rebuilt,
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `a` and `b` name the same existing directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Refuses a data directory whose log holds events; `true` when it holds an empty log.
fn refuse_a_log(data: &DataArgs) -> anyhow::Result<bool> {
    if !data.log_dir().join("data.mdb").exists() {
        return Ok(false);
    }
    let head = data.open_store()?.head();
    if head != crate::Position::ZERO {
        return Err(Failure::Occupied {
            dir: data.data.clone(),
            head: Some(head),
            what: "restore into a new data directory, or move this one aside first",
        }
        .into());
    }
    Ok(true)
}

/// The extra files the backup holds; refuses if the data directory holds a different one.
fn extras_to_copy(from: &Path, data: &Path) -> anyhow::Result<Vec<&'static str>> {
    let mut copied = Vec::new();
    for file in EXTRAS {
        let (source, target) = (from.join(file), data.join(file));
        if !source.exists() {
            continue;
        }
        if target.exists() {
            let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            if read(&source)? != read(&target)? {
                anyhow::bail!(
                    "{} already holds a {file} that differs from the backup's: move it aside to \
                     restore the backup's (nothing was changed)",
                    data.display()
                );
            }
            continue;
        }
        copied.push(file);
    }
    Ok(copied)
}
