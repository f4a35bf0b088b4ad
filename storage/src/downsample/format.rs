//! The bodies of the `downsampled` file: every series with its
//! intervals. Version 4 stores per series each column's residual against
//! what the others imply (`residuals.rs`), bit-packed (`bitcolumn.rs`);
//! it is the body of a version 5 block (`blocks.rs`), and files of
//! versions 1 to 4 (one body each) are still read. Layout in `FORMAT.md`
//! beside this file.

use super::columns::{put_times, put_values, read_times, read_values};
use super::interval::{DsSeries, Interval};
use super::residuals::{self, Bases, ColumnBits};
use crate::chunk::bitstream::{BitReader, BitWriter};
use crate::chunk::{self, ChunkView};
use crate::encoding::{VarintError, put_uvarint, put_zvarint, read_uvarint, unzigzag};
use crate::model::labels::Labels;
use crate::model::sample::Sample;

/// File name inside a partition directory.
pub(crate) const FILE: &str = "downsampled";
pub(super) const MAGIC: &[u8; 4] = b"HGDS";
/// Version 1: each column of each series a sealed chunk.
pub(super) const VERSION_1: u8 = 1;
/// Version 2: columns of many series grouped (`columns.rs`); written
/// when version 4's density bound refuses a set of series.
pub(super) const VERSION_2: u8 = 2;
/// Version 3: per series, residual columns bit-packed (`residuals.rs`);
/// read only.
const VERSION_3: u8 = 3;
/// Version 4: version 3's layout with more ways to pack a column and
/// better-predicted sums and increases; the body of a version 5 block.
pub(super) const VERSION_4: u8 = 4;
/// Most intervals a version 3 or 4 body holds per byte: its reader's
/// bound on what a damaged count can make it allocate (an idle series'
/// intervals cost no bits at all). Denser sets of series are written as
/// version 2.
const MAX_INTERVALS_PER_BYTE: u64 = 32;
pub(super) const CODEC_NONE: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// Series flag: the series never drops, so `max` equals `last` and the
/// increase is the difference of consecutive `last`s.
const MONOTONE: u8 = 1;
/// Most series, labels per series, and decompressed bytes accepted.
const MAX_SERIES: u64 = 10_000_000;
pub(super) const MAX_LABELS: u64 = 1_000;
pub(super) const MAX_RAW: usize = 1 << 30;
/// Most a zstd body may expand (more is written uncompressed).
const MAX_RATIO: usize = 1024;
/// zstd level for the body: cold data, written once by compaction.
const ZSTD_LEVEL: i32 = 9;

