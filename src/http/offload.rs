//! Heavy work off the async workers. Every GraphQL operation and every page runs on tokio's
//! blocking pool, at most [`MAX_CONCURRENT`] at once, under the request timeout: LMDB reads,
//! Tantivy searches and diffs then never hold a worker, so `/healthz`, `/readyz` and new
//! connections keep being answered while the heaviest reads the limits allow run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::REQUEST_TIMEOUT;

/// Heavy requests running at once; more wait for a place, within their timeout.
pub const MAX_CONCURRENT: usize = 64;

/// Why offloaded work gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// It did not finish (or find a place to run) within the timeout.
    TimedOut(Duration),
    /// It panicked: a bug, logged; the node goes on.
    Panicked,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::TimedOut(t) => write!(f, "the request ran longer than {}s", t.as_secs()),
            Refused::Panicked => f.write_str("internal error; it has been logged"),
        }
    }
}

/// The places heavy work may take.
#[derive(Clone)]
pub struct Pool {
    places: Arc<Semaphore>,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool { places: Arc::new(Semaphore::new(MAX_CONCURRENT)) }
    }
}

impl Pool {
    /// Runs `work` on the blocking pool once a place is free, and waits for it up to the
    /// request timeout. Work that overruns finishes in the background, holding its place, so
    /// a flood of slow requests queues rather than piling up threads.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        let place = tokio::time::timeout_at(deadline, self.places.clone().acquire_owned())
            .await
            .map_err(|_| Refused::TimedOut(REQUEST_TIMEOUT))?
            .map_err(|_| Refused::Panicked)?;
        // The work logs inside the request's span (its request id), on whatever thread runs it.
        let span = tracing::Span::current();
        let task = tokio::task::spawn_blocking(move || {
            let _place = place;
            let _span = span.enter();
            work()
        });
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(join)) => {
                tracing::error!(error = %join, "a request's work panicked");
                Err(Refused::Panicked)
            }
            Err(_) => Err(Refused::TimedOut(REQUEST_TIMEOUT)),
        }
    }

    /// Runs a future (a GraphQL execution) to completion on the blocking pool.
    pub async fn run_async<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, Refused> {
        let runtime = tokio::runtime::Handle::current();
        self.run(move || runtime.block_on(work)).await
    }
}
