//! Torn tails are cut; damage elsewhere is reported with its file, offset
//! and the records it cost, a copy of the damaged file is kept aside, and
//! reading goes on after it. Damage with nothing readable after it ends the
//! log there, its bytes kept aside.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_wal::fs::{FaultyFs, Fs};
use hourglass_wal::{Lsn, SyncPolicy};
use std::path::Path;

/// A small log of three segments or more (the second record is split
/// across the first two)
/// plus, per record, the offset in the concatenated segment files at which
/// it ends.
/// Segment files by name, the records, and where each record ends.
type SampleLog = (Vec<(String, Vec<u8>)>, Vec<Vec<u8>>, Vec<usize>);

fn sample_log() -> SampleLog {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(160, SyncPolicy::Never));
    let records: Vec<Vec<u8>> = vec![
        b"alpha".to_vec(),
        (0..150u8).collect(),
        b"".to_vec(),
        b"gamma gamma".to_vec(),
        b"delta".to_vec(),
        vec![b'e'; 90],
        vec![b'f'; 90],
    ];
    let mut ends = Vec::new();
    for r in &records {
        wal.append(r).unwrap();
        ends.push(segments(&fs).iter().map(|(_, b)| b.len()).sum());
    }
    drop(wal);
    let segs = segments(&fs);
    assert!(segs.len() >= 3, "the log should span three segments");
    (segs, records, ends)
}

/// The segment files cut to the first `len` bytes of their concatenation.
fn prefix(segs: &[(String, Vec<u8>)], mut len: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in segs {
        if len == 0 && !out.is_empty() {
            break;
        }
        let n = len.min(bytes.len());
        out.push((name.clone(), bytes[..n].to_vec()));
        len -= n;
    }
    out
}

#[test]
fn torn_tail_at_every_length_keeps_every_whole_record() {
    let (segs, records, ends) = sample_log();
    let total: usize = segs.iter().map(|(_, b)| b.len()).sum();
    for len in 0..=total {
        let fs = fs_with(&prefix(&segs, len));
        let wal = open(&fs, opts(160, SyncPolicy::Never));
        let report = wal.recovery_report().clone();
        assert!(report.corruption.is_none(), "len {len}: {report:?}");
        let whole = ends.iter().filter(|&&e| e <= len).count();
        let got = data(&replay_all(&wal));
        assert_eq!(got, records[..whole].to_vec(), "len {len}");
        if ends.contains(&len) {
            assert!(report.torn_tail.is_none(), "len {len} is a record boundary");
        }
        // The log goes on where the last whole record ended.
        assert_eq!(wal.append(b"after").unwrap(), Lsn(whole as u64 + 1));
        drop(wal);
        let wal = open(&fs, opts(160, SyncPolicy::Never));
        let again = wal.recovery_report();
        assert!(
            again.torn_tail.is_none() && again.corruption.is_none(),
            "len {len}: {again:?}"
        );
        let mut want = records[..whole].to_vec();
        want.push(b"after".to_vec());
        assert_eq!(data(&replay_all(&wal)), want, "len {len} after reopen");
    }
}

#[test]
fn a_flipped_bit_anywhere_is_reported_and_only_the_record_hit_is_lost() {
    let (segs, records, ends) = sample_log();
    let total: usize = segs.iter().map(|(_, b)| b.len()).sum();
    let last_seg_start = total - segs.last().unwrap().1.len();
    for pos in 0..total {
        for bit in 0..8 {
            let mut damaged = segs.clone();
            let mut p = pos;
            let mut in_header = false;
            for (_, bytes) in damaged.iter_mut() {
                if p < bytes.len() {
                    bytes[p] ^= 1 << bit;
                    in_header = p < 24;
                    break;
                }
                p -= bytes.len();
            }
            let fs = fs_with(&damaged);
            let wal = open(&fs, opts(160, SyncPolicy::Never));
            let report = wal.recovery_report().clone();
            assert!(
                report.is_damaged(),
                "flip at {pos}.{bit} not reported: {report:?}"
            );
            assert!(report.torn_tail.is_none());
            let got = data(&replay_all(&wal));
            // Never an invented or reordered record.
            let mut rest = records.iter();
            assert!(
                got.iter().all(|g| rest.any(|r| r == g)),
                "flip at {pos}.{bit}: {got:?}"
            );
            if !in_header {
                // A damaged frame costs its record, nothing else.
                let hit = ends.iter().filter(|&&e| e <= pos).count();
                let mut want = records.clone();
                want.remove(hit);
                assert_eq!(got, want, "flip at {pos}.{bit}: {report:?}");
                let counted = report.records_set_aside() + u64::from(report.corruption.is_some());
                assert_eq!(counted, 1, "flip at {pos}.{bit}: {report:?}");
            } else if pos < last_seg_start {
                // A damaged header of a sealed segment costs the records
                // starting in it; the next header says exactly how many.
                assert!(report.damage.iter().all(|d| d.exact), "{report:?}");
                assert_eq!(
                    got.len() as u64 + report.records_set_aside(),
                    records.len() as u64,
                    "flip at {pos}.{bit}: {report:?}"
                );
            }
            // Every damaged file is kept as found.
            for d in &report.damage {
                let aside = d.kept_aside.as_ref().unwrap();
                assert_eq!(fs.read(aside).unwrap(), fs.read(&d.file).unwrap());
            }
            if let Some(c) = &report.corruption {
                let aside: usize = c.kept_aside.iter().map(|p| fs.read(p).unwrap().len()).sum();
                let left: usize = segments(&fs).iter().map(|(_, b)| b.len()).sum();
                assert!(
                    left + aside >= total,
                    "flip at {pos}.{bit}: bytes went missing"
                );
            }
            // Appends go on; a reopen finds the same damage and the same
            // records, plus the new one.
            wal.append(b"after").unwrap();
            drop(wal);
            let wal = open(&fs, opts(160, SyncPolicy::Never));
            let again = wal.recovery_report();
            assert_eq!(again.damage.len(), report.damage.len(), "{again:?}");
            assert!(again.corruption.is_none());
            let mut want = got.clone();
            want.push(b"after".to_vec());
            assert_eq!(
                data(&replay_all(&wal)),
                want,
                "flip at {pos}.{bit} after reopen"
            );
        }
    }
}

