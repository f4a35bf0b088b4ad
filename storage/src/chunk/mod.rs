//! Compressed chunks of samples: the unit the head seals and partitions
//! store. Byte layout in `FORMAT.md` beside this file.
//!
//! A [`XorAppender`] is an open chunk; [`XorAppender::to_chunk`] copies
//! it into a [`Chunk`] (header + stream + CRC32), and [`seal`] picks the
//! smaller of that and the packed encoding for a chunk that is done. Readers of bytes from
//! disk go through [`ChunkView::parse`], which checks length, encoding and
//! checksum before any decoding.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod anatomy;
pub(crate) mod bitstream;
mod fields;
mod gaps;
mod grid;
pub mod histogram;
mod histogram_field;
mod iter;
pub(crate) mod layout;
mod packed;
mod packed_iter;
mod radix;
pub(crate) mod xor;
mod xor_iter;

pub use iter::ChunkIter;
pub(crate) use layout::{
    CRC_LEN, ENCODING_GRID, ENCODING_GRID_RADIX, ENCODING_PACKED, ENCODING_SPARSE_GAPS,
    ENCODING_SPARSE_GAPS_RADIX, ENCODING_SPARSE_GRID, ENCODING_SPARSE_GRID_RADIX, ENCODING_XOR,
    HEADER_LEN, grid_layout, is_grid,
};
pub(crate) use packed::decimals;
pub(crate) use xor::XorAppender;

use crate::model::sample::Sample;
use std::sync::Arc;

/// What can go wrong building or reading a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// Fewer bytes than a header and checksum.
    #[error("chunk too short: {len} bytes")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The encoding byte is not one we know.
    #[error("unknown chunk encoding {0:#04x}")]
    UnknownEncoding(u8),
    /// The stored CRC32 does not match the bytes.
    #[error("chunk checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC found in the chunk.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// The stream cannot be decoded.
    #[error("corrupt chunk at sample {sample}: {reason}")]
    Corrupt {
        /// Index of the sample being decoded.
        sample: u16,
        /// What was wrong.
        reason: &'static str,
    },
    /// An append was not after the chunk's last timestamp.
    #[error("sample at t={t} is not after the chunk's last t={last}")]
    OutOfOrder {
        /// Refused timestamp.
        t: i64,
        /// Last timestamp in the chunk.
        last: i64,
    },
    /// The chunk holds `u16::MAX` samples already.
    #[error("chunk is full")]
    Full,
}

/// A borrowed, validated chunk (e.g. inside an mmapped partition).
#[derive(Debug, Clone, Copy)]
pub struct ChunkView<'a> {
    bytes: &'a [u8],
}

impl<'a> ChunkView<'a> {
    /// Checks length, encoding and CRC32, then allows decoding.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        let v = Self::parse_unverified(bytes)?;
        let body = bytes.len() - CRC_LEN;
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[body..]);
        let stored = u32::from_be_bytes(crc);
        let computed = crc32fast::hash(&bytes[..body]);
        if stored != computed {
            return Err(ChunkError::Checksum { stored, computed });
        }
        Ok(v)
    }

    /// Checks length and encoding but not the checksum. Decoding stays
    /// memory-safe and panic-free; only the values may be garbage. For
    /// fuzzing and repair tools.
    pub fn parse_unverified(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        if bytes.len() < HEADER_LEN + CRC_LEN {
            return Err(ChunkError::TooShort { len: bytes.len() });
        }
        if ![ENCODING_XOR, ENCODING_PACKED].contains(&bytes[0]) && !is_grid(bytes[0]) {
            return Err(ChunkError::UnknownEncoding(bytes[0]));
        }
        Ok(ChunkView { bytes })
    }

    /// Samples the header claims.
    pub fn num_samples(&self) -> usize {
        usize::from(u16::from_be_bytes([self.bytes[1], self.bytes[2]]))
    }

    /// The whole chunk, header to checksum.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn stream(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..self.bytes.len() - CRC_LEN]
    }

    /// Decodes the samples.
    pub fn iter(&self) -> ChunkIter<'a> {
        let count = self.num_samples() as u16;
        match self.bytes[0] {
            ENCODING_PACKED => ChunkIter::packed(packed::Packed::parse(self.stream(), count)),
            e if is_grid(e) => {
                ChunkIter::packed(packed::Packed::parse_grid(self.stream(), count, e))
            }
            _ => ChunkIter::xor(self.stream(), count),
        }
    }

    /// Appends all samples to `out` (see [`ChunkIter::decode_into`]); on
    /// error `out` keeps the samples decoded before the problem.
    pub fn decode_into(&self, out: &mut Vec<Sample>) -> Result<(), ChunkError> {
        self.iter().decode_into(out)
    }

    /// Appends the samples with `from <= t <= to` to `out`. A packed chunk
    /// starts at the first of them; an XOR chunk is decoded whole and
    /// clipped. On error `out` is left as it was.
    pub fn decode_range_into(
        &self,
        from: i64,
        to: i64,
        out: &mut Vec<Sample>,
    ) -> Result<(), ChunkError> {
        let start = out.len();
        let count = self.num_samples() as u16;
        let fixed = match self.bytes[0] {
            ENCODING_PACKED => Some(packed::Packed::parse(self.stream(), count)),
            e if is_grid(e) => Some(packed::Packed::parse_grid(self.stream(), count, e)),
            _ => None,
        };
        if let Some(p) = fixed {
            let p = p?;
            let (lo, hi) = p.index_range(from, to);
            p.decode_range(lo, hi, out);
            return Ok(());
        }
        if let Err(e) = self.decode_into(out) {
            out.truncate(start);
            return Err(e);
        }
        let got = &out[start..];
        let hi = got.partition_point(|s| s.t <= to);
        let lo = got[..hi].partition_point(|s| s.t < from);
        out.truncate(start + hi);
        if lo > 0 {
            out.drain(start..start + lo);
        }
        Ok(())
    }
}

