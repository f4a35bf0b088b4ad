//! Decoding of the XOR encoding (`0x01`), one sample after another.

use super::ChunkError;
use super::bitstream::BitReader;
use super::xor::{DEC_BITS, DOD_BITS, POW10, decimal_repr};
use crate::encoding::unzigzag;
use crate::model::sample::Sample;

/// Iterates an XOR chunk's samples in time order.
///
/// Contract: `next` yields samples with strictly increasing `t`. Corrupt
/// bytes never panic: iteration stops early and [`XorIter::error`]
/// reports why, so check it once after the loop (as with Prometheus's
/// `Err()`); a clean end leaves it `None`.
#[derive(Debug, Clone)]
pub(crate) struct XorIter<'a> {
    r: BitReader<'a>,
    count: u16,
    read: u16,
    t: i64,
    delta: i64,
    vbits: u64,
    /// Decimal form of the previous value: valid, or to compute on demand.
    dec_n: i64,
    dec_k: u8,
    dec_valid: bool,
    lead: u32,
    sig: u32,
    err: Option<ChunkError>,
}

impl<'a> XorIter<'a> {
    pub(crate) fn new(stream: &'a [u8], count: u16) -> Self {
        XorIter {
            r: BitReader::new(stream),
            count,
            read: 0,
            t: 0,
            delta: 0,
            vbits: 0,
            dec_n: 0,
            dec_k: 0,
            dec_valid: false,
            lead: 0,
            sig: 0,
            err: None,
        }
    }

    /// Why iteration stopped early, if it did.
    pub(crate) fn error(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    /// Consumes the iterator into `Ok(())` or the error that stopped it.
    pub(crate) fn finish(self) -> Result<(), ChunkError> {
        self.err.map_or(Ok(()), Err)
    }

    /// Samples not yet returned (as the header claims).
    pub(crate) fn remaining(&self) -> usize {
        if self.err.is_some() {
            0
        } else {
            usize::from(self.count - self.read)
        }
    }

    /// Advances to the first sample with timestamp `>= t` and returns it.
    ///
    /// If the last returned sample already qualifies it is returned again;
    /// seeking never moves backwards.
    pub(crate) fn seek(&mut self, t: i64) -> Option<Sample> {
        if self.read > 0 && self.err.is_none() && self.t >= t {
            return Some(Sample::new(self.t, f64::from_bits(self.vbits)));
        }
        self.by_ref().find(|s| s.t >= t)
    }

    #[cold]
    fn fail(&mut self, reason: &'static str) -> Option<Sample> {
        self.err = Some(ChunkError::Corrupt {
            sample: self.read,
            reason,
        });
        self.count = self.read;
        None
    }

    /// [`crate::encoding`]'s varint, read through the bit reader: the
    /// stream is not byte-aligned, so the slice decoder cannot serve, and
    /// this loop is on the per-sample decode path.
    #[inline]
    fn read_uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.r.read_bits(8);
            if shift == 63 && b > 1 {
                return None;
            }
            x |= (b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(x);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }

    #[inline]
    fn read_signed(&mut self, bits: u32) -> i64 {
        match bits {
            0 => 0,
            64 => self.r.read_bits_wide(64) as i64,
            _ => {
                let raw = self.r.read_bits_wide(bits);
                ((raw << (64 - bits)) as i64) >> (64 - bits)
            }
        }
    }

    fn first(&mut self) -> Option<Sample> {
        let Some(zt) = self.read_uvarint() else {
            return self.fail("bad first timestamp varint");
        };
        self.t = unzigzag(zt);
        if self.r.read_bit() {
            let k = self.r.read_bits(3) as u8;
            let Some(zn) = self.read_uvarint() else {
                return self.fail("bad first value varint");
            };
            let n = unzigzag(zn);
            self.vbits = ((n as f64) / POW10[usize::from(k)]).to_bits();
            self.dec_n = n;
            self.dec_k = k;
            self.dec_valid = true;
        } else {
            self.vbits = self.r.read_bits_wide(64);
            self.dec_valid = false;
        }
        Some(Sample::new(self.t, f64::from_bits(self.vbits)))
    }

    #[inline]
    fn value(&mut self) -> Result<(), &'static str> {
        match self.r.read_unary(2) {
            0 => {}
            1 => {
                let b = self.r.read_unary(4) as usize;
                let d = self.read_signed(DEC_BITS[b]);
                if !self.dec_valid {
                    match decimal_repr(f64::from_bits(self.vbits)) {
                        Some((n, k)) => {
                            self.dec_n = n;
                            self.dec_k = k;
                        }
                        None => return Err("decimal delta after a non-decimal value"),
                    }
                }
                let n = self.dec_n.wrapping_add(d);
                self.dec_n = n;
                self.dec_valid = true;
                self.vbits = ((n as f64) / POW10[usize::from(self.dec_k & 7)]).to_bits();
            }
            _ => {
                if self.r.read_bit() {
                    let lead = self.r.read_bits(6) as u32;
                    let sig = self.r.read_bits(6) as u32 + 1;
                    if lead + sig > 64 {
                        return Err("xor window wider than 64 bits");
                    }
                    self.lead = lead;
                    self.sig = sig;
                } else if self.sig == 0 {
                    return Err("xor window reused before one was set");
                }
                let x = self.r.read_bits_wide(self.sig) << (64 - self.lead - self.sig);
                self.vbits ^= x;
                self.dec_valid = false;
            }
        }
        Ok(())
    }
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.read >= self.count {
            return None;
        }
        let s = match self.read {
            0 => self.first()?,
            1 => {
                let Some(d) = self.read_uvarint() else {
                    return self.fail("bad first delta varint");
                };
                self.delta = d as i64;
                self.step()?
            }
            _ => {
                if let Some(s) = self.next_fast() {
                    return Some(s);
                }
                // A failed fast step leaves `read == count`.
                if self.read >= self.count {
                    return None;
                }
                return self.next_general();
            }
        };
        self.counted(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining()))
    }
}

