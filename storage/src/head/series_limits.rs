//! Cardinality limits: how many series may be live, and how many may be
//! created per minute, server-wide and per writer.
//!
//! A quota is charged when a series is created and released when garbage
//! collection removes it. The per-minute budget is a fixed window on the
//! head's clock (minute `now_ms / 60_000`). Only new series are ever
//! refused: samples of existing series never touch a quota.

use super::lock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits on series creation; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Most series live in the head at once.
    pub max_active: Option<u64>,
    /// Most series created per clock minute.
    pub max_new_per_minute: Option<u64>,
}

impl SeriesLimits {
    /// True when neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_active.is_none() && self.max_new_per_minute.is_none()
    }
}

/// Why a new series was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRefusal {
    /// The active-series cap is reached.
    ActiveSeries,
    /// This minute's new-series budget is spent.
    NewSeriesRate,
}

const MINUTE_MS: i64 = 60_000;

/// A series budget (the server's, or one writer's): its limits and what
/// has been used of them.
#[derive(Debug, Default)]
pub struct SeriesQuota {
    limits: SeriesLimits,
    active: AtomicU64,
    /// (minute number, series created in it).
    minute: Mutex<(i64, u64)>,
}

impl SeriesQuota {
    /// A fresh quota under `limits`.
    pub fn new(limits: SeriesLimits) -> SeriesQuota {
        SeriesQuota {
            limits,
            ..SeriesQuota::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> SeriesLimits {
        self.limits
    }

    /// Live series charged to this quota.
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Charges one new series at `now_ms`, or says why it may not be made.
    pub(crate) fn take(&self, now_ms: i64) -> Result<(), SeriesRefusal> {
        match self.limits.max_active {
            Some(max) => {
                self.active
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < max).then_some(n + 1)
                    })
                    .map_err(|_| SeriesRefusal::ActiveSeries)?;
            }
            None => {
                self.active.fetch_add(1, Ordering::AcqRel);
            }
        }
        if let Some(max) = self.limits.max_new_per_minute {
            let minute = now_ms.div_euclid(MINUTE_MS);
            let mut m = lock(&self.minute);
            if m.0 != minute {
                *m = (minute, 0);
            }
            if m.1 >= max {
                drop(m);
                self.release();
                return Err(SeriesRefusal::NewSeriesRate);
            }
            m.1 += 1;
        }
        Ok(())
    }

    /// Undoes a [`SeriesQuota::take`] at `now_ms` whose series was not
    /// created after all.
    pub(crate) fn give_back(&self, now_ms: i64) {
        self.release();
        if self.limits.max_new_per_minute.is_some() {
            let mut m = lock(&self.minute);
            if m.0 == now_ms.div_euclid(MINUTE_MS) {
                m.1 = m.1.saturating_sub(1);
            }
        }
    }

    /// Counts a series that exists already (found by WAL replay).
    pub(crate) fn count_existing(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    /// A series charged to this quota was removed.
    pub(crate) fn release(&self) {
        let _ = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_cap_and_minute_budget() {
        let q = SeriesQuota::new(SeriesLimits {
            max_active: Some(3),
            max_new_per_minute: Some(2),
        });
        assert_eq!(q.take(0), Ok(()));
        assert_eq!(q.take(1), Ok(()));
        assert_eq!(q.take(2), Err(SeriesRefusal::NewSeriesRate));
        assert_eq!(q.active(), 2);
        assert_eq!(q.take(60_000), Ok(()));
        assert_eq!(q.take(60_001), Err(SeriesRefusal::ActiveSeries));
        q.release();
        assert_eq!(q.take(60_002), Ok(()));
        q.give_back(60_002);
        assert_eq!(q.active(), 2);
        assert_eq!(q.take(60_003), Ok(()));
    }
}
