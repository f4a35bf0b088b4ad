//! The head's WAL records: what one `append` batch writes to the log.
//!
//! ```text
//! record   = version:u8 (=1) kind:u8 (=1 batch) defs groups
//! defs     = uvarint n, n × (uvarint ref, uvarint nlabels,
//!                            nlabels × (str name, str value))
//! str      = uvarint len, len bytes of UTF-8
//! groups   = uvarint n, n × (uvarint ref, uvarint count, count × sample)
//! sample   = zigzag-varint (t - previous t in the group; the first is
//!            against 0), then the value's 8 bytes little-endian
//! ```
//!
//! Every WAL frame already carries an IEEE CRC32, so records have no checksum of
//! their own. A series definition appears in each record that uses the
//! series until one record holding it is known durable, so replay never
//! meets a sample whose series it cannot name (see `head::append`).

use crate::encoding::{
    MAX_VARINT_BYTES, VarintError, encode_uvarint, put_uvarint, read_uvarint, unzigzag, zigzag,
};
use crate::model::labels::Labels;
use crate::model::refs::{HeadRef, PostingId};
use crate::model::sample::Sample;

/// Record layout version.
pub(crate) const VERSION: u8 = 1;
/// Record kind: a batch of series definitions and samples.
pub(crate) const KIND_BATCH: u8 = 1;

/// A decoded batch record.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct BatchRecord {
    pub(crate) defs: Vec<(HeadRef, Labels)>,
    pub(crate) groups: Vec<(HeadRef, Vec<Sample>)>,
}

/// Why a record does not decode, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

/// A sample's largest encoding: a 10-byte varint and 8 value bytes.
const MAX_SAMPLE_BYTES: usize = MAX_VARINT_BYTES + 8;

/// Builds a batch record incrementally.
#[derive(Debug, Default)]
pub(crate) struct RecordWriter {
    defs: Vec<u8>,
    ndefs: u64,
    groups: Vec<u8>,
    ngroups: u64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

impl RecordWriter {
    pub(crate) fn with_capacity(samples: usize) -> Self {
        RecordWriter {
            groups: Vec::with_capacity(samples * 10 + 16),
            ..Default::default()
        }
    }

    pub(crate) fn def(&mut self, id: HeadRef, labels: &Labels) {
        self.ndefs += 1;
        put_uvarint(&mut self.defs, u64::from(id.raw()));
        put_uvarint(&mut self.defs, labels.len() as u64);
        for l in labels.iter() {
            put_str(&mut self.defs, &l.name);
            put_str(&mut self.defs, &l.value);
        }
    }

    pub(crate) fn group(&mut self, id: HeadRef, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        self.ngroups += 1;
        let g = &mut self.groups;
        put_uvarint(g, u64::from(id.raw()));
        put_uvarint(g, samples.len() as u64);
        g.reserve(samples.len() * MAX_SAMPLE_BYTES);
        let mut prev = 0i64;
        for s in samples {
            let d = s.t.wrapping_sub(prev);
            // One copy per sample from a stack buffer, not a push per byte.
            let mut buf = [0u8; MAX_SAMPLE_BYTES];
            let n = encode_uvarint(&mut buf, zigzag(d));
            buf[n..n + 8].copy_from_slice(&s.v.to_bits().to_le_bytes());
            g.extend_from_slice(&buf[..n + 8]);
            prev = s.t;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ndefs == 0 && self.ngroups == 0
    }

    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.defs.len() + self.groups.len() + 24);
        out.push(VERSION);
        out.push(KIND_BATCH);
        put_uvarint(&mut out, self.ndefs);
        out.extend_from_slice(&self.defs);
        put_uvarint(&mut out, self.ngroups);
        out.extend_from_slice(&self.groups);
        out
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err<T>(&self, reason: &'static str) -> Result<T, RecordError> {
        Err(RecordError {
            offset: self.pos,
            reason,
        })
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        match self.b.get(self.pos) {
            Some(&x) => {
                self.pos += 1;
                Ok(x)
            }
            None => self.err("record ends early"),
        }
    }

    fn uvarint(&mut self) -> Result<u64, RecordError> {
        read_uvarint(self.b, &mut self.pos).or_else(|e| match e {
            VarintError::Truncated => self.err("record ends early"),
            VarintError::Overflow => self.err("varint overflows 64 bits"),
        })
    }

    /// A count that cannot exceed the bytes left (each item takes ≥ `min`).
    fn count(&mut self, min: usize) -> Result<usize, RecordError> {
        let n = self.uvarint()?;
        let left = (self.b.len() - self.pos) / min.max(1);
        if n > left as u64 {
            return self.err("count larger than the record");
        }
        Ok(n as usize)
    }

    fn id(&mut self) -> Result<u32, RecordError> {
        let x = self.uvarint()?;
        u32::try_from(x).or_else(|_| self.err("series ref beyond u32"))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        match self.b.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err("record ends early"),
        }
    }

    fn str(&mut self) -> Result<&'a str, RecordError> {
        let n = self.count(1)?;
        let at = self.pos;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| RecordError {
            offset: at,
            reason: "label is not UTF-8",
        })
    }
}

/// Decodes one record. Never panics on any input.
pub(crate) fn decode(b: &[u8]) -> Result<BatchRecord, RecordError> {
    let mut r = Reader { b, pos: 0 };
    if r.u8()? != VERSION {
        return r.err("unknown record version");
    }
    if r.u8()? != KIND_BATCH {
        return r.err("unknown record kind");
    }
    let mut rec = BatchRecord::default();
    let ndefs = r.count(2)?;
    rec.defs.reserve(ndefs);
    for _ in 0..ndefs {
        let id = r.id()?;
        let n = r.count(2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.str()?;
            let value = r.str()?;
            pairs.push((name, value));
        }
        rec.defs
            .push((HeadRef::from_raw(id), Labels::from_pairs(pairs)));
    }
    let ngroups = r.count(2)?;
    rec.groups.reserve(ngroups);
    for _ in 0..ngroups {
        let id = r.id()?;
        let n = r.count(9)?;
        let mut samples = Vec::with_capacity(n);
        let mut t = 0i64;
        for _ in 0..n {
            t = t.wrapping_add(unzigzag(r.uvarint()?));
            let mut v = [0u8; 8];
            v.copy_from_slice(r.bytes(8)?);
            samples.push(Sample::new(t, f64::from_bits(u64::from_le_bytes(v))));
        }
        rec.groups.push((HeadRef::from_raw(id), samples));
    }
    if r.pos != b.len() {
        return r.err("trailing bytes after the record");
    }
    Ok(rec)
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
