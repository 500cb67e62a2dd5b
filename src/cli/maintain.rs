//! The operator's commands on a data directory: verify, rebuild, backup, stats, and the
//! writer's public key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

/// `morgue rebuild`.
pub(super) fn rebuild(data: DataArgs, which: Option<ProjectorArg>) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let projections = crate::project::Projections::open(store.clone(), &data.data, data.map_size)?;
    projections.set_batch(data.projector_batch);
    // The views first: the search index is built from them.
    let order: Vec<Which> = match which.map(Which::from) {
        Some(w) => vec![w],
        None => vec![Which::Views, Which::Search],
    };
    for which in order {
        if which == Which::Search {
            projections.apply_views_to_head()?;
        }
        let bar = progress_bar(store.head().get(), if which == Which::Views { "views" } else { "search" });
        let started = std::time::Instant::now();
        let dir = projections.rebuild(which, |p, head| {
            bar.set_length(head.get());
            bar.set_position(p.get());
        })?;
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "rebuilt {which:?} in {secs:.2}s ({:.0} events/s) into {}",
            store.head().get() as f64 / secs.max(1e-9),
            dir.display()
        );
    }
    projections.stop();
    Ok(ExitCode::SUCCESS)
}

/// `morgue writer-key`.
pub(super) fn writer_key(data: DataArgs, signing_key: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = signing_key.unwrap_or_else(|| data.data.join(WRITER_KEY_FILE));
    let key = crate::replicate::SigningKey::load_or_create(&path)
        .with_context(|| format!("the signing key {}", path.display()))?;
    println!("{}", key.public_key());
    Ok(ExitCode::SUCCESS)
}

/// `morgue verify`.
pub(super) fn verify(data: DataArgs) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let head = store.head();
    let bar = progress_bar(head.get(), "verifying");
    let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
    bar.finish_and_clear();
    match &report.problem {
        None => {
            println!(
                "ok: {} events in {} streams, head {}, chain head {}",
                report.events,
                report.streams,
                report.head,
                hex(&report.head_hash)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "BAD at position {}: {} ({} events before it are intact)",
                problem.position, problem.reason, report.events
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

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

/// `morgue stats`.
pub(super) fn stats(data: DataArgs) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let size = store.env().real_disk_size()?;
    println!("head position: {}", store.head());
    println!("log size on disk: {size} bytes");
    Ok(ExitCode::SUCCESS)
}
