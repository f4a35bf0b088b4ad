//! Columns of fields in mixed radix, see `FORMAT.md` (`0x06`–`0x08`): a
//! column whose fields lie in `0..=max` stores `per` of them in one group
//! of ⌈log2 (max + 1)^per⌉ bits, so ±3 ms of jitter (7 values) costs 2.82
//! bits a field instead of 3, and a counter moving by 1..1500 10.6
//! instead of 11. A fixed bit width wastes up to a bit a field whenever
//! the spread is not a power of two.
//!
//! Why fractions: a group of more than one field is the binary fraction
//! `X / 2^B`, `N / r^per` rounded up, with `N` the fields as digits of
//! radix `r = max + 1` (the first most significant). Digit `j` is then
//! `⌊frac(X · r^j / 2^B) · r⌋`: multiplications only, no division on the
//! read path, and exact because `r^per ≤ 2^B` keeps the rounding error
//! below every digit's step. A group of one field is stored as it is, so
//! a column of `per = 1` is the fixed-width column of the older encodings.

use super::fields::{BitPush, push_fields, read_at};

/// Bits of a group of `per` fields below `max + 1`: the field's own width
/// for one, ⌈log2 (max + 1)^per⌉ for more; `None` when that exceeds 64.
fn group_bits(max: u64, per: u32) -> Option<u32> {
    if per == 1 {
        return Some(64 - max.leading_zeros());
    }
    let pow = (u128::from(max) + 1)
        .checked_pow(per)
        .filter(|p| *p <= 1 << 64)?;
    Some(128 - (pow - 1).leading_zeros())
}

/// Fields per group that cost the fewest bits a field for `max`; the
/// smallest of those tied (1 when `max + 1` is a power of two).
pub(crate) fn best_per(max: u64) -> u32 {
    if max == 0 || max == u64::MAX || (max + 1).is_power_of_two() {
        return 1;
    }
    let r = u128::from(max) + 1;
    let (mut best, mut best_bits) = (1u32, 64 - max.leading_zeros());
    let mut pow = r;
    for per in 2..=64u32 {
        pow = match pow.checked_mul(r) {
            Some(p) if p <= 1 << 64 => p,
            _ => break,
        };
        let bits = 128 - (pow - 1).leading_zeros();
        // bits / per < best_bits / best, without division.
        if u64::from(bits) * u64::from(best) < u64::from(best_bits) * u64::from(per) {
            (best, best_bits) = (per, bits);
        }
    }
    best
}

/// The shape of one column: how many fields, below which bound, in groups
/// of how many. Checked when made, so reads never fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Column {
    /// Every field is at most this (a `per = 1` column may hold more, up
    /// to its width; only the decoder's output bound matters there).
    max: u64,
    /// Fields per full group.
    per: u32,
    /// Bits of a full group.
    bits: u32,
    /// Fields in the column.
    n: usize,
    /// Groups in the column (kept: reads ask for every group they load).
    groups: usize,
    /// Fields and bits of the last group (it may be short).
    last_per: u32,
    last_bits: u32,
}

impl Column {
    /// `n` fields in `0..=max`, `per` to a group; `None` when `per` is 0 or
    /// a group would take more than 64 bits.
    pub(crate) fn new(max: u64, per: u32, n: usize) -> Option<Column> {
        if per == 0 {
            return None;
        }
        let bits = group_bits(max, per)?;
        let tail = (n % per as usize) as u32;
        let (last_per, last_bits) = if tail == 0 {
            (per, bits)
        } else {
            (tail, group_bits(max, tail)?)
        };
        Some(Column {
            max,
            per,
            bits,
            n,
            groups: n.div_ceil(per as usize),
            last_per,
            last_bits,
        })
    }

    /// `n` fields of `w` (≤ 64) bits each, the older encodings' column.
    pub(crate) fn fixed(w: u32, n: usize) -> Column {
        let max = if w == 0 {
            0
        } else {
            u64::MAX >> (64 - w.min(64))
        };
        Column {
            max,
            per: 1,
            bits: w.min(64),
            n,
            groups: n,
            last_per: 1,
            last_bits: w.min(64),
        }
    }

    /// `n` fields in `0..=max`, in their cheapest grouping.
    pub(crate) fn best(max: u64, n: usize) -> Column {
        Column::new(max, best_per(max), n).unwrap_or_else(|| Column::fixed(64, n))
    }

