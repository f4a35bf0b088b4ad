//! Whatever is appended replays exactly, across segment rolls and records
//! split over several segments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_wal::fs::FaultyFs;
use hourglass_wal::{Error, Lsn, Options, SyncPolicy, Wal};
use proptest::collection::vec;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn appended_records_replay_exactly(
        records in vec(vec(any::<u8>(), 0..700), 0..40),
        segment_size in 64u64..1200,
        from in 0u64..45,
    ) {
        let fs = FaultyFs::new();
        {
            let wal = open(&fs, opts(segment_size, SyncPolicy::Never));
            for (i, r) in records.iter().enumerate() {
                prop_assert_eq!(wal.append(r).unwrap(), Lsn(i as u64 + 1));
            }
        }
        let wal = open(&fs, opts(segment_size, SyncPolicy::Never));
        let report = wal.recovery_report();
        prop_assert!(report.torn_tail.is_none() && report.corruption.is_none(), "{:?}", report);
        prop_assert_eq!(wal.next_lsn(), Lsn(records.len() as u64 + 1));
        let got = wal.replay(Lsn(from)).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        let want: Vec<(u64, Vec<u8>)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u64 + 1, r.clone()))
            .filter(|(lsn, _)| *lsn >= from)
            .collect();
        let got: Vec<(u64, Vec<u8>)> = got.into_iter().map(|r| (r.lsn.0, r.data)).collect();
        prop_assert_eq!(got, want);
    }
}

/// Group-commit options refusing records over `max` bytes.
fn small_records(max: usize) -> Options {
    Options {
        max_record_size: max,
        ..opts(4096, SyncPolicy::Group)
    }
}

#[test]
fn oversized_record_is_refused_and_log_stays_usable() {
    let fs = FaultyFs::new();
    let o = small_records(1000);
    let wal = open(&fs, o.clone());
    match wal.append(&[0u8; 1001]) {
        Err(Error::RecordTooLarge {
            size: 1001,
            max: 1000,
        }) => {}
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(wal.append(b"").unwrap(), Lsn(1));
    assert_eq!(wal.append(&[7u8; 1000]).unwrap(), Lsn(2));
    drop(wal);
    let wal = open(&fs, o);
    assert_eq!(data(&replay_all(&wal)), vec![vec![], vec![7u8; 1000]]);
}

#[test]
fn records_larger_than_a_segment_span_segments() {
    let fs = FaultyFs::new();
    let o = opts(128, SyncPolicy::Always);
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    {
        let wal = open(&fs, o.clone());
        wal.append(b"a").unwrap();
        wal.append(&big).unwrap();
        wal.append(b"b").unwrap();
        assert!(wal.stats().segments > 40);
    }
    let wal = open(&fs, o);
    assert_eq!(
        data(&replay_all(&wal)),
        vec![b"a".to_vec(), big, b"b".to_vec()]
    );
}

#[test]
fn invalid_options_are_refused() {
    let fs = FaultyFs::new();
    let bad = Wal::open_with(std::sync::Arc::new(fs), DIR, opts(10, SyncPolicy::Group));
    assert!(matches!(
        bad,
        Err(Error::InvalidOption {
            field: "segment_size",
            ..
        })
    ));
}

#[test]
fn real_directory_round_trip_under_every_policy() {
    for sync in [
        SyncPolicy::Always,
        SyncPolicy::Group,
        SyncPolicy::Interval(std::time::Duration::from_millis(5)),
        SyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let o = Options {
            segment_size: 4096,
            sync,
            ..Options::default()
        };
        let wal = Wal::open(dir.path(), o.clone()).unwrap();
        for j in 0..200 {
            wal.append(&payload(1, j)).unwrap();
        }
        wal.close().unwrap();
        let wal = Wal::open(dir.path(), o).unwrap();
        let got = replay_all(&wal);
        assert_eq!(got.len(), 200, "{sync:?}");
        assert!(
            got.iter()
                .enumerate()
                .all(|(j, r)| r.data == payload(1, j as u32))
        );
    }
}

#[test]
fn a_batch_gets_consecutive_lsns_and_replays_in_order() {
    for sync in [SyncPolicy::Always, SyncPolicy::Group, SyncPolicy::Never] {
        let fs = FaultyFs::new();
        let syncs_before;
        {
            // Small segments, so batches roll mid-way and split records.
            let wal = open(&fs, opts(256, sync));
            assert_eq!(wal.append(b"alone").unwrap(), Lsn(1));
            syncs_before = fs.sync_count();
            let batch: Vec<Vec<u8>> = (0..3).map(|j| payload(2, j)).collect();
            assert_eq!(wal.append_batch(&batch).unwrap(), Lsn(2));
            if sync == SyncPolicy::Group {
                // One wait for the lot: no roll happens in these 3, so one fsync.
                assert_eq!(fs.sync_count() - syncs_before, 1, "{sync:?}");
            }
            let empty: [&[u8]; 0] = [];
            assert_eq!(wal.append_batch(&empty).unwrap(), Lsn(5));
            let big = vec![9u8; 700];
            assert_eq!(
                wal.append_batch(&[&b"x"[..], &big, &b"y"[..]]).unwrap(),
                Lsn(5)
            );
            assert_eq!(wal.next_lsn(), Lsn(8));
            assert_eq!(wal.stats().appends, 7);
        }
        let wal = open(&fs, opts(256, sync));
        let got = data(&replay_all(&wal));
        let mut want = vec![b"alone".to_vec()];
        want.extend((0..3).map(|j| payload(2, j)));
        want.extend([b"x".to_vec(), vec![9u8; 700], b"y".to_vec()]);
        assert_eq!(got, want, "{sync:?}");
    }
}

#[test]
fn a_batch_with_an_oversized_record_appends_nothing() {
    let fs = FaultyFs::new();
    let o = small_records(100);
    let wal = open(&fs, o);
    let batch = [vec![1u8; 10], vec![2u8; 101], vec![3u8; 10]];
    assert!(matches!(
        wal.append_batch(&batch),
        Err(Error::RecordTooLarge { size: 101, .. })
    ));
    assert_eq!(wal.next_lsn(), Lsn(1));
    assert_eq!(wal.append(b"after").unwrap(), Lsn(1));
}
