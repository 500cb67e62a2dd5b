//! `morgue verify`: the hash chain and every record checked, to the first bad position.

use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// What `verify --json` prints.
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Summary {
    Intact { ok: bool, events: u64, streams: u64, head: String, chain_head: String },
    Damaged { ok: bool, position: String, reason: String, intact_events: u64 },
}

/// `morgue verify`: exits [`exit::DAMAGED`] when the log is not intact.
pub(super) fn verify(data: DataArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = data.open_reader()?;
    let head = store.head();
    let bar = progress_bar(head.get(), "verifying");
    let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
    bar.finish_and_clear();
    match report.problem {
        None => {
            if json {
                print_json(&Summary::Intact {
                    ok: true,
                    events: report.events,
                    streams: report.streams,
                    head: report.head.to_string(),
                    chain_head: hex(&report.head_hash),
                })?;
            } else {
                println!(
                    "ok: {} events in {} streams, head {}, chain head {}",
                    report.events,
                    report.streams,
                    report.head,
                    hex(&report.head_hash)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            if json {
                print_json(&Summary::Damaged {
                    ok: false,
                    position: problem.position.to_string(),
                    reason: problem.reason,
                    intact_events: report.events,
                })?;
            } else {
                println!(
                    "BAD at position {}: {} ({} events before it are intact)",
                    problem.position, problem.reason, report.events
                );
            }
            Ok(ExitCode::from(exit::DAMAGED))
        }
    }
}
