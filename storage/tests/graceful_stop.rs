//! A graceful stop (`Storage::stop`) leaves the head as one WAL checkpoint
//! of chunks and no record to replay; a failure or crash at any point of
//! that stop leaves the WAL to replay instead, and a kill -9 after later
//! writes still recovers everything acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{T0, dump, numbered, ooo_options};
use hourglass_storage::{Sample, Storage, WriteBatch};
use hourglass_wal::fs::FaultyFs;
use std::path::Path;
use std::sync::Arc;

const SERIES: usize = 300;

/// Minute `k` for every series: two-decimal counters, a raw value (NaN
/// payload) now and then, and every tenth minute an out-of-order sample.
fn minute(st: &Storage, k: i64) {
    let mut b = WriteBatch::new();
    for i in 0..SERIES {
        let mut samples = vec![Sample::new(
            T0 + k * 60_000,
            match (i + k as usize) % 17 {
                0 => f64::from_bits(0x7ff8_0000_0000_0bad),
                _ => (i as f64 * 1234.56 + k as f64 * 0.25 * 100.0).round() / 100.0,
            },
        )];
        if k % 10 == 9 {
            samples.push(Sample::new(T0 + k * 60_000 - 30_000, -0.0));
        }
        b.push(numbered(i), samples);
    }
    st.append(&b).unwrap();
}

#[test]
fn a_graceful_stop_leaves_nothing_to_replay_and_every_sample_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    // Two and a half hours: the first ready hours become partitions at the
    // stop, the rest is checkpointed from the head.
    for k in 0..150 {
        minute(&st, k);
    }
    let want = dump(&st);
    st.stop().unwrap();

    let entries = common::dir_entries(&dir.path().join("wal"));
    let segments: Vec<_> = entries.iter().filter(|(n, _)| n.len() == 8).collect();
    assert_eq!(segments.len(), 1, "{entries:?}");
    assert_eq!(segments[0].1, 24, "an empty segment: its header only");
    assert!(entries.iter().any(|(n, _)| n.starts_with("checkpoint.")));

    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    assert_eq!(st.wal_recovery().records, 0, "no record to replay");
    assert_eq!(st.replay_stats().records_set_aside(), 0);
    assert!(!st.partitions().is_empty(), "ready hours were persisted");
    assert_eq!(dump(&st), want);

    // Writes go on from where the checkpoint left off; a plain close (the
    // WAL replayed on top of the checkpoint) and another stop both keep all.
    for k in 150..160 {
        minute(&st, k);
    }
    let want = dump(&st);
    st.close().unwrap();
    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    assert_eq!(st.wal_recovery().records, 10);
    assert_eq!(dump(&st), want);
    st.stop().unwrap();
    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    assert_eq!(st.wal_recovery().records, 0);
    assert_eq!(dump(&st), want);
}

fn open_faulty(fs: &FaultyFs, dir: &Path) -> Storage {
    Storage::open_with_fs(Arc::new(fs.clone()), dir, ooo_options()).unwrap()
}

#[test]
fn a_stop_that_fails_or_crashes_midway_leaves_the_wal_to_replay() {
    type Arm = fn(&FaultyFs);
    let faults: [(&str, Arm); 8] = [
        ("none", |_| {}),
        ("first sync fails", |fs| fs.fail_next_syncs(1)),
        ("two syncs fail", |fs| fs.fail_next_syncs(2)),
        ("three syncs fail", |fs| fs.fail_next_syncs(3)),
        ("torn first write", |fs| fs.short_write_next(0)),
        ("torn write at 30 bytes", |fs| fs.short_write_next(30)),
        ("torn write at 5000 bytes", |fs| fs.short_write_next(5000)),
        ("every write fails", |fs| fs.set_fail_writes(true)),
    ];
    for (seed, (name, arm)) in faults.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        let st = open_faulty(&fs, dir.path());
        // Within the out-of-order window of the newest sample: no hour is
        // ready, so the stop writes no partition, only the checkpoint.
        for k in 0..8 {
            minute(&st, k);
        }
        let want = dump(&st);
        arm(&fs);
        let stopped = st.stop();
        println!("{name}: stop returned {stopped:?}");
        fs.set_fail_writes(false);
        fs.fail_next_syncs(0);
        // Power loss right after, torn where anything was unsynced.
        fs.crash_torn(seed as u64 + 1);
        fs.restart();
        let st = open_faulty(&fs, dir.path());
        assert_eq!(dump(&st), want, "{name}: acknowledged samples lost");
        assert_eq!(st.replay_stats().records_set_aside(), 0, "{name}");
        // And it stops cleanly now.
        st.stop().unwrap();
        let st = open_faulty(&fs, dir.path());
        assert_eq!(st.wal_recovery().records, 0, "{name}");
        assert_eq!(dump(&st), want, "{name}");
    }
}