/// An owned, sealed chunk; clones share the bytes.
///
/// The bytes sit in the same allocation as their reference count, so a
/// reader holding a clone reaches the header in one cache miss, not two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    bytes: Arc<[u8]>,
}

impl Chunk {
    /// Validates bytes read from elsewhere (see [`ChunkView::parse`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Chunk, ChunkError> {
        ChunkView::parse(&bytes)?;
        Ok(Chunk {
            bytes: bytes.into(),
        })
    }

    /// Bytes this crate just sealed itself.
    pub(crate) fn from_sealed_unchecked(bytes: Arc<[u8]>) -> Chunk {
        Chunk { bytes }
    }

    /// Its length in bytes (from the handle: the bytes are not read).
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether both share the same bytes (clones of one chunk).
    pub(crate) fn same(&self, other: &Chunk) -> bool {
        Arc::ptr_eq(&self.bytes, &other.bytes)
    }

    /// A view for decoding.
    pub fn view(&self) -> ChunkView<'_> {
        ChunkView { bytes: &self.bytes }
    }

    /// Decodes the samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        self.view().iter()
    }

    /// Samples in the chunk.
    pub fn num_samples(&self) -> usize {
        self.view().num_samples()
    }

    /// The serialized chunk.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Seals a finished open chunk: the packed encoding when the samples
/// qualify and it is no larger, else the XOR bytes as they are.
pub fn seal(open: &XorAppender) -> Chunk {
    let xor = open.to_chunk();
    if !open.regular() {
        return xor;
    }
    let mut samples = Vec::with_capacity(open.len());
    // Our own bytes: decoding cannot fail, and if it did the XOR copy stays.
    if xor.view().decode_into(&mut samples).is_err() {
        return xor;
    }
    smaller(xor, packed::encode(&samples))
}

/// Encodes sorted samples with distinct timestamps (at most `u16::MAX`)
/// in the smaller encoding, as [`seal`] does.
pub fn encode(samples: &[Sample]) -> Result<Chunk, ChunkError> {
    let mut a = XorAppender::new();
    for &s in samples {
        a.append(s)?;
    }
    let xor = a.to_chunk();
    Ok(if a.regular() {
        smaller(xor, packed::encode(samples))
    } else {
        xor
    })
}

/// Encodes sorted samples with distinct timestamps (at most `u16::MAX`)
/// for cold storage: the smallest of the XOR, packed and grid encodings
/// (cold data; the head's open and sealed chunks are never grid).
pub fn encode_cold(samples: &[Sample]) -> Result<Chunk, ChunkError> {
    let hot = encode(samples)?;
    Ok(match grid::encode(samples) {
        Some(g) if g.as_bytes().len() < hot.as_bytes().len() => g,
        _ => hot,
    })
}

