//! Content-addressed blobs: an image's bytes, stored once under their BLAKE3 hash beside the
//! log, written and synced before the event that names them is appended, and never rewritten.
//!
//! Layout: `blobs/<first two hex digits>/<all 64 hex digits>`; `blobs/tmp/` holds writes in
//! progress (a crash leaves only files there, which the next open clears).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The name of a blob: the BLAKE3 hash of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(*blake3::hash(bytes).as_bytes())
    }

    /// Parses exactly 64 lowercase hex digits; anything else is `None` (never a path).
    pub fn parse(text: &str) -> Option<BlobId> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digit = |b: u8| if b.is_ascii_digit() { b - b'0' } else { b - b'a' + 10 };
            out[i] = digit(pair[0]) << 4 | digit(pair[1]);
        }
        Some(BlobId(out))
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What [`Blobs::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobReport {
    /// Blobs checked.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs whose bytes no longer hash to their name.
    pub damaged: Vec<BlobId>,
    /// Files that are not blobs.
    pub strays: Vec<PathBuf>,
}

/// The blob store of one data directory.
#[derive(Clone, Debug)]
pub struct Blobs {
    dir: PathBuf,
}

/// The largest blob the store copies (an upload's limit, 50 MiB): a larger file is damage.
pub const MAX_BLOB: u64 = 50 << 20;

impl Blobs {
    /// The blob store in `dir` (created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> Blobs {
        Blobs { dir: dir.into() }
    }

    /// Where it lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where blob `id` lives.
    pub fn path(&self, id: BlobId) -> PathBuf {
        let name = id.to_string();
        self.dir.join(&name[..2]).join(name)
    }

    /// Whether blob `id` is stored.
    pub fn contains(&self, id: BlobId) -> bool {
        self.path(id).is_file()
    }

    /// Stores `bytes` under their hash and syncs them (file and directories) before answering.
    /// Bytes already stored are not written again.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = BlobId::of(bytes);
        let path = self.path(id);
        if path.is_file() {
            return Ok(id);
        }
        let tmp_dir = self.dir.join("tmp");
        fs::create_dir_all(&tmp_dir)?;
        let parent = path.parent().expect("a blob path has a parent");
        fs::create_dir_all(parent)?;
        let tmp = tmp_dir.join(format!("{id}.{}", ulid::Ulid::new()));
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &path)?;
        File::open(parent)?.sync_all()?;
        File::open(&self.dir)?.sync_all()?;
        Ok(id)
    }

    /// Destroys a blob (an erasure): its file is removed and the removal synced. Removing a
    /// blob that is not there is no error.
    pub fn remove(&self, id: BlobId) -> io::Result<()> {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Some(parent) = path.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(())
    }

    /// A stored blob's bytes, at most `limit` of them (a larger file is damage).
    pub fn get(&self, id: BlobId, limit: u64) -> io::Result<Vec<u8>> {
        let file = File::open(self.path(id))?;
        let mut out = Vec::new();
        file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {id} is over {limit} bytes"),
            ));
        }
        Ok(out)
    }

    /// Every stored blob, in order of id; files that are not blobs are left out.
    pub fn ids(&self) -> io::Result<Vec<BlobId>> {
        Ok(self.scan()?.0)
    }

    fn scan(&self) -> io::Result<(Vec<BlobId>, Vec<PathBuf>)> {
        let (mut ids, mut strays) = (Vec::new(), Vec::new());
        let Ok(top) = fs::read_dir(&self.dir) else { return Ok((ids, strays)) };
        for shard in top {
            let shard = shard?;
            let shard_name = shard.file_name().to_string_lossy().into_owned();
            if shard_name == "tmp" {
                continue;
            }
            if !shard.file_type()?.is_dir() {
                strays.push(shard.path());
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                match BlobId::parse(&name) {
                    Some(id) if name.starts_with(&shard_name) && entry.file_type()?.is_file() => ids.push(id),
                    _ => strays.push(entry.path()),
                }
            }
        }
        ids.sort();
        strays.sort();
        Ok((ids, strays))
    }

    /// Copies every blob into `dest` (each checked against its name and synced there): a
    /// damaged blob stops the copy with an error naming it. Answers how many were copied.
    pub fn copy_into(&self, dest: &Blobs) -> io::Result<u64> {
        let mut n = 0;
        for id in self.ids()? {
            let bytes = self.get(id, MAX_BLOB)?;
            if BlobId::of(&bytes) != id {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("blob {id} is damaged")));
            }
            dest.put(&bytes)?;
            n += 1;
        }
        Ok(n)
    }

    /// Hashes every blob again: a blob whose bytes changed is named, as is any stray file.
    pub fn verify(&self) -> io::Result<BlobReport> {
        let (ids, strays) = self.scan()?;
        let mut report = BlobReport { strays, ..BlobReport::default() };
        for id in ids {
            let mut hasher = blake3::Hasher::new();
            let n = io::copy(&mut File::open(self.path(id))?, &mut hasher)?;
            report.blobs += 1;
            report.bytes += n;
            if hasher.finalize().as_bytes() != &id.0 {
                report.damaged.push(id);
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stored_once_read_back_and_damage_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::at(dir.path().join("blobs"));
        let a = blobs.put(b"first").expect("put");
        assert_eq!(blobs.put(b"first").expect("again"), a);
        let b = blobs.put(b"second").expect("put");
        assert_eq!(blobs.get(a, 100).expect("get"), b"first");
        assert!(blobs.get(a, 2).is_err(), "a blob over the limit is refused");
        assert_eq!(blobs.ids().expect("ids").len(), 2);
        let report = blobs.verify().expect("verify");
        assert_eq!((report.blobs, report.bytes, report.damaged.len()), (2, 11, 0));
        let copy = Blobs::at(dir.path().join("copy"));
        assert_eq!(blobs.copy_into(&copy).expect("copy"), 2);
        assert_eq!(copy.get(a, 100).expect("copied"), b"first");
        fs::write(blobs.path(b), b"secone").expect("damage");
        fs::write(blobs.dir().join("stray"), b"x").expect("stray");
        let report = blobs.verify().expect("verify");
        assert_eq!(report.damaged, vec![b]);
        assert!(
            blobs.copy_into(&Blobs::at(dir.path().join("again"))).is_err(),
            "a damaged blob is not copied"
        );
        assert_eq!(report.strays.len(), 1);
    }

    proptest! {
        #[test]
        fn only_64_lowercase_hex_digits_name_a_blob(text in "\\PC{0,80}") {
            let parsed = BlobId::parse(&text);
            let good = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            prop_assert_eq!(parsed.is_some(), good);
            if let Some(id) = parsed {
                prop_assert_eq!(id.to_string(), text);
            }
        }

        #[test]
        fn ids_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let id = BlobId::of(&bytes);
            prop_assert_eq!(BlobId::parse(&id.to_string()), Some(id));
        }
    }
}
