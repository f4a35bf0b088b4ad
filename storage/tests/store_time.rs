//! The store's notion of time and its cardinality limits, with an
//! injected clock: future-dated samples are refused per series and cannot
//! move retention (measured back from the newest sample stored, capped at
//! the wall clock) or the out-of-order cutoff; start timestamps insert a
//! zero only where Prometheus would; series quotas refuse only new series.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{
    BorrowedBatch, Clock, Labels, Options, Querier, Sample, SeriesLimits, SeriesQuota, Storage,
    WriteBatch,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A fixed "now" well inside an hour.
const NOW: i64 = 1_800_000_030_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn lbl(inst: &str) -> Labels {
    Labels::from_pairs([("__name__", "up"), ("instance", inst), ("job", "node")])
}

fn opts(clock: Clock) -> Options {
    let mut o = Options::default();
    o.head.clock = clock;
    o.head.retention_ms = Some(15 * DAY);
    o
}

fn fixed(t: i64) -> Clock {
    Clock::from_fn(move || t)
}

fn one(inst: &str, t: i64, v: f64) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.push(lbl(inst), vec![Sample::new(t, v)]);
    b
}

/// instance → (t, v) of everything stored.
fn dump(st: &Storage) -> BTreeMap<String, Vec<(i64, f64)>> {
    let q = st.querier(i64::MIN, i64::MAX);
    let mut out = BTreeMap::new();
    for s in q.select(&[], i64::MIN, i64::MAX).unwrap() {
        let inst = s.labels.get("instance").unwrap_or("").to_string();
        let v: Vec<(i64, f64)> = s.samples.map(|x| (x.t, x.v)).collect();
        out.entry(inst).or_insert_with(Vec::new).extend(v);
    }
    for v in out.values_mut() {
        v.sort_by_key(|x| x.0);
    }
    out
}

/// Limits of at most `n` active series, new ones unlimited per minute.
fn active_cap(n: u64) -> SeriesLimits {
    SeriesLimits {
        max_active: Some(n),
        max_new_per_minute: None,
    }
}

#[test]
fn future_sample_beyond_grace_is_refused_per_series_and_current_writes_still_land() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    let mut b = WriteBatch::new();
    b.push(lbl("future"), vec![Sample::new(NOW + 16 * DAY, 1.0)]);
    b.push(lbl("current"), vec![Sample::new(NOW, 1.0)]);
    let s = st.append(&b).unwrap();
    assert_eq!(s.appended, 1);
    assert_eq!(s.rejected.too_far_in_future, 1);
    assert_eq!(s.rejected.total(), 1);
    assert!(s.rejected.to_string().contains("too_far_in_future=1"));
    assert_eq!(st.stats().max_t, Some(NOW));
    // The bound is inclusive: exactly the grace is still accepted.
    let grace = hourglass_storage::DEFAULT_FUTURE_GRACE_MS;
    assert_eq!(
        st.append(&one("edge", NOW + grace, 1.0)).unwrap().appended,
        1
    );
    let past = st.append(&one("edge2", NOW + grace + 1, 1.0)).unwrap();
    assert_eq!(past.rejected.too_far_in_future, 1);
    // Current writes keep landing.
    let later = st.append(&one("current", NOW + MIN, 2.0)).unwrap();
    assert_eq!((later.appended, later.rejected.total()), (1, 0));
    assert!(!dump(&st).contains_key("future"));
    assert_eq!(st.stats().rejected.too_far_in_future, 2);
}

/// Writes `inst` every 15 minutes over `[from, to)`.
fn history(st: &Storage, inst: &str, from: i64, to: i64) {
    let mut b = WriteBatch::new();
    let samples = (from..to)
        .step_by(15 * MIN as usize)
        .map(|t| Sample::new(t, t as f64))
        .collect();
    b.push(lbl(inst), samples);
    let s = st.append(&b).unwrap();
    assert_eq!(s.rejected.total(), 0, "{:?}", s.rejected);
}

