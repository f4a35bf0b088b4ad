//! The head's WAL records: what one `append` batch writes to the log, and
//! the checkpoint's series records (`checkpoint_records.rs`).
//!
//! Version 2 (written since issue #15) codes samples the way chunks do, so a
//! record costs a few bytes per sample rather than 17:
//!
//! ```text
//! record   = version:u8 (=2) kind:u8 (=1 batch) defs groups
//! defs     = uvarint n, n × (uvarint ref, uvarint nlabels,
//!                            nlabels × (str name, str value))
//! str      = uvarint len, len bytes of UTF-8
//! groups   = uvarint n, n × group
//! group    = zigzag-uvarint (ref - previous group's ref; the first against 0),
//!            uvarint count, count × (time value)
//! time     = the group's first: zigzag-uvarint (t - previous group's first
//!            t; the first against 0); later ones: zigzag-uvarint of the
//!            delta-of-delta (the first delta against 0)
//! value    = uvarint (zigzag(n - base) << 3 | k) for v = n / 10^k exactly,
//!            k <= 6, base = the previous value's n in the group when it had
//!            the same k, else 0;
//!            or uvarint 7, then the value's 8 bytes little-endian
//! ```
//!
//! Kind 3 (a batch holding native histograms) is kind 1 followed by
//! `hgroups` (below, "Native histogram samples"); batches without histograms stay kind 1.
//!
//! Version 1 (still read): groups are `uvarint ref, uvarint count, count ×
//! (zigzag-varint (t - previous t in the group; the first against 0), value
//! 8 bytes little-endian)`; defs as above.
//!
//! Every WAL frame already carries an IEEE CRC32, so records have no checksum of
//! their own. A series definition appears in each record that uses the
//! series until one record holding it is known durable, so replay never
//! meets a sample whose series it cannot name (see `head::append`).

use crate::chunk::xor::{POW10, at_scale, decimal_repr};
use crate::encoding::{VarintError, put_uvarint, read_uvarint, unzigzag, zigzag};
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};
use crate::model::labels::Labels;
use crate::model::refs::{HeadRef, PostingId};
use crate::model::sample::Sample;

/// Layout version 2: checkpoints' series records, and batch records
/// before version 3 (`linked_records`).
pub(crate) const VERSION: u8 = 2;
/// The first layout, still replayed.
const VERSION_1: u8 = 1;
/// Record kind: a batch of series definitions and samples.
pub(crate) const KIND_BATCH: u8 = 1;
/// Record kind: a batch with native histogram samples after the floats.
pub(crate) const KIND_HISTOGRAM_BATCH: u8 = 3;
/// Value tag: 8 raw bytes follow (no exact decimal form).
const RAW_VALUE: u64 = 7;

/// A decoded batch record.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct BatchRecord {
    pub(crate) defs: Vec<(HeadRef, Labels)>,
    pub(crate) groups: Vec<(HeadRef, Vec<Sample>)>,
    /// Version 3 groups whose base sample was not found.
    pub(crate) unlinked: Vec<Unlinked>,
    pub(crate) histograms: Vec<(HeadRef, Vec<(i64, FloatHistogram)>)>,
}

/// A version 3 group whose base sample replay could not find (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unlinked {
    pub(crate) id: HeadRef,
    /// Its newest sample's time.
    pub(crate) last_t: i64,
    pub(crate) samples: usize,
}

/// Finds the value bits of series `id`'s sample at time `t`.
pub(crate) type Resolve<'a> = &'a mut dyn FnMut(HeadRef, i64) -> Option<u64>;

/// Why a record does not decode, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

/// Builds a version 2 batch record incrementally (version 3 is written
/// now: `linked_records`).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct RecordWriter {
    defs: Vec<u8>,
    ndefs: u64,
    groups: Vec<u8>,
    ngroups: u64,
    prev_ref: i64,
    prev_t: i64,
    hgroups: Vec<u8>,
    nhgroups: u64,
    prev_href: i64,
}

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(super) fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for l in labels.iter() {
        put_str(out, &l.name);
        put_str(out, &l.value);
    }
}

/// One series definition of a batch record: its head ref, then its labels.
pub(super) fn put_def(out: &mut Vec<u8>, id: HeadRef, labels: &Labels) {
    put_uvarint(out, u64::from(id.raw()));
    put_labels(out, labels);
}

