//! `morgue rebuild`: derived data rebuilt from the log into a new generation.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// What `rebuild --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    head: String,
    rebuilt: Vec<Projector>,
}

/// One projector in [`Summary`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Projector {
    projector: String,
    seconds: f64,
    dir: String,
}

/// `morgue rebuild`.
pub(super) fn rebuild(data: DataArgs, which: Option<ProjectorArg>, json: bool) -> anyhow::Result<ExitCode> {
    let store = data.open_store()?;
    let order: Vec<Which> = match which.map(Which::from) {
        Some(w) => vec![w],
        None => BOTH.to_vec(),
    };
    let mut rebuilt = Vec::new();
    derive(&store, &data, &order, |built| {
        if json {
            rebuilt.push(Projector {
                projector: built.name(),
                seconds: built.seconds,
                dir: built.dir.display().to_string(),
            });
            return;
        }
        println!(
            "rebuilt {:?} in {:.2}s ({:.0} events/s) into {}",
            built.which,
            built.seconds,
            built.head as f64 / built.seconds.max(1e-9),
            built.dir.display()
        );
    })?;
    if json {
        print_json(&Summary { head: store.head().to_string(), rebuilt })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Both projectors, views first: the search index is built from them.
pub(super) const BOTH: [Which; 2] = [Which::Views, Which::Search];

/// One projector rebuilt.
pub(super) struct Rebuilt {
    /// Which.
    pub which: Which,
    /// How long it took.
    pub seconds: f64,
    /// The log's head it was built to.
    pub head: u64,
    /// Its new generation's directory.
    pub dir: PathBuf,
}

impl Rebuilt {
    /// The projector's name as `--which` spells it: `views` or `search`.
    pub fn name(&self) -> String {
        format!("{:?}", self.which).to_lowercase()
    }
}

/// Rebuilds each projector of `order` from `store` into a new generation under the data
/// directory, with a progress bar on standard error; `done` is told of each as it finishes.
pub(super) fn derive(
    store: &Store,
    data: &DataArgs,
    order: &[Which],
    mut done: impl FnMut(&Rebuilt),
) -> anyhow::Result<()> {
    let projections = crate::project::Projections::open(store.clone(), &data.data, data.map_size)?;
    projections.set_batch(data.projector_batch);
    for &which in order {
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
        done(&Rebuilt { which, seconds: started.elapsed().as_secs_f64(), head: store.head().get(), dir });
    }
    projections.stop();
    Ok(())
}