    /// The bound every field is within.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The largest field a read can return: anything the width of a
    /// group of one holds (a group of several yields at most `max`; a
    /// short last group of one field is stored as it is).
    pub(crate) fn limit(&self) -> u64 {
        if self.per == 1 {
            mask(self.bits)
        } else {
            mask(64 - self.max.leading_zeros())
        }
    }

    /// Fields in the column.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Bits a field costs, rounded up.
    pub(crate) fn field_bits(&self) -> u32 {
        self.bits.div_ceil(self.per)
    }

    /// Fields per group.
    pub(crate) fn per(&self) -> u32 {
        self.per
    }

    /// True when every field is 0 and takes no bits.
    pub(crate) fn is_empty_width(&self) -> bool {
        self.bits == 0
    }

    /// Bits the column takes.
    pub(crate) fn bit_len(&self) -> usize {
        match self.groups {
            0 => 0,
            g => (g - 1) * self.bits as usize + self.last_bits as usize,
        }
    }

    /// Bytes the column takes, the last one zero-padded.
    pub(crate) fn byte_len(&self) -> usize {
        self.bit_len().div_ceil(8)
    }

    /// Fields and bits of group `g`.
    #[inline(always)]
    fn group_shape(&self, g: usize) -> (u32, u32) {
        if g + 1 >= self.groups {
            (self.last_per, self.last_bits)
        } else {
            (self.per, self.bits)
        }
    }

    /// Appends the column's fields (exactly `n`, each at most `max`) after
    /// `body`'s bytes, most-significant bit first, zero-padded.
    pub(crate) fn push(&self, body: &mut Vec<u8>, fields: impl Iterator<Item = u64>) {
        if self.per == 1 {
            return push_fields(body, fields.take(self.n), self.bits);
        }
        let r = u128::from(self.max) + 1;
        let full = r.pow(self.per);
        let mut w = BitPush::default();
        let (mut num, mut len) = (0u128, 0u32);
        for f in fields.take(self.n) {
            debug_assert!(f <= self.max, "field {f} above the column's {}", self.max);
            num = num * r + u128::from(f.min(self.max));
            len += 1;
            if len == self.per {
                w.push(body, fraction(num, full, self.bits), self.bits);
                (num, len) = (0, 0);
            }
        }
        if len == 1 {
            w.push(body, num as u64, self.last_bits);
        } else if len > 1 {
            w.push(
                body,
                fraction(num, r.pow(len), self.last_bits),
                self.last_bits,
            );
        }
        w.finish(body);
    }

    /// Field `i` (< n), in any order.
    #[inline]
    pub(crate) fn get(&self, bytes: &[u8], i: usize) -> u64 {
        if self.per == 1 {
            return read_at(bytes, i * self.bits as usize, self.bits);
        }
        let per = self.per as usize;
        let (g, j) = (i / per, (i % per) as u32);
        let (len, bits) = self.group_shape(g);
        let x = read_at(bytes, g * self.bits as usize, bits);
        if len == 1 {
            return x;
        }
        let r = self.max + 1;
        let y = x.wrapping_mul(r.wrapping_pow(j)) & mask(bits);
        digit(y, r, bits).0
    }

    /// A reader of the fields from `i` on, one after another, in
    /// `bytes` (the column's).
    pub(crate) fn cursor(&self, bytes: &[u8], i: usize) -> Cursor {
        let per = self.per as usize;
        let mut c = Cursor {
            x: 0,
            left: 0,
            bits: 0,
            raw: true,
            group: i / per,
        };
        let skip = i % per;
        if skip > 0 {
            c.load(self, bytes);
            for _ in 0..skip {
                c.next(self, bytes);
            }
        }
        c
    }
}

/// A group's `X`: `⌈num · 2^bits / pow⌉`, with `num < pow ≤ 2^64` and
/// `bits ≤ 64`, so nothing overflows and `X < 2^bits`.
fn fraction(num: u128, pow: u128, bits: u32) -> u64 {
    (num << bits).div_ceil(pow) as u64
}

#[inline(always)]
fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The next digit of a group's fraction `x` of `bits` bits, and what is
/// left of the fraction.
#[inline(always)]
fn digit(x: u64, r: u64, bits: u32) -> (u64, u64) {
    let p = u128::from(x) * u128::from(r);
    ((p >> bits) as u64, p as u64 & mask(bits))
}

