//! The WAL checkpoint's series records: every live series with its data as
//! the head holds it, sealed chunks byte for byte, so a checkpoint costs
//! what the chunks cost and replay adopts them without re-encoding.
//!
//! ```text
//! record   = version:u8 (=3) kind:u8 (=2 series) flags:u8 body
//!            flags bit 0: body = uvarint raw_len, then a zstd frame of
//!            raw_len bytes; other bits: an error
//! body     = uvarint nsyms, nsyms × str (the record's label strings, each once)
//!            uvarint n, n × series
//! series   = uvarint ref, uvarint nlabels, nlabels × (uvarint name, uvarint value)
//!            (indexes into the record's strings),
//!            newest, uvarint nchunks, nchunks × chunk, uvarint nooo, nooo × ooo
//! newest   = u8 0 (none) | u8 1, zigzag-uvarint t, value 8 bytes LE
//!            (the newest in-order sample, kept when its chunk moved to a
//!            partition, so the acceptance rules still see it)
//! chunk    = zigzag-uvarint min_t, uvarint (max_t - min_t),
//!            uvarint len, len bytes: a chunk (storage/src/chunk/FORMAT.md,
//!            any float encoding, checked with its own CRC when read)
//! ooo      = zigzag-uvarint (t - previous ooo t; the first against 0),
//!            value 8 bytes LE
//! ```
//!
//! Chunks are in time order and disjoint; the open chunk is written as a
//! sealed copy after the sealed ones. The checkpoint a graceful stop writes
//! holds each series-hour as one chunk in the cold encodings
//! (`Head::checkpoint_records`). Each string is read (and interned by the
//! head) once per record, not once per series. Version 2 records
//! (`0x02 0x02`, uncompressed) spell every series' labels out as batch
//! records do, version 1 checkpoints hold batch records instead; replay
//! reads both.

use super::linked_records::{compress, unpack};
use super::series::HeadChunk;
use super::wal_records::{Reader, RecordError, VERSION, put_str};
use crate::chunk::Chunk;
use crate::encoding::{put_uvarint, zigzag};
use crate::model::labels::{Label, Labels, StrHasher};
use crate::model::refs::{HeadRef, PostingId};
use std::collections::HashMap;
use std::sync::Arc;

/// Record kind: series with their chunks (checkpoints only).
pub(crate) const KIND_SERIES: u8 = 2;
/// The version written: flags (zstd), labels as indexes into the
/// record's strings.
pub(crate) const VERSION_SYMBOLS: u8 = 3;
/// Flag: the body is zstd-compressed.
const ZSTD: u8 = 1;
/// The largest body a record may unpack to (records aim at
/// [`TARGET_RECORD_BYTES`]; one series' chunks can exceed it).
const MAX_BODY: u64 = 256 << 20;
/// A record is finished once it holds this many series (damage to one
/// costs these series' head data) or this many bytes.
pub(crate) const MAX_RECORD_SERIES: u64 = 256;
pub(crate) const TARGET_RECORD_BYTES: usize = 4 << 20;

/// One series of a checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct SeriesEntry {
    pub(crate) id: HeadRef,
    pub(crate) labels: Labels,
    pub(crate) newest: Option<(i64, u64)>,
    pub(crate) chunks: Vec<HeadChunk>,
    pub(crate) ooo: Vec<(i64, u64)>,
}

/// Whether `b` is a series record (else a batch record, or garbage).
pub(crate) fn is_series_record(b: &[u8]) -> bool {
    b.get(1) == Some(&KIND_SERIES)
}

/// Builds series records (version 3).
#[derive(Debug, Default)]
pub(crate) struct SeriesRecordWriter {
    body: Vec<u8>,
    n: u64,
    /// The record's strings, encoded in order of first use.
    syms: Vec<u8>,
    /// Each string's index in `syms`.
    sym_ids: HashMap<Arc<str>, u64, std::hash::BuildHasherDefault<StrHasher>>,
}

