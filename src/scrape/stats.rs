//! Collection statistics for `/metrics`: scrapes and failures per pool (by
//! a bounded set of reasons), and the actual time between a target's
//! scrapes per configured interval (Prometheus's
//! `prometheus_target_interval_length_seconds`).
//!
//! One instance per process, as Prometheus registers its scrape metrics
//! once: loops record into [`global`], the server's `/metrics` reads it.
//! Bounded: pools no longer configured are pruned when read, intervals
//! beyond [`MAX_INTERVALS`] are not tracked, and each interval keeps its
//! last [`WINDOW`] observations for the quantiles.

use hourglass_wal::lock::lock;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Observations kept per interval for the quantiles (Prometheus keeps ten
/// minutes; a count keeps the memory fixed whatever the interval).
pub const WINDOW: usize = 1024;

/// Most distinct intervals tracked.
pub const MAX_INTERVALS: usize = 64;

/// The quantiles `prometheus_target_interval_length_seconds` reports, as
/// Prometheus's.
pub const QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.9, 0.99];

/// Why a scrape failed, as `/metrics` labels it: a fixed set, whatever the
/// error text.
pub const REASONS: [&str; 9] = [
    "timeout",
    "connection",
    "http_status",
    "body_size_limit",
    "sample_limit",
    "label_limit",
    "target_limit",
    "content_type",
    "parse",
];

/// Beginnings of scrape error texts and their reasons, tried in order.
const PREFIXES: [(&str, &str); 8] = [
    ("Get ", "connection"),
    ("invalid gzip body", "connection"),
    ("server returned HTTP status", "http_status"),
    ("body size limit exceeded", "body_size_limit"),
    ("sample limit exceeded", "sample_limit"),
    ("label_", "label_limit"),
    ("target_limit exceeded", "target_limit"),
    ("received unsupported Content-Type", "content_type"),
];

/// The reason label of a scrape's error text.
pub fn reason(error: &str) -> &'static str {
    if error.ends_with("context deadline exceeded") {
        return "timeout";
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| error.starts_with(prefix))
        .map_or("parse", |(_, reason)| reason)
}

/// One pool's counts since the process started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolCounts {
    /// Scrapes done, failed or not.
    pub scrapes: u64,
    /// Failed scrapes by reason (index into [`REASONS`]).
    pub failures: [u64; REASONS.len()],
}

/// Time between consecutive scrapes of the targets of one interval.
#[derive(Debug, Clone, Default)]
pub struct IntervalLengths {
    /// Observations so far.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum: f64,
    recent: VecDeque<f64>,
}

impl IntervalLengths {
    /// `(quantile, value)` over the last [`WINDOW`] observations; NaN when
    /// there are none, as an empty Prometheus summary reports.
    pub fn quantiles(&self) -> Vec<(f64, f64)> {
        let mut v: Vec<f64> = self.recent.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        QUANTILES
            .iter()
            .map(|&q| {
                let value = if v.is_empty() {
                    f64::NAN
                } else {
                    let rank = (q * (v.len() - 1) as f64).round() as usize;
                    v[rank.min(v.len() - 1)]
                };
                (q, value)
            })
            .collect()
    }
}

/// The process's collection statistics.
#[derive(Debug, Default)]
pub struct ScrapeStats {
    pools: Mutex<BTreeMap<String, PoolCounts>>,
    intervals: Mutex<BTreeMap<String, IntervalLengths>>,
}

/// The statistics every scrape loop of this process records into.
pub fn global() -> &'static ScrapeStats {
    static STATS: LazyLock<ScrapeStats> = LazyLock::new(ScrapeStats::default);
    &STATS
}

