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
//! `hgroups` (`wal_histograms.rs`); batches without histograms stay kind 1.
//!
//! Version 1 (still read): groups are `uvarint ref, uvarint count, count ×
//! (zigzag-varint (t - previous t in the group; the first against 0), value
//! 8 bytes little-endian)`; defs as above.
//!
//! Every WAL frame already carries an IEEE CRC32, so records have no checksum of
//! their own. A series definition appears in each record that uses the
//! series until one record holding it is known durable, so replay never
//! meets a sample whose series it cannot name (see `head::append`).

use crate::chunk::xor::{POW10, decimal_repr};
use crate::encoding::{VarintError, put_uvarint, read_uvarint, unzigzag, zigzag};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::model::refs::{HeadRef, PostingId};
use crate::model::sample::Sample;

/// Record layout version written.
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
    pub(crate) histograms: Vec<(HeadRef, Vec<(i64, FloatHistogram)>)>,
}

/// Why a record does not decode, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

/// Builds a batch record incrementally.
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

/// Codes one value against the previous one of its group (`prev`: its
/// decimal form, if it had one).
pub(super) fn put_value(out: &mut Vec<u8>, v: f64, prev: &mut Option<(i64, u8)>) {
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

impl RecordWriter {
    pub(crate) fn with_capacity(samples: usize) -> Self {
        RecordWriter {
            groups: Vec::with_capacity(samples * 6 + 16),
            ..Default::default()
        }
    }

    pub(crate) fn def(&mut self, id: HeadRef, labels: &Labels) {
        self.ndefs += 1;
        put_uvarint(&mut self.defs, u64::from(id.raw()));
        put_labels(&mut self.defs, labels);
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
        if samples.is_empty() {
            return;
        }
        self.nhgroups += 1;
        let g = &mut self.hgroups;
        let id = i64::from(id.raw());
        put_uvarint(g, zigzag(id - self.prev_href));
        self.prev_href = id;
        put_uvarint(g, samples.len() as u64);
        let mut prev_t = 0i64;
        for (t, h) in samples {
            put_uvarint(g, zigzag(t.wrapping_sub(prev_t)));
            prev_t = *t;
            super::wal_histograms::put_histogram(g, h);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ndefs == 0 && self.ngroups == 0 && self.nhgroups == 0
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

/// Decodes one batch record. Never panics on any input.
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
    let mut rec = BatchRecord::default();
    let ndefs = r.count(2)?;
    rec.defs.reserve(ndefs);
    for _ in 0..ndefs {
        let id = r.id()?;
        let labels = r.labels()?;
        rec.defs.push((HeadRef::from_raw(id), labels));
    }
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
fn histogram_group(
    r: &mut Reader<'_>,
    prev_ref: &mut i64,
) -> Result<(HeadRef, Vec<(i64, FloatHistogram)>), RecordError> {
    let id = prev_ref.wrapping_add(r.zvarint()?);
    let Ok(raw) = u32::try_from(id) else {
        return r.err("series ref beyond u32");
    };
    *prev_ref = id;
    let n = r.count(12)?;
    if n == 0 {
        return r.err("empty histogram group");
    }
    let mut out = Vec::with_capacity(n);
    let mut t = 0i64;
    for _ in 0..n {
        t = t.wrapping_add(r.zvarint()?);
        out.push((t, super::wal_histograms::histogram(r)?));
    }
    Ok((HeadRef::from_raw(raw), out))
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
    let id = prev_ref.wrapping_add(r.zvarint()?);
    let Ok(raw) = u32::try_from(id) else {
        return r.err("series ref beyond u32");
    };
    *prev_ref = id;
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
    Ok((HeadRef::from_raw(raw), samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::STALE_NAN_BITS;

    #[test]
    fn round_trip() {
        let mut w = RecordWriter::with_capacity(4);
        let l = Labels::from_pairs([("__name__", "up"), ("job", "é")]);
        w.def(HeadRef::from_raw(7), &l);
        let s = vec![
            Sample::new(1_700_000_000_000, 1.5),
            Sample::new(1_700_000_000_000 - 5, f64::from_bits(STALE_NAN_BITS)),
            Sample::new(i64::MIN, -0.0),
        ];
        w.group(HeadRef::from_raw(7), &s);
        w.group(HeadRef::from_raw(3), &[]);
        let b = w.finish();
        let rec = decode(&b).unwrap();
        assert_eq!(rec.defs, vec![(HeadRef::from_raw(7), l)]);
        assert_eq!(rec.groups, vec![(HeadRef::from_raw(7), s)]);
    }

    /// A version 1 record, laid out as the first writer did.
    fn encode_v1(defs: &[(HeadRef, Labels)], groups: &[(HeadRef, Vec<Sample>)]) -> Vec<u8> {
        let mut out = vec![VERSION_1, KIND_BATCH];
        put_uvarint(&mut out, defs.len() as u64);
        for (id, l) in defs {
            put_uvarint(&mut out, u64::from(id.raw()));
            put_labels(&mut out, l);
        }
        put_uvarint(&mut out, groups.len() as u64);
        for (id, samples) in groups {
            put_uvarint(&mut out, u64::from(id.raw()));
            put_uvarint(&mut out, samples.len() as u64);
            let mut prev = 0i64;
            for s in samples {
                put_uvarint(&mut out, zigzag(s.t.wrapping_sub(prev)));
                out.extend_from_slice(&s.v.to_bits().to_le_bytes());
                prev = s.t;
            }
        }
        out
    }

    fn bits(groups: &[(HeadRef, Vec<Sample>)]) -> Vec<(u32, Vec<(i64, u64)>)> {
        groups
            .iter()
            .map(|(id, s)| (id.raw(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
            .collect()
    }

    #[test]
    fn version_1_records_still_replay() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        let defs = vec![(HeadRef::from_raw(3), l)];
        let groups = vec![
            (
                HeadRef::from_raw(3),
                vec![
                    Sample::new(1_700_000_000_000, 1.5),
                    Sample::new(1_700_000_015_000, 2.0),
                ],
            ),
            (HeadRef::from_raw(9), vec![Sample::new(-5, f64::NAN)]),
        ];
        let rec = decode(&encode_v1(&defs, &groups)).unwrap();
        assert_eq!(rec.defs, defs);
        assert_eq!(bits(&rec.groups), bits(&groups));
    }

    #[test]
    fn scrape_aligned_batches_cost_a_few_bytes_per_sample() {
        // One sample per series, as remote write sends them: counters with
        // two decimals, all at one time.
        let mut w = RecordWriter::with_capacity(2000);
        for i in 0..2000u32 {
            let v = (f64::from(i) * 12_345.67 * 100.0).round() / 100.0;
            w.group(HeadRef::from_raw(i), &[Sample::new(1_700_000_000_000, v)]);
        }
        let b = w.finish();
        let per_sample = b.len() as f64 / 2000.0;
        println!("{per_sample:.2} bytes/sample (version 1: about 17)");
        assert!(per_sample < 9.0, "{per_sample}");
        assert_eq!(decode(&b).unwrap().groups.len(), 2000);
    }

    proptest::proptest! {
        #[test]
        fn any_groups_round_trip_bit_exact(
            groups in proptest::collection::vec(
                (0u32..5000, proptest::collection::vec((proptest::num::i64::ANY, proptest::num::u64::ANY, 0u8..4), 1..20)),
                0..20,
            )
        ) {
            let mut w = RecordWriter::with_capacity(0);
            let want: Vec<(HeadRef, Vec<Sample>)> = groups
                .into_iter()
                .map(|(id, xs)| {
                    let samples = xs
                        .into_iter()
                        .map(|(t, v, shape)| {
                            // Mix raw bit patterns with decimals of each kind.
                            let v = match shape {
                                0 => f64::from_bits(v),
                                1 => (v % 1_000_000) as f64 / 100.0,
                                2 => -((v % 1000) as f64),
                                _ => (v >> 40) as f64 * 0.001,
                            };
                            Sample::new(t % 10_000_000_000_000, v)
                        })
                        .collect();
                    (HeadRef::from_raw(id), samples)
                })
                .collect();
            for (id, s) in &want {
                w.group(*id, s);
            }
            let got = decode(&w.finish()).unwrap();
            proptest::prop_assert_eq!(bits(&got.groups), bits(&want));
        }
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_not_a_panic() {
        let mut w = RecordWriter::with_capacity(2);
        w.def(HeadRef::from_raw(1), &Labels::from_pairs([("a", "b")]));
        w.group(
            HeadRef::from_raw(1),
            &[Sample::new(5, 1.0), Sample::new(6, 2.0)],
        );
        let b = w.finish();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut rng = fastrand::Rng::with_seed(88172645463325252);
        for _ in 0..5_000 {
            let x = rng.u64(..);
            let mut c = b.clone();
            let i = (x as usize) % c.len();
            c[i] ^= (x >> 32) as u8 | 1;
            let _ = decode(&c);
        }
    }
}
