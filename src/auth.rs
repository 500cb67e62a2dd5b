//! Bearer tokens: created by `morgue token create`, shown once, kept only as BLAKE3 hashes in
//! `tokens.json` in the data directory. A token's name is the actor of every event it writes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graphql::{Role, Viewer};

/// One stored token (its secret is never stored).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// Who holds it: the actor of what it writes.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// BLAKE3 of the secret, hex.
    pub hash: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The token file of a data directory.
#[derive(Clone)]
pub struct Tokens {
    path: PathBuf,
    records: Arc<RwLock<Vec<TokenRecord>>>,
    /// The file's modification time when last read: tokens created or revoked by
    /// `morgue token` while the server runs are picked up when it changes.
    loaded: Arc<RwLock<Option<std::time::SystemTime>>>,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown or revoked.
    Unknown,
    /// Not `Bearer <token>`.
    Malformed,
}

fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl Tokens {
    /// Loads `tokens.json` from `data` (none yet is fine).
    pub fn load(data: &Path) -> std::io::Result<Tokens> {
        let tokens =
            Tokens { path: data.join("tokens.json"), records: Arc::default(), loaded: Arc::default() };
        tokens.reload()?;
        Ok(tokens)
    }

    fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }

    /// Reads the file again if it changed since the last read.
    fn reload(&self) -> std::io::Result<()> {
        let modified = self.modified();
        if modified.is_some() && *self.loaded.read().expect("lock poisoned") == modified {
            return Ok(());
        }
        let records = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        *self.records.write().expect("lock poisoned") = records;
        *self.loaded.write().expect("lock poisoned") = modified;
        Ok(())
    }

    /// Every token, secrets never included.
    pub fn list(&self) -> Vec<TokenRecord> {
        self.records.read().expect("lock poisoned").clone()
    }

    fn save(&self, records: &[TokenRecord]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(records).map_err(std::io::Error::other)?)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }

    /// Creates a token and returns its secret (shown once).
    pub fn create(&self, name: &str, role: Role) -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let secret = format!("morgue_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut records = self.records.write().expect("lock poisoned");
        records.push(TokenRecord {
            name: name.to_owned(),
            role,
            hash: hash(&secret),
            created_at: Utc::now(),
            revoked_at: None,
        });
        self.save(&records)?;
        Ok(secret)
    }

    /// Revokes every live token of that name; returns how many.
    pub fn revoke(&self, name: &str) -> std::io::Result<usize> {
        let mut records = self.records.write().expect("lock poisoned");
        let mut n = 0;
        for r in records.iter_mut().filter(|r| r.name == name && r.revoked_at.is_none()) {
            r.revoked_at = Some(Utc::now());
            n += 1;
        }
        self.save(&records)?;
        Ok(n)
    }

    /// Who an `Authorization` header value names; `None` header means anonymous.
    pub fn viewer(&self, header: Option<&str>) -> Result<Viewer, Refusal> {
        let Some(header) = header else { return Ok(Viewer::Anonymous) };
        let secret = header.strip_prefix("Bearer ").map(str::trim).ok_or(Refusal::Malformed)?;
        let digest = hash(secret);
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "could not re-read the token file; using the tokens loaded before");
        }
        let records = self.records.read().expect("lock poisoned");
        records
            .iter()
            .find(|r| r.revoked_at.is_none() && constant_time_eq(r.hash.as_bytes(), digest.as_bytes()))
            .map(|r| Viewer::Staff { name: r.name.clone(), role: r.role })
            .ok_or(Refusal::Unknown)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
