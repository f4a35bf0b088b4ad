//! What a query cost: samples read and held, series, time per phase, and
//! optionally samples per step (Prometheus's `stats=all`).

use super::Ctx;
use hourglass_storage::Sample;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a query cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples read from storage (Prometheus's `totalQueryableSamples`).
    pub samples_loaded: usize,
    /// Series read from storage.
    pub series_loaded: usize,
    /// The most samples the query held at once (`peakSamples`): decoded
    /// samples, grids, intermediate and final results, as counted against
    /// `max_samples`.
    pub peak_samples: usize,
    /// Time spent selecting series from storage (`queryPreparationTime`).
    pub prepare_time: Duration,
    /// Time spent sorting the result (`resultSortTime`).
    pub sort_time: Duration,
    /// The whole evaluation, selection and sorting included
    /// (`evalTotalTime`).
    pub eval_time: Duration,
}

impl QueryStats {
    /// Evaluation proper: the whole minus selection and sorting
    /// (`innerEvalTime`).
    pub fn inner_eval_time(&self) -> Duration {
        self.eval_time
            .saturating_sub(self.prepare_time)
            .saturating_sub(self.sort_time)
    }
}

/// Samples read from storage by evaluation step: each sample counts at
/// the first step at or after its timestamp (samples before the first
/// step at the first, after the last at the last). Kept only when asked
/// for, so a query that does not pay nothing.
#[derive(Debug)]
pub(crate) struct StepSamples {
    start: i64,
    step: i64,
    counts: Box<[AtomicU64]>,
}

impl StepSamples {
    /// Counters for `n` steps from `start`, `step` ms apart (an instant
    /// query is one step).
    pub fn new(start: i64, step: i64, n: usize) -> StepSamples {
        StepSamples {
            start,
            step: step.max(1),
            counts: (0..n.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts samples at these timestamps.
    pub fn count(&self, times: impl Iterator<Item = i64>) {
        let last = self.counts.len() - 1;
        let mut k_prev = usize::MAX;
        let mut run = 0u64;
        for t in times {
            let k = match t.checked_sub(self.start) {
                Some(d) if d > 0 => {
                    usize::try_from(d.div_euclid(self.step) + i64::from(d % self.step != 0))
                        .unwrap_or(usize::MAX)
                        .min(last)
                }
                Some(_) => 0,
                None => {
                    if t < self.start {
                        0
                    } else {
                        last
                    }
                }
            };
            if k != k_prev {
                self.flush(k_prev, run);
                k_prev = k;
                run = 0;
            }
            run += 1;
        }
        self.flush(k_prev, run);
    }

    fn flush(&self, k: usize, n: u64) {
        if let Some(c) = self.counts.get(k) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// `(step time in ms, samples)` for every step.
    pub fn take(&self) -> Vec<(i64, u64)> {
        self.counts
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let t = self
                    .start
                    .saturating_add(self.step.saturating_mul(k as i64));
                (t, c.load(Ordering::Relaxed))
            })
            .collect()
    }
}

/// What the evaluation tells the statistics as it reads.
impl Ctx<'_> {
    /// Counts `n` samples as read from storage (for statistics; they are
    /// held through [`Ctx::keep`]).
    pub fn loaded(&self, samples: &[Sample]) {
        self.samples.fetch_add(samples.len(), Ordering::Relaxed);
        if let Some(p) = &self.per_step {
            p.count(samples.iter().map(|s| s.t));
        }
    }

    /// Counts time spent selecting series from storage.
    pub fn selected_in(&self, took: Duration) {
        self.select_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_count_at_the_first_step_at_or_after_them() {
        let s = StepSamples::new(1_000, 100, 3);
        s.count(
            [
                0,
                1_000,
                1_001,
                1_100,
                1_150,
                1_200,
                5_000,
                i64::MIN,
                i64::MAX,
            ]
            .into_iter(),
        );
        assert_eq!(s.take(), vec![(1_000, 3), (1_100, 2), (1_200, 4)]);
    }

    #[test]
    fn an_instant_query_is_one_step() {
        let s = StepSamples::new(7, 1, 1);
        s.count([1, 7, 9].into_iter());
        assert_eq!(s.take(), vec![(7, 3)]);
    }

    #[test]
    fn inner_eval_time_is_what_selection_and_sorting_leave() {
        let st = QueryStats {
            eval_time: Duration::from_millis(10),
            prepare_time: Duration::from_millis(3),
            sort_time: Duration::from_millis(2),
            ..QueryStats::default()
        };
        assert_eq!(st.inner_eval_time(), Duration::from_millis(5));
    }
}