/// Why `downsampled` bytes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("downsampled file invalid at byte {offset}: {reason}")]
pub struct FormatError {
    /// Where (in the decompressed body past the header for body errors).
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

pub(super) fn err(offset: usize, reason: impl Into<String>) -> FormatError {
    FormatError {
        offset,
        reason: reason.into(),
    }
}

fn monotone(s: &DsSeries) -> bool {
    let mut prev = s.first.v;
    s.iv.iter().all(|i| {
        let ok = i.last >= prev
            && i.max.to_bits() == i.last.to_bits()
            && i.inc.to_bits() == (i.last - prev).to_bits();
        prev = i.last;
        ok
    })
}

/// The columns a series stores, by index (see `FORMAT.md`): 6 for a
/// monotone series, else 8.
fn columns(s: &DsSeries, mono: bool) -> Vec<Vec<f64>> {
    let col = |f: &dyn Fn(&Interval) -> f64| -> Vec<f64> { s.iv.iter().map(f).collect() };
    let mut cols = vec![
        col(&|i| i.res as f64),
        col(&|i| i.count as f64),
        col(&|i| (i.last_t - i.t) as f64),
        col(&|i| i.sum),
        col(&|i| i.min),
        col(&|i| i.last),
    ];
    if !mono {
        cols.push(col(&|i| i.max));
        cols.push(col(&|i| i.inc));
    }
    cols
}

pub(super) fn put_labels(body: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(body, labels.len() as u64);
    for l in labels.iter() {
        for x in [&*l.name, &*l.value] {
            put_uvarint(body, x.len() as u64);
            body.extend_from_slice(x.as_bytes());
        }
    }
}

/// Encodes the series (sorted by labels, each with intervals) as one
/// body: version 4, or version 2 when its density bound refuses them.
pub(super) fn body_of(series: &[DsSeries]) -> (u8, Vec<u8>) {
    let mut acct = ColumnBits::default();
    match encode_bits(series, &mut acct) {
        Some((body, _)) => (VERSION_4, body),
        None => (VERSION_2, encode_v2(series)),
    }
}

/// The series as a single-body file (version 4, or 2), as versions
/// before 5 wrote it.
pub(super) fn encode_single(series: &[DsSeries]) -> Vec<u8> {
    let (v, body) = body_of(series);
    seal(v, &body)
}

/// `body` zstd'd when that is smaller and within the reader's expansion
/// bound: `(codec, stored bytes)`.
pub(super) fn pack(body: &[u8]) -> (u8, std::borrow::Cow<'_, [u8]>) {
    let packed = zstd::bulk::compress(body, ZSTD_LEVEL)
        .ok()
        .filter(|z| z.len() < body.len() && body.len() <= z.len().saturating_mul(MAX_RATIO));
    match packed {
        Some(z) => (CODEC_ZSTD, z.into()),
        None => (CODEC_NONE, body.into()),
    }
}

/// The body of `stored` bytes packed with `codec` (at byte `at`), which
/// must expand to exactly `raw_len` bytes.
pub(super) fn unpack(
    codec: u8,
    raw_len: usize,
    stored: &[u8],
    at: usize,
) -> Result<std::borrow::Cow<'_, [u8]>, FormatError> {
    match codec {
        CODEC_NONE if stored.len() == raw_len => Ok(stored.into()),
        CODEC_ZSTD if raw_len <= MAX_RAW && raw_len <= stored.len().saturating_mul(MAX_RATIO) => {
            let z = zstd::bulk::decompress(stored, raw_len)
                .map_err(|e| err(at, format!("zstd: {e}")))?;
            if z.len() != raw_len {
                return Err(err(at, "body length differs from the header"));
            }
            Ok(z.into())
        }
        _ => Err(err(at, "bad codec or body length")),
    }
}

/// Header, the body (zstd'd when smaller), checksum.
pub(super) fn seal(version: u8, body: &[u8]) -> Vec<u8> {
    let (codec, stored) = pack(body);
    let mut out = Vec::with_capacity(stored.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, codec, 0, 0]);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&stored);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Version 2 body: every series' header, then every series' interval
/// times, then column by column every series' values.
pub(super) fn encode_v2(series: &[DsSeries]) -> Vec<u8> {
    let mut body = Vec::new();
    put_uvarint(&mut body, series.len() as u64);
    let mut cols = Vec::with_capacity(series.len());
    for s in series {
        put_labels(&mut body, &s.labels);
        put_zvarint(&mut body, s.first.t);
        body.extend_from_slice(&s.first.v.to_bits().to_le_bytes());
        let mono = monotone(s);
        body.push(if mono { MONOTONE } else { 0 });
        put_uvarint(&mut body, s.iv.len() as u64);
        cols.push(columns(s, mono));
    }
    for s in series {
        let ts: Vec<i64> = s.iv.iter().map(|i| i.t).collect();
        put_times(&mut body, s.first.t, &ts);
    }
    for c in 0..8 {
        for sc in &cols {
            if let Some(vs) = sc.get(c) {
                put_values(&mut body, vs);
            }
        }
    }
    body
}