/// A decimal delta's header length (`10` and the bucket prefix) and width,
/// indexed by the value's first five bits, for the first three buckets;
/// `(0, 0)` for everything else (the general path).
const DEC_FAST: [(u32, u32); 32] = {
    let mut t = [(0, 0); 32];
    let mut i = 0;
    while i < 32 {
        t[i] = match i {
            0b10000..=0b10011 => (3, DEC_BITS[0]),
            0b10100..=0b10101 => (4, DEC_BITS[1]),
            0b10110 => (5, DEC_BITS[2]),
            _ => (0, 0),
        };
        i += 1;
    }
    t
};

impl XorIter<'_> {
    /// Appends every remaining sample to `out` in one tight loop (no
    /// per-sample `Option` hand-off through an iterator adapter), then
    /// reports how decoding ended as [`XorIter::finish`] does.
    pub(crate) fn decode_into(mut self, out: &mut Vec<Sample>) -> Result<(), ChunkError> {
        out.reserve(self.remaining());
        while self.read < 2 {
            match self.next() {
                Some(s) => out.push(s),
                None => return self.finish(),
            }
        }
        while self.read < self.count {
            // Scale 0 (integers) gets its own loop: otherwise the compiler
            // divides by 1.0 for every sample, which costs a third of the
            // decoding time.
            if self.dec_k & 7 == 0 {
                self.fast_run::<true>(out);
            } else {
                self.fast_run::<false>(out);
            }
            // Stopped at a sample the fast path does not take, or failed
            // (which leaves `read == count`).
            if self.read >= self.count {
                break;
            }
            match self.next_general() {
                Some(s) => out.push(s),
                None => break,
            }
        }
        self.finish()
    }

    /// Appends the samples [`XorIter::next_fast`] would decode, until one
    /// needs the general path or the chunk ends. The same steps, with the
    /// state in locals so the loop runs in registers, and the decimal scale
    /// looked up once (scale 0, integers, needs no division at all).
    #[inline]
    fn fast_run<const INTEGERS: bool>(&mut self, out: &mut Vec<Sample>) {
        const FAST_BITS: u32 = 2 + DOD_BITS[1] + 2 + 3 + DEC_BITS[2];
        let mut r = self.r.clone();
        let (mut t, mut delta, mut dec_n, mut vbits) = (self.t, self.delta, self.dec_n, self.vbits);
        let (mut read, count, dec_valid) = (self.read, self.count, self.dec_valid);
        let k = usize::from(self.dec_k & 7);
        let scale = POW10[k];
        let mut overrun = false;
        while read < count {
            r.prepare(FAST_BITS);
            let top = r.peek();
            let (dod, mut used) = if top >> 63 == 0 {
                (0, 1)
            } else if top >> 62 == 0b10 {
                (((top << 2) as i64) >> (64 - DOD_BITS[1]), 2 + DOD_BITS[1])
            } else {
                break;
            };
            let nd = delta.wrapping_add(dod);
            if nd <= 0 {
                break;
            }
            let Some(nt) = t.checked_add(nd) else {
                break;
            };
            let v = top << used;
            if v >> 63 == 0 {
                used += 1;
            } else if let (hdr @ 1.., width) = DEC_FAST[(v >> 59) as usize]
                && dec_valid
            {
                let d = ((v << hdr) as i64) >> (64 - width);
                used += hdr + width;
                dec_n = dec_n.wrapping_add(d);
                let n = dec_n as f64;
                vbits = if INTEGERS { n } else { n / scale }.to_bits();
            } else {
                break;
            }
            r.consume(used);
            if r.overrun() {
                overrun = true;
                break;
            }
            (t, delta) = (nt, nd);
            read += 1;
            out.push(Sample::new(t, f64::from_bits(vbits)));
        }
        self.r = r;
        (self.t, self.delta, self.dec_n, self.vbits, self.read) = (t, delta, dec_n, vbits, read);
        if overrun {
            self.fail("stream ends before the sample count");
        }
    }

    /// A sample after the second on the general path (any bucket).
    #[inline]
    fn next_general(&mut self) -> Option<Sample> {
        let b = self.r.read_unary(4) as usize;
        let dod = self.read_signed(DOD_BITS[b]);
        self.delta = self.delta.wrapping_add(dod);
        let s = self.step()?;
        self.counted(s)
    }

    /// Accepts a decoded sample unless the stream ran out under it.
    #[inline]
    fn counted(&mut self, s: Sample) -> Option<Sample> {
        if self.r.overrun() {
            return self.fail("stream ends before the sample count");
        }
        self.read += 1;
        Some(s)
    }
}

