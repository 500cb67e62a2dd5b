//! `morgue export`: the log as JSON Lines, or what readers may see of it as IPTC ninjs.

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

/// What `export --format ninjs --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NinjsSummary {
    out: String,
    format: &'static str,
    articles: u64,
    objects: u64,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The whole log, every envelope field (staff's: drafts, actors and notes included).
    Morgue,
    /// IPTC ninjs: every version readers may see, of every article, one object per line.
    Ninjs,
}

/// `morgue export`.
pub(super) fn export(
    data: DataArgs,
    from: u64,
    out: Option<PathBuf>,
    format: ExportFormat,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = data.open_reader()?;
    if format == ExportFormat::Ninjs {
        anyhow::ensure!(
            from == 0,
            "--from applies to the morgue format: a ninjs export is of whole articles"
        );
        return export_ninjs(&store, out, json);
    }
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

fn export_ninjs(store: &crate::store::Store, out: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let streams = store.reader()?.streams(crate::domain::ArticleId::STREAM_PREFIX)?.len() as u64;
    let bar = progress_bar(streams, "exporting");
    let progress = |n: u64| bar.set_position(n);
    let objects = match &out {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            crate::archive::export_ninjs(store, &mut w, progress)?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            crate::archive::export_ninjs(store, &mut w, progress)?
        }
    };
    bar.finish_and_clear();
    match out {
        Some(path) if json => print_json(&NinjsSummary {
            out: path.display().to_string(),
            format: "ninjs",
            articles: streams,
            objects,
        })?,
        _ => eprintln!("exported {objects} ninjs objects"),
    }
    Ok(ExitCode::SUCCESS)
}
