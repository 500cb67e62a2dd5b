//! Projectors: everything derived from the log. Views (LMDB) and the search index (Tantivy)
//! read the log in order from their checkpoints and store each checkpoint atomically with their
//! output, so a crash can never leave an output and its checkpoint disagreeing. Each can be
//! rebuilt from the log alone into a new generation while the old one keeps serving.
//!
//! This module knows the log's envelopes and the domain's fold; it knows nothing of GraphQL or
//! HTTP.

pub mod generation;
mod rebuild;
pub mod search;
pub mod views;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::Position;
use crate::store::{self, Store};
use generation::Generations;
use search::SearchIndex;
use views::Views;

/// Events read from the log per batch, unless set otherwise ([`Projections::set_batch`]).
pub const DEFAULT_BATCH: usize = 2000;

/// The shortest time between two search commits while events keep arriving; a lone event is
/// committed at most this long after it was applied.
const COMMIT_EVERY: Duration = Duration::from_millis(100);

/// Errors of the projectors and their reads.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// LMDB failed.
    #[error("views: {0}")]
    Lmdb(#[from] heed::Error),
    /// Tantivy failed.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The file system failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The log failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A batch does not start right after the checkpoint.
    #[error("batch starts at {next}, but the checkpoint is {checkpoint}")]
    Gap {
        /// The checkpoint.
        checkpoint: Position,
        /// The batch's first position.
        next: Position,
    },
    /// An event could not be read.
    #[error("event: {0}")]
    Event(String),
    /// Derived data is damaged (rebuild it).
    #[error("derived data is damaged: {0}; run `morgue rebuild`")]
    Corrupt(String),
    /// A pagination cursor is not one we issued.
    #[error("cursor {0:?} is not valid here")]
    BadCursor(String),
    /// The search query does not parse.
    #[error("query: {0}")]
    Query(String),
    /// The projectors did not reach a position in time.
    #[error("the projectors reached position {reached}, not {wanted}, within {waited_ms} ms; retry")]
    Stale {
        /// The position asked for.
        wanted: Position,
        /// The position reached.
        reached: Position,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The projectors are shutting down.
    #[error("the projectors have stopped")]
    Stopped,
}

/// A `Result` with the projectors' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The point in time a read is made at: the events in effect at `as_of` among those at or
/// before `basis`. `None` means "now" and "the head" respectively.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct At {
    /// Effective-time instant.
    pub as_of: Option<DateTime<Utc>>,
    /// Log position (what the archive knew).
    pub basis: Option<Position>,
}

/// A projector's name, checkpoint and lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectorStatus {
    /// `views` or `search`.
    pub name: &'static str,
    /// The last position whose output is durable.
    pub checkpoint: Position,
    /// Head minus checkpoint.
    pub lag: u64,
    /// What built the serving generation.
    pub built_by: String,
    /// The last error, if the projector is stuck.
    pub error: Option<String>,
}

/// Which projector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The LMDB views.
    Views,
    /// The Tantivy search index.
    Search,
}

struct Slot<T> {
    serving: RwLock<Arc<T>>,
    generations: Generations,
    checkpoint: watch::Sender<Position>,
    /// Held while applying; a rebuild holds it for its final catch-up and switch.
    apply: Mutex<()>,
    error: Mutex<Option<String>>,
}

impl<T> Slot<T> {
    fn new(value: T, generations: Generations, checkpoint: Position) -> Slot<T> {
        Slot {
            serving: RwLock::new(Arc::new(value)),
            generations,
            checkpoint: watch::channel(checkpoint).0,
            apply: Mutex::new(()),
            error: Mutex::new(None),
        }
    }

    /// Makes generation `n` (already caught up to `checkpoint`) the serving one, then removes
    /// the others. The caller holds the apply lock.
    fn switch(&self, n: u64, fresh: Arc<T>, checkpoint: Position) -> Result<()> {
        self.generations.switch_to(n)?;
        *self.serving.write().expect("lock poisoned") = fresh;
        self.checkpoint.send_replace(checkpoint);
        self.generations.remove_others()?;
        Ok(())
    }

    fn get(&self) -> Arc<T> {
        self.serving.read().expect("lock poisoned").clone()
    }
}

struct Shared {
    store: Store,
    map_size: usize,
    views: Slot<Views>,
    search: Slot<SearchIndex>,
    stop: watch::Sender<bool>,
    batch: AtomicUsize,
}

