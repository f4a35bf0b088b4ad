//! Latency histograms with fixed buckets and lock-free counts: the one
//! histogram type of the workspace.
//!
//! It lives in the lowest crate that times something (the WAL's fsyncs);
//! crates above use it for their own latencies. It knows numbers, not the
//! text format: the server writes `_bucket{le=…}`, `_sum` and `_count`
//! from a [`Snapshot`] (`src/server/histogram_text.rs`).

use crate::lock::{read, write};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Prometheus's default buckets (client_golang's `DefBuckets`), in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The default buckets with finer ones below 5 ms (fsyncs, cheap requests)
/// and coarser ones up to a minute (long queries, persist rounds), in
/// seconds.
pub const FINE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Observations counted by bucket, with their sum. Observing is a few
/// atomic operations and never blocks; readers take a [`Snapshot`].
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then one for `+Inf`; not cumulative.
    counts: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum_bits: AtomicU64,
}

/// A histogram's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Upper bounds with the cumulative count of observations at or below
    /// each; the last bound is `+Inf` and its count is [`Snapshot::count`].
    pub buckets: Vec<(f64, u64)>,
    /// The sum of all observations.
    pub sum: f64,
    /// How many observations there were.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds`: ascending, finite upper bounds
    /// (`+Inf` is implied), such as [`DEFAULT_BUCKETS`].
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite()),
            "bucket bounds must ascend and be finite"
        );
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Counts `v` in the first bucket whose bound is at least `v` (`NaN`
    /// goes to `+Inf`).
    pub fn observe(&self, v: f64) {
        let i = if v.is_nan() {
            self.bounds.len()
        } else {
            self.bounds.partition_point(|&b| b < v)
        };
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    /// Counts a duration, in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// The figures now. An observation made meanwhile may show in the
    /// counts but not yet in the sum; the `+Inf` bucket always equals the
    /// count.
    pub fn snapshot(&self) -> Snapshot {
        let mut buckets = Vec::with_capacity(self.counts.len());
        let mut total = 0u64;
        let bounds = self.bounds.iter().copied().chain([f64::INFINITY]);
        for (bound, c) in bounds.zip(self.counts.iter()) {
            total = total.saturating_add(c.load(Ordering::Relaxed));
            buckets.push((bound, total));
        }
        Snapshot {
            buckets,
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
            count: total,
        }
    }
}

/// Histograms of one family told apart by a label key (a route, a query
/// kind), at most `max_keys` of them: observations for further keys are
/// dropped, so no caller can grow the family without bound.
#[derive(Debug)]
pub struct HistogramFamily<K> {
    bounds: &'static [f64],
    max_keys: usize,
    members: RwLock<BTreeMap<K, Arc<Histogram>>>,
}

impl<K: Ord + Clone> HistogramFamily<K> {
    /// An empty family whose histograms use `bounds`.
    pub fn new(bounds: &'static [f64], max_keys: usize) -> HistogramFamily<K> {
        HistogramFamily {
            bounds,
            max_keys,
            members: RwLock::new(BTreeMap::new()),
        }
    }

    /// The histogram for `key`, created on first use; `None` once the
    /// family holds `max_keys` others.
    pub fn get(&self, key: &K) -> Option<Arc<Histogram>> {
        {
            let members = read(&self.members);
            if let Some(h) = members.get(key) {
                return Some(Arc::clone(h));
            }
        }
        let mut members = write(&self.members);
        if let Some(h) = members.get(key) {
            return Some(Arc::clone(h));
        }
        if members.len() >= self.max_keys {
            return None;
        }
        let h = Arc::new(Histogram::new(self.bounds));
        members.insert(key.clone(), Arc::clone(&h));
        Some(h)
    }

    /// Counts `v` under `key` (dropped when the family is full).
    pub fn observe(&self, key: &K, v: f64) {
        if let Some(h) = self.get(key) {
            h.observe(v);
        }
    }

    /// Every member's figures, in key order.
    pub fn snapshot(&self) -> Vec<(K, Snapshot)> {
        read(&self.members)
            .iter()
            .map(|(k, h)| (k.clone(), h.snapshot()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_at_or_above_them() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1.0, 2), (2.0, 4), (f64::INFINITY, 5)]);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 8.0);
    }

    #[test]
    fn nan_is_counted_in_the_inf_bucket() {
        let h = Histogram::new(&[1.0]);
        h.observe(f64::NAN);
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1.0, 0), (f64::INFINITY, 1)]);
        assert!(s.sum.is_nan());
    }

    #[test]
    fn concurrent_observers_lose_nothing() {
        let h = Arc::new(Histogram::new(FINE_BUCKETS));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        h.observe_duration(Duration::from_micros((t * 10_000 + i) % 2_000));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = h.snapshot();
        assert_eq!(s.count, 40_000);
        let cum: Vec<u64> = s.buckets.iter().map(|b| b.1).collect();
        assert!(cum.windows(2).all(|w| w[0] <= w[1]), "{cum:?}");
        let want: f64 = (0..4)
            .flat_map(|t| (0..10_000).map(move |i| ((t * 10_000 + i) % 2_000) as f64 / 1e6))
            .sum();
        assert!((s.sum - want).abs() < 1e-6, "{} vs {want}", s.sum);
    }

    #[test]
    fn a_full_family_drops_new_keys_and_keeps_counting_old_ones() {
        let f: HistogramFamily<&str> = HistogramFamily::new(DEFAULT_BUCKETS, 2);
        f.observe(&"a", 0.1);
        f.observe(&"b", 0.1);
        f.observe(&"c", 0.1);
        f.observe(&"a", 0.2);
        let snap = f.snapshot();
        let keys: Vec<_> = snap.iter().map(|(k, s)| (*k, s.count)).collect();
        assert_eq!(keys, vec![("a", 2), ("b", 1)]);
    }
}