/// [`encode_cold`] over the consecutive runs of one series, measuring
/// once: after a run where the grid encoding beat the others by a fifth,
/// later runs whose grid fields are no wider are written as grid without
/// building the XOR stream to compare (most of the encoding time). A run
/// whose fields got wider (a counter reset, a gap) is compared again.
#[derive(Debug, Default)]
pub struct ColdEncoder {
    /// Bits per sample of the run where grid won clearly.
    grid_won_at: Option<u32>,
}

impl ColdEncoder {
    /// Encodes the next run of the series (sorted, distinct timestamps).
    pub fn encode(&mut self, samples: &[Sample]) -> Result<Chunk, ChunkError> {
        let grid = grid::encode_with_width(samples);
        if let (Some((g, bits)), Some(won)) = (&grid, self.grid_won_at)
            && *bits <= won
        {
            return Ok(g.clone());
        }
        if let Some((g, bits)) = &grid
            && let Some(c) = self.grid_beats_xor(samples, g, *bits)
        {
            return Ok(c);
        }
        let hot = encode(samples)?;
        Ok(match grid {
            Some((g, bits)) if g.as_bytes().len() < hot.as_bytes().len() => {
                if g.as_bytes().len() * 5 <= hot.as_bytes().len() * 4 {
                    self.grid_won_at = Some(bits);
                }
                g
            }
            _ => hot,
        })
    }
}

impl ColdEncoder {
    /// The choice [`ColdEncoder::encode`] makes, without building the XOR
    /// stream, when the grid chunk `g` is under four fifths of the least
    /// any XOR chunk of these samples can take: then XOR cannot win nor
    /// keep grid from winning clearly, and only the packed encoding is
    /// compared. Idle series, most of a node exporter's, take this way.
    /// `None`: the samples need the full comparison.
    fn grid_beats_xor(&mut self, samples: &[Sample], g: &Chunk, bits: u32) -> Option<Chunk> {
        let g_len = g.as_bytes().len();
        if g_len * 5 > xor::min_chunk_len(samples.len()) * 4
            || samples.len() >= usize::from(u16::MAX)
            || samples
                .windows(2)
                .any(|w| w[1].t.checked_sub(w[0].t).is_none_or(|d| d <= 0))
        {
            return None;
        }
        // What `encode` would compare the XOR chunk with.
        let regular = samples.len() >= 2
            && xor::decimal_repr(samples[0].v).is_some()
            && samples
                .windows(3)
                .all(|w| w[2].t.wrapping_sub(w[1].t) == w[1].t.wrapping_sub(w[0].t));
        match regular.then(|| packed::encode(samples)).flatten() {
            Some(p) if p.as_bytes().len() <= g_len => Some(p),
            Some(p) if g_len * 5 > p.as_bytes().len() * 4 => None,
            _ => {
                self.grid_won_at = Some(bits);
                Some(g.clone())
            }
        }
    }
}

/// Most samples in one cold chunk. A query decodes whole chunks, so a
/// short range over an old day should not decode the whole day (5,760
/// samples at 15 s); each further chunk costs ≈ 25 bytes (header, CRC,
/// index entry, a first sample in full), ≈ 0.013 bytes/sample at this size.
pub(crate) const MAX_COLD_SAMPLES: usize = 2048;

/// Encodes one series' sorted samples with distinct timestamps for cold
/// storage as runs of at most [`MAX_COLD_SAMPLES`], each with its time
/// range, through one [`ColdEncoder`]: what partitions hold (persisted
/// hours, compaction) and what the head's stop checkpoint holds.
pub(crate) fn encode_cold_runs(samples: &[Sample]) -> Vec<(i64, i64, Arc<Chunk>)> {
    encode_cold_runs_with(&mut ColdEncoder::default(), samples)
}

/// [`encode_cold_runs`] through `cold`, which keeps what it measured for
/// the series' next samples (the stop's checkpoint, hour after hour).
pub(crate) fn encode_cold_runs_with(
    cold: &mut ColdEncoder,
    samples: &[Sample],
) -> Vec<(i64, i64, Arc<Chunk>)> {
    let mut out = Vec::with_capacity(samples.len().div_ceil(MAX_COLD_SAMPLES));
    for part in samples.chunks(MAX_COLD_SAMPLES) {
        // Sorted, distinct timestamps: encoding cannot fail.
        if let (Some(lo), Some(hi), Ok(c)) = (part.first(), part.last(), cold.encode(part)) {
            out.push((lo.t, hi.t, Arc::new(c)));
        }
    }
    out
}

