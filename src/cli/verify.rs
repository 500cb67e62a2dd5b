//! `morgue verify`: the hash chain and every record checked, to the first bad position.

use std::process::ExitCode;

use super::*;

/// `morgue verify`.
pub(super) fn verify(data: DataArgs) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let head = store.head();
    let bar = progress_bar(head.get(), "verifying");
    let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
    bar.finish_and_clear();
    match &report.problem {
        None => {
            println!(
                "ok: {} events in {} streams, head {}, chain head {}",
                report.events,
                report.streams,
                report.head,
                hex(&report.head_hash)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "BAD at position {}: {} ({} events before it are intact)",
                problem.position, problem.reason, report.events
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