/// Reads a column's fields in order: one group load per `per` fields.
/// Holds no reference: each call takes the column and its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    /// The current group's fraction (or field, when `raw`).
    x: u64,
    /// The next group to load.
    group: usize,
    /// Fields of the current group not yet read.
    left: u32,
    bits: u32,
    raw: bool,
}

impl Cursor {
    #[inline(always)]
    fn load(&mut self, col: &Column, bytes: &[u8]) {
        let (len, bits) = col.group_shape(self.group);
        self.x = read_at(bytes, self.group * col.bits as usize, bits);
        (self.left, self.bits, self.raw) = (len.max(1), bits, len <= 1);
        self.group += 1;
    }

    /// The next field of `col`, stored in `bytes`; zeros past its end.
    #[inline(always)]
    pub(crate) fn next(&mut self, col: &Column, bytes: &[u8]) -> u64 {
        if self.left == 0 {
            self.load(col, bytes);
        }
        self.left -= 1;
        if self.raw {
            return self.x;
        }
        let (d, rest) = digit(self.x, col.max + 1, self.bits);
        self.x = rest;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(max: u64, fields: &[u64]) -> Result<(), TestCaseError> {
        let col = Column::best(max, fields.len());
        let mut body = Vec::new();
        col.push(&mut body, fields.iter().copied());
        prop_assert_eq!(body.len(), col.byte_len());
        for (i, &f) in fields.iter().enumerate() {
            prop_assert_eq!(col.get(&body, i), f, "get {}", i);
        }
        for start in [0, 1, fields.len() / 2, fields.len().saturating_sub(1)] {
            let mut c = col.cursor(&body, start);
            for (i, &f) in fields.iter().enumerate().skip(start) {
                prop_assert_eq!(c.next(&col, &body), f, "cursor from {} at {}", start, i);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn fields_round_trip_at_any_bound(
            max in prop_oneof![0u64..20, 0u64..2000, any::<u64>(), Just(u64::MAX), Just((1 << 32) - 1)],
            seeds in prop::collection::vec(any::<u64>(), 0..200),
        ) {
            let fields: Vec<u64> = seeds
                .iter()
                .map(|s| if max == u64::MAX { *s } else { s % (max + 1) })
                .collect();
            round_trip(max, &fields)?;
        }

        #[test]
        fn extreme_fields_round_trip(max in 1u64..100_000, n in 1usize..70, top in any::<bool>()) {
            let fields = vec![if top { max } else { 0 }; n];
            round_trip(max, &fields)?;
        }
    }

    #[test]
    fn a_group_costs_the_bits_of_its_range() {
        // ±3 ms jitter: 7 values, 21 to 59 bits.
        assert_eq!(best_per(6), 21);
        assert_eq!(group_bits(6, 21), Some(59));
        // Powers of two gain nothing: one field a group, as before.
        assert_eq!(best_per(7), 1);
        assert_eq!(best_per(0), 1);
        assert_eq!(best_per(u64::MAX), 1);
        let jitter = Column::best(6, 2047);
        assert!(
            jitter.bit_len() < 2047 * 3 * 95 / 100,
            "{}",
            jitter.bit_len()
        );
        // A counter moving by 1..=1500: 5 in 53 bits, and one more alone.
        assert_eq!(best_per(1499), 5);
        assert_eq!(Column::best(1499, 6).bit_len(), 64);
    }

    #[test]
    fn the_best_grouping_is_the_cheapest_a_field() {
        let slow = |max: u64| {
            (1..=64u32)
                .filter_map(|per| group_bits(max, per).map(|b| (per, b)))
                .min_by(|a, b| {
                    (u64::from(a.1) * u64::from(b.0)).cmp(&(u64::from(b.1) * u64::from(a.0)))
                })
                .map(|(per, _)| per)
        };
        for max in (0..3000).chain([u64::MAX, u64::MAX - 1, 1 << 32, (1 << 32) - 1, 1 << 40]) {
            assert_eq!(Some(best_per(max)), slow(max), "{max}");
        }
    }

    #[test]
    fn a_bad_shape_is_refused() {
        assert!(Column::new(6, 0, 10).is_none());
        assert!(Column::new(6, 23, 10).is_none(), "7^23 > 2^64");
        assert!(Column::new(u64::MAX, 2, 10).is_none());
        assert!(Column::new(u64::MAX, 1, 10).is_some());
    }
}
