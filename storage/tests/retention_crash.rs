//! Retention dropping partitions through the `Fs` seam under a crash at
//! every step: each hour is afterwards whole or gone, never partial; hours
//! retention keeps are all there; and a leftover `.del-` directory never
//! comes back as data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Model, TestClock, dump};
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};
use hourglass_wal::fs::FaultyFs;
use std::collections::BTreeMap;
use std::sync::Arc;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z
const DATA: &str = "/data";

fn opts(clock: &TestClock, retention_ms: Option<i64>) -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 10 * 60_000;
    o.head.clock = clock.clock();
    o.head.retention_ms = retention_ms;
    o
}

/// Six hours of 4 series at 1 min, written live and persisted (hours 0-4
/// become partitions), flushed and closed.
fn build(fs: &FaultyFs, clock: &TestClock) -> Model {
    let st = Storage::open_with_fs(Arc::new(fs.clone()), DATA, opts(clock, None)).unwrap();
    for m in 0..6 * 60 {
        let t = T0 + m * 60_000;
        clock.set(t);
        let mut b = WriteBatch::new();
        for i in 0..4 {
            let l = Labels::from_pairs([("__name__", "m"), ("i", &format!("{i}"))]);
            b.push(l, vec![Sample::new(t, (m * (i + 1)) as f64)]);
        }
        st.append(&b).unwrap();
    }
    assert_eq!(st.persist().unwrap().partitions.len(), 5);
    st.flush().unwrap();
    let m = dump(&st);
    st.close().unwrap();
    m
}

/// Samples per (series, hour).
fn by_hour(m: &Model) -> BTreeMap<(String, i64), Vec<(i64, u64)>> {
    let mut out: BTreeMap<(String, i64), Vec<(i64, u64)>> = BTreeMap::new();
    for (k, v) in m {
        for x in v {
            out.entry((k.clone(), (x.0 - T0).div_euclid(H)))
                .or_default()
                .push(*x);
        }
    }
    out
}

#[test]
fn a_crash_at_every_step_of_retention_leaves_each_hour_whole_or_gone() {
    // Three hours back from the clock: hours 0 and 1 are past it whole.
    let retention = Some(3 * H);
    for k in 0.. {
        let fs = FaultyFs::new();
        let clock = TestClock::at(T0);
        let before = by_hour(&build(&fs, &clock));
        let st =
            Storage::open_with_fs(Arc::new(fs.clone()), DATA, opts(&clock, retention)).unwrap();
        fs.crash_after_ops(k);
        let r = st.retain();
        let crashed = fs.is_crashed();
        drop((r, st));
        if !crashed {
            fs.cancel_crash();
            assert!(k >= 2, "dropping two partitions takes more steps than {k}");
            let st = Storage::open_with_fs(Arc::new(fs.clone()), DATA, opts(&clock, None)).unwrap();
            let got = by_hour(&dump(&st));
            let want: BTreeMap<_, _> = before.into_iter().filter(|((_, h), _)| *h >= 2).collect();
            assert_eq!(got, want, "retention ran whole");
            return;
        }
        fs.restart();
        let st = Storage::open_with_fs(Arc::new(fs.clone()), DATA, opts(&clock, None)).unwrap();
        let got = by_hour(&dump(&st));
        for (key, v) in &before {
            match got.get(key) {
                Some(g) => assert_eq!(g, v, "crash at {k}: {key:?} partial"),
                None => assert!(key.1 < 2, "crash at {k}: {key:?} kept by retention, lost"),
            }
        }
        for h in 0..2 {
            let n = got.keys().filter(|(_, x)| *x == h).count();
            assert!(
                n == 0 || n == 4,
                "crash at {k}: hour {h} holds {n} of 4 series"
            );
        }
        assert!(got.keys().all(|k| before.contains_key(k)));
    }
}
