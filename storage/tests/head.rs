//! Head behaviour through the public API: acceptance rules, merging of
//! out-of-order samples, recovery from the WAL, and crashes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{
    BorrowedBatch, Clock, Labels, MatchOp, Matcher, Options, Querier, STALE_NAN_BITS, Sample,
    Storage, WriteBatch,
};
use hourglass_wal::fs::FaultyFs;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn lbl(name: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", inst), ("job", "node")])
}

fn eq(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, n, v).unwrap()
}

/// Everything the storage returns, as plain data: labels → (t, value bits).
fn dump(st: &Storage) -> BTreeMap<String, Vec<(i64, u64)>> {
    let q = st.querier(i64::MIN, i64::MAX);
    let mut out = BTreeMap::new();
    let mut prev: Option<Labels> = None;
    for s in q.select(&[], i64::MIN, i64::MAX).unwrap() {
        if let Some(p) = &prev {
            assert!(p < &s.labels, "series not sorted by labels");
        }
        prev = Some(s.labels.clone());
        let mut it = s.samples;
        let v: Vec<(i64, u64)> = it.by_ref().map(|x| (x.t, x.v.to_bits())).collect();
        assert!(it.error().is_none());
        assert!(
            v.windows(2).all(|w| w[0].0 < w[1].0),
            "not strictly increasing"
        );
        out.insert(s.labels.to_string(), v);
    }
    out
}

fn opts() -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 60_000;
    o
}

/// Closes `st` and opens the store in `dir` again.
fn close_and_open(st: Storage, dir: &Path) -> Storage {
    st.close().unwrap();
    Storage::open(dir, opts()).unwrap()
}

#[test]
fn acceptance_rules_count_each_refusal_and_keep_the_batch_going() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    let a = lbl("up", "a:9100");
    let mut b = WriteBatch::new();
    b.push(
        a.clone(),
        (0..10)
            .map(|i| Sample::new(1_000_000 + i * 15_000, i as f64))
            .collect(),
    );
    // Another series far behind is fine: in order for itself.
    b.push(lbl("up", "b:9100"), vec![Sample::new(5, 1.0)]);
    let s = st.append(&b).unwrap();
    assert_eq!(s.appended, 11);

    let newest = 1_000_000 + 9 * 15_000;
    let mut b = WriteBatch::new();
    b.push(
        a.clone(),
        vec![
            Sample::new(newest - 1_000, 42.0),  // out of order, in window
            Sample::new(newest - 120_000, 1.0), // past the window
            Sample::new(newest, 9.0),           // exact duplicate
            Sample::new(newest, 10.0),          // conflicting duplicate
            Sample::new(newest + 1, f64::from_bits(STALE_NAN_BITS)),
        ],
    );
    let st_opts_strict = st.append(&b).unwrap();
    assert_eq!(st_opts_strict.appended, 2);
    assert_eq!(st_opts_strict.duplicates, 1);
    assert_eq!(st_opts_strict.rejected.out_of_window, 1);
    assert_eq!(st_opts_strict.rejected.duplicate_conflict, 1);
    assert_eq!(st.stats().rejected.out_of_window, 1);

    let q = st.querier(i64::MIN, i64::MAX);
    let got: Vec<Sample> = q
        .select(&[eq("instance", "a:9100")], newest - 2_000, i64::MAX)
        .unwrap()
        .next()
        .unwrap()
        .samples
        .collect();
    assert_eq!(
        got,
        vec![
            Sample::new(newest - 1_000, 42.0),
            Sample::new(newest, 9.0),
            Sample::new(newest + 1, f64::from_bits(STALE_NAN_BITS)),
        ]
    );
    assert_eq!(
        q.label_values("instance", &[]).unwrap(),
        vec!["a:9100", "b:9100"]
    );
    assert_eq!(
        q.label_names(&[eq("instance", "b:9100")]).unwrap(),
        vec!["__name__", "instance", "job"]
    );
}

#[test]
fn invalid_series_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.limits.utf8_names = false;
    let st = Storage::open(dir.path(), o).unwrap();
    let mut b = WriteBatch::new();
    b.push(
        Labels::from_pairs([("__name__", "up"), ("bad-name", "x")]),
        vec![Sample::new(1, 1.0)],
    );
    b.push(lbl("up", "ok"), vec![Sample::new(1, 1.0)]);
    let s = st.append(&b).unwrap();
    assert_eq!(s.appended, 1);
    assert_eq!(s.rejected.invalid_series, 1);
    assert!(
        s.invalid_series[0].to_string().contains("bad-name"),
        "{}",
        s.invalid_series[0]
    );
}

