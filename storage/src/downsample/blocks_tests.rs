//! Version 5 (`blocks.rs`): block sizes by their bytes, damage refused,
//! the frozen file, series decoded on demand.

use super::blocks::DsWriter;
use super::file::{decode, encode, fuzz_unverified};
use super::format::encode_single;
use super::interval::DsSeries;
use super::reader::{DsCursor, DsFile};
use super::tests::{fixture_series, node_day};
use crate::part_bytes::PartBytes;

/// The fixture's series cut to their first `n` intervals.
fn short(n: usize) -> Vec<DsSeries> {
    let mut v = fixture_series();
    for s in &mut v {
        s.iv.truncate(n);
    }
    v
}

fn write(series: &[DsSeries], intervals: usize, per_block: usize) -> Vec<u8> {
    let mut w = DsWriter::with_blocks(intervals, per_block);
    for s in series {
        w.push(s.clone());
    }
    w.finish().unwrap().bytes
}

/// The block size is chosen by bytes: a day of 600 node series at 5 m,
/// idle and busy, as one version 4 body and in blocks of several sizes
/// (printed); the default costs at most 5 % more than one body.
#[test]
fn blocks_of_the_default_size_cost_about_what_one_body_costs() {
    for busy in [false, true] {
        let day = node_day(600, busy);
        let one = encode_single(&day).len();
        let mut line = format!("one body {one} B");
        for (iv, n) in [(2_048, 32), (8_192, 128), (16_384, 256), (65_536, 1_024)] {
            let b = write(&day, iv, n);
            line += &format!(
                "; ≤{iv} intervals/≤{n} series: {} B ({:+.1} %)",
                b.len(),
                (b.len() as f64 / one as f64 - 1.0) * 100.0
            );
        }
        let default = encode(&day).unwrap();
        println!(
            "node day, {}: {line}; default {} B",
            if busy { "busy" } else { "idle" },
            default.len()
        );
        assert_eq!(decode(&default).unwrap(), day);
        assert!(
            default.len() as f64 <= one as f64 * 1.05,
            "{} B in blocks against {one} B as one body",
            default.len()
        );
    }
}

/// Every byte flipped and every cut of a file of several blocks is
/// refused with an error, by the full decode and by the lazy reader;
/// with its checksums not checked, flipped bytes are refused or read,
/// never a panic.
#[test]
fn every_flipped_byte_or_cut_of_a_version_5_file_is_refused() {
    let good = write(&short(8), 300, 1);
    assert_eq!(good[4], 5);
    for at in 0..good.len() {
        let mut d = good.clone();
        d[at] ^= 0x5a;
        assert!(decode(&d).is_err(), "flipped byte {at}");
        let lazy = DsFile::open(PartBytes::Owned(d.clone()), false).and_then(|f| f.all());
        assert!(lazy.is_err(), "flipped byte {at}, lazily");
        fuzz_unverified(&d[8..]);
    }
    for cut in 0..good.len() {
        assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
    }
}

/// A block whose bytes changed after the file was opened (its checksum
/// passed then) is refused when a series of it is read, naming the block.
#[test]
fn a_block_damaged_after_open_is_refused_when_read() {
    let good = write(&fixture_series(), 300, 1);
    let f = DsFile::open(PartBytes::Owned(good.clone()), true).unwrap();
    assert_eq!(f.all().unwrap(), fixture_series());
    let mut d = good;
    d[20] ^= 1;
    let f = DsFile::open(PartBytes::Owned(d), true).unwrap();
    let e = DsCursor::new(&f).series(0).unwrap_err();
    assert!(e.reason.contains("block 0"), "{e}");
}

/// The frozen version 5 file (made by the version 5 writer from
/// [`fixture_series`], one series a block) reads back as it was written,
/// whole and lazily.
#[test]
fn frozen_version_5_file_still_reads() {
    let b = include_bytes!("../../testdata/downsampled/v5.bin");
    assert_eq!(b[4], 5);
    assert_eq!(decode(b).unwrap(), fixture_series());
    let f = DsFile::open(PartBytes::Owned(b.to_vec()), false).unwrap();
    let mut c = DsCursor::new(&f);
    for (i, s) in fixture_series().iter().enumerate().rev() {
        assert_eq!(c.series(i).unwrap(), s);
    }
}

/// An open version 5 file holds its directory, not its intervals: a day
/// of 2,000 idle node series, read lazily, against the same decoded.
#[test]
fn an_open_version_5_file_holds_its_directory_not_its_intervals() {
    let day = node_day(2000, false);
    let bytes = encode(&day).unwrap();
    let len = bytes.len();
    let lazy = DsFile::open(PartBytes::Owned(bytes), false).unwrap();
    let whole = DsFile::open(PartBytes::Owned(encode_single(&day)), false).unwrap();
    let dir = lazy.resident_bytes() - len;
    println!(
        "2,000 series: directory {dir} B ({} B a series) + file {len} B; decoded at open {} B",
        dir / day.len(),
        whole.resident_bytes()
    );
    assert!(dir / day.len() < 400, "{dir} B");
    assert!(lazy.resident_bytes() * 10 < whole.resident_bytes());
    assert_eq!(lazy.all().unwrap(), whole.all().unwrap());
}
