//! The WAL's size on disk: records of scrape-like batches cost about two
//! bytes a sample; once the records written since the last checkpoint
//! outweigh it, `persist` checkpoints the head (its chunks) even with no
//! hour ready, and the records' segments go.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{Labels, Options, Querier, Sample, Storage, WriteBatch};
use std::path::Path;

const SERIES: usize = 2000;
const T0: i64 = 1_700_000_000_000;

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

fn samples_in(st: &Storage) -> usize {
    st.querier(i64::MIN, i64::MAX)
        .select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| s.samples.count())
        .sum()
}

#[test]
fn a_wal_that_outgrows_its_checkpoint_is_checkpointed_without_a_ready_hour() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), Options::default()).unwrap();
    let label = |i: usize| {
        Labels::from_pairs([
            ("__name__", "node_cpu_seconds_total".to_string()),
            ("cpu", (i % 8).to_string()),
            ("instance", format!("10.0.{}.{}:9100", i / 800, i / 8 % 100)),
        ])
    };
    // Scrapes 1 s apart of two-decimal counters, each moving by 0 to 9.99
    // (10 bits of news a sample), all within the first hour.
    let mut values: Vec<f64> = (0..SERIES).map(|i| i as f64 * 1000.0).collect();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for k in 0..300 {
        let mut b = WriteBatch::new();
        for (i, v) in values.iter_mut().enumerate() {
            let x = rng.u64(..);
            *v = ((*v + (x % 1000) as f64 / 100.0) * 100.0).round() / 100.0;
            b.push(label(i), vec![Sample::new(T0 + k * 1000, *v)]);
        }
        st.append(&b).unwrap();
    }
    let wal = dir.path().join("wal");
    let records = dir_bytes(&wal) as f64 / (SERIES * 300) as f64;
    // Then random values in [1, 2) (no short decimal form, nothing to
    // compress) until the records outgrow the threshold.
    let mut scrapes = 300;
    while dir_bytes(&wal) <= 4 << 20 {
        let mut b = WriteBatch::new();
        for i in 0..SERIES {
            let x = rng.u64(..);
            let v = f64::from_bits((x >> 12) | 0x3ff0_0000_0000_0000);
            b.push(label(i), vec![Sample::new(T0 + scrapes * 1000, v)]);
        }
        st.append(&b).unwrap();
        scrapes += 1;
    }
    let before = dir_bytes(&wal);
    let samples = SERIES * scrapes as usize;
    let stats = st.persist().unwrap();
    assert!(stats.partitions.is_empty(), "no hour is ready");
    let after = dir_bytes(&wal);
    println!(
        "WAL: {records:.2} bytes/sample as records of two-decimal counters; \
         with random values {:.2} as records, {:.2} after the checkpoint",
        before as f64 / samples as f64,
        after as f64 / samples as f64
    );
    assert!(
        records <= 2.0,
        "records of counters: {records:.2} bytes/sample"
    );
    // Records as compact as chunks: the checkpoint is there to keep replay
    // short, and the reopen below replays no record.
    assert!(before > 4 << 20, "{before}");
    // Under the threshold again: the next persist writes nothing.
    st.persist().unwrap();
    assert_eq!(dir_bytes(&wal), after);
    st.close().unwrap();

    let st = Storage::open(dir.path(), Options::default()).unwrap();
    assert_eq!(st.wal_recovery().records, 0);
    assert_eq!(samples_in(&st), samples);
}
