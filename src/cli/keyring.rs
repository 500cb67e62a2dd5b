//! The files a backup keeps beside its log: `keys` (each sealed stream's key, apart from the
//! log, so that a log copied alone reveals nothing) and `erased` (every stream erased so far,
//! so that restoring an older backup can drop the keys of what was erased since).
//!
//! `keys` holds one `<stream> <64 hex digits>` per line; `erased` one stream id per line.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::store::{StreamKey, limits};

/// The key file's name in a backup.
pub const KEYS_FILE: &str = "keys";
/// The erased streams' file name in a backup.
pub const ERASED_FILE: &str = "erased";

/// Most bytes read from either file (a million streams' keys fit well under it).
const MAX_FILE: u64 = 256 << 20;

/// Writes the keys, readable by the owner only, synced.
pub fn write_keys(path: &Path, keys: &[(String, StreamKey)]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(keys.len() * 110);
    for (stream, key) in keys {
        text.push_str(stream);
        text.push(' ');
        text.push_str(&crate::transfer::hex(&key.0));
        text.push('\n');
    }
    write_private(path, text.as_bytes())
}

/// Writes the erased streams, synced.
pub fn write_erased(path: &Path, streams: &[String]) -> anyhow::Result<()> {
    let mut text = streams.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    write_private(path, text.as_bytes())
}

/// Writes a file readable by its owner only: a temporary file, synced, renamed into place, so
/// the file is whole or absent.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).with_context(|| format!("creating {}", partial.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path).with_context(|| format!("renaming into {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_bounded(path: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_FILE {
        anyhow::bail!("{} is {size} bytes, more than the {MAX_FILE} a key file may hold", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {} (UTF-8 text)", path.display()))
}

fn stream_at(path: &Path, number: usize, stream: &str) -> anyhow::Result<String> {
    if stream.is_empty()
        || stream.len() > limits::MAX_NAME
        || crate::domain::StreamKind::parse(stream).is_none()
    {
        anyhow::bail!(
            "{} line {number}, field stream: {stream:?} is not `article-<ULID>` or `author-<ULID>`",
            path.display()
        );
    }
    Ok(stream.to_owned())
}

/// Reads a `keys` file; errors name the line and the field.
pub fn read_keys(path: &Path) -> anyhow::Result<Vec<(String, StreamKey)>> {
    let mut out = Vec::new();
    for (i, line) in read_bounded(path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (stream, key) = line.split_once(' ').unwrap_or((line, ""));
        let stream = stream_at(path, i + 1, stream)?;
        let bytes: Option<Vec<u8>> = (key.len() == 64)
            .then(|| (0..32).map(|j| u8::from_str_radix(key.get(j * 2..j * 2 + 2)?, 16).ok()).collect())
            .flatten();
        let key = bytes.as_deref().and_then(StreamKey::from_slice).ok_or_else(|| {
            anyhow::anyhow!("{} line {}, field key: not 64 hex digits", path.display(), i + 1)
        })?;
        out.push((stream, key));
    }
    Ok(out)
}

/// Reads an `erased` file; errors name the line.
pub fn read_erased(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, line) in read_bounded(path)?.lines().enumerate() {
        if !line.trim().is_empty() {
            out.push(stream_at(path, i + 1, line.trim())?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_key_file_reads_or_names_its_line(text in "\\PC{0,300}") {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("keys");
            std::fs::write(&path, &text).unwrap();
            if let Err(e) = read_keys(&path) {
                prop_assert!(e.to_string().contains(" line "), "{e}");
            }
            if let Err(e) = read_erased(&path) {
                prop_assert!(e.to_string().contains(" line "), "{e}");
            }
        }
    }

    #[test]
    fn keys_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let stream = crate::domain::ArticleId::generate().stream();
        let keys = vec![(stream.clone(), StreamKey::generate().unwrap())];
        write_keys(&dir.path().join("keys"), &keys).unwrap();
        assert_eq!(read_keys(&dir.path().join("keys")).unwrap(), keys);
        write_erased(&dir.path().join("erased"), std::slice::from_ref(&stream)).unwrap();
        assert_eq!(read_erased(&dir.path().join("erased")).unwrap(), vec![stream]);
    }
}