#[test]
fn a_kill_9_after_a_graceful_stop_and_more_writes_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let st = open_faulty(&fs, dir.path());
    for k in 0..20 {
        minute(&st, k);
    }
    st.stop().unwrap();
    let st = open_faulty(&fs, dir.path());
    for k in 20..30 {
        minute(&st, k);
    }
    let want = dump(&st);
    // Group commit: every acknowledged batch is durable.
    fs.crash();
    drop(st);
    fs.restart();
    let st = open_faulty(&fs, dir.path());
    assert_eq!(st.wal_recovery().records, 10, "the records after the stop");
    assert_eq!(dump(&st), want);
}

/// Bytes of every file under `dir`.
fn tree_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                tree_bytes(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn a_graceful_stop_stores_the_open_hours_as_compactly_as_persisted_ones() {
    // Two hours of 15 s scrapes jittered by 0–6 ms, two-decimal counters
    // moving by 0–9.99: within the out-of-order window of the newest
    // sample, so the stop persists nothing and checkpoints it all. As
    // the head holds it (120-sample XOR chunks) it costs about 2.9
    // bytes/sample; re-encoded hour by hour in the cold encodings, the
    // spread's bits: 3 of time, 10 of value.
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), hourglass_storage::Options::default()).unwrap();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let mut values: Vec<f64> = (0..SERIES).map(|i| i as f64 * 1000.0).collect();
    let scrapes = 480;
    for k in 0..scrapes {
        let mut b = WriteBatch::new();
        for (i, v) in values.iter_mut().enumerate() {
            *v = ((*v + rng.u64(..1000) as f64 / 100.0) * 100.0).round() / 100.0;
            let t = T0 + k * 15_000 + rng.u64(..7) as i64;
            b.push(numbered(i), vec![Sample::new(t, *v)]);
        }
        st.append(&b).unwrap();
    }
    let want = dump(&st);
    let records = tree_bytes(&dir.path().join("wal"));
    st.stop().unwrap();
    assert!(no_partitions(dir.path()), "nothing was ready");
    let checkpoint = tree_bytes(&dir.path().join("wal"));
    let samples = (SERIES as i64 * scrapes) as f64;
    let per = checkpoint as f64 / samples;
    println!(
        "{samples} samples: WAL records {:.3} B/sample, stop checkpoint {per:.3} B/sample",
        records as f64 / samples
    );
    assert!(per < 1.9, "stop checkpoint {per:.3} bytes/sample");
    let st = Storage::open(dir.path(), hourglass_storage::Options::default()).unwrap();
    assert_eq!(st.wal_recovery().records, 0, "no record to replay");
    assert_eq!(dump(&st), want, "every sample back, bit for bit");
    // The adopted cold chunks take appends after them and stop again.
    let mut b = WriteBatch::new();
    b.push(numbered(0), vec![Sample::new(T0 + scrapes * 15_000, 1e9)]);
    st.append(&b).unwrap();
    let want = dump(&st);
    st.stop().unwrap();
    let st = Storage::open(dir.path(), hourglass_storage::Options::default()).unwrap();
    assert_eq!(dump(&st), want);
}

/// Whether `parts/` holds no partition.
fn no_partitions(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("parts"))
        .map(|rd| rd.flatten().next().is_none())
        .unwrap_or(true)
}
