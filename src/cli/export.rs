//! `morgue export`: the log as JSON Lines.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::*;

/// What `export --json` prints (it requires `--out`: standard output then holds only this).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    out: String,
    from: String,
    /// The last position exported (`from` when there was nothing after it).
    through: String,
    events: u64,
}

/// `morgue export`.
pub(super) fn export(
    data: DataArgs,
    from: u64,
    out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let bar = progress_bar(store.head().get(), "exporting");
    let through = std::cell::Cell::new(crate::Position(from));
    let progress = |p: crate::Position| {
        through.set(p);
        bar.set_position(p.get());
    };
    let count = match &out {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            crate::transfer::export(&store, crate::Position(from), &mut w, progress)?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            crate::transfer::export(&store, crate::Position(from), &mut w, progress)?
        }
    };
    bar.finish_and_clear();
    match out {
        Some(path) if json => print_json(&Summary {
            out: path.display().to_string(),
            from: from.to_string(),
            through: through.get().to_string(),
            events: count,
        })?,
        _ => eprintln!("exported {count} events"),
    }
    Ok(ExitCode::SUCCESS)
}
