//! Native histograms through the public API: head acceptance, reads beside
//! floats, WAL replay after a crash, checkpoints, deletes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{
    CounterResetHint, FloatHistogram, Labels, MatchOp, Matcher, Options, Querier, Sample, Span,
    Storage, WriteBatch,
};
use hourglass_wal::fs::FaultyFs;
use std::path::Path;
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;

fn lbl(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", "api")])
}

fn eq(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, n, v).unwrap()
}

/// A latency histogram with 20 buckets after `i` scrapes.
fn latency(i: u32) -> FloatHistogram {
    let buckets: Vec<f64> = (0..20).map(|b| f64::from(i * (b % 7 + 1))).collect();
    let count: f64 = buckets.iter().sum();
    FloatHistogram {
        counter_reset_hint: if i == 0 {
            CounterResetHint::CounterReset
        } else {
            CounterResetHint::NotCounterReset
        },
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        zero_count: 0.0,
        count,
        sum: count * 0.125,
        positive_spans: vec![Span::new(-10, 12), Span::new(2, 8)],
        positive_buckets: buckets,
        ..FloatHistogram::default()
    }
}

/// `n` scrapes of [`latency`] every 15 s from `start`.
fn every_15s(start: i64, n: u32) -> Vec<(i64, FloatHistogram)> {
    (0..n)
        .map(|i| (start + i64::from(i) * 15_000, latency(i)))
        .collect()
}

#[track_caller]
fn assert_same(got: &[(i64, FloatHistogram)], want: &[(i64, FloatHistogram)]) {
    assert_eq!(got.len(), want.len());
    for ((tg, g), (tw, w)) in got.iter().zip(want) {
        assert_eq!(tg, tw);
        assert!(g.same_bits(w), "at {tg}: {g:?} != {w:?}");
    }
}

fn histograms(st: &Storage, name: &str) -> Vec<(i64, FloatHistogram)> {
    let q = st.querier(i64::MIN, i64::MAX);
    let mut set = q
        .select(&[eq("__name__", name)], i64::MIN, i64::MAX)
        .unwrap();
    match set.next() {
        Some(s) => s.histograms.collect(),
        None => Vec::new(),
    }
}

/// A store in a new temporary directory, with [`opts`].
fn fresh() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    (dir, st)
}

fn opts() -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 60_000;
    o
}

#[test]
fn histogram_only_series_are_selected_and_read_back_in_time_order() {
    let (_dir, st) = fresh();
    let want = every_15s(T0, 10);
    let mut shuffled = want.clone();
    shuffled.swap(3, 7);
    let stats = st
        .append_histograms(&lbl("rpc_seconds"), &shuffled)
        .unwrap();
    assert_eq!(stats.appended, 10);
    let got = histograms(&st, "rpc_seconds");
    assert_same(&got, &want);
    let q = st.querier(T0, T0 + 30_000);
    let s = q
        .select(&[eq("__name__", "rpc_seconds")], T0, T0 + 30_000)
        .unwrap()
        .next()
        .unwrap();
    assert_eq!(s.samples.count(), 0);
    assert_eq!(
        s.histograms.map(|x| x.0).collect::<Vec<_>>(),
        vec![T0, T0 + 15_000, T0 + 30_000]
    );
    // Outside every histogram's time: no series.
    let q = st.querier(0, T0 - 1);
    assert_eq!(q.select(&[], 0, T0 - 1).unwrap().count(), 0);
}

#[test]
fn a_series_holds_floats_and_histograms_and_the_first_at_a_timestamp_wins() {
    let (_dir, st) = fresh();
    let l = lbl("mixed");
    let mut b = WriteBatch::new();
    b.push(
        l.clone(),
        vec![Sample::new(T0, 1.0), Sample::new(T0 + 30_000, 3.0)],
    );
    b.push_histograms(l.clone(), vec![(T0 + 15_000, latency(1)), (T0, latency(9))]);
    let stats = st.append(&b).unwrap();
    assert_eq!(stats.appended, 3);
    assert_eq!(stats.rejected.duplicate_conflict, 1);
    // The same histogram again is a silent duplicate; another one conflicts.
    let again = st
        .append_histograms(&l, &[(T0 + 15_000, latency(1))])
        .unwrap();
    assert_eq!((again.appended, again.duplicates), (0, 1));
    let other = st
        .append_histograms(&l, &[(T0 + 15_000, latency(2))])
        .unwrap();
    assert_eq!(other.rejected.duplicate_conflict, 1);
    // A float where a histogram is: refused.
    let mut f = WriteBatch::new();
    f.push(l.clone(), vec![Sample::new(T0 + 15_000, 2.0)]);
    assert_eq!(st.append(&f).unwrap().rejected.duplicate_conflict, 1);
    // Too old for the out-of-order window.
    let old = st
        .append_histograms(&l, &[(T0 - 120_000, latency(1))])
        .unwrap();
    assert_eq!(old.rejected.out_of_window, 1);
    let q = st.querier(i64::MIN, i64::MAX);
    let s = q
        .select(&[eq("__name__", "mixed")], i64::MIN, i64::MAX)
        .unwrap()
        .next()
        .unwrap();
    let floats: Vec<i64> = s.samples.map(|x| x.t).collect();
    let hists: Vec<i64> = s.histograms.map(|x| x.0).collect();
    assert_eq!(floats, vec![T0, T0 + 30_000]);
    assert_eq!(hists, vec![T0 + 15_000]);
}