/// Codes one value against the previous one of its group (`prev`: its
/// decimal form, if it had one): at the previous one's scale when exact
/// there, else at its own.
pub(super) fn put_value(out: &mut Vec<u8>, v: f64, prev: &mut Option<(i64, u8)>) {
    if let Some((pn, pk)) = *prev
        && let Some(n) = at_scale(v, pk)
    {
        put_uvarint(out, (zigzag(n.wrapping_sub(pn)) << 3) | u64::from(pk));
        *prev = Some((n, pk));
        return;
    }
    match decimal_repr(v) {
        Some((n, k)) => {
            let base = match *prev {
                Some((pn, pk)) if pk == k => pn,
                _ => 0,
            };
            put_uvarint(out, (zigzag(n.wrapping_sub(base)) << 3) | u64::from(k));
            *prev = Some((n, k));
        }
        None => {
            put_uvarint(out, RAW_VALUE);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            *prev = None;
        }
    }
}

#[cfg(test)]
impl RecordWriter {
    pub(crate) fn with_capacity(samples: usize) -> Self {
        RecordWriter {
            groups: Vec::with_capacity(samples * 6 + 16),
            ..Default::default()
        }
    }

    pub(crate) fn def(&mut self, id: HeadRef, labels: &Labels) {
        self.ndefs += 1;
        put_def(&mut self.defs, id, labels);
    }

    pub(crate) fn group(&mut self, id: HeadRef, samples: &[Sample]) {
        let Some(first) = samples.first() else {
            return;
        };
        self.ngroups += 1;
        let g = &mut self.groups;
        let id = i64::from(id.raw());
        put_uvarint(g, zigzag(id - self.prev_ref));
        self.prev_ref = id;
        put_uvarint(g, samples.len() as u64);
        put_uvarint(g, zigzag(first.t.wrapping_sub(self.prev_t)));
        self.prev_t = first.t;
        let mut prev_v = None;
        put_value(g, first.v, &mut prev_v);
        let (mut t, mut delta) = (first.t, 0i64);
        for s in &samples[1..] {
            let d = s.t.wrapping_sub(t);
            put_uvarint(g, zigzag(d.wrapping_sub(delta)));
            (t, delta) = (s.t, d);
            put_value(g, s.v, &mut prev_v);
        }
    }

    pub(crate) fn histogram_group(&mut self, id: HeadRef, samples: &[(i64, FloatHistogram)]) {
        if put_histogram_group(&mut self.hgroups, &mut self.prev_href, id, samples) {
            self.nhgroups += 1;
        }
    }

    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.defs.len() + self.groups.len() + self.hgroups.len() + 24);
        out.push(VERSION);
        out.push(if self.nhgroups > 0 {
            KIND_HISTOGRAM_BATCH
        } else {
            KIND_BATCH
        });
        put_uvarint(&mut out, self.ndefs);
        out.extend_from_slice(&self.defs);
        put_uvarint(&mut out, self.ngroups);
        out.extend_from_slice(&self.groups);
        if self.nhgroups > 0 {
            put_uvarint(&mut out, self.nhgroups);
            out.extend_from_slice(&self.hgroups);
        }
        out
    }
}

pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    pub(super) fn err<T>(&self, reason: &'static str) -> Result<T, RecordError> {
        Err(RecordError {
            offset: self.pos,
            reason,
        })
    }

    pub(super) fn u8(&mut self) -> Result<u8, RecordError> {
        match self.b.get(self.pos) {
            Some(&x) => {
                self.pos += 1;
                Ok(x)
            }
            None => self.err("record ends early"),
        }
    }

    pub(super) fn uvarint(&mut self) -> Result<u64, RecordError> {
        read_uvarint(self.b, &mut self.pos).or_else(|e| match e {
            VarintError::Truncated => self.err("record ends early"),
            VarintError::Overflow => self.err("varint overflows 64 bits"),
        })
    }

    /// A count that cannot exceed the bytes left (each item takes ≥ `min`).
    pub(super) fn count(&mut self, min: usize) -> Result<usize, RecordError> {
        let n = self.uvarint()?;
        let left = (self.b.len() - self.pos) / min.max(1);
        if n > left as u64 {
            return self.err("count larger than the record");
        }
        Ok(n as usize)
    }

    pub(super) fn id(&mut self) -> Result<u32, RecordError> {
        let x = self.uvarint()?;
        u32::try_from(x).or_else(|_| self.err("series ref beyond u32"))
    }

    /// A group's series ref, coded as the difference from the previous
    /// group's (`prev_ref`, which it updates).
    pub(super) fn delta_ref(&mut self, prev_ref: &mut i64) -> Result<HeadRef, RecordError> {
        let id = prev_ref.wrapping_add(self.zvarint()?);
        let Ok(raw) = u32::try_from(id) else {
            return self.err("series ref beyond u32");
        };
        *prev_ref = id;
        Ok(HeadRef::from_raw(raw))
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        match self.b.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err("record ends early"),
        }
    }

    pub(super) fn str(&mut self) -> Result<&'a str, RecordError> {
        let n = self.count(1)?;
        let at = self.pos;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| RecordError {
            offset: at,
            reason: "label is not UTF-8",
        })
    }

    pub(super) fn zvarint(&mut self) -> Result<i64, RecordError> {
        self.uvarint().map(unzigzag)
    }

    pub(super) fn f64_bits(&mut self) -> Result<u64, RecordError> {
        let mut v = [0u8; 8];
        v.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_le_bytes(v))
    }

    pub(super) fn labels(&mut self) -> Result<Labels, RecordError> {
        let n = self.count(2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.str()?;
            let value = self.str()?;
            pairs.push((name, value));
        }
        Ok(Labels::from_pairs(pairs))
    }

    /// The defs section of a batch record: a count, then (ref, labels) each.
    pub(super) fn defs(&mut self) -> Result<Vec<(HeadRef, Labels)>, RecordError> {
        let n = self.count(2)?;
        let mut defs = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.id()?;
            defs.push((HeadRef::from_raw(id), self.labels()?));
        }
        Ok(defs)
    }

    /// A value coded by `put_value`.
    pub(super) fn value(&mut self, prev: &mut Option<(i64, u8)>) -> Result<f64, RecordError> {
        let x = self.uvarint()?;
        let k = (x & 7) as u8;
        if u64::from(k) == RAW_VALUE {
            *prev = None;
            return Ok(f64::from_bits(self.f64_bits()?));
        }
        let base = match *prev {
            Some((pn, pk)) if pk == k => pn,
            _ => 0,
        };
        let n = base.wrapping_add(unzigzag(x >> 3));
        *prev = Some((n, k));
        Ok((n as f64) / POW10[usize::from(k)])
    }
}

