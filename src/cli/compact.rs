//! `morgue compact`: every file of the data directory rewritten from what is live, so that
//! nothing an erasure destroyed survives in freed pages or deleted documents.

use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// What `compact --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    head: String,
    log_bytes_before: u64,
    log_bytes_after: u64,
    rebuilt: Vec<String>,
}

/// `morgue compact`.
pub(super) fn compact(data: DataArgs, json: bool) -> anyhow::Result<ExitCode> {
    let log = data.log_dir();
    if !log.join("data.mdb").is_file() {
        anyhow::bail!("{} holds no log to compact", data.data.display());
    }
    let (before, after) = store::compact::compact(&log, data.map_size)?;
    let store = data.open_store()?;
    let mut rebuilt = Vec::new();
    rebuild::derive(&store, &data, &rebuild::BOTH, |built| rebuilt.push(built.name()))?;
    let summary =
        Summary { head: store.head().to_string(), log_bytes_before: before, log_bytes_after: after, rebuilt };
    if json {
        print_json(&summary)?;
    } else {
        println!(
            "compacted the log ({} → {} bytes) and rebuilt {} from it, up to position {}",
            summary.log_bytes_before,
            summary.log_bytes_after,
            summary.rebuilt.join(" and "),
            summary.head
        );
    }
    Ok(ExitCode::SUCCESS)
}