/// The projectors of one data directory and the threads that keep them up to date.
#[derive(Clone)]
pub struct Projections {
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Projections {
    /// Opens the serving generations under `dir` (`views/`, `search/`) without starting threads.
    pub fn open(store: Store, dir: &Path, map_size: usize) -> Result<Projections> {
        let views_gen = Generations::new(dir.join("views"))?;
        let search_gen = Generations::new(dir.join("search"))?;
        let views = Views::open(&views_gen.dir(views_gen.current_or_first()?), map_size)?;
        let search = SearchIndex::open(&search_gen.dir(search_gen.current_or_first()?))?;
        let (views_cp, search_cp) = (views.checkpoint()?, search.checkpoint());
        let shared = Shared {
            store,
            map_size,
            views: Slot::new(views, views_gen, views_cp),
            search: Slot::new(search, search_gen, search_cp),
            stop: watch::channel(false).0,
            batch: AtomicUsize::new(DEFAULT_BATCH),
        };
        Ok(Projections { shared: Arc::new(shared), threads: Arc::new(Mutex::new(Vec::new())) })
    }

    /// Starts the threads that follow the log.
    pub fn start(&self) -> Result<()> {
        let mut threads = self.threads.lock().expect("lock poisoned");
        let views = self.clone();
        threads.push(
            std::thread::Builder::new().name("morgue-views".into()).spawn(move || views.follow_views())?,
        );
        let search = self.clone();
        threads.push(
            std::thread::Builder::new().name("morgue-search".into()).spawn(move || search.follow_search())?,
        );
        Ok(())
    }

    /// Stops the threads after the batch in hand (committing what the search index applied).
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
        let threads: Vec<_> = self.threads.lock().expect("lock poisoned").drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }

    /// Sets how many events a projector reads and applies per batch: larger batches rebuild
    /// faster, smaller ones commit (and show progress) more often.
    pub fn set_batch(&self, events: usize) {
        self.shared.batch.store(events.max(1), Ordering::Relaxed);
    }

    fn batch(&self) -> usize {
        self.shared.batch.load(Ordering::Relaxed)
    }

    /// The log.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The serving views.
    pub fn views(&self) -> Arc<Views> {
        self.shared.views.get()
    }

    /// The serving search index.
    pub fn search(&self) -> Arc<SearchIndex> {
        self.shared.search.get()
    }

    /// Each projector's checkpoint and lag.
    pub fn status(&self) -> Vec<ProjectorStatus> {
        let head = self.shared.store.head();
        let status =
            |name, checkpoint: Position, built_by: String, error: &Mutex<Option<String>>| ProjectorStatus {
                name,
                checkpoint,
                lag: head.get().saturating_sub(checkpoint.get()),
                built_by,
                error: error.lock().expect("lock poisoned").clone(),
            };
        vec![
            status(
                "views",
                *self.shared.views.checkpoint.borrow(),
                self.views().built_by().unwrap_or_default(),
                &self.shared.views.error,
            ),
            status(
                "search",
                *self.shared.search.checkpoint.borrow(),
                search::SEARCH_VERSION.to_owned(),
                &self.shared.search.error,
            ),
        ]
    }

    /// The lowest checkpoint: every read sees at least this much of the log.
    pub fn checkpoint(&self) -> Position {
        (*self.shared.views.checkpoint.borrow()).min(*self.shared.search.checkpoint.borrow())
    }

    /// The last position the views have applied (reads that touch only the views may stand
    /// there without waiting for the search index).
    pub fn views_checkpoint(&self) -> Position {
        *self.shared.views.checkpoint.borrow()
    }