impl SeriesRecordWriter {
    fn sym(&mut self, s: &Arc<str>) -> u64 {
        if let Some(&i) = self.sym_ids.get(&**s) {
            return i;
        }
        let i = self.sym_ids.len() as u64;
        put_str(&mut self.syms, s);
        self.sym_ids.insert(Arc::clone(s), i);
        i
    }

    pub(crate) fn add(&mut self, e: &SeriesEntry) {
        self.n += 1;
        put_uvarint(&mut self.body, u64::from(e.id.raw()));
        put_uvarint(&mut self.body, e.labels.len() as u64);
        for l in e.labels.iter() {
            let (name, value) = (self.sym(&l.name), self.sym(&l.value));
            put_uvarint(&mut self.body, name);
            put_uvarint(&mut self.body, value);
        }
        put_data(&mut self.body, e);
    }

    /// Whether the record is as large as it should get.
    pub(crate) fn full(&self) -> bool {
        self.n >= MAX_RECORD_SERIES || self.body.len() + self.syms.len() >= TARGET_RECORD_BYTES
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The record's body, uncompressed, leaving the writer empty.
    fn take_body(&mut self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.body.len() + self.syms.len() + 20);
        put_uvarint(&mut body, self.sym_ids.len() as u64);
        body.append(&mut self.syms);
        put_uvarint(&mut body, self.n);
        body.append(&mut self.body);
        self.n = 0;
        self.sym_ids.clear();
        body
    }

    /// The record, leaving the writer empty; its body zstd-compressed
    /// when that is smaller.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let body = self.take_body();
        let mut out = Vec::with_capacity(body.len() + 16);
        out.extend_from_slice(&[VERSION_SYMBOLS, KIND_SERIES]);
        // Level 1, as for batch records: on a stop checkpoint's records
        // (`tests::checkpoint_zstd_levels`) levels 3 to 19 save under 1 %
        // more (chunk headers repeat across series; the chunks' own bits
        // do not compress) at 2 to 35 times the time.
        match compress(&body) {
            Ok(z) if z.len() + 10 < body.len() => {
                out.push(ZSTD);
                put_uvarint(&mut out, body.len() as u64);
                out.extend_from_slice(&z);
            }
            _ => {
                out.push(0);
                out.extend_from_slice(&body);
            }
        }
        out
    }
}

/// A series' samples as both versions write them: newest, chunks, ooo.
fn put_data(b: &mut Vec<u8>, e: &SeriesEntry) {
    match e.newest {
        None => b.push(0),
        Some((t, bits)) => {
            b.push(1);
            put_uvarint(b, zigzag(t));
            b.extend_from_slice(&bits.to_le_bytes());
        }
    }
    put_uvarint(b, e.chunks.len() as u64);
    for c in &e.chunks {
        put_uvarint(b, zigzag(c.min_t));
        put_uvarint(b, c.max_t.wrapping_sub(c.min_t) as u64);
        let bytes = c.chunk.as_bytes();
        put_uvarint(b, bytes.len() as u64);
        b.extend_from_slice(bytes);
    }
    put_uvarint(b, e.ooo.len() as u64);
    let mut prev = 0i64;
    for &(t, bits) in &e.ooo {
        put_uvarint(b, zigzag(t.wrapping_sub(prev)));
        b.extend_from_slice(&bits.to_le_bytes());
        prev = t;
    }
}

/// A version 2 series record (as written up to issue #15's second
/// round), for the tests that read old checkpoints.
#[cfg(test)]
pub(crate) fn encode_v2(entries: &[SeriesEntry]) -> Vec<u8> {
    use super::wal_records::put_labels;
    let mut out = vec![VERSION, KIND_SERIES];
    put_uvarint(&mut out, entries.len() as u64);
    for e in entries {
        put_uvarint(&mut out, u64::from(e.id.raw()));
        put_labels(&mut out, &e.labels);
        put_data(&mut out, e);
    }
    out
}

