//! `morgue writer-key`: the public key a writer signs its published events with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

/// `morgue writer-key`.
pub(super) fn writer_key(data: DataArgs, signing_key: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = signing_key.unwrap_or_else(|| data.data.join(WRITER_KEY_FILE));
    let key = crate::replicate::SigningKey::load_or_create(&path)
        .with_context(|| format!("the signing key {}", path.display()))?;
    println!("{}", key.public_key());
    Ok(ExitCode::SUCCESS)
}
