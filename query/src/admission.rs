//! What all running queries share: a bound on how many run at once and a
//! server-wide budget of samples held in memory.
//!
//! Every sample a query holds is counted by its evaluation context
//! (`Ctx::keep`), and each count is drawn from the [`MemoryBudget`] too,
//! so N queries together never hold more than the budget however each is
//! shaped. A query returns what it drew when its evaluation ends, failed
//! or not. The concurrency gate is a FIFO semaphore: a request waits for a
//! slot up to the queue timeout, then is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Samples held by all running queries together, against one limit.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    held: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` samples (16 bytes each).
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            held: AtomicUsize::new(0),
        }
    }

    /// The limit in samples.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Samples drawn now by running queries.
    pub fn in_use(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Draws `n` samples; false (and nothing drawn) past the limit.
    pub(crate) fn draw(&self, n: usize) -> bool {
        let mut cur = self.held.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= self.limit) else {
                return false;
            };
            match self
                .held
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Gives back `n` samples drawn earlier.
    pub(crate) fn give_back(&self, n: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

/// Samples drawn for memory an evaluation no longer counts (a result
/// being written out); given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    n: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.n);
    }
}

impl MemoryBudget {
    /// Draws `n` samples until the returned guard drops; `None` (and
    /// nothing drawn) past the limit.
    pub fn reserve(self: &Arc<Self>, n: usize) -> Option<Reservation> {
        self.draw(n).then(|| Reservation {
            budget: Arc::clone(self),
            n,
        })
    }
}

/// Why a query was not let in.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "too many concurrent queries: {running} running (the limit), none finished within the {waited:?} queue timeout"
)]
pub struct QueueTimeout {
    /// The concurrency limit.
    pub running: usize,
    /// How long the request waited.
    pub waited: Duration,
}

/// The concurrency gate and the memory budget of one server.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    max_concurrency: usize,
    queue_timeout: Duration,
    memory: Arc<MemoryBudget>,
}

/// A running query's slot; dropping it lets the next one in.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// At most `max_concurrency` (at least 1) at once; waiters give up
    /// after `queue_timeout`; all share `memory_budget` samples.
    pub fn new(max_concurrency: usize, queue_timeout: Duration, memory_budget: usize) -> Self {
        let max_concurrency = max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            queue_timeout,
            memory: Arc::new(MemoryBudget::new(memory_budget)),
        }
    }

    /// Waits (in FIFO order) for a slot, up to the queue timeout.
    pub async fn enter(&self) -> Result<Slot, QueueTimeout> {
        let refused = || QueueTimeout {
            running: self.max_concurrency,
            waited: self.queue_timeout,
        };
        let acquire = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout(self.queue_timeout, acquire).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
            _ => Err(refused()),
        }
    }

    /// The budget every query's samples are drawn from.
    pub fn memory(&self) -> &Arc<MemoryBudget> {
        &self.memory
    }

    /// Queries that may run at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }
}
