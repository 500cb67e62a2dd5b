//! `morgue verify`: the hash chain and every record checked, to the first bad position, and
//! every blob (an image's bytes) hashed again.

use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// What `verify --json` prints.
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Summary {
    Intact {
        ok: bool,
        events: u64,
        streams: u64,
        head: String,
        chain_head: String,
        blobs: u64,
        blob_bytes: u64,
    },
    Damaged {
        ok: bool,
        position: String,
        reason: String,
        intact_events: u64,
    },
    DamagedBlobs {
        ok: bool,
        events: u64,
        blobs: u64,
        damaged_blobs: Vec<String>,
        strays: Vec<String>,
    },
}

/// `morgue verify`: exits [`exit::DAMAGED`] when the log is not intact.
pub(super) fn verify(data: DataArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = data.open_reader()?;
    let head = store.head();
    let bar = progress_bar(head.get(), "verifying");
    let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
    bar.finish_and_clear();
    // Every image's bytes hash again to their name.
    let blobs = store::blobs::Blobs::at(data.data.join("blobs"))
        .verify()
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", data.data.join("blobs").display()))?;
    if report.problem.is_none() && (!blobs.damaged.is_empty() || !blobs.strays.is_empty()) {
        let damaged: Vec<String> = blobs.damaged.iter().map(ToString::to_string).collect();
        let strays: Vec<String> = blobs.strays.iter().map(|p| p.display().to_string()).collect();
        if json {
            print_json(&Summary::DamagedBlobs {
                ok: false,
                events: report.events,
                blobs: blobs.blobs,
                damaged_blobs: damaged,
                strays,
            })?;
        } else {
            for id in &damaged {
                println!("BAD blob {id}: its bytes no longer hash to its name");
            }
            for path in &strays {
                println!("BAD stray file in the blob store: {path}");
            }
            println!("the log's {} events are intact", report.events);
        }
        return Ok(ExitCode::from(exit::DAMAGED));
    }
    match report.problem {
        None => {
            if json {
                print_json(&Summary::Intact {
                    ok: true,
                    events: report.events,
                    streams: report.streams,
                    head: report.head.to_string(),
                    chain_head: hex(&report.head_hash),
                    blobs: blobs.blobs,
                    blob_bytes: blobs.bytes,
                })?;
            } else {
                println!(
                    "ok: {} events in {} streams, head {}, chain head {}, {} blobs ({} bytes)",
                    report.events,
                    report.streams,
                    report.head,
                    hex(&report.head_hash),
                    blobs.blobs,
                    blobs.bytes
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
