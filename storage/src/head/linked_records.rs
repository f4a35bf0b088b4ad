//! Version 3 batch records: each series' first sample in a record is
//! coded against that series' previous sample (named by its time), the
//! record's shape (refs, counts, times) and its values sit in two columns,
//! and zstd packs the body once it is large enough. A scrape-aligned
//! remote-write request then costs about a byte or two per sample.
//!
//! ```text
//! record = 0x03 0x01 flags:u8 body      flags bit 0: body = uvarint raw_len,
//!                                       then a zstd frame of raw_len bytes;
//!                                       bit 1: the body holds hgroups
//! body   = uvarint ndefs, ndefs × (uvarint ref, labels)     as version 2
//!          [bit 1: uvarint nhgroups, nhgroups × hgroup      as version 2 kind 3]
//!          uvarint ngroups, uvarint shape_len, shape (shape_len bytes),
//!          values (the rest)
//! shape  = per group: uvarint zigzag(ref - previous group's ref),
//!          uvarint (count << 1 | linked),
//!          uvarint zigzag(first t - previous group's first t),
//!          linked: uvarint zigzag(gap - previous linked group's gap),
//!                  gap = first t - the series' previous sample's t,
//!          count - 1 × uvarint zigzag(delta of delta)
//! values = per group, per sample, as version 2; a linked group's first
//!          value's base is the series' previous sample
//! ```
//!
//! The previous sample is the series' newest in-order sample when the
//! batch was applied, if in the same five-minute window (`WHOLE_EVERY_MS`):
//! a series' first sample in each window is coded whole. Replay finds it by its time (in the head or earlier
//! in the same record); a sample has one value per time, so a base found
//! is the base used. A base not found yet (its record comes later in the
//! log, or was lost to damage) leaves the group unlinked unless its first
//! value is raw (coded whole), reported so
//! replay can retry it or count it: never a wrong value. Damage to one
//! record thus costs its series' later samples up to the next window.

use super::wal_records::{
    self, BatchRecord, KIND_BATCH, Reader, RecordError, Resolve, Unlinked, histogram_group,
    put_def, put_histogram_group, put_value,
};
use crate::chunk::xor::decimal_repr;
use crate::encoding::{put_uvarint, zigzag};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::model::refs::{HeadRef, PostingId};
use crate::model::sample::Sample;

/// Record layout version written.
pub(crate) const VERSION_3: u8 = 3;
/// A series' first sample in each window this long is coded whole, so
/// damage to one record costs its series at most this much more.
pub(crate) const WHOLE_EVERY_MS: i64 = 300_000;
/// Flag: the body is zstd-compressed.
const ZSTD: u8 = 1;
/// Flag: the body holds native histogram groups.
const HISTOGRAMS: u8 = 2;
/// Bodies from this size on are compressed.
const ZSTD_FROM: usize = 256;
/// zstd level: the fastest that still finds the shape column's repeats.
const ZSTD_LEVEL: i32 = 1;
/// The largest body a record may unpack to (WAL records are smaller).
const MAX_BODY: usize = 256 << 20;

/// Builds a version 3 batch record incrementally.
#[derive(Debug, Default)]
pub(crate) struct RecordWriter {
    defs: Vec<u8>,
    ndefs: u64,
    shape: Vec<u8>,
    values: Vec<u8>,
    ngroups: u64,
    prev_ref: i64,
    prev_t: i64,
    prev_gap: i64,
    /// The bases used: (ref, time, value bits), for undoing the batch.
    bases: Vec<(HeadRef, i64, u64)>,
    hgroups: Vec<u8>,
    nhgroups: u64,
    prev_href: i64,
}

impl RecordWriter {
    pub(crate) fn with_capacity(samples: usize) -> Self {
        RecordWriter {
            shape: Vec::with_capacity(samples * 3 + 16),
            values: Vec::with_capacity(samples * 2 + 16),
            ..Default::default()
        }
    }

    pub(crate) fn def(&mut self, id: HeadRef, labels: &Labels) {
        self.ndefs += 1;
        put_def(&mut self.defs, id, labels);
    }