/// Decodes one batch record of version 1 or 2 (version 3:
/// `linked_records::decode_with`). Never panics on any input.
pub(crate) fn decode(b: &[u8]) -> Result<BatchRecord, RecordError> {
    let mut r = Reader::new(b);
    let version = r.u8()?;
    if version != VERSION && version != VERSION_1 {
        return r.err("unknown record version");
    }
    let kind = r.u8()?;
    if kind != KIND_BATCH && !(kind == KIND_HISTOGRAM_BATCH && version == VERSION) {
        return r.err("unknown record kind");
    }
    let mut rec = BatchRecord {
        defs: r.defs()?,
        ..BatchRecord::default()
    };
    let ngroups = r.count(2)?;
    rec.groups.reserve(ngroups);
    let (mut prev_ref, mut prev_t) = (0i64, 0i64);
    for _ in 0..ngroups {
        let group = if version == VERSION_1 {
            group_v1(&mut r)?
        } else {
            group_v2(&mut r, &mut prev_ref, &mut prev_t)?
        };
        rec.groups.push(group);
    }
    if kind == KIND_HISTOGRAM_BATCH {
        let n = r.count(2)?;
        let mut prev_ref = 0i64;
        for _ in 0..n {
            rec.histograms.push(histogram_group(&mut r, &mut prev_ref)?);
        }
    }
    if r.pos != b.len() {
        return r.err("trailing bytes after the record");
    }
    Ok(rec)
}

#[allow(clippy::type_complexity)]
/// Appends one series' histogram samples as an `hgroup` (the same in
/// version 2 kind 3 and version 3 records); false when there are none.
pub(super) fn put_histogram_group(
    g: &mut Vec<u8>,
    prev_href: &mut i64,
    id: HeadRef,
    samples: &[(i64, FloatHistogram)],
) -> bool {
    if samples.is_empty() {
        return false;
    }
    let id = i64::from(id.raw());
    put_uvarint(g, zigzag(id - *prev_href));
    *prev_href = id;
    put_uvarint(g, samples.len() as u64);
    let mut prev_t = 0i64;
    for (t, h) in samples {
        put_uvarint(g, zigzag(t.wrapping_sub(prev_t)));
        prev_t = *t;
        put_histogram(g, h);
    }
    true
}

pub(super) fn histogram_group(
    r: &mut Reader<'_>,
    prev_ref: &mut i64,
) -> Result<(HeadRef, Vec<(i64, FloatHistogram)>), RecordError> {
    let id = r.delta_ref(prev_ref)?;
    let n = r.count(12)?;
    if n == 0 {
        return r.err("empty histogram group");
    }
    let mut out = Vec::with_capacity(n);
    let mut t = 0i64;
    for _ in 0..n {
        t = t.wrapping_add(r.zvarint()?);
        out.push((t, histogram(r)?));
    }
    Ok((id, out))
}

