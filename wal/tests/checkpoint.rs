//! Checkpoints stand in for the records before them; truncation drops the
//! segments they replace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_wal::fs::{FaultyFs, Fs};
use hourglass_wal::{Error, Lsn, Options, SyncPolicy, Wal};
use std::path::Path;

/// A log of 256-byte segments under group commit, holding `n` records of
/// `len` bytes (record `j` filled with `j`).
fn log_with(n: u8, len: usize) -> (FaultyFs, Options, Wal) {
    let fs = FaultyFs::new();
    let o = opts(256, SyncPolicy::Group);
    let wal = open(&fs, o.clone());
    for j in 0..n {
        wal.append(&vec![j; len]).unwrap();
    }
    (fs, o, wal)
}

/// The LSNs replay yields from `from` on.
fn lsns_from(wal: &Wal, from: u64) -> Vec<u64> {
    wal.replay(Lsn(from))
        .unwrap()
        .map(|r| r.unwrap().lsn.0)
        .collect()
}

fn checkpoint_dirs(fs: &FaultyFs) -> Vec<String> {
    let mut v: Vec<String> = fs
        .list_dir(Path::new(DIR))
        .unwrap()
        .into_iter()
        .filter(|e| e.is_dir)
        .map(|e| e.name)
        .collect();
    v.sort();
    v
}

#[test]
fn checkpoint_replaces_old_segments() {
    let (fs, o, wal) = log_with(100, 40);
    let before = wal.stats().segments;
    wal.checkpoint(Lsn(60), [b"series a".as_slice(), b"series b"])
        .unwrap();
    assert!(wal.stats().segments < before);
    let (upto, recs) = wal.read_checkpoint().unwrap().unwrap();
    assert_eq!(upto, Lsn(60));
    assert_eq!(
        recs.collect::<Result<Vec<_>, _>>().unwrap(),
        vec![b"series a".to_vec(), b"series b".to_vec()]
    );
    assert_eq!(lsns_from(&wal, 60), (60..=100).collect::<Vec<_>>());
    drop(wal);

    let wal = open(&fs, o.clone());
    assert_eq!(wal.next_lsn(), Lsn(101));
    assert_eq!(lsns_from(&wal, 60), (60..=100).collect::<Vec<_>>());

    // A newer checkpoint replaces the older; one at the same LSN is swapped.
    wal.checkpoint(Lsn(80), [b"v1"]).unwrap();
    wal.checkpoint(Lsn(80), [b"v2"]).unwrap();
    assert_eq!(checkpoint_dirs(&fs), vec!["checkpoint.0000000000000080"]);
    let (_, recs) = wal.read_checkpoint().unwrap().unwrap();
    assert_eq!(
        recs.map(|r| r.unwrap()).collect::<Vec<_>>(),
        vec![b"v2".to_vec()]
    );

    assert!(matches!(
        wal.checkpoint(Lsn(500), [b"x"]),
        Err(Error::BeyondEnd { .. })
    ));
}

#[test]
fn unfinished_checkpoint_is_removed_on_open() {
    let (fs, o, wal) = log_with(10, 30);
    wal.checkpoint(Lsn(5), [b"state"]).unwrap();
    drop(wal);
    let tmp = Path::new(DIR).join("checkpoint.0000000000000009.tmp");
    fs.create_dir_all(&tmp).unwrap();
    fs.write_file(&tmp.join("00000000"), b"half").unwrap();
    let wal = open(&fs, o);
    assert_eq!(checkpoint_dirs(&fs), vec!["checkpoint.0000000000000005"]);
    assert_eq!(wal.read_checkpoint().unwrap().unwrap().0, Lsn(5));
}

#[test]
fn damaged_checkpoint_keeps_its_intact_records_and_is_reported_at_open() {
    let fs = FaultyFs::new();
    let o = opts(256, SyncPolicy::Group);
    let wal = open(&fs, o.clone());
    wal.append(b"x").unwrap();
    wal.checkpoint(Lsn(2), ["one", "two", "three"]).unwrap();
    drop(wal);
    let file = Path::new(DIR).join("checkpoint.0000000000000002/00000000");
    let clean = fs.file_bytes(&file).unwrap();
    for (at, lost, kept) in [
        // The second record's payload; its header; the last byte of all.
        (24 + 16 + 13, "two", vec!["one", "three"]),
        (24 + 16 + 2, "two", vec!["one", "three"]),
        (clean.len() - 1, "three", vec!["one", "two"]),
    ] {
        let mut b = clean.clone();
        b[at] ^= 0x80;
        fs.write_file(&file, &b).unwrap();
        let wal = open(&fs, o.clone());
        let r = wal.recovery_report().clone();
        assert_eq!(r.damage.len(), 1, "flip at {at} ({lost}): {r:?}");
        let d = &r.damage[0];
        assert_eq!((d.file.as_path(), d.records), (file.as_path(), 1), "{d:?}");
        assert!(d.reason.starts_with("checkpoint"), "{d:?}");
        let aside = d.kept_aside.clone().unwrap();
        assert_eq!(
            aside,
            Path::new(DIR).join("checkpoint.0000000000000002.corrupt")
        );
        assert_eq!(fs.read(&aside).unwrap(), b);
        let (upto, recs) = wal.read_checkpoint().unwrap().unwrap();
        assert_eq!(upto, Lsn(2));
        let got: Vec<Vec<u8>> = recs.collect::<Result<_, _>>().unwrap();
        let want: Vec<Vec<u8>> = kept.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(got, want, "flip at {at}");
        drop(wal);
        fs.remove_file(&aside).unwrap();
    }
}

#[test]
fn truncate_keeps_the_active_segment() {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(128, SyncPolicy::Never));
    for j in 0..30 {
        wal.append(&[j; 20]).unwrap();
    }
    let n = wal.truncate_before(wal.next_lsn()).unwrap();
    assert!(n > 0);
    assert_eq!(wal.stats().segments, 1);
    wal.append(b"more").unwrap();
    drop(wal);
    let wal = open(&fs, opts(128, SyncPolicy::Never));
    let got = replay_all(&wal);
    assert_eq!(got.last().unwrap().data, b"more");
    assert_eq!(got.last().unwrap().lsn, Lsn(31));
}

#[test]
fn roll_then_checkpoint_at_the_end_leaves_no_record_to_replay() {
    // A graceful stop: everything durable, a fresh segment, a checkpoint at
    // the end of the log; every segment with records goes.
    let (fs, o, wal) = log_with(30, 40);
    wal.roll().unwrap();
    let end = wal.acked_lsn();
    assert_eq!(end, Lsn(31));
    wal.checkpoint(end, [b"head".as_slice()]).unwrap();
    assert_eq!(wal.stats().segments, 1, "only the fresh, empty segment");
    assert!(lsns_from(&wal, end.0).is_empty());
    // Rolling an empty segment does nothing.
    wal.roll().unwrap();
    assert_eq!(wal.stats().segments, 1);
    drop(wal);
    let wal = open(&fs, o.clone());
    assert_eq!(wal.recovery_report().records, 0);
    let (upto, recs) = wal.read_checkpoint().unwrap().unwrap();
    assert_eq!(upto, end);
    assert_eq!(recs.count(), 1);
    // Appends go on with the next LSN, and survive a crash.
    assert_eq!(wal.append(b"after").unwrap(), Lsn(31));
    fs.crash();
    drop(wal);
    fs.restart();
    let wal = open(&fs, o);
    assert_eq!(lsns_from(&wal, end.0), vec![31]);
}
