//! Crashes and failing disks: every append that returned under `always` or
//! `group` survives; nothing replays half-written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_wal::fs::FaultyFs;
use hourglass_wal::{Error, Lsn, SyncPolicy, Wal};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const APPENDERS: u32 = 4;

/// Records acknowledged to appenders, with their LSNs.
type Acked = Vec<(Lsn, Vec<u8>)>;

/// What appender threads share: the log, what it acknowledged, one flag
/// (crashed, failed) and the file system under the log.
#[derive(Clone)]
struct Appenders {
    wal: Arc<Wal>,
    acked: Arc<Mutex<Acked>>,
    flag: Arc<AtomicBool>,
    fs: FaultyFs,
}

impl Appenders {
    fn open(fs: &FaultyFs, sync: SyncPolicy) -> Appenders {
        Appenders {
            wal: Arc::new(open(fs, opts(2048, sync))),
            acked: Arc::new(Mutex::new(Vec::new())),
            flag: Arc::new(AtomicBool::new(false)),
            fs: fs.clone(),
        }
    }

    /// Runs `body(thread, shared)` on `n` threads and waits for them all.
    fn run(&self, n: u32, body: impl Fn(u32, &Appenders) + Clone + Send + 'static) {
        let threads: Vec<_> = (0..n)
            .map(|t| {
                let (shared, body) = (self.clone(), body.clone());
                std::thread::spawn(move || body(t, &shared))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    fn flagged(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Closes the log and hands back what it acknowledged.
    fn finish(self) -> Acked {
        drop(self.wal);
        Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap()
    }
}

/// Runs concurrent appenders, crashes the file system once `crash_after`
/// appends were acknowledged, and returns what was acknowledged.
fn run_until_crash(
    fs: &FaultyFs,
    sync: SyncPolicy,
    crash_after: usize,
    torn_seed: Option<u64>,
) -> Vec<(Lsn, Vec<u8>)> {
    run_appenders_until_crash(fs, sync, APPENDERS, crash_after, torn_seed)
}

fn run_appenders_until_crash(
    fs: &FaultyFs,
    sync: SyncPolicy,
    appenders: u32,
    crash_after: usize,
    torn_seed: Option<u64>,
) -> Vec<(Lsn, Vec<u8>)> {
    let app = Appenders::open(fs, sync);
    app.run(appenders, move |t, s| {
        for j in 0..100_000 {
            let p = payload(t, j);
            let Ok(lsn) = s.wal.append(&p) else { return };
            let mut a = s.acked.lock().unwrap();
            a.push((lsn, p));
            if a.len() >= crash_after && !s.flag.swap(true, Ordering::SeqCst) {
                match torn_seed {
                    Some(seed) => s.fs.crash_torn(seed),
                    None => s.fs.crash(),
                }
            }
        }
    });
    assert!(app.flagged(), "the crash never happened");
    let acked = app.finish();
    fs.restart();
    acked
}

fn check_recovered(fs: &FaultyFs, acked: &[(Lsn, Vec<u8>)], all_acked_survive: bool) {
    let wal = open(fs, opts(2048, SyncPolicy::Group));
    assert!(
        wal.recovery_report().corruption.is_none(),
        "{:?}",
        wal.recovery_report()
    );
    let replayed = replay_all(&wal);
    // LSNs run without gaps and every record is whole.
    for (i, r) in replayed.iter().enumerate() {
        assert_eq!(r.lsn, Lsn(i as u64 + 1));
        assert!(
            payload_is_whole(&r.data),
            "half-written record at {}",
            r.lsn
        );
    }
    if all_acked_survive {
        let by_lsn: HashMap<Lsn, &Vec<u8>> = replayed.iter().map(|r| (r.lsn, &r.data)).collect();
        for (lsn, p) in acked {
            assert_eq!(by_lsn.get(lsn), Some(&p), "acknowledged record {lsn} lost");
        }
    }
}

/// Crashes one log per seed under `sync`, after `ops(seed)` operations,
/// tearing the last write when `torn`, and checks that every acknowledged
/// record survived.
fn crash_each_seed(sync: SyncPolicy, seeds: u64, ops: impl Fn(usize) -> usize, torn: bool) {
    for seed in 0..seeds {
        let fs = FaultyFs::new();
        let acked = run_until_crash(&fs, sync, ops(seed as usize), torn.then_some(seed));
        check_recovered(&fs, &acked, true);
    }
}

#[test]
fn group_commit_crash_loses_no_acknowledged_record() {
    crash_each_seed(SyncPolicy::Group, 12, |s| 50 + s * 37, false);
}

#[test]
fn group_commit_torn_crash_loses_no_acknowledged_record() {
    crash_each_seed(SyncPolicy::Group, 12, |s| 80 + s * 23, true);
}

#[test]
fn many_appenders_crash_loses_no_acknowledged_record() {
    // Enough appenders that rounds are led, handed over and woken in bulk
    // when the crash hits.
    for seed in 0..6u64 {
        let fs = FaultyFs::new();
        let torn = (seed % 2 == 1).then_some(seed);
        let acked =
            run_appenders_until_crash(&fs, SyncPolicy::Group, 64, 500 + seed as usize * 97, torn);
        check_recovered(&fs, &acked, true);
    }
}

#[test]
fn failed_fsync_with_many_appenders_loses_no_acknowledged_record() {
    let fs = FaultyFs::new();
    let app = Appenders::open(&fs, SyncPolicy::Group);
    app.run(32, |t, s| {
        let mut after_failure = 0;
        for j in 0..10_000 {
            if s.flagged() {
                after_failure += 1;
                if after_failure > 20 {
                    return;
                }
            }
            let p = payload(t, j);
            match s.wal.append(&p) {
                Ok(lsn) => {
                    let mut a = s.acked.lock().unwrap();
                    a.push((lsn, p));
                    if a.len() == 200 {
                        s.fs.fail_next_syncs(1);
                    }
                }
                Err(_) => {
                    // Refused, not acknowledged; the next append
                    // heals the log and goes on.
                    s.flag.store(true, Ordering::SeqCst);
                }
            }
        }
    });
    assert!(app.flagged(), "the fsync failure was never reported");
    assert!(!app.wal.stats().poisoned, "healed by the appends after it");
    let acked = app.finish();
    fs.crash();
    fs.restart();
    check_recovered(&fs, &acked, true);
}

#[test]
fn acknowledged_batches_survive_a_crash_whole() {
    for seed in 0..6u64 {
        let fs = FaultyFs::new();
        let app = Appenders::open(&fs, SyncPolicy::Group);
        app.run(8, move |t, s| {
            for j in 0..10_000u32 {
                let batch: Vec<Vec<u8>> = (0..1 + j % 5).map(|k| payload(t, j * 8 + k)).collect();
                let Ok(first) = s.wal.append_batch(&batch) else {
                    return;
                };
                let mut a = s.acked.lock().unwrap();
                for (k, p) in batch.into_iter().enumerate() {
                    a.push((Lsn(first.0 + k as u64), p));
                }
                if a.len() >= 300 + seed as usize * 41 && !s.flag.swap(true, Ordering::SeqCst) {
                    s.fs.crash_torn(seed);
                }
            }
        });
        assert!(app.flagged(), "the crash never happened");
        let acked = app.finish();
        fs.restart();
        check_recovered(&fs, &acked, true);
    }
}

#[test]
fn always_policy_crash_loses_no_acknowledged_record() {
    crash_each_seed(SyncPolicy::Always, 6, |s| 40 + s * 11, true);
}

#[test]
fn unsynced_policies_lose_only_whole_records() {
    for (seed, sync) in [
        (1, SyncPolicy::Never),
        (2, SyncPolicy::Interval(Duration::from_millis(1))),
    ] {
        let fs = FaultyFs::new();
        let acked = run_until_crash(&fs, sync, 300, Some(seed));
        check_recovered(&fs, &acked, false);
    }
}

#[test]
fn failed_fsync_is_an_error_and_the_next_append_heals_the_log() {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    assert_eq!(wal.append(b"kept").unwrap(), Lsn(1));
    fs.fail_next_syncs(1);
    let e = wal.append(b"unsure").unwrap_err();
    assert!(e.to_string().contains("injected fsync failure"), "{e}");
    assert!(wal.stats().poisoned);
    assert!(
        wal.fault()
            .is_some_and(|f| f.contains("injected fsync failure"))
    );
    // The refused record is cut; the next one takes its LSN.
    assert_eq!(wal.append(b"healed").unwrap(), Lsn(2));
    assert!(wal.fault().is_none());
    drop(wal);
    fs.crash();
    fs.restart();
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    assert_eq!(
        data(&replay_all(&wal)),
        vec![b"kept".to_vec(), b"healed".to_vec()]
    );
    wal.append(b"again").unwrap();
}

#[test]
fn short_write_is_cut_back_and_the_log_goes_on() {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, SyncPolicy::Always));
    wal.append(b"one").unwrap();
    fs.short_write_next(7);
    assert!(matches!(
        wal.append(b"two, cut short"),
        Err(Error::Io { .. })
    ));
    assert_eq!(wal.append(b"three").unwrap(), Lsn(2));
    drop(wal);
    let wal = open(&fs, opts(4096, SyncPolicy::Always));
    let r = wal.recovery_report();
    assert!(r.torn_tail.is_none() && r.corruption.is_none(), "{r:?}");
    assert_eq!(
        data(&replay_all(&wal)),
        vec![b"one".to_vec(), b"three".to_vec()]
    );
}

#[test]
fn failing_writes_never_acknowledge() {
    // Unbuffered policies cut a failed write back and go on.
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, SyncPolicy::Always));
    fs.set_fail_writes(true);
    assert!(wal.append(b"x").is_err());
    fs.set_fail_writes(false);
    assert_eq!(wal.append(b"y").unwrap(), Lsn(1));