impl XorIter<'_> {
    /// The common samples decoded from one peek: dod in the first two
    /// buckets, then an unchanged value or a small decimal delta (other
    /// values continue on the general path after the timestamp). `None`
    /// leaves the reader untouched for the general path, which also reports
    /// any corruption.
    #[inline(always)]
    fn next_fast(&mut self) -> Option<Sample> {
        // Longest fast sample: `10` + short dod, then `10` + `110` + 12 bits.
        const FAST_BITS: u32 = 2 + DOD_BITS[1] + 2 + 3 + DEC_BITS[2];
        self.r.prepare(FAST_BITS);
        let top = self.r.peek();
        let (dod, mut used) = if top >> 63 == 0 {
            (0, 1)
        } else if top >> 62 == 0b10 {
            (((top << 2) as i64) >> (64 - DOD_BITS[1]), 2 + DOD_BITS[1])
        } else {
            return None;
        };
        let delta = self.delta.wrapping_add(dod);
        if delta <= 0 {
            return None;
        }
        let t = self.t.checked_add(delta)?;
        let v = top << used;
        let mut general = false;
        if v >> 63 == 0 {
            used += 1;
        } else if v >> 62 == 0b10 && self.dec_valid && (v << 2).leading_ones() < 3 {
            // Table lookups rather than a match: bucket sizes of a random
            // walk are unpredictable.
            const PLEN: [u32; 3] = [1, 2, 3];
            let b = (v << 2).leading_ones() as usize;
            let (plen, width) = (PLEN[b], DEC_BITS[b]);
            let d = ((v << (2 + plen)) as i64) >> (64 - width);
            used += 2 + plen + width;
            self.dec_n = self.dec_n.wrapping_add(d);
            self.vbits = ((self.dec_n as f64) / POW10[usize::from(self.dec_k & 7)]).to_bits();
        } else {
            general = true;
        }
        self.r.consume(used);
        self.t = t;
        self.delta = delta;
        if general && let Err(reason) = self.value() {
            return self.fail(reason);
        }
        if self.r.overrun() {
            return self.fail("stream ends before the sample count");
        }
        self.read += 1;
        Some(Sample::new(self.t, f64::from_bits(self.vbits)))
    }

    #[inline]
    fn step(&mut self) -> Option<Sample> {
        if self.delta <= 0 {
            return self.fail("timestamps not increasing");
        }
        let Some(t) = self.t.checked_add(self.delta) else {
            return self.fail("timestamp overflow");
        };
        self.t = t;
        if let Err(reason) = self.value() {
            return self.fail(reason);
        }
        Some(Sample::new(self.t, f64::from_bits(self.vbits)))
    }
}
