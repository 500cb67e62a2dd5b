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
                    let (store, batch) = (&self.shared.store, self.batch());
                    read_ahead(store, views.checkpoint()?, batch, |events| {
                        let Some(last) = events.last().map(|e| e.position) else { return Ok(()) };
                        views.apply(&events)?;
                        progress(last, store.head());
                        Ok(())
                    })?;
                    views.checkpoint()
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

/// Calls `apply` on every batch of up to `batch` events after `from`, up to the log's head, in
/// order. Each batch is read from the log (and its payloads opened) on a thread of its own
/// while the one before is applied.
fn read_ahead(
    store: &Store,
    from: Position,
    batch: usize,
    mut apply: impl FnMut(Vec<store::RecordedEvent>) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (batches, read) = crossbeam_channel::bounded(1);
        scope.spawn(move || {
            let mut after = from;
            loop {
                let events = store.read_all(after, batch);
                let more = match &events {
                    Ok(events) => events.last().map(|e| e.position),
                    Err(_) => None,
                };
                // A closed channel means the applying side stopped (on an error).
                if batches.send(events).is_err() {
                    return;
                }
                match more {
                    Some(last) => after = last,
                    None => return,
                }
            }
        });
        for events in read {
            let events = events?;
            if events.is_empty() {
                break;
            }
            apply(events)?;
        }
        Ok(())
    })
}