/// Version 4 body: every series' header (with its kind, interval count
/// and first interval), then the bit-packed columns of every series.
/// `None` when a series' first interval is not aligned or the intervals
/// are denser than the reader accepts. Adds each column's bits to `acct`;
/// returns the body and the bytes of the headers.
pub(super) fn encode_bits(series: &[DsSeries], acct: &mut ColumnBits) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    put_uvarint(&mut body, series.len() as u64);
    let mut bits = BitWriter::with_capacity(series.len() * 8);
    let mut total = 0u64;
    for s in series {
        put_labels(&mut body, &s.labels);
        put_zvarint(&mut body, s.first.t);
        body.extend_from_slice(&s.first.v.to_bits().to_le_bytes());
        body.push(residuals::put_series(&mut bits, s.first.v, &s.iv, acct));
        put_uvarint(&mut body, s.iv.len() as u64);
        total = total.saturating_add(s.iv.len() as u64);
        if let Some(first) = s.iv.first() {
            let b = Bases::of(first);
            if b.res <= 0 || b.t.rem_euclid(b.res) != 0 {
                return None;
            }
            put_zvarint(&mut body, b.res);
            put_zvarint(&mut body, b.t / b.res - s.first.t.div_euclid(b.res));
            put_uvarint(&mut body, b.count);
            put_zvarint(&mut body, b.off);
        }
    }
    let heads = body.len();
    bits.copy_to(&mut body);
    (total <= MAX_INTERVALS_PER_BYTE.saturating_mul(body.len() as u64)).then_some((body, heads))
}

pub(super) struct Cur<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cur<'a> {
    pub(super) fn uvarint(&mut self) -> Result<u64, FormatError> {
        let at = self.pos;
        read_uvarint(self.b, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => err(at, "ends early"),
            VarintError::Overflow => err(at, "varint overflow"),
        })
    }
    pub(super) fn bytes(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let at = self.pos;
        let n = usize::try_from(n).map_err(|_| err(at, "length too large"))?;
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| err(at, "ends early"))?;
        self.pos += n;
        Ok(s)
    }
    pub(super) fn string(&mut self) -> Result<&'a str, FormatError> {
        let at = self.pos;
        let n = self.uvarint()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| err(at, "label is not UTF-8"))
    }

    /// A series' label list as `put_labels` writes it: the count (at most
    /// [`MAX_LABELS`]), then each name and value, sorted by name; `keep`
    /// makes what is kept of each string.
    pub(super) fn labels<S: PartialOrd>(
        &mut self,
        mut keep: impl FnMut(&'a str) -> S,
    ) -> Result<Vec<(S, S)>, FormatError> {
        let at = self.pos;
        let nl = self.uvarint()?;
        if nl > MAX_LABELS {
            return Err(err(at, "too many labels"));
        }
        let mut pairs = Vec::new();
        for _ in 0..nl {
            let name = keep(self.string()?);
            pairs.push((name, keep(self.string()?)));
        }
        if pairs.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(err(at, "labels not sorted by name"));
        }
        Ok(pairs)
    }
}

