//! Version 5 of the `downsampled` file, written: the series in blocks,
//! each block one version 4 (or 2) body compressed on its own, then a
//! directory of every series (labels, time span, resolutions) by block.
//! The writer streams: a block is encoded as soon as it is full. The
//! reader is `reader.rs`; the layout in `FORMAT.md`.

use super::format::{MAGIC, body_of, pack, put_labels};
use super::interval::{DsSeries, Interval};
use crate::encoding::{put_uvarint, put_zvarint};

/// Version 5: series in blocks, a directory at the end.
pub(crate) const VERSION_5: u8 = 5;
/// A block closes once its series hold this many intervals (72 B each
/// decoded, so a decoded block stays near 1 MiB): a day at 5 m is 288.
const BLOCK_INTERVALS: usize = 16_384;
/// … or once it holds this many series (idle series cost few bytes).
const BLOCK_SERIES: usize = 256;
/// `"HGDS" | 5 | 3 zero bytes`.
pub(super) const HEADER: usize = 8;
/// `dir_len:u32 | dir_raw_len:u32 | dir_codec:u8 | 3 zero | dir_crc:u32 | crc:u32`.
pub(super) const FOOTER: usize = 20;
/// `codec:u8 | body version:u8 | raw_len:u32` before a block's body.
pub(super) const BLOCK_HEAD: usize = 6;

/// A version 5 file being written, series by series in label order; a
/// block is encoded as soon as it is full, so at most one block's series
/// are held decoded.
#[derive(Debug)]
pub(crate) struct DsWriter {
    out: Vec<u8>,
    dir: Vec<u8>,
    blocks: u64,
    pending: Vec<DsSeries>,
    pending_iv: usize,
    span: Option<(i64, i64)>,
    /// A block's most intervals and series.
    limits: (usize, usize),
}

impl Default for DsWriter {
    fn default() -> Self {
        DsWriter::with_blocks(BLOCK_INTERVALS, BLOCK_SERIES)
    }
}

/// A finished file with the time range its series cover.
#[derive(Debug)]
pub(crate) struct DsEncoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
}

pub(super) fn header() -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(&[VERSION_5, 0, 0, 0]);
    v
}

pub(super) fn last_t(s: &DsSeries) -> i64 {
    s.iv.last().map_or(s.first.t, |i| i.last_t)
}

pub(super) fn res_range(iv: &[Interval]) -> (i64, i64) {
    let lo = iv.iter().map(|i| i.res).min().unwrap_or(0);
    (lo, iv.iter().map(|i| i.res).max().unwrap_or(0))
}

impl DsWriter {
    /// A writer closing blocks at `intervals` intervals or `series` series.
    pub(super) fn with_blocks(intervals: usize, series: usize) -> DsWriter {
        DsWriter {
            out: header(),
            dir: Vec::new(),
            blocks: 0,
            pending: Vec::new(),
            pending_iv: 0,
            span: None,
            limits: (intervals, series),
        }
    }

    /// Adds the next series (after the previous one in label order).
    pub(crate) fn push(&mut self, s: DsSeries) {
        let (lo, hi) = (s.first.t, last_t(&s));
        self.span = Some(self.span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        self.pending_iv += s.iv.len();
        self.pending.push(s);
        if self.pending_iv >= self.limits.0 || self.pending.len() >= self.limits.1 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let (version, body) = body_of(&self.pending);
        let (codec, stored) = pack(&body);
        let start = self.out.len();
        self.out.extend_from_slice(&[codec, version]);
        self.out
            .extend_from_slice(&(body.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&stored);
        let crc = crc32fast::hash(&self.out[start..]);
        self.out.extend_from_slice(&crc.to_le_bytes());
        put_uvarint(&mut self.dir, (self.out.len() - start) as u64);
        put_uvarint(&mut self.dir, self.pending.len() as u64);
        for s in self.pending.drain(..) {
            put_entry(&mut self.dir, &s);
        }
        self.pending_iv = 0;
        self.blocks += 1;
    }

    /// The file (none when no series was pushed).
    pub(crate) fn finish(mut self) -> Option<DsEncoded> {
        self.flush();
        let (min_t, max_t) = self.span?;
        let mut raw = Vec::with_capacity(self.dir.len() + 10);
        put_uvarint(&mut raw, self.blocks);
        raw.extend_from_slice(&self.dir);
        let mut bytes = self.out;
        seal_directory(&mut bytes, &raw);
        Some(DsEncoded {
            bytes,
            min_t,
            max_t,
        })
    }
}

/// Appends the directory (zstd'd when smaller), the footer and the file's
/// checksum.
fn seal_directory(out: &mut Vec<u8>, raw: &[u8]) {
    let (codec, stored) = pack(raw);
    let start = out.len();
    out.extend_from_slice(&stored);
    out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&[codec, 0, 0, 0]);
    let dir_crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&dir_crc.to_le_bytes());
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A version 5 file of no series.
pub(crate) fn empty_file() -> Vec<u8> {
    let mut out = header();
    seal_directory(&mut out, &[0]);
    out
}

fn put_entry(dir: &mut Vec<u8>, s: &DsSeries) {
    put_labels(dir, &s.labels);
    put_zvarint(dir, s.first.t);
    put_zvarint(dir, last_t(s).wrapping_sub(s.first.t));
    let (lo, hi) = res_range(&s.iv);
    put_zvarint(dir, lo);
    put_zvarint(dir, hi.wrapping_sub(lo));
}
