//! `morgue import`: JSON Lines (an export, or authored events) into the log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::*;

/// What `import --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    file: String,
    lines: u64,
    appended: u64,
    skipped: u64,
    seconds: f64,
    head_before: String,
    head: String,
}

/// Import formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// morgue's JSON Lines (what `morgue export` writes, and the fixtures).
    Morgue,
    /// The event histories in `shared/data` (`stream`, `seq`, `type`, `payload` with names).
    Corpus,
    /// IPTC ninjs objects, one article version per line (what `export --format ninjs`
    /// writes, or another system's items): written through editors' commands.
    Ninjs,
}

/// Opens an input file, `-` for standard input, decompressing `.gz`.
pub fn open_input(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::BufRead>> {
    use std::io::BufReader;
    let raw: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    let gz = path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, raw))
    })
}

/// `morgue import`.
pub(super) fn import(
    data: DataArgs,
    file: PathBuf,
    format: Format,
    batch: usize,
    blobs: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let blobs = match blobs {
        Some(dir) => {
            anyhow::ensure!(dir.is_dir(), "--blobs {}: no such directory", dir.display());
            Some(crate::store::blobs::Blobs::at(dir))
        }
        // Where `morgue export --out <file>` put them.
        None => Some(crate::store::blobs::Blobs::at(super::export::blobs_beside(&file)))
            .filter(|b| b.dir().is_dir()),
    };
    let store = data.open_store()?;
    let input = open_input(&file)?;
    let lines: Box<dyn Iterator<Item = std::io::Result<String>>> = match format {
        Format::Morgue | Format::Ninjs => Box::new(std::io::BufRead::lines(input)),
        Format::Corpus => Box::new(crate::transfer::corpus::lines(input, &store)),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("importing {spinner} {pos} lines ({per_sec}) {elapsed}")
            .expect("the template is valid"),
    );
    let started = std::time::Instant::now();
    let head = store.head();
    let report = match format {
        Format::Ninjs => crate::archive::import_ninjs(&store, lines, batch, |n| bar.set_position(n)),
        Format::Morgue | Format::Corpus => {
            crate::archive::import_with_blobs(&store, lines, batch, blobs.as_ref(), |n| bar.set_position(n))
        }
    }
    .with_context(|| format!("importing {}", file.display()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if json {
        print_json(&Summary {
            file: file.display().to_string(),
            lines: report.lines,
            appended: report.appended,
            skipped: report.skipped,
            seconds: secs,
            head_before: head.to_string(),
            head: store.head().to_string(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let present = if format == Format::Ninjs { "lines already present" } else { "already present" };
    println!(
        "imported {} events ({} {present}) from {} lines in {secs:.2}s ({:.0} events/s); head {} -> {}",
        report.appended,
        report.skipped,
        report.lines,
        report.appended as f64 / secs.max(1e-9),
        head,
        store.head()
    );
    Ok(ExitCode::SUCCESS)
}