fn reopen(fs: &FaultyFs) -> Storage {
    Storage::open_with_fs(Arc::new(fs.clone()), Path::new("/data"), opts()).unwrap()
}

#[test]
fn histograms_survive_a_crash_through_wal_replay() {
    let fs = FaultyFs::new();
    let st = reopen(&fs);
    let want = every_15s(T0, 50);
    for chunk in want.chunks(7) {
        st.append_histograms(&lbl("h"), chunk).unwrap();
    }
    let mut nhcb = latency(4);
    nhcb.schema = -53;
    nhcb.zero_threshold = 0.0;
    nhcb.positive_spans = vec![Span::new(0, 20)];
    nhcb.custom_values = (1..=20).map(|x| f64::from(x) * 0.05).collect();
    nhcb.sum = f64::NAN;
    st.append_histograms(&lbl("nhcb"), &[(T0, nhcb.clone())])
        .unwrap();
    fs.crash_torn(5);
    drop(st);
    fs.restart();
    let st = reopen(&fs);
    let got = histograms(&st, "h");
    assert_same(&got, &want);
    let got = histograms(&st, "nhcb");
    assert!(got.len() == 1 && got[0].1.same_bits(&nhcb));
}

#[test]
fn histograms_survive_a_graceful_stop_through_the_checkpoint() {
    let (dir, st) = fresh();
    let want = every_15s(T0, 30);
    st.append_histograms(&lbl("h"), &want).unwrap();
    let mut b = WriteBatch::new();
    b.push(lbl("f"), vec![Sample::new(T0, 1.0)]);
    st.append(&b).unwrap();
    st.stop().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    let got = histograms(&st, "h");
    assert_same(&got, &want);
}

#[test]
fn deleting_a_range_hides_histogram_samples_too() {
    let (_dir, st) = fresh();
    let want = every_15s(T0, 10);
    st.append_histograms(&lbl("h"), &want).unwrap();
    let n = st
        .delete_series(&[vec![eq("__name__", "h")]], T0 + 15_000, T0 + 60_000)
        .unwrap();
    assert_eq!(n, 1);
    let got: Vec<i64> = histograms(&st, "h").iter().map(|x| x.0).collect();
    let expect: Vec<i64> = want
        .iter()
        .map(|x| x.0)
        .filter(|t| !(T0 + 15_000..=T0 + 60_000).contains(t))
        .collect();
    assert_eq!(got, expect);
}

const H: i64 = 3_600_000;

/// Three hours of a histogram every 15 s from an hour boundary, then one
/// float sample late enough that those hours are ready to persist.
fn three_hours(st: &Storage) -> Vec<(i64, FloatHistogram)> {
    let start = T0 - T0.rem_euclid(H);
    let want = every_15s(start, 720);
    st.append_histograms(&lbl("h"), &want).unwrap();
    let mut b = WriteBatch::new();
    b.push(lbl("f"), vec![Sample::new(start + 3 * H + 120_000, 1.0)]);
    st.append(&b).unwrap();
    want
}

#[test]
fn histograms_persist_to_partitions_survive_reopen_and_compaction() {
    let (dir, st) = fresh();
    let want = three_hours(&st);
    st.persist().unwrap();
    let parts = st.partitions();
    assert_eq!(parts.len(), 3, "one partition per hour");
    assert!(parts.iter().all(|p| p.meta().version == 3));
    let bytes: u64 = parts.iter().map(|p| p.bytes()).sum();
    println!(
        "3 hourly partitions, 720 histograms of 20 buckets: {bytes} bytes in all ({:.2} bytes/sample with index and meta)",
        bytes as f64 / 720.0
    );
    let got = histograms(&st, "h");
    assert_same(&got, &want);
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(histograms(&st, "h").len(), want.len());
    // Delete a range, then compact the hours into a day: the deletion is
    // applied to the histogram samples too.
    let (lo, hi) = (want[100].0, want[199].0);
    st.delete_series(&[vec![eq("__name__", "h")]], lo, hi)
        .unwrap();
    let stats = st
        .compact(
            &hourglass_storage::compact::CompactOptions {
                day_after_ms: Some(H),
            },
            &mut |_| {},
        )
        .unwrap();
    println!("{stats:?}");
    let got = histograms(&st, "h");
    let kept: Vec<(i64, FloatHistogram)> = want
        .iter()
        .filter(|(t, _)| *t < lo || *t > hi)
        .cloned()
        .collect();
    assert_same(&got, &kept);
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(histograms(&st, "h").len(), kept.len());
    let mut checked = 0;
    for p in st.partitions() {
        let c = hourglass_storage::partition::check(p.dir());
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        checked += c.samples;
    }
    // The float sample that moved "now" is still in the head.
    assert_eq!(checked as usize, kept.len());
}