/// Parses and checks a file of versions 1 to 4: header, checksum, and
/// that the intervals are sorted, disjoint and aligned.
pub(super) fn decode_single(b: &[u8]) -> Result<Vec<DsSeries>, FormatError> {
    let body_end = b
        .len()
        .checked_sub(4)
        .filter(|&n| n >= 12)
        .ok_or_else(|| err(0, "too short"))?;
    if &b[..4] != MAGIC || !(VERSION_1..=VERSION_4).contains(&b[4]) {
        return Err(err(0, "bad magic or version"));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[body_end..]);
    let (stored, computed) = (u32::from_le_bytes(crc), crc32fast::hash(&b[..body_end]));
    if stored != computed {
        return Err(err(
            body_end,
            format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    let raw_len = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
    let body = unpack(b[5], raw_len, &b[12..body_end], 12)?;
    parse_body(b[4], &body)
}

/// Parses a whole body of `version` (1 to 4).
pub(super) fn parse_body(version: u8, body: &[u8]) -> Result<Vec<DsSeries>, FormatError> {
    let mut c = Cur { b: body, pos: 0 };
    let n = c.uvarint()?;
    if n > MAX_SERIES {
        return Err(err(0, "too many series"));
    }
    let out = match version {
        VERSION_1 => body_v1(&mut c, n)?,
        VERSION_2 => body_v2(&mut c, n)?,
        v @ (VERSION_3 | VERSION_4) => body_bits(&mut c, n, v)?,
        _ => return Err(err(0, "bad version")),
    };
    if c.pos != body.len() {
        return Err(err(c.pos, "trailing bytes"));
    }
    Ok(out)
}

/// A series' labels, first sample and flags (or kind, version 3: at
/// most `max_flags`); checks the labels are sorted and come after
/// `prev`'s.
fn series_head(
    c: &mut Cur<'_>,
    prev: Option<&DsSeries>,
    max_flags: u8,
) -> Result<(Labels, Sample, u8), FormatError> {
    let at = c.pos;
    let labels = Labels::from_pairs(c.labels(|s| s)?);
    if prev.is_some_and(|p| p.labels >= labels) {
        return Err(err(at, "series not sorted by labels"));
    }
    let first_t = unzigzag(c.uvarint()?);
    let mut fv = [0u8; 8];
    fv.copy_from_slice(c.bytes(8)?);
    let first = Sample::new(first_t, f64::from_bits(u64::from_le_bytes(fv)));
    let flags = c.bytes(1)?[0];
    if flags > max_flags {
        return Err(err(c.pos - 1, "unknown flags"));
    }
    Ok((labels, first, flags))
}

fn ncols(flags: u8) -> usize {
    if flags & MONOTONE != 0 { 6 } else { 8 }
}

/// Version 1: each series' header and its columns as sealed chunks.
fn body_v1(c: &mut Cur<'_>, n: u64) -> Result<Vec<DsSeries>, FormatError> {
    let mut out: Vec<DsSeries> = Vec::new();
    for _ in 0..n {
        let (labels, first, flags) = series_head(c, out.last(), MONOTONE)?;
        let mut cols: Vec<Vec<Sample>> = Vec::with_capacity(ncols(flags));
        let mut at = c.pos;
        for _ in 0..ncols(flags) {
            at = c.pos;
            let len = c.uvarint()?;
            let bytes = c.bytes(len)?;
            let v = ChunkView::parse(bytes)
                .and_then(|_| chunk::decode_all(bytes))
                .map_err(|e| err(at, format!("column: {e}")))?;
            if cols
                .first()
                .is_some_and(|f| f.len() != v.len() || f.iter().zip(&v).any(|(a, b)| a.t != b.t))
            {
                return Err(err(at, "columns disagree"));
            }
            cols.push(v);
        }
        let ts: Vec<i64> = cols[0].iter().map(|s| s.t).collect();
        let iv = intervals(at, flags, first, &ts, |col, k| cols[col][k].v)?;
        out.push(DsSeries { labels, first, iv });
    }
    Ok(out)
}

/// Version 2: every header (with its interval count), every series'
/// times, then column by column (`columns.rs`).
fn body_v2(c: &mut Cur<'_>, n: u64) -> Result<Vec<DsSeries>, FormatError> {
    let mut heads: Vec<DsSeries> = Vec::new();
    let mut counts = Vec::new();
    let mut total = 0u64;
    for _ in 0..n {
        let (labels, first, flags) = series_head(c, heads.last(), MONOTONE)?;
        let at = c.pos;
        // Every interval takes at least a byte of times, after the headers.
        let m = c.uvarint()?;
        total = total.saturating_add(m);
        if total > (c.b.len() - c.pos) as u64 {
            return Err(err(at, "more intervals than bytes"));
        }
        counts.push((m as usize, flags));
        heads.push(DsSeries {
            labels,
            first,
            iv: Vec::new(),
        });
    }
    let at = c.pos;
    let mut times = Vec::with_capacity(heads.len());
    for (s, &(m, _)) in heads.iter().zip(&counts) {
        times.push(read_times(c.b, &mut c.pos, s.first.t, m).map_err(|e| err(c.pos, e))?);
    }
    let mut cols: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(8); heads.len()];
    for col in 0..8 {
        for (sc, &(m, flags)) in cols.iter_mut().zip(&counts) {
            if col < ncols(flags) {
                sc.push(read_values(c.b, &mut c.pos, m).map_err(|e| err(c.pos, e))?);
            }
        }
    }
    for (((s, ts), sc), &(_, flags)) in heads.iter_mut().zip(&times).zip(&cols).zip(&counts) {
        s.iv = intervals(at, flags, s.first, ts, |col, k| sc[col][k])?;
    }
    Ok(heads)
}

/// Versions 3 and 4: every header (kind, interval count, first
/// interval), then the bit-packed columns of every series
/// (`residuals.rs`).
fn body_bits(c: &mut Cur<'_>, n: u64, version: u8) -> Result<Vec<DsSeries>, FormatError> {
    let mut heads: Vec<(DsSeries, u8, Bases, usize)> = Vec::new();
    let mut total = 0u64;
    let bound = MAX_INTERVALS_PER_BYTE.saturating_mul(c.b.len() as u64);
    for _ in 0..n {
        let (labels, first, kind) = series_head(c, heads.last().map(|h| &h.0), residuals::RAW)?;
        let at = c.pos;
        let m = c.uvarint()?;
        total = total.saturating_add(m);
        if total > bound {
            return Err(err(at, "more intervals than the body holds"));
        }
        let mut b = Bases {
            res: 0,
            t: 0,
            count: 0,
            off: 0,
        };
        if m > 0 {
            b.res = unzigzag(c.uvarint()?);
            let k = unzigzag(c.uvarint()?);
            b.t = first
                .t
                .checked_div_euclid(b.res)
                .filter(|_| b.res > 0)
                .and_then(|q| q.checked_add(k)?.checked_mul(b.res))
                .ok_or_else(|| err(at, "bad first interval"))?;
            b.count = c.uvarint()?;
            b.off = unzigzag(c.uvarint()?);
        }
        let s = DsSeries {
            labels,
            first,
            iv: Vec::new(),
        };
        heads.push((s, kind, b, m as usize));
    }
    let at = c.pos;
    let bits = &c.b[c.pos..];
    let mut r = BitReader::new(bits);
    let mut out = Vec::with_capacity(heads.len());
    for (mut s, kind, b, m) in heads {
        if m > 0 {
            let d = residuals::read_series(&mut r, version, (kind, s.first.v), b, m)
                .map_err(|e| err(at, e))?;
            if r.overrun() {
                return Err(err(at, "columns end early"));
            }
            s.iv = intervals(at, 0, s.first, &d.times, |col, k| d.cols[col][k])?;
        }
        out.push(s);
    }
    if r.bits_read().div_ceil(8) != bits.len() as u64 {
        return Err(err(at, "trailing bytes after the columns"));
    }
    c.pos = c.b.len();
    Ok(out)
}

/// Builds and checks a series' intervals from its interval starts `ts`
/// and `g(column, k)`: whole counts and times, aligned, disjoint.
fn intervals(
    at: usize,
    flags: u8,
    first: Sample,
    ts: &[i64],
    g: impl Fn(usize, usize) -> f64,
) -> Result<Vec<Interval>, FormatError> {
    let mut iv = Vec::with_capacity(ts.len());
    let mut prev = first.v;
    let mut end = i64::MIN;
    for (k, &t) in ts.iter().enumerate() {
        let (res, count, off) = (g(0, k), g(1, k), g(2, k));
        let whole = |x: f64| x >= 0.0 && x.fract() == 0.0 && x < 9.0e15;
        if !whole(res) || res < 1.0 || !whole(count) || count < 1.0 || !whole(off) {
            return Err(err(at, format!("interval {k}: bad res, count or time")));
        }
        let (res, off) = (res as i64, off as i64);
        if t.rem_euclid(res) != 0 || off >= res || t < end {
            return Err(err(at, format!("interval {k}: not aligned or overlapping")));
        }
        end = t.saturating_add(res);
        let last = g(5, k);
        let (max, inc) = if flags & MONOTONE != 0 {
            (last, last - prev)
        } else {
            (g(6, k), g(7, k))
        };
        prev = last;
        iv.push(Interval {
            t,
            res,
            count: count as u64,
            sum: g(3, k),
            min: g(4, k),
            max,
            last_t: t
                .checked_add(off)
                .ok_or_else(|| err(at, format!("interval {k}: time overflows")))?,
            last,
            inc,
        });
    }
    Ok(iv)
}