impl ScrapeStats {
    /// Records one scrape of a target of `pool` scraped every `interval`:
    /// `since_last` is the time since its previous scrape started (none for
    /// its first), `error` why it failed.
    pub fn record(
        &self,
        pool: &str,
        interval: Duration,
        since_last: Option<Duration>,
        error: Option<&str>,
    ) {
        {
            let mut pools = lock(&self.pools);
            let counts = match pools.get_mut(pool) {
                Some(c) => c,
                None => pools.entry(pool.to_string()).or_default(),
            };
            counts.scrapes += 1;
            if let Some(e) = error {
                let r = reason(e);
                if let Some(i) = REASONS.iter().position(|x| *x == r) {
                    counts.failures[i] += 1;
                }
            }
        }
        let Some(gap) = since_last else { return };
        let label = super::format_duration(interval);
        let mut intervals = lock(&self.intervals);
        if !intervals.contains_key(&label) && intervals.len() >= MAX_INTERVALS {
            return;
        }
        let l = intervals.entry(label).or_default();
        let secs = gap.as_secs_f64();
        l.count += 1;
        l.sum += secs;
        if l.recent.len() == WINDOW {
            l.recent.pop_front();
        }
        l.recent.push_back(secs);
    }

    /// Each pool's counts, keeping only the pools `current` names (the
    /// others are forgotten, so churned pools do not pile up).
    pub fn pools(&self, current: &[&str]) -> BTreeMap<String, PoolCounts> {
        let mut pools = lock(&self.pools);
        pools.retain(|k, _| current.contains(&k.as_str()));
        pools.clone()
    }

    /// Interval lengths by interval label (`15s`, `200ms`).
    pub fn intervals(&self) -> BTreeMap<String, IntervalLengths> {
        lock(&self.intervals).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_map_to_their_reasons() {
        for (text, want) in [
            (
                "Get \"http://a/metrics\": context deadline exceeded",
                "timeout",
            ),
            (
                "Get \"http://a/metrics\": dial tcp a: connection refused",
                "connection",
            ),
            (
                "server returned HTTP status 500 Internal Server Error",
                "http_status",
            ),
            ("body size limit exceeded", "body_size_limit"),
            ("sample limit exceeded", "sample_limit"),
            (
                "label_limit exceeded (metric: x, number of labels: 9, limit: 2)",
                "label_limit",
            ),
            (
                "label_value_length_limit exceeded (metric: x)",
                "label_limit",
            ),
            (
                "target_limit exceeded (number of targets: 3, limit: 1)",
                "target_limit",
            ),
            (
                "received unsupported Content-Type \"\" and no fallback",
                "content_type",
            ),
            ("line 3: invalid metric name", "parse"),
        ] {
            assert_eq!(reason(text), want, "{text}");
        }
    }

    #[test]
    fn counts_per_pool_and_interval_quantiles() {
        let s = ScrapeStats::default();
        let i = Duration::from_secs(1);
        s.record("a", i, None, None);
        for ms in [900, 1000, 1000, 1100] {
            s.record("a", i, Some(Duration::from_millis(ms)), None);
        }
        s.record("b", i, None, Some("sample limit exceeded"));
        let pools = s.pools(&["a", "b"]);
        assert_eq!(pools["a"].scrapes, 5);
        assert_eq!(pools["a"].failures, [0; REASONS.len()]);
        assert_eq!(pools["b"].failures[4], 1);
        let l = &s.intervals()["1s"];
        assert_eq!(l.count, 4);
        assert!((l.sum - 4.0).abs() < 1e-9);
        let q = l.quantiles();
        assert_eq!(q[0], (0.01, 0.9));
        assert_eq!(q[2], (0.5, 1.0));
        assert_eq!(q[4], (0.99, 1.1));
        // A pool no longer configured is forgotten.
        assert_eq!(s.pools(&["a"]).len(), 1);
        assert_eq!(s.pools(&["a", "b"]).len(), 1);
    }

    #[test]
    fn the_window_and_the_interval_count_are_bounded() {
        let s = ScrapeStats::default();
        for n in 0..(MAX_INTERVALS as u64 + 10) {
            s.record(
                "p",
                Duration::from_secs(n + 1),
                Some(Duration::from_secs(1)),
                None,
            );
        }
        assert_eq!(s.intervals().len(), MAX_INTERVALS);
        for _ in 0..(WINDOW + 10) {
            s.record(
                "p",
                Duration::from_secs(1),
                Some(Duration::from_secs(1)),
                None,
            );
        }
        let l = &s.intervals()["1s"];
        assert_eq!(l.recent.len(), WINDOW);
        assert_eq!(l.count, WINDOW as u64 + 11);
    }
}