    // Group commit writes buffered frames that already hold LSNs, so a failed
    // write cuts the log back to the last acknowledged record.
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    assert_eq!(wal.append(b"kept").unwrap(), Lsn(1));
    fs.set_fail_writes(true);
    assert!(wal.append(b"x").is_err());
    fs.set_fail_writes(false);
    assert_eq!(wal.append(b"y").unwrap(), Lsn(2));
    drop(wal);
    let wal = open(&fs, opts(4096, SyncPolicy::Group));
    assert_eq!(
        data(&replay_all(&wal)),
        vec![b"kept".to_vec(), b"y".to_vec()]
    );
}

#[test]
fn crash_while_opening_a_new_segment_is_recovered() {
    // Roll constantly so that crashes often land between creating a segment
    // and its header reaching the disk.
    for seed in 0..8u64 {
        let fs = FaultyFs::new();
        let wal = Arc::new(
            Wal::open_with(Arc::new(fs.clone()), DIR, opts(64, SyncPolicy::Group)).unwrap(),
        );
        let mut acked = Vec::new();
        for j in 0..(20 + seed as u32 * 3) {
            acked.push((wal.append(&payload(9, j % 3)).unwrap(), payload(9, j % 3)));
        }
        let _ = wal.append(&payload(9, 1));
        fs.crash_torn(seed);
        drop(wal);
        fs.restart();
        let wal = open(&fs, opts(64, SyncPolicy::Group));
        let by_lsn: HashMap<Lsn, Vec<u8>> = replay_all(&wal)
            .into_iter()
            .map(|r| (r.lsn, r.data))
            .collect();
        for (lsn, p) in &acked {
            assert_eq!(by_lsn.get(lsn), Some(p), "seed {seed}: record {lsn} lost");
        }
    }
}

#[test]
fn sync_callers_and_appenders_never_hang_under_any_policy() {
    for sync in [
        SyncPolicy::Always,
        SyncPolicy::Group,
        SyncPolicy::Interval(Duration::from_millis(2)),
        SyncPolicy::Never,
    ] {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fs = FaultyFs::new();
            let wal = Arc::new(open(&fs, opts(1024, sync)));
            let threads: Vec<_> = (0..6u32)
                .map(|t| {
                    let wal = Arc::clone(&wal);
                    std::thread::spawn(move || {
                        for j in 0..300 {
                            if t % 3 == 0 {
                                wal.sync().unwrap();
                            } else {
                                wal.append(&payload(t, j)).unwrap();
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            wal.sync().unwrap();
            let _ = done.send(());
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{sync:?}: appenders or sync() callers hung"));
    }
}
