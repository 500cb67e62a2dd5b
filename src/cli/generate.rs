//! `morgue generate`: a deterministic generated archive as import lines.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// `morgue generate`.
pub(super) fn generate(
    articles: u64,
    revisions: u32,
    authors: u64,
    seed: u64,
    min_words: usize,
    max_words: usize,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let spec = crate::tools::generate::Spec {
        articles,
        revisions,
        authors,
        seed,
        words: (min_words, max_words.max(min_words)),
    };
    let lines = match out {
        Some(path) => {
            let file =
                std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            crate::tools::generate::generate(&spec, &mut std::io::BufWriter::with_capacity(1 << 20, file))?
        }
        None => {
            crate::tools::generate::generate(&spec, &mut std::io::BufWriter::new(std::io::stdout().lock()))?
        }
    };
    eprintln!("generated {lines} events");
    Ok(ExitCode::SUCCESS)
}