#[test]
fn retention_counts_back_from_the_newest_sample_and_an_empty_store_refuses_nothing_for_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.retention_ms = Some(10_000);
    o.head.future_grace_ms = 1_000_000;
    o.head.clock = Clock::from_fn(|| 100_000);
    let st = Storage::open(dir.path(), o).unwrap();
    // An empty store refuses nothing for age.
    let mut b = WriteBatch::new();
    b.push(lbl("up", "old"), vec![Sample::new(1_000, 1.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    // A sample inside the grace moves "now" to it.
    let mut b = WriteBatch::new();
    b.push(lbl("up", "a"), vec![Sample::new(900_000, 1.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    let mut b = WriteBatch::new();
    b.push(
        lbl("up", "new"),
        vec![Sample::new(895_000, 1.0), Sample::new(880_000, 1.0)],
    );
    let s = st.append(&b).unwrap();
    assert_eq!(s.appended, 1);
    assert_eq!(s.rejected.past_retention, 1);
}

fn write_some(st: &Storage, rounds: i64) {
    for r in 0..rounds {
        let mut b = WriteBatch::new();
        for i in 0..50 {
            let t = 1_700_000_000_000 + r * 15_000;
            b.push(
                lbl("node_cpu_seconds_total", &format!("host-{i}")),
                vec![Sample::new(t, (r * i) as f64 / 100.0)],
            );
            if r % 7 == 3 {
                // Late data for the same series, inside the window.
                b.push(
                    lbl("node_cpu_seconds_total", &format!("host-{i}")),
                    vec![Sample::new(t - 7_000, -0.0)],
                );
            }
        }
        st.append(&b).unwrap();
    }
}

#[test]
fn close_and_reopen_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    write_some(&st, 300);
    let before = dump(&st);
    assert_eq!(before.len(), 50);
    let st = close_and_open(st, dir.path());
    assert_eq!(dump(&st), before);
    // And new series get fresh ids after recovery.
    let mut b = WriteBatch::new();
    b.push(lbl("new", "x"), vec![Sample::new(1, 1.0)]);
    st.append(&b).unwrap();
    write_some(&st, 2);
    let after = dump(&st);
    assert_eq!(after.len(), 51);
    let st = close_and_open(st, dir.path());
    assert_eq!(dump(&st), after);
}

fn reopen(fs: &FaultyFs) -> Storage {
    Storage::open_with_fs(Arc::new(fs.clone()), Path::new("/data"), opts()).unwrap()
}

#[test]
fn crash_after_acknowledged_appends_loses_nothing() {
    for seed in [1u64, 7, 99] {
        let fs = FaultyFs::new();
        let st = reopen(&fs);
        write_some(&st, 40);
        let acked = dump(&st);
        // Power loss: unsynced bytes vanish, torn at a random point.
        fs.crash_torn(seed);
        drop(st);
        fs.restart();
        let st = reopen(&fs);
        assert_eq!(dump(&st), acked, "seed {seed}");
    }
}

#[test]
fn concurrent_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    std::thread::scope(|s| {
        for w in 0..4 {
            let st = &st;
            s.spawn(move || {
                for r in 0..100i64 {
                    let mut b = WriteBatch::new();
                    for i in 0..20 {
                        b.push(
                            lbl("m", &format!("w{w}-{i}")),
                            vec![Sample::new(r * 1000, r as f64)],
                        );
                    }
                    st.append(&b).unwrap();
                }
            });
        }
        let st = &st;
        s.spawn(move || {
            for _ in 0..50 {
                let q = st.querier(i64::MIN, i64::MAX);
                for series in q.select(&[eq("__name__", "m")], 0, i64::MAX).unwrap() {
                    let v: Vec<_> = series.samples.collect();
                    assert!(v.windows(2).all(|w| w[0].t < w[1].t));
                }
            }
        });
    });
    let d = dump(&st);
    assert_eq!(d.len(), 80);
    assert!(d.values().all(|v| v.len() == 100));
}

/// The naive model of one series under the acceptance rules.
#[derive(Default, Clone)]
struct Model {
    samples: BTreeMap<i64, u64>,
    max_t: Option<i64>,
}

impl Model {
    fn append(&mut self, s: Sample, window: i64) {
        let bits = s.v.to_bits();
        match self.max_t {
            Some(m) if s.t <= m => {
                if s.t < m - window {
                    return;
                }
                self.samples.entry(s.t).or_insert(bits);
            }
            _ => {
                self.samples.insert(s.t, bits);
                self.max_t = Some(s.t);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn head_and_replay_agree_with_a_naive_model(
        ops in prop::collection::vec((0usize..3, 0i64..400, prop::sample::select(vec![0.0, 1.5, -0.0, f64::NAN, f64::from_bits(STALE_NAN_BITS)])), 1..400),
        mint in 0i64..200_000,
        span in 0i64..400_000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.head.ooo_window_ms = 50_000;
        o.head.cut.max_samples = 7;
        let st = Storage::open(dir.path(), o.clone()).unwrap();
        let mut model = vec![Model::default(); 3];
        for chunk in ops.chunks(13) {
            let mut b = WriteBatch::new();
            for &(series, step, v) in chunk {
                let s = Sample::new(step * 1000, v);
                model[series].append(s, 50_000);
                b.push(lbl("m", &series.to_string()), vec![s]);
            }
            st.append(&b).unwrap();
        }
        let check = |st: &Storage| -> Result<(), TestCaseError> {
            let maxt = mint + span;
            let q = st.querier(i64::MIN, i64::MAX);
            let mut got = BTreeMap::new();
            for s in q.select(&[eq("__name__", "m")], mint, maxt).unwrap() {
                let v: Vec<(i64, u64)> = s.samples.map(|x| (x.t, x.v.to_bits())).collect();
                got.insert(s.labels.get("instance").unwrap().to_string(), v);
            }
            let mut want = BTreeMap::new();
            for (i, m) in model.iter().enumerate() {
                let v: Vec<(i64, u64)> = m.samples.range(mint..=maxt).map(|(&t, &b)| (t, b)).collect();
                if !v.is_empty() {
                    want.insert(i.to_string(), v);
                }
            }
            prop_assert_eq!(got, want);
            Ok(())
        };
        check(&st)?;
        st.close().unwrap();
        let st = Storage::open(dir.path(), o).unwrap();
        check(&st)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Appending borrowed, unsorted pairs stores exactly what appending the
    /// same series as `Labels` does, with the same counts, across restarts.
    #[test]
    fn borrowed_batches_store_what_owned_batches_store(
        requests in prop::collection::vec(
            prop::collection::vec((
                // Pairs as a sender might send them: any order, empty
                // values, duplicate and invalid names.
                prop::collection::vec((
                    prop::sample::select(vec!["__name__", "job", "a", "", "1x"]),
                    prop::sample::select(vec!["up", "x", ""]),
                ), 0..4),
                prop::collection::vec((0i64..50, prop::sample::select(vec![0.0, 2.5, f64::NAN])), 0..4),
            ), 1..8),
            1..6),
    ) {
        let owned_dir = tempfile::tempdir().unwrap();
        let borrowed_dir = tempfile::tempdir().unwrap();
        let owned = Storage::open(owned_dir.path(), opts()).unwrap();
        let borrowed = Storage::open(borrowed_dir.path(), opts()).unwrap();
        for req in &requests {
            let samples: Vec<Vec<Sample>> = req
                .iter()
                .map(|(_, s)| s.iter().map(|&(t, v)| Sample::new(t * 1000, v)).collect())
                .collect();
            let mut ob = WriteBatch::new();
            let mut bb = BorrowedBatch::default();
            for ((pairs, _), s) in req.iter().zip(&samples) {
                ob.push(Labels::from_pairs(pairs.iter().copied()), s.clone());
                bb.push(pairs, s);
            }
            prop_assert_eq!(owned.append(&ob).unwrap(), borrowed.append_borrowed(&bb).unwrap());
        }
        prop_assert_eq!(dump(&owned), dump(&borrowed));
        prop_assert_eq!(owned.stats(), borrowed.stats());
        borrowed.close().unwrap();
        let reopened = Storage::open(borrowed_dir.path(), opts()).unwrap();
        prop_assert_eq!(dump(&owned), dump(&reopened));
    }
}

#[test]
fn borrowed_pairs_in_any_order_name_one_series() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    let sorted = [("__name__", "up"), ("job", "node"), ("zone", "")];
    let shuffled = [("job", "node"), ("__name__", "up")];
    let (a, b) = ([Sample::new(1_000, 1.0)], [Sample::new(2_000, 2.0)]);
    let mut batch = BorrowedBatch::default();
    batch.push(&shuffled, &a);
    batch.push(&sorted, &b);
    let stats = st.append_borrowed(&batch).unwrap();
    assert_eq!(stats.appended, 2);
    assert_eq!(st.stats().series, 1);
    let d = dump(&st);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d.values().next().unwrap().len(), 2);
}
