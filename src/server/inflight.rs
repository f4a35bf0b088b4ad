//! One memory budget shared by every request body in flight: the bytes
//! received, what they decompress to, and what they decode into are
//! reserved here before they are allocated, and given back when the
//! request is answered. A request that would go over the budget is refused
//! with 503 and `Retry-After`, so many large bodies at once cannot exhaust
//! memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The server-wide budget.
#[derive(Debug)]
pub struct BodyBudget {
    limit_bytes: usize,
    used_bytes: AtomicUsize,
}

/// A reservation the budget could not grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "request bodies in flight would need {wanted_bytes} bytes more, over the server's \
     budget of {limit_bytes} bytes; retry later"
)]
pub struct OverBudget {
    /// What the request asked for.
    pub wanted_bytes: usize,
    /// The budget.
    pub limit_bytes: usize,
}

impl BodyBudget {
    /// A budget of `limit_bytes`.
    pub fn new(limit_bytes: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            limit_bytes,
            used_bytes: AtomicUsize::new(0),
        })
    }

    /// Bytes reserved now.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn limit_bytes(&self) -> usize {
        self.limit_bytes
    }

    fn take(&self, n: usize) -> Result<(), OverBudget> {
        self.used_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&u| u <= self.limit_bytes)
            })
            .map(drop)
            .map_err(|_| OverBudget {
                wanted_bytes: n,
                limit_bytes: self.limit_bytes,
            })
    }

    fn give_back(&self, n: usize) {
        self.used_bytes.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What one request holds of the budget; shared by the layer that reads
/// the body and the handler that decodes it, given back when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct Reservation(Arc<Held>);

#[derive(Debug)]
struct Held {
    budget: Arc<BodyBudget>,
    bytes: AtomicUsize,
    refused: AtomicBool,
}

impl Reservation {
    /// An empty reservation on `budget`.
    pub fn new(budget: &Arc<BodyBudget>) -> Reservation {
        Reservation(Arc::new(Held {
            budget: Arc::clone(budget),
            bytes: AtomicUsize::new(0),
            refused: AtomicBool::new(false),
        }))
    }

    /// Reserves `n` more bytes; a refusal is remembered (see
    /// [`Reservation::was_refused`]).
    pub fn add(&self, n: usize) -> Result<(), OverBudget> {
        match self.0.budget.take(n) {
            Ok(()) => {
                self.0.bytes.fetch_add(n, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                self.0.refused.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Whether any reservation for this request was refused.
    pub fn was_refused(&self) -> bool {
        self.0.refused.load(Ordering::Acquire)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(*self.bytes.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_given_back_when_the_last_clone_drops() {
        let b = BodyBudget::new(100);
        let r = Reservation::new(&b);
        r.add(60).unwrap();
        let r2 = r.clone();
        let other = Reservation::new(&b);
        assert_eq!(other.add(50).unwrap_err().limit_bytes, 100);
        assert!(other.was_refused());
        r2.add(40).unwrap();
        assert_eq!(b.used_bytes(), 100);
        drop(r);
        assert_eq!(b.used_bytes(), 100, "a clone still holds it");
        drop(r2);
        assert_eq!(b.used_bytes(), 0);
        other.add(100).unwrap();
    }
}
