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
    /// Where the images' bytes went, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs_dir: Option<String>,
    /// How many images' bytes were written there.
    blobs: u64,
}

/// Where an export goes: the JSON Lines, and the images' bytes.
pub(super) struct Targets {
    /// The JSON Lines file (standard output when absent).
    pub out: Option<PathBuf>,
    /// The blobs' directory (`<out>.blobs` when absent).
    pub blobs: Option<PathBuf>,
}

/// The directory beside an export file that holds its images' bytes: `<file>.blobs`.
pub(super) fn blobs_beside(file: &std::path::Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".blobs");
    PathBuf::from(name)
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
    targets: Targets,
    format: ExportFormat,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Targets { out, blobs } = targets;
    let store = data.open_reader()?;
    if format == ExportFormat::Ninjs {
        anyhow::ensure!(
            from == 0,
            "--from applies to the morgue format: a ninjs export is of whole articles"
        );
        anyhow::ensure!(
            blobs.is_none(),
            "--blobs applies to the morgue format: ninjs carries no image bytes"
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
    // The images' bytes, beside the lines (each checked against its hash on the way).
    let source = crate::store::blobs::Blobs::at(data.data.join("blobs"));
    let held = source.ids().context("listing the blobs")?.len();
    let blobs_dir = match blobs.or_else(|| out.as_deref().map(blobs_beside)) {
        Some(dir) if held > 0 => {
            let dest = crate::store::blobs::Blobs::at(&dir);
            source.copy_into(&dest).with_context(|| format!("copying the blobs to {}", dir.display()))?;
            Some(dir)
        }
        Some(_) => None,
        None => {
            if held > 0 {
                eprintln!(
                    "warning: the images' bytes ({held} blobs) were not exported: pass --blobs DIR (or --out FILE, which writes them to FILE.blobs)"
                );
            }
            None
        }
    };
    let blob_count = if blobs_dir.is_some() { held as u64 } else { 0 };
    match out {
        Some(path) if json => print_json(&Summary {
            out: path.display().to_string(),
            from: from.to_string(),
            through: through.get().to_string(),
            events: count,
            blobs_dir: blobs_dir.map(|d| d.display().to_string()),
            blobs: blob_count,
        })?,
        _ => match blobs_dir {
            Some(dir) => {
                eprintln!("exported {count} events, and {blob_count} images' bytes to {}", dir.display())
            }
            None => eprintln!("exported {count} events"),
        },
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
