//! Storage over a WAL that refuses writes (a full disk): a refused batch is
//! taken back out of the head, writes resume by themselves once space
//! returns, and every acknowledged sample survives a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{Labels, Options, Querier, Sample, Storage, WriteBatch};
use hourglass_wal::fs::FaultyFs;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn lbl(name: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", inst)])
}

/// Every series with its samples: labels → (t, value bits).
fn dump(st: &Storage) -> BTreeMap<String, Vec<(i64, u64)>> {
    let q = st.querier(i64::MIN, i64::MAX);
    q.select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| {
            let v = s.samples.map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels.to_string(), v)
        })
        .collect()
}

fn open(fs: &FaultyFs, dir: &Path) -> Storage {
    let mut o = Options::default();
    o.head.ooo_window_ms = 600_000;
    // Small chunks, so a rollback crosses sealed chunks too.
    o.head.cut.max_samples = 4;
    Storage::open_with_fs(Arc::new(fs.clone()), dir, o).unwrap()
}

fn batch(series: &[(&str, &str, &[i64])]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for (name, inst, ts) in series {
        b.push(
            lbl(name, inst),
            ts.iter().map(|&t| Sample::new(t, t as f64 / 7.0)).collect(),
        );
    }
    b
}

#[test]
fn samples_of_a_batch_the_wal_refused_are_never_readable_and_writes_resume_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let st = open(&fs, dir.path());
    let base = 1_700_000_000_000;
    let t = |k: i64| base + k * 15_000;
    st.append(&batch(&[
        ("up", "a", &[t(0), t(1), t(2), t(3), t(4), t(5)]),
        ("up", "b", &[t(0), t(2)]),
    ]))
    .unwrap();
    let acked = dump(&st);

    fs.set_disk_full(true);
    // In-order samples that seal chunks, an out-of-order one, a new series.
    let refused = batch(&[
        ("up", "a", &[t(6), t(7), t(8), t(9), t(10)]),
        ("up", "b", &[t(1)]),
        ("up", "new", &[t(3)]),
    ]);
    let e = st.append(&refused).unwrap_err();
    assert!(e.to_string().contains("no space left"), "{e}");
    assert_eq!(dump(&st), acked, "a refused sample is readable");
    assert_eq!(st.stats().series, 2, "the refused batch's new series stays");
    assert!(st.wal_stats().poisoned);

    fs.set_disk_full(false);
    let later = batch(&[("up", "a", &[t(6), t(7)]), ("up", "c", &[t(7)])]);
    st.append(&later).expect("the WAL heals once space returns");
    let mut want = acked.clone();
    let v = |t: i64| (t, (t as f64 / 7.0).to_bits());
    want.get_mut(&lbl("up", "a").to_string())
        .unwrap()
        .extend([v(t(6)), v(t(7))]);
    want.insert(lbl("up", "c").to_string(), vec![v(t(7))]);
    assert_eq!(dump(&st), want);

    // Power loss: what was acknowledged comes back, nothing else.
    fs.crash();
    drop(st);
    fs.restart();
    let st = open(&fs, dir.path());
    assert_eq!(dump(&st), want);
    st.close().unwrap();
}

#[test]
fn a_refused_batch_leaves_a_concurrent_acknowledged_batch_of_the_same_series_alone() {
    // The undo removes exactly the refused samples: a sample of another
    // batch that landed in between (same series, later time) stays.
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let st = open(&fs, dir.path());
    st.append(&batch(&[("m", "x", &[1_000, 2_000])])).unwrap();
    fs.set_disk_full(true);
    assert!(st.append(&batch(&[("m", "x", &[3_000, 500])])).is_err());
    fs.set_disk_full(false);
    st.append(&batch(&[("m", "x", &[4_000])])).unwrap();
    let got: Vec<i64> = dump(&st).into_values().flatten().map(|(t, _)| t).collect();
    assert_eq!(got, vec![1_000, 2_000, 4_000]);
}
