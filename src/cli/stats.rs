//! `morgue stats`: what a data directory holds.

use std::process::ExitCode;

use super::*;

/// `morgue stats`.
pub(super) fn stats(data: DataArgs) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let size = store.env().real_disk_size()?;
    println!("head position: {}", store.head());
    println!("log size on disk: {size} bytes");
    Ok(ExitCode::SUCCESS)
}
