//! A damaged WAL checkpoint or segment does not stop storage from opening:
//! what is intact (partitions, the checkpoint's other records, later WAL
//! records) is kept, and what was set aside is counted exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{T0, numbered, ooo_options};
use hourglass_storage::{Querier, Sample, Storage, WriteBatch};
use std::collections::BTreeMap;
use std::path::Path;

const SERIES: usize = 600;

/// One batch: every series gets the sample of minute `k`.
fn minute(st: &Storage, k: i64) {
    let mut b = WriteBatch::new();
    for i in 0..SERIES {
        b.push(numbered(i), vec![Sample::new(T0 + k * 60_000, k as f64)]);
    }
    st.append(&b).unwrap();
}

/// Samples per series, by the series' `i` label.
fn counts(st: &Storage) -> BTreeMap<String, usize> {
    st.querier(i64::MIN, i64::MAX)
        .select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| {
            (
                s.labels.get("i").unwrap_or("").to_string(),
                s.samples.count(),
            )
        })
        .collect()
}

/// Frame starts in a file of the WAL segment format.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 13 <= bytes.len() {
        out.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 13 + len;
    }
    out
}

fn checkpoint_file(dir: &Path) -> std::path::PathBuf {
    let wal = dir.join("wal");
    let name = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("checkpoint.") && !n.ends_with(".corrupt"))
        .expect("a checkpoint");
    wal.join(name).join("00000000")
}

#[test]
fn a_flipped_byte_in_a_checkpoint_record_sets_aside_that_record_and_counts_what_it_cost() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    for k in 0..90 {
        minute(&st, k);
    }
    // The first hour becomes a partition; the checkpoint restates the
    // rest: 600 series in records of 256.
    let persisted = st.persist().unwrap();
    assert_eq!(persisted.partitions.len(), 1);
    for k in 90..100 {
        minute(&st, k);
    }
    st.close().unwrap();

    let file = checkpoint_file(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let starts = frame_starts(&bytes);
    assert_eq!(starts.len(), 3, "600 series in records of 256");
    bytes[starts[1] + 13 + 40] ^= 0x04;
    std::fs::write(&file, &bytes).unwrap();

    let st = Storage::open(dir.path(), ooo_options()).expect("opens despite the damage");
    let r = st.wal_recovery();
    assert_eq!(r.damage.len(), 1, "{r:?}");
    assert_eq!(r.damage[0].offset, starts[1] as u64);
    assert!(r.damage[0].kept_aside.as_ref().unwrap().exists());
    let replay = st.replay_stats();
    assert_eq!(replay.records_set_aside(), 1);
    // The later WAL records name the 256 series of the lost record by
    // reference only: their ten minutes each are set aside, counted.
    assert_eq!(replay.unknown_series_samples, 256 * 10);
    let got = counts(&st);
    assert_eq!(got.len(), SERIES, "every series is in the partition");
    for (i, n) in &got {
        let i: usize = i.parse().unwrap();
        let want = if (256..512).contains(&i) { 60 } else { 100 };
        assert_eq!(*n, want, "series {i}");
    }
    // Writes go on, and the next open finds the same damage, no more.
    minute(&st, 100);
    st.close().unwrap();
    let st = Storage::open(dir.path(), ooo_options()).unwrap();
    assert_eq!(st.replay_stats().records_set_aside(), 1);
}

#[test]
fn a_flipped_byte_in_a_middle_wal_segment_costs_one_record_and_later_segments_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = ooo_options();
    // Small segments: a few batches of 600 samples (under 1 KB packed) each.
    o.wal.segment_size = 2 << 10;
    let st = Storage::open(dir.path(), o.clone()).unwrap();
    for k in 0..20 {
        let mut b = WriteBatch::new();
        for i in 0..SERIES as i64 {
            let v = ((k * 7919 + i * 104_729) % 100_003) as f64 / 100.0;
            b.push(numbered(i as usize), vec![Sample::new(T0 + k * 60_000, v)]);
        }
        st.append(&b).unwrap();
    }
    st.close().unwrap();
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().len() == 8)
        .collect();
    segs.sort();
    assert!(segs.len() >= 5, "{segs:?}");
    // A record in the middle: minute k is LSN k+1; pick the second frame of
    // a middle segment, which holds samples only (definitions went first).
    let middle = &segs[segs.len() / 2];
    let mut bytes = std::fs::read(middle).unwrap();
    let starts = frame_starts(&bytes);
    bytes[starts[0] + 13 + 100] ^= 0x01;
    std::fs::write(middle, &bytes).unwrap();

    let st = Storage::open(dir.path(), o).unwrap();
    let r = st.wal_recovery();
    assert!(r.corruption.is_none(), "{r:?}");
    assert_eq!((r.damage.len(), r.records_set_aside()), (1, 1), "{r:?}");
    assert!(r.damage[0].exact, "{r:?}");
    let got = counts(&st);
    assert_eq!(got.len(), SERIES);
    // One minute is missing from every series, and the later minutes of
    // its five-minute window, whose samples are coded against it (set
    // aside, counted); later windows are all there.
    let n = got.values().next().copied().unwrap();
    assert!(got.values().all(|&x| x == n), "{got:?}");
    assert!((15..=19).contains(&n), "{n}");
    assert_eq!(
        st.replay_stats().unlinked_samples,
        (SERIES * (19 - n)) as u64
    );
}