#[test]
fn a_stored_future_sample_no_longer_moves_retention_or_the_out_of_order_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    // An older version had no bound: stand in for it with a huge grace.
    let mut unbounded = opts(fixed(NOW));
    unbounded.head.future_grace_ms = 365 * DAY;
    let st = Storage::open(dir.path(), unbounded).unwrap();
    history(&st, "history", NOW - 6 * HOUR, NOW);
    history(&st, "poisoned", NOW - 2 * HOUR, NOW - HOUR);
    assert_eq!(
        st.append(&one("poisoned", NOW + 16 * DAY, 9.0))
            .unwrap()
            .appended,
        1
    );
    st.close().unwrap();

    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    let before = dump(&st);
    // Current writes are accepted, even for the series holding the future
    // sample (its out-of-order window is measured from the capped "now").
    for inst in ["history", "poisoned", "fresh"] {
        let s = st.append(&one(inst, NOW + 15_000, 1.0)).unwrap();
        assert_eq!((s.appended, s.rejected.total()), (1, 0), "{inst}");
    }
    // Persisting writes the finished hours and retention keeps them.
    let p = st.persist().unwrap();
    assert!(!p.partitions.is_empty());
    assert_eq!(p.retention.by_age, 0);
    let after = dump(&st);
    for (inst, samples) in &before {
        for x in samples {
            assert!(after[inst].contains(x), "{inst} lost {x:?}");
        }
    }
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    assert_eq!(st.retain().unwrap().by_age, 0);
    assert_eq!(dump(&st), after);
}

#[test]
fn backfill_older_than_retention_from_the_wall_clock_is_kept_by_a_fresh_store() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    // A fresh store: history 40 days old is taken, as Prometheus takes it.
    let old = NOW - 40 * DAY;
    history(&st, "backfill", old, old + 5 * HOUR);
    // Retention now counts back from that history's newest sample.
    let s = st.append(&one("ancient", old - 16 * DAY, 1.0)).unwrap();
    assert_eq!((s.appended, s.rejected.past_retention), (0, 1));
    let before = dump(&st);
    assert!(!before.contains_key("ancient"));
    let p = st.persist().unwrap();
    assert!(!p.partitions.is_empty());
    assert_eq!(p.retention.by_age, 0);
    assert_eq!(dump(&st), before);
    st.close().unwrap();
    // Reopened, the clock far ahead: nothing expires until data arrives.
    let st = Storage::open(dir.path(), opts(fixed(NOW + 100 * DAY))).unwrap();
    assert_eq!(st.retain().unwrap().by_age, 0);
    assert_eq!(dump(&st), before);
}

#[test]
fn a_store_holding_current_data_refuses_samples_older_than_newest_minus_retention() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    history(&st, "current", NOW - HOUR, NOW);
    let s = st.append(&one("late", NOW - 16 * DAY, 1.0)).unwrap();
    assert_eq!((s.appended, s.rejected.past_retention), (0, 1));
    let s = st.append(&one("late", NOW - 14 * DAY, 1.0)).unwrap();
    assert_eq!((s.appended, s.rejected.total()), (1, 0));
    st.persist().unwrap();
    st.close().unwrap();
    // Reopened: the newest sample (in partitions or the head) still counts.
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    let s = st.append(&one("late2", NOW - 16 * DAY, 1.0)).unwrap();
    assert_eq!((s.appended, s.rejected.past_retention), (0, 1));
    assert!(!dump(&st).contains_key("late2"));
}

#[test]
fn start_timestamp_older_than_the_last_sample_inserts_no_zero() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    let labels = [("__name__", "c_total"), ("instance", "c")];
    let t0 = NOW - 10 * MIN;
    let write = |samples: &[Sample], starts: &[i64]| {
        let mut b = BorrowedBatch::default();
        b.push_with_starts(&labels, samples, starts);
        st.append_borrowed(&b).unwrap()
    };
    // A new series: the zero at its start goes in before the first sample.
    let s = write(
        &[Sample::new(t0, 5.0), Sample::new(t0 + MIN, 10.0)],
        &[t0 - 30_000, t0 - 30_000],
    );
    assert_eq!((s.appended, s.start_zeros), (2, 1));
    // The same start, now older than the last sample: no zero.
    let s = write(&[Sample::new(t0 + 2 * MIN, 15.0)], &[t0 - 30_000]);
    assert_eq!((s.appended, s.start_zeros), (1, 0));
    // A start inside what is stored (a sender's stale idea): no zero.
    let s = write(&[Sample::new(t0 + 3 * MIN, 20.0)], &[t0 + 90_000]);
    assert_eq!((s.appended, s.start_zeros), (1, 0));
    // A reset: the start is newer than the last sample.
    let s = write(&[Sample::new(t0 + 5 * MIN, 2.0)], &[t0 + 4 * MIN]);
    assert_eq!((s.appended, s.start_zeros), (1, 1));
    assert_eq!(
        dump(&st)["c"],
        vec![
            (t0 - 30_000, 0.0),
            (t0, 5.0),
            (t0 + MIN, 10.0),
            (t0 + 2 * MIN, 15.0),
            (t0 + 3 * MIN, 20.0),
            (t0 + 4 * MIN, 0.0),
            (t0 + 5 * MIN, 2.0),
        ]
    );
    // Zeros are logged with their samples.
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    assert_eq!(dump(&st)["c"].len(), 7);
}