    /// Adds series `id`'s samples; `base` is its newest in-order sample
    /// before them (time, value bits), used when the first is newer.
    pub(crate) fn group(&mut self, id: HeadRef, samples: &[Sample], base: Option<(i64, u64)>) {
        let Some(first) = samples.first() else {
            return;
        };
        let base = base.filter(|&(t, _)| {
            t < first.t && t.div_euclid(WHOLE_EVERY_MS) == first.t.div_euclid(WHOLE_EVERY_MS)
        });
        self.ngroups += 1;
        let g = &mut self.shape;
        let raw = i64::from(id.raw());
        put_uvarint(g, zigzag(raw - self.prev_ref));
        self.prev_ref = raw;
        put_uvarint(g, ((samples.len() as u64) << 1) | u64::from(base.is_some()));
        put_uvarint(g, zigzag(first.t.wrapping_sub(self.prev_t)));
        self.prev_t = first.t;
        let mut prev_v = None;
        if let Some((bt, bits)) = base {
            let gap = first.t.wrapping_sub(bt);
            put_uvarint(g, zigzag(gap.wrapping_sub(self.prev_gap)));
            self.prev_gap = gap;
            prev_v = decimal_repr(f64::from_bits(bits));
            self.bases.push((id, bt, bits));
        }
        put_value(&mut self.values, first.v, &mut prev_v);
        let (mut t, mut delta) = (first.t, 0i64);
        for s in &samples[1..] {
            let d = s.t.wrapping_sub(t);
            put_uvarint(g, zigzag(d.wrapping_sub(delta)));
            (t, delta) = (s.t, d);
            put_value(&mut self.values, s.v, &mut prev_v);
        }
    }

    /// Logs one series' native histogram samples.
    pub(crate) fn histogram_group(&mut self, id: HeadRef, samples: &[(i64, FloatHistogram)]) {
        if put_histogram_group(&mut self.hgroups, &mut self.prev_href, id, samples) {
            self.nhgroups += 1;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ndefs == 0 && self.ngroups == 0 && self.nhgroups == 0
    }

    /// The bases the groups were coded against, to decode the record
    /// without the head (undoing a refused batch).
    pub(crate) fn bases(&self) -> &[(HeadRef, i64, u64)] {
        &self.bases
    }

    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(self.defs.len() + self.shape.len() + self.values.len() + 24);
        put_uvarint(&mut body, self.ndefs);
        body.extend_from_slice(&self.defs);
        let hist = if self.nhgroups > 0 {
            put_uvarint(&mut body, self.nhgroups);
            body.extend_from_slice(&self.hgroups);
            HISTOGRAMS
        } else {
            0
        };
        put_uvarint(&mut body, self.ngroups);
        put_uvarint(&mut body, self.shape.len() as u64);
        body.extend_from_slice(&self.shape);
        body.extend_from_slice(&self.values);
        let mut out = vec![VERSION_3, KIND_BATCH];
        if body.len() >= ZSTD_FROM
            && let Ok(z) = compress(&body)
            && z.len() + 8 < body.len()
        {
            out.push(ZSTD | hist);
            put_uvarint(&mut out, body.len() as u64);
            out.extend_from_slice(&z);
        } else {
            out.push(hist);
            out.extend_from_slice(&body);
        }
        out
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// zstd with a context kept per thread (making one costs more than a
/// record).
pub(super) fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        match c.as_mut() {
            Some(z) => z.compress(body),
            None => Err(std::io::Error::other("no zstd context")),
        }
    })
}

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// zstd with a context kept per thread, as `compress` (replay unpacks
/// every record).
/// A zstd-packed body at `r` (`uvarint raw_len`, then the frame, to the end
/// of `b`), unpacked: its offset in `b` and its bytes. A length above
/// `max` or a frame that does not unpack to exactly that length is damage.
pub(super) fn unpack(
    b: &[u8],
    r: &mut Reader<'_>,
    max: u64,
) -> Result<(usize, Vec<u8>), RecordError> {
    let raw_len = r.uvarint()?;
    if raw_len > max {
        return r.err("record body too large");
    }
    let at = r.pos;
    let unpacked = decompress(&b[at..], raw_len as usize).map_err(|_| RecordError {
        offset: at,
        reason: "record body does not decompress",
    })?;
    if unpacked.len() as u64 != raw_len {
        return Err(RecordError {
            offset: at,
            reason: "record body shorter than its length",
        });
    }
    Ok((at, unpacked))
}

