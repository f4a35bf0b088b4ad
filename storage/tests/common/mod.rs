//! Helpers the storage integration tests share: reading a whole store back
//! for comparison, the numbered series, start time and options the WAL
//! tests write with, stores on a test clock, and a directory listing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod seam;

use hourglass_storage::{
    Clock, Labels, MatchOp, Matcher, Options, Querier, RetentionRule, Storage,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A wall clock the test moves by hand: set to the time of the samples
/// it writes, days pass as fast as they are written.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    /// A clock reading `t`.
    pub fn at(t: i64) -> TestClock {
        TestClock(Arc::new(AtomicI64::new(t)))
    }

    /// Moves it to `t`.
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::Relaxed);
    }

    /// The store's clock reading this one.
    pub fn clock(&self) -> Clock {
        let now = Arc::clone(&self.0);
        Clock::from_fn(move || now.load(Ordering::Relaxed))
    }
}

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// Where the WAL tests start: an hour boundary in 2023.
pub const T0: i64 = 472_222 * HOUR_MS;

/// Every series with its samples: labels → (t, value bits).
pub type Model = BTreeMap<String, Vec<(i64, u64)>>;

/// The whole store as a [`Model`]; every series' samples read without
/// error and in ascending time.
pub fn dump(st: &Storage) -> Model {
    let q = st.querier(i64::MIN, i64::MAX);
    let mut out = BTreeMap::new();
    for s in q.select(&[], i64::MIN, i64::MAX).unwrap() {
        let mut it = s.samples;
        let v: Vec<(i64, u64)> = it.by_ref().map(|x| (x.t, x.v.to_bits())).collect();
        assert!(it.error().is_none(), "{:?}", it.error());
        assert!(v.windows(2).all(|w| w[0].0 < w[1].0), "{}", s.labels);
        out.insert(s.labels.to_string(), v);
    }
    out
}

/// Series `i` of the WAL tests: `m{i="0042"}`.
pub fn numbered(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m".to_string()), ("i", format!("{i:04}"))])
}

/// Default options with a ten-minute out-of-order window.
pub fn ooo_options() -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 600_000;
    o
}

/// [`ooo_options`] on the wall clock `clock`, with retention `rules` and
/// a retention of `retention_ms` (none: keep everything).
pub fn clocked_options(
    clock: &TestClock,
    rules: Vec<RetentionRule>,
    retention_ms: Option<i64>,
) -> Options {
    let mut o = ooo_options();
    o.head.clock = clock.clock();
    o.head.retention_ms = retention_ms;
    o.retention_rules = rules;
    o
}

/// A store in a fresh directory on a test clock at `t0`, no retention.
pub fn store_at(t0: i64) -> (tempfile::TempDir, TestClock, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(t0);
    let st = open_clocked(dir.path(), &clock);
    (dir, clock, st)
}

/// The store in `dir` on `clock`, no retention.
pub fn open_clocked(dir: &Path, clock: &TestClock) -> Storage {
    Storage::open(dir, clocked_options(clock, vec![], None)).unwrap()
}

/// The matcher `n="v"`.
pub fn eq(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, n, v).unwrap()
}

/// The entries of `dir` with their sizes, by name.
pub fn dir_entries(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let len = e.metadata().unwrap().len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    v.sort();
    v
}
