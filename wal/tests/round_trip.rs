//! Whatever is appended replays exactly, across segment rolls and records
//! split over several segments.

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

#[test]
fn oversized_record_is_refused_and_log_stays_usable() {
    let fs = FaultyFs::new();
    let o = Options {
        max_record_size: 1000,
        ..opts(4096, SyncPolicy::Group)
    };
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