pub(super) fn decompress(packed: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Decompressor::new()?);
        }
        match c.as_mut() {
            Some(z) => z.decompress(packed, capacity),
            None => Err(std::io::Error::other("no zstd context")),
        }
    })
}

/// Decodes a batch record of any version; version 3 groups get their
/// base from earlier groups of the same record or `resolve`, and are
/// reported in `unlinked` otherwise. Never panics on any input.
pub(crate) fn decode_with(b: &[u8], resolve: Resolve<'_>) -> Result<BatchRecord, RecordError> {
    if b.first() != Some(&VERSION_3) {
        return wal_records::decode(b);
    }
    let mut r = Reader::new(b);
    r.pos = 1;
    if r.u8()? != KIND_BATCH {
        return r.err("unknown record kind");
    }
    let flags = r.u8()?;
    if flags & !(ZSTD | HISTOGRAMS) != 0 {
        return r.err("unknown record flags");
    }
    let hist = flags & HISTOGRAMS != 0;
    if flags & ZSTD == 0 {
        return body(&b[r.pos..], resolve, hist);
    }
    let (at, unpacked) = unpack(b, &mut r, MAX_BODY as u64)?;
    body(&unpacked, resolve, hist).map_err(|e| RecordError {
        offset: at,
        reason: e.reason,
    })
}

fn body(b: &[u8], resolve: Resolve<'_>, hist: bool) -> Result<BatchRecord, RecordError> {
    let mut r = Reader::new(b);
    let mut rec = BatchRecord {
        defs: r.defs()?,
        ..BatchRecord::default()
    };
    if hist {
        let n = r.count(2)?;
        let mut prev_ref = 0i64;
        for _ in 0..n {
            rec.histograms.push(histogram_group(&mut r, &mut prev_ref)?);
        }
    }
    let ngroups = r.count(3)?;
    let shape_len = r.count(1)?;
    let shape_end = r.pos + shape_len;
    let mut v = Reader::new(&b[shape_end..]);
    r.b = &b[..shape_end];
    rec.groups.reserve(ngroups);
    let (mut prev_ref, mut prev_t, mut prev_gap) = (0i64, 0i64, 0i64);
    for _ in 0..ngroups {
        let id = r.delta_ref(&mut prev_ref)?;
        let x = r.uvarint()?;
        let n = usize::try_from(x >> 1).unwrap_or(usize::MAX);
        if n == 0 || n > r.b.len() - r.pos + 1 {
            return r.err("bad sample count");
        }
        let mut t = prev_t.wrapping_add(r.zvarint()?);
        prev_t = t;
        let mut prev_v = None;
        let mut missing = false;
        if x & 1 == 1 {
            prev_gap = prev_gap.wrapping_add(r.zvarint()?);
            let bt = t.wrapping_sub(prev_gap);
            // The head first: a series twice in one record is rare, and
            // the scan of the record is linear.
            match resolve(id, bt).or_else(|| in_record(&rec.groups, id, bt)) {
                Some(bits) => prev_v = decimal_repr(f64::from_bits(bits)),
                None => missing = true,
            }
        }
        let mut samples = Vec::with_capacity(n);
        samples.push(Sample::new(t, v.value(&mut prev_v)?));
        // A raw first value (it leaves no decimal form behind) needed no
        // base; a decimal one may have.
        let linked = !(missing && prev_v.is_some());
        let mut delta = 0i64;
        for _ in 1..n {
            delta = delta.wrapping_add(r.zvarint()?);
            t = t.wrapping_add(delta);
            samples.push(Sample::new(t, v.value(&mut prev_v)?));
        }
        if linked {
            rec.groups.push((id, samples));
        } else {
            rec.unlinked.push(Unlinked {
                id,
                last_t: samples.iter().map(|s| s.t).max().unwrap_or(t),
                samples: n,
            });
        }
    }
    if r.pos != r.b.len() || v.pos != v.b.len() {
        return r.err("trailing bytes after the record");
    }
    Ok(rec)
}

/// The value bits at `t` of series `id` in the groups decoded so far.
fn in_record(groups: &[(HeadRef, Vec<Sample>)], id: HeadRef, t: i64) -> Option<u64> {
    groups
        .iter()
        .rev()
        .filter(|(g, _)| *g == id)
        .flat_map(|(_, s)| s.iter())
        .find(|s| s.t == t)
        .map(|s| s.v.to_bits())
}

#[cfg(test)]
mod tests;