/// Decodes one series record. Never panics on any input.
pub(crate) fn decode(b: &[u8]) -> Result<Vec<SeriesEntry>, RecordError> {
    decode_with(b, &mut |s| Arc::from(s))
}

/// Decodes one series record, every label string taken through `intern`
/// (the head's interner: one look per string and record in version 3).
/// Never panics on any input.
pub(crate) fn decode_with(
    b: &[u8],
    intern: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<Vec<SeriesEntry>, RecordError> {
    let mut r = Reader::new(b);
    let version = r.u8()?;
    if version != VERSION && version != VERSION_SYMBOLS {
        return r.err("unknown record version");
    }
    if r.u8()? != KIND_SERIES {
        return r.err("unknown record kind");
    }
    if version == VERSION {
        return entries(r, version, intern);
    }
    let flags = r.u8()?;
    if flags & !ZSTD != 0 {
        return r.err("unknown record flags");
    }
    if flags & ZSTD == 0 {
        return entries(r, version, intern);
    }
    let (at, unpacked) = unpack(b, &mut r, MAX_BODY)?;
    entries(Reader::new(&unpacked), version, intern).map_err(|e| RecordError {
        offset: at,
        reason: e.reason,
    })
}

/// The series of a record's body, which `r` must hold to its end.
fn entries(
    mut r: Reader<'_>,
    version: u8,
    intern: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<Vec<SeriesEntry>, RecordError> {
    let mut syms: Vec<Arc<str>> = Vec::new();
    if version == VERSION_SYMBOLS {
        let nsyms = r.count(1)?;
        syms.reserve(nsyms);
        for _ in 0..nsyms {
            syms.push(intern(r.str()?));
        }
    }
    let n = r.count(5)?;
    let mut out = Vec::with_capacity(n);
    let mut pairs: Vec<Label> = Vec::new();
    for _ in 0..n {
        let id = HeadRef::from_raw(r.id()?);
        let nl = r.count(2)?;
        pairs.clear();
        for _ in 0..nl {
            let (name, value) = if version == VERSION_SYMBOLS {
                (sym(&mut r, &syms)?, sym(&mut r, &syms)?)
            } else {
                (intern(r.str()?), intern(r.str()?))
            };
            pairs.push(Label { name, value });
        }
        let labels = sorted_labels(&mut pairs);
        let newest = match r.u8()? {
            0 => None,
            1 => {
                let t = r.zvarint()?;
                Some((t, r.f64_bits()?))
            }
            _ => return r.err("bad newest-sample flag"),
        };
        let nchunks = r.count(3)?;
        let mut chunks: Vec<HeadChunk> = Vec::with_capacity(nchunks);
        for _ in 0..nchunks {
            let min_t = r.zvarint()?;
            let span = r.uvarint()?;
            let Some(max_t) = i64::try_from(span).ok().and_then(|s| min_t.checked_add(s)) else {
                return r.err("chunk time range overflows");
            };
            if chunks.last().is_some_and(|c| c.max_t >= min_t) {
                return r.err("chunks out of order");
            }
            let len = r.count(1)?;
            let at = r.pos;
            let chunk = Chunk::from_bytes(r.bytes(len)?.to_vec()).map_err(|_| RecordError {
                offset: at,
                reason: "chunk does not verify",
            })?;
            chunks.push(HeadChunk {
                min_t,
                max_t,
                chunk,
            });
        }
        let nooo = r.count(9)?;
        let mut ooo = Vec::with_capacity(nooo);
        let mut t = 0i64;
        for _ in 0..nooo {
            t = t.wrapping_add(r.zvarint()?);
            ooo.push((t, r.f64_bits()?));
        }
        out.push(SeriesEntry {
            id,
            labels,
            newest,
            chunks,
            ooo,
        });
    }
    if r.pos != r.b.len() {
        return r.err("trailing bytes after the record");
    }
    Ok(out)
}

/// The string a symbol index names.
fn sym(r: &mut Reader<'_>, syms: &[Arc<str>]) -> Result<Arc<str>, RecordError> {
    let i = r.uvarint()?;
    match usize::try_from(i).ok().and_then(|i| syms.get(i)) {
        Some(s) => Ok(Arc::clone(s)),
        None => r.err("label string index out of range"),
    }
}

/// Labels as [`Labels::from_pairs`] makes them (empty values dropped,
/// sorted by name, stable), keeping the strings given.
fn sorted_labels(pairs: &mut Vec<Label>) -> Labels {
    pairs.retain(|l| !l.value.is_empty());
    if !pairs.is_sorted_by(|a, b| a.name <= b.name) {
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Labels::from_sorted(std::mem::take(pairs))
}

/// Fuzz body of `fuzz/fuzz_targets/wal_records_decode.rs`: both decoders on
/// arbitrary bytes (version 3 batches with and without their bases); a
/// series or batch record that decodes re-encodes to one that decodes to
/// the same.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    // A series record that decodes is written again (version 3, maybe
    // zstd) alike.
    if let Ok(entries) = decode(data) {
        let mut w = SeriesRecordWriter::default();
        for e in &entries {
            w.add(e);
        }
        let again = if w.is_empty() {
            Vec::new()
        } else {
            match decode(&w.take()) {
                Ok(a) => a,
                Err(e) => panic!("re-encoded series record does not decode: {e:?}"),
            }
        };
        assert_eq!(again.len(), entries.len(), "series lost in re-encoding");
        for (a, e) in again.iter().zip(&entries) {
            assert!(a.id == e.id && a.labels == e.labels && a.newest == e.newest);
            assert_eq!(a.ooo, e.ooo, "re-encoded out-of-order samples differ");
            let bytes = |c: &[HeadChunk]| -> Vec<(i64, i64, Vec<u8>)> {
                c.iter()
                    .map(|c| (c.min_t, c.max_t, c.chunk.as_bytes().to_vec()))
                    .collect()
            };
            assert_eq!(
                bytes(&a.chunks),
                bytes(&e.chunks),
                "re-encoded chunks differ"
            );
        }
    }
    let _ = super::wal_records::decode(data);
    // Every base found (a fixed value), so version 3 links are followed.
    let mut any_base = |_, _| Some(2.5f64.to_bits());
    if let Ok(rec) = super::linked_records::decode_with(data, &mut any_base) {
        let mut w = super::linked_records::RecordWriter::default();
        for (id, l) in &rec.defs {
            w.def(*id, l);
        }
        for (id, s) in &rec.groups {
            w.group(*id, s, None);
        }
        for (id, h) in &rec.histograms {
            w.histogram_group(*id, h);
        }
        // The writer writes version 3 whatever the input's version was.
        let again = super::linked_records::decode_with(&w.finish(), &mut any_base);
        // Empty groups (version 1 allowed them) are not written again.
        let bits = |r: &super::wal_records::BatchRecord| -> Vec<(u32, Vec<(i64, u64)>)> {
            r.groups
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(id, s)| (id.raw(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
                .collect()
        };
        match again {
            Ok(a) => {
                assert_eq!(bits(&a), bits(&rec), "re-encoded batch differs");
                let same = a.histograms.len() == rec.histograms.len()
                    && a.histograms.iter().zip(&rec.histograms).all(|(x, y)| {
                        x.0 == y.0
                            && x.1.len() == y.1.len()
                            && x.1
                                .iter()
                                .zip(&y.1)
                                .all(|(p, q)| p.0 == q.0 && p.1.same_bits(&q.1))
                    });
                assert!(same, "re-encoded histograms differ");
            }
            Err(e) => panic!("re-encoded batch does not decode: {e:?}"),
        }
    }
}

#[cfg(test)]
#[path = "checkpoint_records_tests.rs"]
mod tests;
