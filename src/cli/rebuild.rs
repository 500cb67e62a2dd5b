//! `morgue rebuild`: derived data rebuilt from the log into a new generation.

use std::process::ExitCode;

use super::*;

/// `morgue rebuild`.
pub(super) fn rebuild(data: DataArgs, which: Option<ProjectorArg>) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let projections = crate::project::Projections::open(store.clone(), &data.data, data.map_size)?;
    projections.set_batch(data.projector_batch);
    // The views first: the search index is built from them.
    let order: Vec<Which> = match which.map(Which::from) {
        Some(w) => vec![w],
        None => vec![Which::Views, Which::Search],
    };
    for which in order {
        if which == Which::Search {
            projections.apply_views_to_head()?;
        }
        let bar = progress_bar(store.head().get(), if which == Which::Views { "views" } else { "search" });
        let started = std::time::Instant::now();
        let dir = projections.rebuild(which, |p, head| {
            bar.set_length(head.get());
            bar.set_position(p.get());
        })?;
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "rebuilt {which:?} in {secs:.2}s ({:.0} events/s) into {}",
            store.head().get() as f64 / secs.max(1e-9),
            dir.display()
        );
    }
    projections.stop();
    Ok(ExitCode::SUCCESS)
}
