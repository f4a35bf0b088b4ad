//! A full disk (ENOSPC) refuses appends without acknowledging them, and the
//! log heals by itself once space returns: no reopen, nothing acknowledged
//! lost, nothing refused kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_wal::fs::FaultyFs;
use hourglass_wal::{Lsn, SyncPolicy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const POLICIES: [SyncPolicy; 4] = [
    SyncPolicy::Always,
    SyncPolicy::Group,
    SyncPolicy::Never,
    SyncPolicy::Interval(Duration::from_millis(5)),
];

/// A WAL that acknowledged `kept`, then ran out of disk and refused
/// `refused`; the disk is still full.
fn full_after_one_kept(sync: SyncPolicy) -> (FaultyFs, hourglass_wal::Wal) {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, sync));
    wal.append(b"kept").unwrap();
    fs.set_disk_full(true);
    assert!(wal.append(b"refused").is_err());
    (fs, wal)
}

#[test]
fn disk_full_refuses_appends_then_the_log_heals_once_space_returns() {
    for sync in POLICIES {
        let fs = FaultyFs::new();
        let wal = open(&fs, opts(4096, sync));
        assert_eq!(wal.append(b"before").unwrap(), Lsn(1));
        wal.sync().unwrap();
        fs.set_disk_full(true);
        for _ in 0..3 {
            // Unbuffered policies write at append; group commit at its round.
            let refused = wal.append(b"refused").and_then(|_| wal.sync());
            assert!(refused.is_err(), "{sync:?}");
        }
        let fault = wal.fault();
        assert!(
            fault
                .as_deref()
                .is_some_and(|f| f.contains("no space left")),
            "{sync:?}: {fault:?}"
        );
        fs.set_disk_full(false);
        let lsn = wal.append(b"after").unwrap();
        wal.sync().unwrap();
        assert_eq!(wal.fault(), None, "{sync:?}");
        assert_eq!(
            data(&replay_all(&wal)),
            vec![b"before".to_vec(), b"after".to_vec()],
            "{sync:?}"
        );
        assert_eq!(
            lsn,
            Lsn(2),
            "{sync:?}: refused records give their LSNs back"
        );
        wal.close().unwrap();
        fs.crash();
        fs.restart();
        let wal = open(&fs, opts(4096, sync));
        let r = wal.recovery_report();
        assert!(
            r.corruption.is_none() && r.torn_tail.is_none(),
            "{sync:?}: {r:?}"
        );
        assert_eq!(
            data(&replay_all(&wal)),
            vec![b"before".to_vec(), b"after".to_vec()],
            "{sync:?}"
        );
    }
}

#[test]
fn disk_full_while_rolling_to_a_new_segment_heals() {
    // Records of 40 bytes in 128-byte segments: every other append rolls.
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(128, SyncPolicy::Group));
    let mut want = Vec::new();
    for i in 0..20u8 {
        fs.set_disk_full(i % 3 == 1);
        let rec = vec![i; 40];
        if wal.append(&rec).is_ok() {
            want.push(rec);
        }
    }
    fs.set_disk_full(false);
    wal.append(b"last").unwrap();
    want.push(b"last".to_vec());
    assert_eq!(data(&replay_all(&wal)), want);
    drop(wal);
    fs.crash();
    fs.restart();
    let wal = open(&fs, opts(128, SyncPolicy::Group));
    assert_eq!(data(&replay_all(&wal)), want);
}

#[test]
fn a_clean_close_after_the_disk_emptied_succeeds_without_another_append() {
    let (fs, wal) = full_after_one_kept(SyncPolicy::Group);
    assert!(wal.sync().is_err(), "still full: recovery fails");
    fs.set_disk_full(false);
    wal.close().unwrap();
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    assert_eq!(data(&replay_all(&wal)), vec![b"kept".to_vec()]);
}

#[test]
fn many_appenders_through_a_disk_that_fills_and_empties_lose_no_acknowledged_record() {
    let fs = FaultyFs::new();
    let wal = Arc::new(open(&fs, opts(2048, SyncPolicy::Group)));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        for t in 0..16u32 {
            let (wal, acked, refused, fs) = (&wal, &acked, &refused, &fs);
            s.spawn(move || {
                for j in 0..400u32 {
                    if t == 0 && j % 50 == 10 {
                        fs.set_disk_full(true);
                    }
                    if t == 0 && j % 50 == 20 {
                        fs.set_disk_full(false);
                    }
                    let p = format!("{t}-{j}").into_bytes();
                    match wal.append(&p) {
                        Ok(lsn) => acked.lock().unwrap().push((lsn, p)),
                        Err(_) => refused.store(true, Ordering::SeqCst),
                    }
                }
            });
        }
    });
    fs.set_disk_full(false);
    assert!(refused.load(Ordering::SeqCst), "the disk never filled");
    wal.sync().unwrap();
    drop(wal);
    fs.crash();
    fs.restart();
    let wal = open(&fs, opts(2048, SyncPolicy::Group));
    let got: std::collections::HashMap<Lsn, Vec<u8>> = replay_all(&wal)
        .into_iter()
        .map(|r| (r.lsn, r.data))
        .collect();
    let acked = acked.lock().unwrap();
    // How many land depends on scheduling; enough must land to mean something.
    assert!(acked.len() > 100, "{} acknowledged", acked.len());
    for (lsn, p) in acked.iter() {
        assert_eq!(got.get(lsn), Some(p), "acknowledged record {lsn:?} lost");
    }
    let refused: Vec<_> = got
        .values()
        .filter(|p| !acked.iter().any(|(_, a)| a == *p))
        .collect();
    assert!(
        refused.is_empty(),
        "records refused to their appenders were kept: {refused:?}"
    );
}

#[test]
fn after_a_cleanly_cut_back_write_a_sync_clears_the_fault_without_another_append() {
    for sync in [SyncPolicy::Always, SyncPolicy::Never] {
        let (fs, wal) = full_after_one_kept(sync);
        assert!(wal.fault().is_some(), "{sync:?}");
        assert!(wal.sync().is_err(), "{sync:?}: still full");
        assert!(wal.fault().is_some(), "{sync:?}");
        fs.set_disk_full(false);
        wal.sync().unwrap();
        assert_eq!(wal.fault(), None, "{sync:?}");
        assert_eq!(data(&replay_all(&wal)), vec![b"kept".to_vec()], "{sync:?}");
    }
}

#[test]
fn a_checkpoint_never_claims_records_that_a_failure_may_cut_and_hand_out_again() {
    let (fs, wal) = full_after_one_kept(SyncPolicy::Group);
    // The refused record took LSN 2; only LSN 1 was acknowledged.
    assert_eq!((wal.next_lsn(), wal.acked_lsn()), (Lsn(3), Lsn(2)));
    assert!(wal.checkpoint(wal.next_lsn(), [b"state"]).is_err());
    fs.set_disk_full(false);
    // Healing hands LSN 2 out again, to a record a checkpoint at 3 would
    // have hidden from replay.
    assert_eq!(wal.append(b"next").unwrap(), Lsn(2));
    wal.checkpoint(Lsn(2), [b"state"]).unwrap();
    drop(wal);
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    let (upto, _) = wal.read_checkpoint().unwrap().unwrap();
    let after: Vec<_> = wal.replay(upto).unwrap().map(|r| r.unwrap().data).collect();
    assert_eq!(after, vec![b"next".to_vec()]);
}
