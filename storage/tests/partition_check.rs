//! `partition::check` (what `hourglass verify` runs on each partition)
//! goes on past the first problem: every damaged chunk is named with its
//! offset, beside the chunks file's own checksum, and the intact chunks
//! are still decoded and counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::partition::{self, Partition};
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};

const H: i64 = 3_600_000;
const T0: i64 = 1_763_834_400_000; // 2025-11-22T18:00Z

/// Three hours of 10 series; the first hour persisted.
fn one_partition() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::default();
    o.head.ooo_window_ms = 10 * 60_000;
    let st = Storage::open(dir.path(), o).unwrap();
    for r in 0..(3 * H / 15_000) {
        let mut b = WriteBatch::new();
        for i in 0..10 {
            let l =
                Labels::from_pairs([("__name__", "up"), ("job", "node"), ("i", &format!("{i}"))]);
            b.push(l, vec![Sample::new(T0 + r * 15_000, (r * i) as f64)]);
        }
        st.append(&b).unwrap();
    }
    let p = st.persist().unwrap();
    st.close().unwrap();
    let first = p.partitions.into_iter().min().unwrap();
    (dir, first)
}

#[test]
fn an_intact_partition_checks_clean_and_counts_every_sample() {
    let (_dir, part) = one_partition();
    let c = partition::check(&part);
    assert!(!c.is_damaged(), "{:?}", c.problems);
    let meta = Partition::open(&part).unwrap().meta().clone();
    assert_eq!(c.series, meta.series);
    assert_eq!(c.chunks, meta.chunks);
    assert_eq!(c.samples, meta.samples);
    assert_eq!(c.samples, 10 * 240);
}

#[test]
fn two_damaged_chunks_are_both_named_beside_the_file_checksum() {
    let (_dir, part) = one_partition();
    let path = part.join("chunks");
    let mut b = std::fs::read(&path).unwrap();
    // The first chunk starts after the 8-byte header; flip a byte in it
    // and one near the end of the last chunk (before the file's CRC).
    let last = b.len() - 4 - 3;
    b[10] ^= 0x01;
    b[last] ^= 0x01;
    std::fs::write(&path, &b).unwrap();
    let c = partition::check(&part);
    let chunk_problems: Vec<_> = c
        .problems
        .iter()
        .filter(|p| p.reason.contains("chunk checksum mismatch"))
        .collect();
    assert_eq!(chunk_problems.len(), 2, "{:?}", c.problems);
    assert_eq!(chunk_problems[0].offset, 8);
    assert!(chunk_problems[1].offset > 8 && chunk_problems[1].offset < last as u64);
    assert!(
        c.problems.iter().any(|p| p.file == "chunks"
            && p.reason.contains("file checksum mismatch")
            && p.offset == (b.len() - 4) as u64),
        "{:?}",
        c.problems
    );
    assert_eq!(c.chunks, 8, "the other chunks still decode");
    // The server's reader refuses it as a whole.
    assert!(Partition::open(&part).is_err());
}
