//! `morgue export`: the log as JSON Lines.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

/// `morgue export`.
pub(super) fn export(data: DataArgs, from: u64, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let bar = progress_bar(store.head().get(), "exporting");
    let count = match out {
        Some(path) => {
            let file =
                std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            crate::transfer::export(&store, crate::Position(from), &mut w, |p| bar.set_position(p.get()))?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            crate::transfer::export(&store, crate::Position(from), &mut w, |p| bar.set_position(p.get()))?
        }
    };
    bar.finish_and_clear();
    eprintln!("exported {count} events");
    Ok(ExitCode::SUCCESS)
}