fn smaller(xor: Chunk, packed: Option<Chunk>) -> Chunk {
    match packed {
        Some(p) if p.as_bytes().len() <= xor.as_bytes().len() => p,
        _ => xor,
    }
}

/// Decodes `bytes` checking everything; an error stops at the first problem.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let view = ChunkView::parse(bytes)?;
    let mut it = view.iter();
    let out: Vec<_> = it.by_ref().collect();
    it.finish().map(|()| out)
}

/// Fuzz body shared by `fuzz/fuzz_targets/chunk_decode.rs` and the unit
/// tests: decodes arbitrary bytes, checked and unchecked, and counts their
/// anatomy; panics only if a decoder invariant breaks (timestamps not
/// increasing, more samples than the header claims, a byte counted twice).
#[doc(hidden)]
pub fn fuzz_decode(bytes: &[u8]) {
    let _ = decode_all(bytes);
    let mut a = anatomy::Anatomy::default();
    if a.add_chunk(bytes).is_ok() {
        assert_eq!(a.bytes(), bytes.len() as u64, "every byte counted once");
    }
    if let Ok(v) = ChunkView::parse_unverified(bytes) {
        let mut it = v.iter();
        let mut last: Option<i64> = None;
        let mut n = 0;
        for s in it.by_ref() {
            assert!(last.is_none_or(|l| s.t > l), "timestamps must increase");
            last = Some(s.t);
            n += 1;
        }
        assert!(n <= v.num_samples());
        assert!(it.seek(i64::MAX).is_none() || it.error().is_none());
        // The bulk decoder yields exactly what the iterator does.
        let mut it = v.iter();
        let want: Vec<_> = it.by_ref().collect();
        let mut got = Vec::new();
        assert_eq!(v.decode_into(&mut got), it.finish(), "same error");
        assert_eq!(got, want, "same samples");
    }
}

/// Fuzz body for cold encoding: arbitrary bytes read as samples (7 bytes
/// each: a time step, a value, a decimal scale or a raw-bits flag) must
/// come back bit for bit from [`encode_cold`], whichever encoding wins.
#[doc(hidden)]
pub fn fuzz_cold_round_trip(bytes: &[u8]) {
    let mut t = i64::from(bytes.first().copied().unwrap_or(0)) << 40;
    let samples: Vec<Sample> = bytes
        .chunks_exact(7)
        .take(usize::from(u16::MAX))
        .map(|b| {
            t += i64::from(u16::from_le_bytes([b[0], b[1]])) + 1;
            let n = i32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            let v = if b[6] & 0x80 != 0 {
                f64::from_bits(u64::from(n as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            } else {
                f64::from(n) / xor::POW10[usize::from(b[6] & 7)]
            };
            Sample::new(t, v)
        })
        .collect();
    let Ok(c) = encode_cold(&samples) else {
        return;
    };
    let got = decode_all(c.as_bytes()).unwrap_or_default();
    assert_eq!(got.len(), samples.len(), "every sample back");
    for (g, w) in got.iter().zip(&samples) {
        assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()), "bit for bit");
    }
}

/// When the head closes an open chunk and starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutPolicy {
    /// Most samples in one chunk.
    pub max_samples: u16,
    /// Chunks never straddle a multiple of this many ms (partition hours).
    pub boundary_ms: i64,
}

impl Default for CutPolicy {
    fn default() -> Self {
        CutPolicy {
            max_samples: 120,
            boundary_ms: 3_600_000,
        }
    }
}

impl CutPolicy {
    /// Should a sample at `t` start a new chunk after `open`?
    pub fn should_cut(&self, open: &XorAppender, t: i64) -> bool {
        match open.first_t() {
            None => false,
            Some(first) => {
                open.len() >= usize::from(self.max_samples)
                    || first.div_euclid(self.boundary_ms.max(1))
                        != t.div_euclid(self.boundary_ms.max(1))
            }
        }
    }
}

#[cfg(test)]
mod grid_damage_tests;
#[cfg(test)]
mod grid_tests;
#[cfg(test)]
mod tests;