fn group_v1(r: &mut Reader<'_>) -> Result<(HeadRef, Vec<Sample>), RecordError> {
    let id = r.id()?;
    let n = r.count(9)?;
    let mut samples = Vec::with_capacity(n);
    let mut t = 0i64;
    for _ in 0..n {
        t = t.wrapping_add(r.zvarint()?);
        samples.push(Sample::new(t, f64::from_bits(r.f64_bits()?)));
    }
    Ok((HeadRef::from_raw(id), samples))
}

fn group_v2(
    r: &mut Reader<'_>,
    prev_ref: &mut i64,
    prev_t: &mut i64,
) -> Result<(HeadRef, Vec<Sample>), RecordError> {
    let id = r.delta_ref(prev_ref)?;
    let n = r.count(2)?;
    if n == 0 {
        return r.err("empty sample group");
    }
    let mut samples = Vec::with_capacity(n);
    let mut t = prev_t.wrapping_add(r.zvarint()?);
    *prev_t = t;
    let mut prev_v = None;
    samples.push(Sample::new(t, r.value(&mut prev_v)?));
    let mut delta = 0i64;
    for _ in 1..n {
        delta = delta.wrapping_add(r.zvarint()?);
        t = t.wrapping_add(delta);
        samples.push(Sample::new(t, r.value(&mut prev_v)?));
    }
    Ok((id, samples))
}

// Native histogram samples in WAL batch records (kind 3):
//
// ```text
// hgroups  = uvarint n, n × hgroup
// hgroup   = zigzag-uvarint (ref - previous hgroup's ref; the first
//            against 0), uvarint count, count × (time hist)
// time     = zigzag-uvarint (t - previous t in the group; the first
//            against 0)
// hist     = u8 counter-reset hint, zigzag-uvarint schema,
//            value zero_threshold, value zero_count, value count, value sum,
//            spans positive, spans negative,
//            buckets positive, buckets negative, buckets custom_values
// spans    = uvarint n, n × (zigzag-uvarint offset, uvarint length)
// buckets  = uvarint n, n × value, each coded against the one before it
// value    = as in batch records (an exact decimal against the previous
//            value of its run, or 7 then 8 raw bytes)
// ```

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_uvarint(out, zigzag(i64::from(s.offset)));
        put_uvarint(out, u64::from(s.length));
    }
}

fn put_run(out: &mut Vec<u8>, values: &[f64]) {
    put_uvarint(out, values.len() as u64);
    let mut prev = None;
    for v in values {
        put_value(out, *v, &mut prev);
    }
}

/// Appends one histogram.
fn put_histogram(out: &mut Vec<u8>, h: &FloatHistogram) {
    out.push(h.counter_reset_hint as u8);
    put_uvarint(out, zigzag(i64::from(h.schema)));
    for v in [h.zero_threshold, h.zero_count, h.count, h.sum] {
        put_value(out, v, &mut None);
    }
    put_spans(out, &h.positive_spans);
    put_spans(out, &h.negative_spans);
    put_run(out, &h.positive_buckets);
    put_run(out, &h.negative_buckets);
    put_run(out, &h.custom_values);
}

fn spans(r: &mut Reader<'_>) -> Result<Vec<Span>, RecordError> {
    let n = r.count(2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = i32::try_from(r.zvarint()?).or_else(|_| r.err("span offset beyond i32"))?;
        let length = u32::try_from(r.uvarint()?).or_else(|_| r.err("span length beyond u32"))?;
        out.push(Span { offset, length });
    }
    Ok(out)
}

fn run(r: &mut Reader<'_>) -> Result<Vec<f64>, RecordError> {
    let n = r.count(1)?;
    let mut out = Vec::with_capacity(n);
    let mut prev = None;
    for _ in 0..n {
        out.push(r.value(&mut prev)?);
    }
    Ok(out)
}

/// Reads one histogram written by [`put_histogram`].
fn histogram(r: &mut Reader<'_>) -> Result<FloatHistogram, RecordError> {
    let hint = r.u8()?;
    if hint > 3 {
        return r.err("bad counter-reset hint");
    }
    let schema = i32::try_from(r.zvarint()?).or_else(|_| r.err("schema beyond i32"))?;
    let zero_threshold = r.value(&mut None)?;
    let zero_count = r.value(&mut None)?;
    let count = r.value(&mut None)?;
    let sum = r.value(&mut None)?;
    Ok(FloatHistogram {
        counter_reset_hint: CounterResetHint::from_u8(hint),
        schema,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans: spans(r)?,
        negative_spans: spans(r)?,
        positive_buckets: run(r)?,
        negative_buckets: run(r)?,
        custom_values: run(r)?,
    })
}

#[cfg(test)]
#[path = "wal_records_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "wal_histograms_tests.rs"]
mod histogram_tests;