    /// Waits until every projector has durably applied `position`, or fails with
    /// [`Error::Stale`] after `timeout`. This is how a read sees the caller's own write.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<()> {
        let mut views = self.shared.views.checkpoint.subscribe();
        let mut search = self.shared.search.checkpoint.subscribe();
        let wait = async {
            views.wait_for(|p| *p >= position).await.map_err(|_| Error::Stopped)?;
            search.wait_for(|p| *p >= position).await.map_err(|_| Error::Stopped)?;
            Ok(())
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(Error::Stale {
                wanted: position,
                reached: self.checkpoint(),
                waited_ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// Waits until the views (not the search index) include `position`.
    pub async fn wait_for_views(&self, position: Position, timeout: Duration) -> Result<()> {
        let mut views = self.shared.views.checkpoint.subscribe();
        match tokio::time::timeout(timeout, views.wait_for(|p| *p >= position)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Stale {
                wanted: position,
                reached: *self.shared.views.checkpoint.borrow(),
                waited_ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// Blocks until every projector has applied everything in the log now (for tools and
    /// tests; servers use [`Projections::wait_for`]).
    pub fn catch_up(&self, timeout: Duration) -> Result<()> {
        let head = self.shared.store.head();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        rt.block_on(self.wait_for(head, timeout))
    }

    fn stopping(&self) -> bool {
        *self.shared.stop.borrow()
    }

    /// Blocks the calling (projector) thread until `changed` fires, stop is asked, or `timeout`.
    fn park(
        &self,
        rt: &tokio::runtime::Runtime,
        changed: &mut watch::Receiver<Position>,
        timeout: Option<Duration>,
    ) {
        let mut stop = self.shared.stop.subscribe();
        rt.block_on(async {
            let sleep = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = changed.changed() => {}
                _ = stop.wait_for(|s| *s) => {}
                _ = sleep => {}
            }
        });
    }

    fn follow_views(&self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
        let mut head = self.shared.store.subscribe();
        let mut busy = true;
        while !self.stopping() {
            head.borrow_and_update();
            match caught(|| self.step_views()) {
                Ok(true) => busy = true,
                Ok(false) => {
                    if std::mem::take(&mut busy) {
                        tracing::info!(checkpoint = %self.shared.views.checkpoint.borrow().clone(), "views caught up");
                    }
                    self.park(&rt, &mut head, None)
                }
                Err(e) => self.stuck(&self.shared.views.error, "views", e, &rt, &mut head),
            }
        }
    }

    /// Brings the serving views up to the head in the calling thread (tools that run without
    /// the projector threads).
    pub fn apply_views_to_head(&self) -> Result<()> {
        while self.step_views()? {}
        Ok(())
    }

    /// Applies one batch to the serving views; `false` when there was nothing to apply.
    fn step_views(&self) -> Result<bool> {
        let _guard = self.shared.views.apply.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let views = self.views();
        let checkpoint = views.checkpoint()?;
        let events = self.shared.store.read_all(checkpoint, self.batch())?;
        let Some(last) = events.last().map(|e| e.position) else { return Ok(false) };
        views.apply(&events)?;
        self.shared.views.checkpoint.send_replace(last);
        *self.shared.views.error.lock().expect("lock poisoned") = None;
        tracing::debug!(checkpoint = %last, "views applied");
        Ok(true)
    }

    fn follow_search(&self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
        let mut views = self.shared.views.checkpoint.subscribe();
        let mut last_commit = Instant::now();
        let mut busy = true;
        while !self.stopping() {
            views.borrow_and_update();
            match caught(|| self.step_search(&mut last_commit)) {
                Ok(Pending::More) => busy = true,
                Ok(Pending::Uncommitted(wait)) => self.park(&rt, &mut views, Some(wait)),
                Ok(Pending::Idle) => {
                    if std::mem::take(&mut busy) {
                        tracing::info!(checkpoint = %self.shared.search.checkpoint.borrow().clone(), "search caught up");
                    }
                    self.park(&rt, &mut views, None)
                }
                Err(e) => self.stuck(&self.shared.search.error, "search", e, &rt, &mut views),
            }
        }
        let _guard = self.shared.search.apply.lock().expect("lock poisoned");
        if let Err(e) = self.commit_search() {
            tracing::error!(error = %e, "final search commit failed");
        }
    }

    fn step_search(&self, last_commit: &mut Instant) -> Result<Pending> {
        let _guard = self.shared.search.apply.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let search = self.search();
        let applied = search.applied();
        let target = *self.shared.views.checkpoint.borrow();
        if applied < target {
            let events = self
                .shared
                .store
                .read_all(applied, self.batch().min((target.get() - applied.get()) as usize))?;
            search.apply(&events, &self.views())?;
            tracing::debug!(applied = %search.applied(), "search applied");
            if last_commit.elapsed() < Duration::from_secs(1) {
                return Ok(Pending::More);
            }
        }
        if search.applied() > search.checkpoint() {
            let since = last_commit.elapsed();
            if since < COMMIT_EVERY && search.applied() >= target {
                return Ok(Pending::Uncommitted(COMMIT_EVERY - since));
            }
            self.commit_search()?;
            *last_commit = Instant::now();
            return Ok(Pending::More);
        }
        Ok(if search.applied() < target { Pending::More } else { Pending::Idle })
    }

    fn commit_search(&self) -> Result<()> {
        let search = self.search();
        let checkpoint = search.commit()?;
        self.shared.search.checkpoint.send_replace(checkpoint);
        *self.shared.search.error.lock().expect("lock poisoned") = None;
        tracing::debug!(%checkpoint, "search committed");
        Ok(())
    }

    fn stuck(
        &self,
        slot_error: &Mutex<Option<String>>,
        name: &str,
        error: Error,
        rt: &tokio::runtime::Runtime,
        wake: &mut watch::Receiver<Position>,
    ) {
        tracing::error!(projector = name, %error, "projector stopped on an error; retrying when the log moves");
        *slot_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
        self.park(rt, wake, Some(Duration::from_secs(5)));
    }
}

enum Pending {
    /// Work remains: go on at once.
    More,
    /// Applied but not committed; commit after this long unless more arrives.
    Uncommitted(Duration),
    /// Nothing to do until the views move.
    Idle,
}

/// Runs one projector step, turning a panic (a bug, or damaged data the code did not expect)
/// into an error the projector reports in `status` and `/readyz` and retries, rather than a
/// thread that silently stops.
fn caught<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(Error::Corrupt(format!("the projector panicked: {what}")))
    })
}
