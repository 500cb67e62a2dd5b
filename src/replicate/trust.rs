//! Who may speak on the feed. The stream carries drafts, so both ends authenticate to NATS
//! (user and password, a token, a creds file or an nkey) and may require TLS; and the writer
//! signs every event it publishes with an Ed25519 key of its own (an nkey), whose public half
//! every replica is given. A replica restores only events signed by that key: a message that
//! anyone else put on the stream, even one whose hash chain is valid, is never served.
//!
//! The signature covers the event's checksum, which covers every field of the record and the
//! checksum before it: one signature vouches for the event and for the history it continues.

use std::path::{Path, PathBuf};

use super::hex;

/// Header: the writer's signature of the event's checksum (hex of 64 bytes).
pub const H_SIGNATURE: &str = "Morgue-Signature";

/// How a node authenticates to NATS, and whether it requires TLS.
#[derive(Clone, Default)]
pub struct NatsAuth {
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (with `user`).
    pub password: Option<String>,
    /// A token.
    pub token: Option<String>,
    /// A `.creds` file (JWT and nkey seed).
    pub creds: Option<PathBuf>,
    /// An nkey seed (`SU...`).
    pub nkey: Option<String>,
    /// A CA certificate (PEM) that the servers' certificates must chain to; implies TLS.
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM), with `key`; implies TLS.
    pub cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub key: Option<PathBuf>,
    /// Require TLS even without a CA or client certificate.
    pub tls: bool,
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.debug_struct("NatsAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("creds", &self.creds)
            .field("nkey", &self.nkey.as_ref().map(|_| "***"))
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("tls", &self.tls)
            .finish()
    }
}

impl NatsAuth {
    /// The client options these settings make.
    pub async fn options(&self, name: &str) -> Result<async_nats::ConnectOptions, String> {
        let mut options = match &self.creds {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| format!("reading the NATS creds file {}: {e}", path.display()))?,
            None => async_nats::ConnectOptions::new(),
        };
        options = options.name(name);
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => {
                options = options.user_and_password(user.clone(), password.clone());
            }
            (None, None) => {}
            _ => return Err("give both a NATS user and a password, or neither".into()),
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(seed) = &self.nkey {
            options = options.nkey(seed.clone());
        }
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                options = options.add_client_certificate(cert.clone(), key.clone()).require_tls(true);
            }
            (None, None) => {}
            _ => return Err("give both a client certificate and its key, or neither".into()),
        }
        if self.tls {
            options = options.require_tls(true);
        }
        Ok(options)
    }
}

/// The writer's signing key, kept as an nkey seed in a file of its own (mode 0600).
pub struct SigningKey(nkeys::KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.0.public_key())
    }
}

impl SigningKey {
    /// Reads the seed in `path`, or makes a new key and writes its seed there first.
    pub fn load_or_create(path: &Path) -> std::io::Result<SigningKey> {
        match std::fs::read_to_string(path) {
            Ok(seed) => nkeys::KeyPair::from_seed(seed.trim())
                .map(SigningKey)
                .map_err(|e| std::io::Error::other(format!("{}: not an nkey seed: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = nkeys::KeyPair::new_user();
                let seed = pair.seed().map_err(|e| std::io::Error::other(e.to_string()))?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                write_private(path, seed.as_bytes())?;
                Ok(SigningKey(pair))
            }
            Err(e) => Err(e),
        }
    }

    /// The public key replicas are given (`U...`).
    pub fn public_key(&self) -> String {
        self.0.public_key()
    }

    /// The signature header's value for an event's checksum.
    pub fn sign(&self, checksum: &[u8; 32]) -> String {
        self.0.sign(checksum).map(|s| hex(&s)).unwrap_or_default()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The writer's public key, as a replica holds it.
#[derive(Clone)]
pub struct WriterKey(std::sync::Arc<nkeys::KeyPair>);

impl std::fmt::Debug for WriterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.public_key())
    }
}

impl WriterKey {
    /// Parses a public key (`U...`).
    pub fn parse(text: &str) -> Result<WriterKey, String> {
        nkeys::KeyPair::from_public_key(text.trim())
            .map(|k| WriterKey(std::sync::Arc::new(k)))
            .map_err(|e| format!("{text:?} is not the writer's public key (an nkey, `U...`): {e}"))
    }

    /// Whether `signature` (the header's value) is the writer's signature of `checksum`.
    pub fn verifies(&self, checksum: &[u8; 32], signature: Option<&str>) -> bool {
        let Some(bytes) = signature.and_then(unhex) else { return false };
        self.0.verify(checksum, &bytes).is_ok()
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 256 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_writer_s_signature_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.nkey");
        let key = SigningKey::load_or_create(&path).unwrap();
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(key.public_key(), again.public_key(), "the seed is kept");
        let writer = WriterKey::parse(&key.public_key()).unwrap();
        let checksum = [7u8; 32];
        let signature = key.sign(&checksum);
        assert!(writer.verifies(&checksum, Some(&signature)));
        assert!(!writer.verifies(&[8u8; 32], Some(&signature)), "another event");
        assert!(!writer.verifies(&checksum, None), "unsigned");
        assert!(!writer.verifies(&checksum, Some("zz")), "garbage");
        let forger = SigningKey::load_or_create(&dir.path().join("other.nkey")).unwrap();
        assert!(!writer.verifies(&checksum, Some(&forger.sign(&checksum))), "another key");
        assert!(WriterKey::parse("not a key").is_err());
    }
}
