//! Rebuilding a projector from the log into a new generation while the serving one keeps
//! serving, then switching to it.

use std::path::PathBuf;

use super::*;

impl Projections {
    /// Rebuilds one projector from the log into a new generation while the serving one keeps
    /// serving and following; switches atomically once the new one has caught up, then removes
    /// the old. `progress(position, head)` is called after every batch.
    pub fn rebuild(&self, which: Which, mut progress: impl FnMut(Position, Position)) -> Result<PathBuf> {
        match which {
            Which::Views => {
                let slot = &self.shared.views;
                let n = slot.generations.next()?;
                let dir = slot.generations.dir(n);
                let fresh = Arc::new(Views::open(&dir, self.shared.map_size)?);
                let mut fill = |views: &Views| -> Result<Position> {
                    loop {
                        let events = self.shared.store.read_all(views.checkpoint()?, self.batch())?;
                        let Some(last) = events.last().map(|e| e.position) else { return views.checkpoint() };
                        views.apply(&events)?;
                        progress(last, self.shared.store.head());
                    }
                };
                fill(&fresh)?;
                let _guard = slot.apply.lock().expect("lock poisoned");
                let checkpoint = fill(&fresh)?;
                slot.switch(n, fresh, checkpoint)?;
                Ok(dir)
            }
            Which::Search => {
                let slot = &self.shared.search;
                let n = slot.generations.next()?;
                let dir = slot.generations.dir(n);
                let fresh = Arc::new(SearchIndex::open(&dir)?);
                let mut fill = |index: &SearchIndex| -> Result<Position> {
                    let mut last_commit = Instant::now();
                    loop {
                        // The new index reads states from the views, so it follows them.
                        let target = *self.shared.views.checkpoint.borrow();
                        let applied = index.applied();
                        if applied >= target {
                            return index.commit();
                        }
                        let events = self
                            .shared
                            .store
                            .read_all(applied, self.batch().min((target.get() - applied.get()) as usize))?;
                        index.apply(&events, &self.views())?;
                        if last_commit.elapsed() > Duration::from_secs(5) {
                            index.commit()?;
                            last_commit = Instant::now();
                        }
                        progress(index.applied(), self.shared.store.head());
                    }
                };
                fill(&fresh)?;
                let _views = self.shared.views.apply.lock().expect("lock poisoned");
                let _guard = slot.apply.lock().expect("lock poisoned");
                let checkpoint = fill(&fresh)?;
                slot.switch(n, fresh, checkpoint)?;
                Ok(dir)
            }
        }
    }
}
