//! The value codes of histogram chunks: one float field (count, zero
//! count, sum, a bucket) coded against its previous value. Layouts in
//! `FORMAT.md` ("Histogram chunks").
//!
//! Version 1 codes an exact decimal `n / 10^k` as the delta-of-delta of
//! `n`, anything else as its raw 64 bits. Version 2 adds, per sample, the
//! choice of coding the plain delta of `n` (cheaper when counts move by
//! small random amounts or stay put), and codes values without a short
//! decimal form as the XOR with the previous value (an unchanged float
//! costs one bit instead of 70).
//!
//! Version 3 adds, for the sum, the nanosecond code: a sum that moved by
//! whole nanoseconds (client libraries observe `time.Since(t).Seconds()`)
//! is the number of nanoseconds and the few ulps the float additions
//! rounded it by, not the XOR of two measured floats.

use super::bitstream::{BitReader, BitWriter};
use super::xor::{POW10, at_scale, decimal_repr};

/// How the decimal values of one sample are coded (version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The change of the step since the previous sample.
    Dod,
    /// The step itself.
    Delta,
}

/// Which code a field is read with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Code {
    V1,
    V2(Mode),
}

/// Coding state of one float field.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Field {
    /// The previous value as `n / 10^k`, and its step from the one before.
    n: i64,
    k: u8,
    delta: i64,
    /// Version 2: the previous value's bits, and whether it had no
    /// decimal form (then the next value is XOR-coded).
    bits: u64,
    float: bool,
    /// Version 2: the XOR window (leading zeros, significant bits; 0 bits
    /// means none yet).
    lead: u8,
    sig: u8,
}

/// Prefix of the escape from a decimal code.
const ESCAPE: u32 = 6;

/// Value bits of the signed code whose prefix is `i` ones and a zero
/// (0: the value is 0; the last: all 64 bits); six ones are the escape.
const SIGNED_BITS: [u32; 6] = [0, 4, 8, 16, 32, 64];

/// The shortest signed code that holds `v`: its index in `SIGNED_BITS`.
fn signed_code(v: i64) -> usize {
    // Bits of `v` in two's complement, its sign bit included.
    let bits = 65 - (v ^ (v >> 63)).leading_zeros();
    match v {
        0 => 0,
        _ => SIGNED_BITS.partition_point(|&b| b < bits),
    }
}

pub(super) fn put_signed(w: &mut BitWriter, v: i64) {
    let c = signed_code(v);
    let bits = SIGNED_BITS[c];
    w.write_bits(((1 << c) - 1) << 1, c as u32 + 1);
    w.write_bits_wide(
        v as u64 & u64::MAX.checked_shr(64 - bits).unwrap_or(0),
        bits,
    );
}

