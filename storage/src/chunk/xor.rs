//! The Gorilla-style XOR encoder (encoding `0x01`), see `FORMAT.md`.
//!
//! Timestamps are delta-of-delta coded. Values are coded against the
//! previous value as "same bits" (1 bit), a *decimal delta* when both values
//! are exactly `n / 10^k` for the same small `k` (counters, two-decimal
//! gauges), or a Gorilla XOR otherwise. Every bit pattern round-trips.

use super::bitstream::BitWriter;
use super::{CRC_LEN, Chunk, ChunkError, ENCODING_XOR, HEADER_LEN};
use crate::encoding::zigzag;
use crate::model::sample::Sample;
use std::sync::Arc;

/// Powers of ten for decimal scales `k` (3 bits on the wire).
pub(crate) const POW10: [f64; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
/// Largest scale the encoder tries; the decoder accepts any 3-bit scale.
const MAX_SCALE: usize = 6;
/// Scaled values at or beyond 2^51 get no decimal form (the rounding
/// trick below needs the headroom; such values are rare and still exact
/// through XOR).
const MAX_EXACT: f64 = 2_251_799_813_685_248.0; // 2^51
/// 1.5 · 2^52: adding and subtracting it rounds |x| < 2^51 to an integer
/// with plain adds (no libm `round` call without SSE4.1).
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `x` rounded to an integer, for |x| < 2^51. Any rounding would do: the
/// result is only a candidate that the caller checks exactly.
#[inline]
fn round_fast(x: f64) -> f64 {
    (x + ROUNDER) - ROUNDER
}

/// Bucket widths for timestamp delta-of-deltas after the unary prefix
/// `0`, `10`, `110`, `1110`, `1111` (the first bucket is dod = 0).
pub(crate) const DOD_BITS: [u32; 5] = [0, 5, 9, 16, 64];
/// Bucket widths for decimal deltas after the unary prefix.
pub(crate) const DEC_BITS: [u32; 5] = [4, 7, 12, 24, 64];

/// `v` as `n / 10^k` with the smallest `k <= MAX_SCALE`, if exact.
///
/// The check decodes exactly as the decoder will, so `-0.0` (which would
/// come back as `+0.0`) and non-finite values have no representation.
#[inline]
pub(crate) fn decimal_repr(v: f64) -> Option<(i64, u8)> {
    let bits = v.to_bits();
    for (k, &p) in POW10.iter().enumerate().take(MAX_SCALE + 1) {
        let x = v * p;
        if x.is_nan() || x.abs() >= MAX_EXACT {
            return None;
        }
        let nf = round_fast(x);
        let n = nf as i64;
        if ((n as f64) / p).to_bits() == bits {
            return Some((n, k as u8));
        }
    }
    None
}

/// `v` at scale `k`, if exact.
#[inline]
pub(crate) fn at_scale(v: f64, k: u8) -> Option<i64> {
    let p = POW10[usize::from(k & 7)];
    let x = v * p;
    if x.is_nan() || x.abs() >= MAX_EXACT {
        return None;
    }
    let nf = round_fast(x);
    let n = nf as i64;
    (((n as f64) / p).to_bits() == v.to_bits()).then_some(n)
}

/// Smallest bucket index whose signed width holds `x`.
#[inline]
pub(crate) fn bucket(widths: &[u32; 5], x: i64) -> usize {
    for (i, &w) in widths.iter().enumerate() {
        if w == 0 {
            if x == 0 {
                return i;
            }
            continue;
        }
        if w == 64 {
            return i;
        }
        let lim = 1i64 << (w - 1);
        if x >= -lim && x < lim {
            return i;
        }
    }
    widths.len() - 1
}

/// Writes the unary prefix for bucket `i` of 5 (`1111` has no terminator).
#[inline]
fn write_prefix(w: &mut BitWriter, i: usize) {
    match i {
        0 => w.write_bits(0b0, 1),
        1 => w.write_bits(0b10, 2),
        2 => w.write_bits(0b110, 3),
        3 => w.write_bits(0b1110, 4),
        _ => w.write_bits(0b1111, 4),
    }
}

#[inline]
fn write_signed(w: &mut BitWriter, x: i64, bits: u32) {
    if bits == 0 {
        return;
    }
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    w.write_bits_wide(x as u64 & mask, bits);
}

/// Writes `x` as a varint of 7-bit groups, low group first: the format of
/// [`crate::encoding`], through the bit writer.
pub(crate) fn write_uvarint(w: &mut BitWriter, mut x: u64) {
    loop {
        let g = x & 0x7f;
        x >>= 7;
        if x == 0 {
            w.write_bits(g, 8);
            return;
        }
        w.write_bits(g | 0x80, 8);
    }
}

/// Cached decimal form of the previous value.
#[derive(Debug, Clone, Copy)]
enum Repr {
    Unknown,
    None,
    Some(i64, u8),
}

/// Appends samples to an open chunk. Timestamps must strictly increase.
#[derive(Debug, Clone)]
pub struct XorAppender {
    w: BitWriter,
    count: u16,
    first_t: i64,
    t: i64,
    delta: i64,
    vbits: u64,
    repr: Repr,
    /// XOR window: leading zeros and significant bits; `sig == 0` means none.
    /// Bytes, not words: a million open appenders are held in memory.
    lead: u8,
    sig: u8,
    /// Some timestamp gap differed from the first one, or the first value
    /// had no decimal form: the packed encoding cannot or most likely will
    /// not take the chunk (later values are only checked when sealing).
    unpackable: bool,
}

/// The fewest bytes an XOR chunk of `samples` samples takes: header, CRC
/// and, from the third sample on, at least a bit for the timestamp's delta
/// of delta and one for the value.
pub(crate) fn min_chunk_len(samples: usize) -> usize {
    HEADER_LEN + CRC_LEN + (2 * samples.saturating_sub(2)).div_ceil(8)
}

impl XorAppender {
    /// Hints the cache line the next appended bits go to.
    #[inline]
    pub(crate) fn prefetch_end(&self) {
        self.w.prefetch_end();
    }
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// An empty chunk.
    pub fn new() -> Self {
        XorAppender {
            w: BitWriter::with_capacity(32),
            count: 0,
            first_t: 0,
            t: 0,
            delta: 0,
            vbits: 0,
            repr: Repr::Unknown,
            lead: 0,
            sig: 0,
            unpackable: false,
        }
    }

    /// Samples appended so far.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when no sample was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// First timestamp, if any.
    pub fn first_t(&self) -> Option<i64> {
        (self.count > 0).then_some(self.first_t)
    }

    /// Last timestamp, if any.
    pub fn last_t(&self) -> Option<i64> {
        (self.count > 0).then_some(self.t)
    }

    /// Last sample, if any.
    pub fn last(&self) -> Option<Sample> {
        (self.count > 0).then(|| Sample::new(self.t, f64::from_bits(self.vbits)))
    }

    /// Whether every timestamp so far is one fixed interval after the
    /// previous and the first value is a decimal (a candidate for the
    /// packed encoding when sealed).
    pub fn regular(&self) -> bool {
        self.count >= 2 && !self.unpackable
    }

    /// Hints the CPU to fetch the stream's first bytes (before a copy).
    pub(crate) fn prefetch(&self) {
        crate::prefetch::bytes(self.w.whole_bytes(), 256);
    }

    /// Encoded stream size so far, in bytes (without header and CRC).
    pub fn stream_len(&self) -> usize {
        self.w.bit_len().div_ceil(8)
    }

    /// Heap bytes held by the open chunk.
    pub fn heap_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// Appends `s`; `s.t` must be greater than the last timestamp.
    pub fn append(&mut self, s: Sample) -> Result<(), ChunkError> {
        if self.count == u16::MAX {
            return Err(ChunkError::Full);
        }
        let bits = s.v.to_bits();
        match self.count {
            0 => {
                write_uvarint(&mut self.w, zigzag(s.t));
                self.first_t = s.t;
                match decimal_repr(s.v) {
                    Some((n, k)) => {
                        self.w.write_bits(1, 1);
                        self.w.write_bits(u64::from(k), 3);
                        write_uvarint(&mut self.w, zigzag(n));
                        self.repr = Repr::Some(n, k);
                    }
                    None => {
                        self.w.write_bits(0, 1);
                        self.w.write_bits_wide(bits, 64);
                        self.repr = Repr::None;
                        self.unpackable = true;
                    }
                }
                self.vbits = bits;
                self.t = s.t;
                self.count = 1;
                return Ok(());
            }
            1 => {
                let delta = self.check_t(s.t)?;
                write_uvarint(&mut self.w, delta as u64);
                self.delta = delta;
            }
            _ => {
                let delta = self.check_t(s.t)?;
                let dod = delta.wrapping_sub(self.delta);
                let b = bucket(&DOD_BITS, dod);
                write_prefix(&mut self.w, b);
                write_signed(&mut self.w, dod, DOD_BITS[b]);
                self.unpackable |= dod != 0;
                self.delta = delta;
            }
        }
        self.t = s.t;
        self.append_value(s.v, bits);
        self.count += 1;
        Ok(())
    }

    #[inline]
    fn check_t(&self, t: i64) -> Result<i64, ChunkError> {
        match t.checked_sub(self.t) {
            Some(d) if d > 0 => Ok(d),
            _ => Err(ChunkError::OutOfOrder { t, last: self.t }),
        }
    }

    #[inline]
    fn append_value(&mut self, v: f64, bits: u64) {
        if bits == self.vbits {
            self.w.write_bits(0, 1);
            return;
        }
        if let Repr::Unknown = self.repr {
            self.repr = match decimal_repr(f64::from_bits(self.vbits)) {
                Some((n, k)) => Repr::Some(n, k),
                None => Repr::None,
            };
        }
        if let Repr::Some(pn, k) = self.repr
            && let Some(n) = at_scale(v, k)
        {
            let d = n.wrapping_sub(pn);
            self.w.write_bits(0b10, 2);
            let b = bucket(&DEC_BITS, d);
            write_prefix(&mut self.w, b);
            write_signed(&mut self.w, d, DEC_BITS[b]);
            self.repr = Repr::Some(n, k);
            self.vbits = bits;
            return;
        }
        self.w.write_bits(0b11, 2);
        let x = bits ^ self.vbits;
        let lead = x.leading_zeros();
        let trail = x.trailing_zeros();
        let (plead, psig) = (u32::from(self.lead), u32::from(self.sig));
        if psig != 0 && lead >= plead && trail >= 64 - plead - psig {
            self.w.write_bits(0, 1);
            self.w.write_bits_wide(x >> (64 - plead - psig), psig);
        } else {
            let sig = 64 - lead - trail;
            self.w.write_bits(1, 1);
            self.w.write_bits(u64::from(lead), 6);
            self.w.write_bits(u64::from(sig - 1), 6);
            self.w.write_bits_wide(x >> trail, sig);
            // Both at most 64.
            self.lead = lead as u8;
            self.sig = sig as u8;
        }
        self.repr = Repr::Unknown;
        self.vbits = bits;
    }

    /// Seals a copy of the chunk: header, stream and CRC32.
    pub fn to_chunk(&self) -> Chunk {
        let header = [ENCODING_XOR, (self.count >> 8) as u8, self.count as u8];
        let (tail, tail_len) = self.w.tail();
        let tail = &tail[..tail_len];
        let words = self.w.whole_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(words);
        crc.update(tail);
        let crc = crc.finalize().to_be_bytes();
        // Written in place in the shared allocation (zeroed, then copied
        // a part at a time): no intermediate vector, no byte-wise loop.
        let len = HEADER_LEN + words.len() + tail.len() + CRC_LEN;
        let mut bytes: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        if let Some(buf) = Arc::get_mut(&mut bytes) {
            let (h, rest) = buf.split_at_mut(HEADER_LEN);
            let (w, rest) = rest.split_at_mut(words.len());
            let (t, c) = rest.split_at_mut(tail.len());
            h.copy_from_slice(&header);
            w.copy_from_slice(words);
            t.copy_from_slice(tail);
            c.copy_from_slice(&crc);
        }
        debug_assert_eq!(bytes.len(), HEADER_LEN + self.stream_len() + CRC_LEN);
        Chunk::from_sealed_unchecked(bytes)
    }

    /// Releases spare capacity once the chunk is full.
    pub fn shrink_to_fit(&mut self) {
        self.w.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_repr_is_exact_or_absent() {
        assert_eq!(decimal_repr(45.23), Some((4523, 2)));
        assert_eq!(decimal_repr(12.0), Some((12, 0)));
        assert_eq!(decimal_repr(0.0), Some((0, 0)));
        assert_eq!(decimal_repr(-0.0), None);
        assert_eq!(decimal_repr(f64::NAN), None);
        assert_eq!(decimal_repr(f64::INFINITY), None);
        assert_eq!(decimal_repr(1.0 / 3.0), None);
        assert_eq!(decimal_repr(1e300), None);
    }

    #[test]
    fn buckets_pick_the_smallest_width() {
        assert_eq!(bucket(&DOD_BITS, 0), 0);
        assert_eq!(bucket(&DOD_BITS, 15), 1);
        assert_eq!(bucket(&DOD_BITS, -16), 1);
        assert_eq!(bucket(&DOD_BITS, 16), 2);
        assert_eq!(bucket(&DOD_BITS, -256), 2);
        assert_eq!(bucket(&DOD_BITS, 40_000), 4);
        assert_eq!(bucket(&DOD_BITS, i64::MIN), 4);
        assert_eq!(bucket(&DEC_BITS, 7), 0);
        assert_eq!(bucket(&DEC_BITS, 8), 1);
    }

    #[test]
    fn out_of_order_is_refused() {
        let mut a = XorAppender::new();
        a.append(Sample::new(10, 1.0)).unwrap();
        assert_eq!(
            a.append(Sample::new(10, 2.0)),
            Err(ChunkError::OutOfOrder { t: 10, last: 10 })
        );
        assert_eq!(a.len(), 1);
    }
}