fn many(prefix: &str, n: usize, t: i64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in 0..n {
        b.push(lbl(&format!("{prefix}{i}")), vec![Sample::new(t, 1.0)]);
    }
    b
}

#[test]
fn new_series_over_the_active_cap_are_refused_and_existing_series_keep_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(fixed(NOW));
    o.head.series_limits = active_cap(3);
    let st = Storage::open(dir.path(), o.clone()).unwrap();
    let s = st.append(&many("s", 5, NOW - MIN)).unwrap();
    assert_eq!(s.appended, 3);
    assert_eq!(s.rejected.active_series_limit, 2);
    assert!(!s.rejected.only_rate_limited());
    let s = st.append(&many("s", 5, NOW)).unwrap();
    assert_eq!((s.appended, s.rejected.active_series_limit), (3, 2));
    assert_eq!(st.active_series(), 3);
    assert_eq!(st.stats().rejected.active_series_limit, 4);
    // Series found by WAL replay count against the cap.
    st.close().unwrap();
    let st = Storage::open(dir.path(), o).unwrap();
    assert_eq!(st.active_series(), 3);
    assert_eq!(st.append(&many("t", 1, NOW)).unwrap().appended, 0);
}

#[test]
fn new_series_per_minute_budget_resets_each_minute() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = {
        let now = Arc::clone(&now);
        Clock::from_fn(move || now.load(Ordering::Relaxed))
    };
    let mut o = opts(clock);
    o.head.series_limits = SeriesLimits {
        max_active: None,
        max_new_per_minute: Some(2),
    };
    let st = Storage::open(dir.path(), o).unwrap();
    let mut b = many("s", 3, NOW - MIN);
    b.push(lbl("s0"), vec![Sample::new(NOW - 2 * MIN, 1.0)]);
    let s = st.append(&b).unwrap();
    assert_eq!((s.appended, s.rejected.new_series_rate_limit), (3, 1));
    assert!(s.rejected.only_rate_limited());
    now.fetch_add(MIN, Ordering::Relaxed);
    // Sent again: the stored samples are exact duplicates, the refused
    // series now fits.
    let s = st.append(&many("s", 3, NOW - MIN)).unwrap();
    assert_eq!((s.appended, s.duplicates, s.rejected.total()), (1, 2, 0));
}

#[test]
fn a_writer_quota_limits_its_own_series_and_is_released_when_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(fixed(NOW))).unwrap();
    let writer = Arc::new(SeriesQuota::new(active_cap(2)));
    let s = st
        .append_for(&many("w", 3, NOW - 5 * HOUR), Some(&writer))
        .unwrap();
    assert_eq!((s.appended, s.rejected.active_series_limit), (2, 1));
    assert_eq!(writer.active(), 2);
    // Others are not bound by this writer's quota.
    assert_eq!(st.append(&many("x", 3, NOW)).unwrap().appended, 3);
    // Once its series stop and move to partitions, they are released.
    st.persist().unwrap();
    assert_eq!(writer.active(), 0);
    let s = st.append_for(&many("v", 2, NOW), Some(&writer)).unwrap();
    assert_eq!(s.appended, 2);
    assert!(Path::new(dir.path()).exists());
}

#[test]
fn a_new_series_with_only_refused_samples_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(fixed(NOW));
    o.head.series_limits = active_cap(2);
    let st = Storage::open(dir.path(), o).unwrap();
    // Current data: retention counts back from it.
    assert_eq!(st.append(&one("current", NOW, 1.0)).unwrap().appended, 1);
    let mut b = WriteBatch::new();
    b.push(lbl("future"), vec![Sample::new(NOW + 16 * DAY, 1.0)]);
    b.push(lbl("ancient"), vec![Sample::new(NOW - 30 * DAY, 1.0)]);
    let s = st.append(&b).unwrap();
    // Neither the future-only nor the past-retention series is created,
    // nor takes the one free slot.
    assert_eq!(
        (
            s.appended,
            s.rejected.too_far_in_future,
            s.rejected.past_retention
        ),
        (0, 1, 1)
    );
    assert_eq!(st.active_series(), 1);
    assert_eq!(st.stats().series, 1);
    let s = st.append(&one("another", NOW, 1.0)).unwrap();
    assert_eq!(s.appended, 1);
    let s = st.append(&one("third", NOW, 1.0)).unwrap();
    assert_eq!(s.rejected.active_series_limit, 1);
}