/// Bits `put_signed` writes for `v`.
fn signed_cost(v: i64) -> u32 {
    let c = signed_code(v);
    c as u32 + 1 + SIGNED_BITS[c]
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// A signed value, or `None` for the escape.
pub(super) fn get_signed(r: &mut BitReader<'_>) -> Option<i64> {
    match *SIGNED_BITS.get(r.read_unary(6) as usize)? {
        0 => Some(0),
        bits => Some(sign_extend(r.read_bits_wide(bits), bits)),
    }
}

/// Nanoseconds a second.
const NS: f64 = 1e9;
/// Largest rounding, in ulps, the nanosecond code carries.
const MAX_ULPS: i64 = 127;

/// Bits of `n` as zigzag, 0 for 0.
fn zigzag_len(n: i64) -> u32 {
    let z = ((n << 1) ^ (n >> 63)) as u64;
    64 - z.leading_zeros()
}

/// The float `prev + ns / 1e9`, moved by `ulps` in its bit pattern.
fn ns_value(prev: f64, ns: i64, ulps: i64) -> f64 {
    let r = prev + (ns as f64) / NS;
    f64::from_bits((r.to_bits() as i64).wrapping_add(ulps) as u64)
}

/// The nanosecond code of `v` after `prev`: whole nanoseconds and ulps
/// with `ns_value(prev, ns, ulps) == v` bit for bit, when small enough.
pub(super) fn ns_step(prev: f64, v: f64) -> Option<(i64, i64)> {
    let d = (v - prev) * NS;
    if !prev.is_finite() || !v.is_finite() || !d.is_finite() || d.abs() >= (1u64 << 53) as f64 {
        return None;
    }
    let ns = d.round() as i64;
    let r = prev + (ns as f64) / NS;
    let ulps = (v.to_bits() as i64).wrapping_sub(r.to_bits() as i64);
    (ulps.abs() <= MAX_ULPS && ns_value(prev, ns, ulps).to_bits() == v.to_bits())
        .then_some((ns, ulps))
}

/// Bits `put_ns` writes.
pub(super) fn ns_cost(ns: i64, ulps: i64) -> u32 {
    6 + zigzag_len(ns) + signed_cost(ulps)
}

/// The nanosecond code: the zigzag length of `ns` (6 bits), its zigzag
/// bits, then `signed ulps`.
pub(super) fn put_ns(w: &mut BitWriter, ns: i64, ulps: i64) {
    let len = zigzag_len(ns);
    w.write_bits(u64::from(len), 6);
    w.write_bits_wide(((ns << 1) ^ (ns >> 63)) as u64, len);
    put_signed(w, ulps);
}

/// Reads a nanosecond code after `prev`; `None` when damaged.
pub(super) fn get_ns(r: &mut BitReader<'_>, prev: f64) -> Option<f64> {
    let len = r.read_bits(6) as u32;
    let z = r.read_bits_wide(len);
    let ns = ((z >> 1) as i64) ^ -((z & 1) as i64);
    let ulps = get_signed(r)?;
    Some(ns_value(prev, ns, ulps))
}

impl Field {
    /// The previous value.
    pub(super) fn prev(&self) -> f64 {
        f64::from_bits(self.bits)
    }

    /// The decimal step `v` takes in `mode`, if it has the state's scale.
    #[inline]
    fn step(&self, v: f64) -> Option<i64> {
        if self.float {
            return None;
        }
        at_scale(v, self.k).map(|m| m.wrapping_sub(self.n))
    }

    /// What `put` writes for `v` in `mode` when it is a decimal code.
    #[inline]
    fn payload(&self, d: i64, mode: Mode) -> i64 {
        match mode {
            Mode::Dod => d.wrapping_sub(self.delta),
            Mode::Delta => d,
        }
    }

    /// Bits `put` writes for `v` in `mode`.
    pub(super) fn cost(&self, v: f64, mode: Mode) -> u32 {
        match self.step(v) {
            Some(d) => signed_cost(self.payload(d, mode)),
            None => (if self.float { 0 } else { ESCAPE }) + self.xor_cost(v.to_bits()),
        }
    }

    /// True when `v` is the next value without a word (buckets' "steady").
    pub(super) fn steady(&self, v: f64, mode: Mode) -> bool {
        self.step(v).is_some_and(|d| self.payload(d, mode) == 0)
    }

    /// Writes `v` (version 2).
    pub(super) fn put(&mut self, w: &mut BitWriter, v: f64, mode: Mode) {
        if let Some(d) = self.step(v) {
            put_signed(w, self.payload(d, mode));
            self.n = self.n.wrapping_add(d);
            self.delta = d;
            self.bits = v.to_bits();
            return;
        }
        if !self.float {
            w.write_bits(0b111111, ESCAPE);
        }
        self.put_xor(w, v.to_bits());
        self.settle(v);
    }

    /// Takes `v` as the next value without writing it (it is implied by
    /// the others).
    pub(super) fn set(&mut self, v: f64) {
        match self.step(v) {
            Some(d) => {
                self.n = self.n.wrapping_add(d);
                self.delta = d;
                self.bits = v.to_bits();
            }
            None => self.settle(v),
        }
    }

    /// Moves a steady field on by one sample (see [`Field::steady`]).
    #[inline]
    pub(super) fn advance(&mut self, mode: Mode) -> f64 {
        if mode == Mode::Dod {
            self.n = self.n.wrapping_add(self.delta);
        } else {
            self.delta = 0;
        }
        let v = (self.n as f64) / POW10[usize::from(self.k & 7)];
        self.bits = v.to_bits();
        v
    }

    /// Reads a value written with `code`.
    #[inline]
    pub(super) fn get(&mut self, r: &mut BitReader<'_>, code: Code) -> f64 {
        let mode = match code {
            Code::V1 => Mode::Dod,
            Code::V2(m) => m,
        };
        if !self.float {
            match get_signed(r) {
                Some(p) => {
                    self.delta = match mode {
                        Mode::Dod => self.delta.wrapping_add(p),
                        Mode::Delta => p,
                    };
                    self.n = self.n.wrapping_add(self.delta);
                    let v = (self.n as f64) / POW10[usize::from(self.k & 7)];
                    self.bits = v.to_bits();
                    return v;
                }
                None if matches!(code, Code::V1) => {
                    let v = f64::from_bits(r.read_bits_wide(64));
                    let (n, k) = decimal_repr(v).unwrap_or((0, 0));
                    *self = Field {
                        n,
                        k,
                        ..Field::default()
                    };
                    return v;
                }
                None => {}
            }
        }
        let v = f64::from_bits(self.get_xor(r));
        self.settle(v);
        v
    }

    /// The state after a XOR-coded `v`: decimal when `v` has a short
    /// decimal form, float otherwise.
    fn settle(&mut self, v: f64) {
        self.bits = v.to_bits();
        match decimal_repr(v) {
            Some((n, k)) => {
                (self.n, self.k, self.delta) = (n, k, 0);
                self.float = false;
            }
            None => self.float = true,
        }
    }

    fn xor_cost(&self, bits: u64) -> u32 {
        let x = bits ^ self.bits;
        if x == 0 {
            return 1;
        }
        let (lead, trail) = (x.leading_zeros().min(63), x.trailing_zeros());
        if self.fits_window(lead, trail) {
            2 + u32::from(self.sig)
        } else {
            2 + 6 + 6 + (64 - lead - trail)
        }
    }

    fn fits_window(&self, lead: u32, trail: u32) -> bool {
        self.sig != 0
            && lead >= u32::from(self.lead)
            && trail >= 64 - u32::from(self.lead) - u32::from(self.sig)
    }

    /// Gorilla's code: '0' the same bits; '10' the XOR inside the previous
    /// window; '11' leading zeros (6 bits), significant bits - 1 (6 bits)
    /// and those bits.
    fn put_xor(&mut self, w: &mut BitWriter, bits: u64) {
        let x = bits ^ self.bits;
        if x == 0 {
            w.write_bits(0, 1);
            return;
        }
        let (lead, trail) = (x.leading_zeros().min(63), x.trailing_zeros());
        if self.fits_window(lead, trail) {
            w.write_bits(0b10, 2);
            let shift = 64 - u32::from(self.lead) - u32::from(self.sig);
            w.write_bits_wide(x >> shift, u32::from(self.sig));
            return;
        }
        let sig = 64 - lead - trail;
        w.write_bits(0b11, 2);
        w.write_bits(u64::from(lead), 6);
        w.write_bits(u64::from(sig - 1), 6);
        w.write_bits_wide(x >> trail, sig);
        (self.lead, self.sig) = (lead as u8, sig as u8);
    }

    fn get_xor(&mut self, r: &mut BitReader<'_>) -> u64 {
        if !r.read_bit() {
            return self.bits;
        }
        if !r.read_bit() {
            if self.sig == 0 {
                // No window yet: only a damaged stream gets here.
                return self.bits;
            }
            let shift = 64 - u32::from(self.lead) - u32::from(self.sig);
            return self.bits ^ (r.read_bits_wide(u32::from(self.sig)) << shift);
        }
        let lead = r.read_bits(6) as u32;
        let sig = r.read_bits(6) as u32 + 1;
        let Some(shift) = 64u32.checked_sub(lead + sig) else {
            // Damaged: more bits than a word; read nothing more.
            return self.bits;
        };
        (self.lead, self.sig) = (lead as u8, sig as u8);
        self.bits ^ (r.read_bits_wide(sig) << shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each width's edges: the prefix and value bits as written before the
    /// codes came from one table, read back, and the cost counted right.
    #[test]
    fn signed_codes_keep_their_bits_at_every_width_edge() {
        let cases: [(i64, u128, u32); 12] = [
            (0, 0, 1),
            (7, 0b10_0111, 6),
            (-8, 0b10_1000, 6),
            (8, 0b110 << 8 | 8, 11),
            (-128, 0b110 << 8 | 0x80, 11),
            (128, 0b1110 << 16 | 128, 20),
            (-32768, 0b1110 << 16 | 0x8000, 20),
            (32768, 0b11110 << 32 | 32768, 37),
            (i64::from(i32::MIN), 0b11110 << 32 | 0x8000_0000, 37),
            (i64::from(i32::MAX) + 1, 0b111110 << 64 | 0x8000_0000, 70),
            (i64::MIN, 0b111110 << 64 | 1 << 63, 70),
            (i64::MAX, 0b111110 << 64 | (i64::MAX as u128), 70),
        ];
        for (v, bits, len) in cases {
            let mut w = BitWriter::default();
            put_signed(&mut w, v);
            assert_eq!(w.bit_len(), len as usize, "{v}");
            assert_eq!(signed_cost(v), len, "{v}");
            let mut bytes = Vec::new();
            w.copy_to(&mut bytes);
            let mut r = BitReader::new(&bytes);
            let written = u128::from(r.read_bits_wide(len.min(64))) << len.saturating_sub(64)
                | u128::from(r.read_bits_wide(len.saturating_sub(64)));
            assert_eq!(written, bits, "{v}");
            assert_eq!(get_signed(&mut BitReader::new(&bytes)), Some(v), "{v}");
        }
        assert_eq!(get_signed(&mut BitReader::new(&[0xfc])), None, "escape");
    }
}
