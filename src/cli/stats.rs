//! `morgue stats`: what a data directory holds.

use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// What `stats --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    head: String,
    log_bytes: u64,
}

/// `morgue stats`.
pub(super) fn stats(data: DataArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = data.open_reader()?;
    let size = store.env().real_disk_size()?;
    if json {
        print_json(&Summary { head: store.head().to_string(), log_bytes: size })?;
    } else {
        println!("head position: {}", store.head());
        println!("log size on disk: {size} bytes");
    }
    Ok(ExitCode::SUCCESS)
}