#[test]
fn damage_report_names_file_offset_and_records_lost() {
    let (segs, records, _) = sample_log();
    let mut damaged = segs.clone();
    // First frame of the first segment starts right after its 24-byte header.
    damaged[0].1[24 + 13] ^= 0xff;
    let fs = fs_with(&damaged);
    let wal = open(&fs, opts(160, SyncPolicy::Never));
    let r = wal.recovery_report().clone();
    assert!(r.corruption.is_none(), "{r:?}");
    let d = &r.damage[0];
    assert!(d.file.ends_with("00000000"), "{d:?}");
    assert_eq!((d.offset, d.records, d.exact), (24, 1, true), "{d:?}");
    assert!(d.reason.contains("checksum"), "{}", d.reason);
    assert!(d.kept_aside.as_ref().unwrap().ends_with("00000000.corrupt"));
    assert_eq!(data(&replay_all(&wal)), records[1..].to_vec());
}

#[test]
fn replay_reports_damage_that_appears_after_open() {
    let fs = FaultyFs::new();
    let wal = open(&fs, opts(4096, SyncPolicy::Never));
    for j in 0..10 {
        wal.append(&payload(0, j)).unwrap();
    }
    // Damage the third record behind the open log's back.
    let path = Path::new(DIR).join("00000000");
    let mut bytes = fs.file_bytes(&path).unwrap();
    let third = 24 + (13 + payload(0, 0).len()) + (13 + payload(0, 1).len()) + 20;
    bytes[third] ^= 1;
    fs.write_file(&path, &bytes).unwrap();
    let results: Vec<_> = wal.replay(Lsn(0)).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(|r| r.is_ok()));
    assert!(matches!(
        &results[2],
        Err(hourglass_wal::Error::Corrupt { segment: 0, .. })
    ));
    // Opened again, the damage is reported and skipped.
    drop(wal);
    let wal = open(&fs, opts(4096, SyncPolicy::Never));
    assert_eq!(wal.recovery_report().records_set_aside(), 1);
    assert_eq!(replay_all(&wal).len(), 9);
}

#[test]
fn missing_middle_segment_is_reported_and_later_segments_are_kept() {
    let fs = FaultyFs::new();
    {
        let wal = open(&fs, opts(64, SyncPolicy::Never));
        for j in 0..6 {
            wal.append(&[j as u8; 10]).unwrap();
        }
    }
    fs.remove_file(&Path::new(DIR).join("00000002")).unwrap();
    let wal = open(&fs, opts(64, SyncPolicy::Never));
    let r = wal.recovery_report();
    assert!(r.corruption.is_none(), "{r:?}");
    let d = &r.damage[0];
    assert!(d.file.ends_with("00000003") && d.exact, "{d:?}");
    assert_eq!(r.records_set_aside(), 1);
    let got = data(&replay_all(&wal));
    let want: Vec<Vec<u8>> = [0u8, 1, 3, 4, 5].iter().map(|&j| vec![j; 10]).collect();
    assert_eq!(got, want);
}

#[test]
fn fuzz_body_survives_random_bytes() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |bytes| {
            hourglass_wal::fuzzing::replay_bytes(&bytes);
            Ok(())
        })
        .unwrap();
    // And damaged real logs, which get much further than random bytes.
    let (segs, _, _) = sample_log();
    let mut whole: Vec<u8> = vec![128];
    whole.extend(segs.iter().flat_map(|(_, b)| b.iter().copied()));
    for i in 1..whole.len() {
        let mut d = whole.clone();
        d[i] = d[i].wrapping_add(0x5a);
        hourglass_wal::fuzzing::replay_bytes(&d);
        hourglass_wal::fuzzing::replay_bytes(&whole[..i]);
    }
}

#[test]
fn a_segment_skipped_as_damaged_goes_once_a_checkpoint_passes_it() {
    let fs = FaultyFs::new();
    let o = opts(64, SyncPolicy::Never);
    {
        let wal = open(&fs, o.clone());
        for j in 0..6 {
            wal.append(&[j as u8; 10]).unwrap();
        }
    }
    // One record per segment; damage the header of segment 1.
    let path = Path::new(DIR).join("00000001");
    let mut b = fs.file_bytes(&path).unwrap();
    b[3] ^= 0x01;
    fs.write_file(&path, &b).unwrap();
    let wal = open(&fs, o.clone());
    assert_eq!(wal.recovery_report().records_set_aside(), 1);
    wal.checkpoint(Lsn(5), [b"state"]).unwrap();
    assert!(
        !fs.exists(&path),
        "the damaged segment outlived the checkpoint"
    );
    assert!(fs.exists(&Path::new(DIR).join("00000001.corrupt")));
    drop(wal);
    let wal = open(&fs, o);
    assert!(
        !wal.recovery_report().is_damaged(),
        "{:?}",
        wal.recovery_report()
    );
}
