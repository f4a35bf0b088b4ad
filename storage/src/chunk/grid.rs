//! The grid encodings (`0x03`–`0x08`), see `FORMAT.md`: the packed
//! encoding generalised for cold data. Timestamps are offsets from an
//! interval grid (scrape jitter of ±3 ms costs 2.8–3 bits, an aligned chunk
//! none), and value differences are `base + g · field` with `g` the
//! greatest common divisor of their spread (memory in whole pages moves in
//! steps of 4096); each column at one fixed width, or in mixed radix
//! (`radix.rs`) when that is smaller; the values dense, or sparse for
//! series that rarely move.
//!
//! Why: compaction re-encodes whole runs of up to 2048 samples, where a
//! column sized to its spread sits close to the data's entropy while the XOR
//! stream spends prefix bits on every sample; decoding stays branch-free
//! per field and random access stays O(1) for time.

use super::fields::push_fields;
use super::packed::decimals;
use super::radix::Column;
use super::{
    Chunk, ENCODING_GRID, ENCODING_GRID_RADIX, ENCODING_SPARSE_GAPS, ENCODING_SPARSE_GRID, gaps,
};
use crate::encoding::{put_uvarint, zigzag};
use crate::model::sample::Sample;
use std::sync::Arc;

/// Binary GCD: shifts and subtractions, no division.
fn gcd(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        return a | b;
    }
    let shift = (a | b).trailing_zeros();
    let (mut a, mut b) = (a >> a.trailing_zeros(), b);
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            (a, b) = (b, a);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// The greatest common divisor of `xs` (0 when all are 0); stops reading
/// once it is 1, as moving values reach within a few fields.
fn gcd_all(xs: impl Iterator<Item = u64>) -> u64 {
    let mut g = 0;
    for x in xs {
        if g == 1 {
            break;
        }
        g = gcd(g, x);
    }
    g
}

/// Bits to hold `x`.
fn width(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Encodes `samples` (sorted, distinct timestamps) as a grid chunk if they
/// qualify (at least two, every value a decimal of one scale, time offsets
/// within 63 bits), else `None`.
pub(crate) fn encode(samples: &[Sample]) -> Option<Chunk> {
    encode_with_width(samples).map(|(c, _)| c)
}

/// [`encode`], with the bits each sample costs (time and value fields).
pub(crate) fn encode_with_width(samples: &[Sample]) -> Option<(Chunk, u32)> {
    encode_as(samples, Form::Any)
}

/// [`encode`] without the gap list (`0x04` where `0x05` would be smaller),
/// to compare the two.
#[cfg(test)]
pub(crate) fn encode_bitmap(samples: &[Sample]) -> Option<Chunk> {
    encode_as(samples, Form::NoGaps).map(|(c, _)| c)
}

/// [`encode`] in the fixed-width columns of `0x03`–`0x05` only, as
/// binaries before the mixed-radix columns wrote.
#[cfg(test)]
pub(crate) fn encode_fixed(samples: &[Sample]) -> Option<Chunk> {
    encode_as(samples, Form::Fixed).map(|(c, _)| c)
}

/// Which grid layouts an encode may choose from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Any,
    #[cfg(test)]
    NoGaps,
    #[cfg(test)]
    Fixed,
}

impl Form {
    fn gaps(self) -> bool {
        #[cfg(test)]
        if self == Form::NoGaps {
            return false;
        }
        true
    }
}

/// One way to lay a run's fields out, and its size.
struct Layout<'s> {
    radix: bool,
    tcol: Column,
    vcol: Column,
    sparse: Option<&'s Sparse>,
    /// Bytes of fields, map and the column shapes beyond a width byte.
    len: usize,
}

fn uvarint_len(x: u64) -> usize {
    (64 - (x | 1).leading_zeros() as usize).div_ceil(7)
}

/// The smallest layout with fixed-width (`radix` false) or mixed-radix
/// columns: dense, or sparse when that is smaller.
fn layout(radix: bool, n: usize, tmax: u64, vmax: u64, sparse: Option<&Sparse>) -> Layout<'_> {
    let col = |max: u64, n: usize| {
        if radix {
            Column::best(max, n)
        } else {
            Column::fixed(width(max), n)
        }
    };
    let tcol = col(tmax, n);
    let dense = col(vmax, n);
    let mut best = Layout {
        radix,
        tcol,
        vcol: dense,
        sparse: None,
        len: tcol.byte_len() + dense.byte_len(),
    };
    if let Some(s) = sparse {
        // Stored fields are never 0 (zigzag of a step that is not the
        // base): mixed radix stores them less one.
        let vcol = col(s.max.saturating_sub(u64::from(radix)), s.positions.len());
        let len = tcol.byte_len() + s.map_len() + vcol.byte_len();
        if len < best.len {
            (best.vcol, best.sparse, best.len) = (vcol, Some(s), len);
        }
    }
    if radix {
        best.len += uvarint_len(tmax) + uvarint_len(best.vcol.max());
    }
    best
}

/// Writes a column's shape: its width byte, or fields per group and the
/// largest field.
fn put_shape(body: &mut Vec<u8>, col: &Column, radix: bool) {
    if radix {
        body.push(col.per() as u8);
        put_uvarint(body, col.max());
    } else {
        body.push(col.field_bits() as u8);
    }
}

fn encode_as(samples: &[Sample], form: Form) -> Option<(Chunk, u32)> {
    let count = u16::try_from(samples.len()).ok()?;
    let (first, last) = (samples.first()?, samples.last()?);
    let steps = i128::from(count).checked_sub(1).filter(|s| *s > 0)?;
    let span = i128::from(last.t) - i128::from(first.t);
    let d = i64::try_from((span + steps / 2) / steps)
        .ok()
        .filter(|d| *d > 0)?;
    // Offsets from the grid: |offset| ≤ span, so i64 arithmetic is exact
    // unless the span itself overflows, which `d` being an i64 rules out
    // only together with the checked bounds below.
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut grid_t = first.t;
    for s in &samples[1..] {
        grid_t = grid_t.checked_add(d)?;
        let o = s.t.checked_sub(grid_t)?;
        lo = lo.min(o);
        hi = hi.max(o);
    }
    let tbase = lo;
    let tmax = hi.checked_sub(lo)? as u64;
    if width(tmax) > 63 {
        return None;
    }
    let (ns, k) = decimals(samples.iter().map(|s| s.v))?;
    // |n| < 2^51, so differences and their spread fit.
    let (mut base, mut top) = (i64::MAX, i64::MIN);
    for w in ns.windows(2) {
        let dn = w[1] - w[0];
        base = base.min(dn);
        top = top.max(dn);
    }
    let g = if top == base {
        1
    } else {
        gcd_all(ns.windows(2).map(|w| (w[1] - w[0] - base) as u64)).max(1)
    };
    let vmax = (top - base) as u64 / g;
    // Equal differences take no bits dense: no sparse form is smaller.
    let sparse = (vmax > 0)
        .then(|| sparse_fields(&ns, form.gaps()))
        .flatten();
    let n = samples.len() - 1;
    let fixed = layout(false, n, tmax, vmax, sparse.as_ref());
    let chosen = match form {
        Form::Any => Some(layout(true, n, tmax, vmax, sparse.as_ref()))
            .filter(|r| r.len < fixed.len)
            .unwrap_or(fixed),
        #[cfg(test)]
        _ => fixed,
    };
    let Layout {
        radix,
        tcol,
        vcol,
        sparse: use_sparse,
        len,
    } = chosen;
    let mut body = Vec::with_capacity(48 + len);
    let kind = match use_sparse {
        Some(Sparse { gaps: Some(_), .. }) => ENCODING_SPARSE_GAPS,
        Some(_) => ENCODING_SPARSE_GRID,
        None => ENCODING_GRID,
    };
    body.push(if radix {
        kind + (ENCODING_GRID_RADIX - ENCODING_GRID)
    } else {
        kind
    });
    body.extend_from_slice(&count.to_be_bytes());
    put_uvarint(&mut body, zigzag(first.t));
    put_uvarint(&mut body, d as u64);
    put_uvarint(&mut body, zigzag(tbase));
    put_shape(&mut body, &tcol, radix);
    body.push(k);
    put_uvarint(&mut body, zigzag(ns[0]));
    let t0 = first.t;
    let (vbase, vg) = use_sparse.map_or((base, g), |s| (s.base, s.g));
    put_uvarint(&mut body, zigzag(vbase));
    put_uvarint(&mut body, vg);
    put_shape(&mut body, &vcol, radix);
    if let Some(Sparse {
        gaps: Some((r, _)),
        positions,
        ..
    }) = use_sparse
    {
        put_uvarint(&mut body, positions.len() as u64);
        body.push(*r);
    }
    tcol.push(
        &mut body,
        samples[1..]
            .iter()
            .enumerate()
            // Exact: the true offset is in [0, 2^63) (checked above).
            .map(|(i, s)| {
                s.t.wrapping_sub(t0)
                    .wrapping_sub(d.wrapping_mul(i as i64 + 1))
                    .wrapping_sub(tbase) as u64
            }),
    );
    if let Some(s) = use_sparse {
        match s.gaps {
            Some((r, _)) => gaps::push(&mut body, &s.positions, r),
            None => push_fields(
                &mut body,
                ns.windows(2).map(|p| u64::from(p[1] - p[0] != s.base)),
                1,
            ),
        }
        vcol.push(
            &mut body,
            ns.windows(2)
                .filter(|p| p[1] - p[0] != s.base)
                .map(|p| zigzag((p[1] - p[0] - s.base) / s.g as i64) - u64::from(radix)),
        );
    } else {
        vcol.push(
            &mut body,
            ns.windows(2).map(|p| (p[1] - p[0] - base) as u64 / g),
        );
    }
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    let bits = tcol.field_bits() + vcol.field_bits();
    Some((Chunk::from_sealed_unchecked(Arc::from(body)), bits))
}

/// The sparse form of a run's value differences: the most common one as
/// the base, a map of the others (a bitmap, or their positions as gaps
/// when that is smaller), and those as zigzag multiples of their greatest
/// common step.
struct Sparse {
    base: i64,
    g: u64,
    /// The largest stored field.
    max: u64,
    /// Fields whose difference is not `base`.
    positions: Vec<usize>,
    /// Bytes of the bitmap.
    bitmap: usize,
    /// The gap list's Rice parameter and bytes (with its count and
    /// parameter), when smaller than the bitmap.
    gaps: Option<(u8, usize)>,
}

impl Sparse {
    /// Bytes of the map: bitmap or gap list.
    fn map_len(&self) -> usize {
        self.gaps.map_or(self.bitmap, |(_, len)| len)
    }
}

/// The value more than half of `xs` hold, if one does (then it is the
/// only most common one): one pass to find the candidate, one to count.
pub(super) fn majority(xs: &[i64]) -> Option<i64> {
    let (mut candidate, mut lead) = (*xs.first()?, 0usize);
    for &x in xs {
        if lead == 0 {
            candidate = x;
        }
        lead = if x == candidate { lead + 1 } else { lead - 1 };
    }
    let count = xs.iter().filter(|&&x| x == candidate).count();
    (count * 2 > xs.len()).then_some(candidate)
}

/// The most common value of `xs`, the smallest of those tied.
pub(super) fn most_common(xs: &[i64]) -> Option<i64> {
    let mut sorted = xs.to_vec();
    sorted.sort_unstable();
    let (mut base, mut best, mut run) = (*sorted.first()?, 0usize, 0usize);
    for (i, d) in sorted.iter().enumerate() {
        run = if i > 0 && sorted[i - 1] == *d {
            run + 1
        } else {
            1
        };
        if run > best {
            (base, best) = (*d, run);
        }
    }
    Some(base)
}

fn sparse_fields(ns: &[i64], allow_gaps: bool) -> Option<Sparse> {
    let diffs: Vec<i64> = ns.windows(2).map(|p| p[1] - p[0]).collect();
    let n = diffs.len();
    // Usually one difference (no move) is most of them: no sort needed.
    let base = match majority(&diffs) {
        Some(m) => m,
        None => most_common(&diffs)?,
    };
    let g = gcd_all(diffs.iter().map(|d| d.abs_diff(base))).max(1);
    let max = diffs.iter().map(|d| zigzag((d - base) / g as i64)).max()?;
    let positions: Vec<usize> = (0..n).filter(|&i| diffs[i] != base).collect();
    let (r, gap_bytes) = gaps::best(&positions);
    let mut count = Vec::new();
    put_uvarint(&mut count, positions.len() as u64);
    let gap_len = count.len() + 1 + gap_bytes;
    let bitmap = n.div_ceil(8);
    Some(Sparse {
        base,
        g,
        max,
        positions,
        bitmap,
        gaps: (allow_gaps && gap_len < bitmap).then_some((r, gap_len)),
    })
}

#[cfg(test)]
mod gcd_tests {
    use proptest::prelude::*;

    fn euclid(mut a: u64, mut b: u64) -> u64 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }

    proptest! {
        #[test]
        fn binary_gcd_is_euclid(a in any::<u64>(), b in any::<u64>(), k in 0u32..20) {
            prop_assert_eq!(super::gcd(a, b), euclid(a, b));
            let (a, b) = (a >> 24 << k, b >> 24 << k);
            prop_assert_eq!(super::gcd(a, b), euclid(a, b));
        }

        #[test]
        fn gcd_all_stops_at_one(xs in proptest::collection::vec(any::<u64>(), 0..20)) {
            let want = xs.iter().fold(0, |g, &x| euclid(g, x));
            prop_assert_eq!(super::gcd_all(xs.into_iter()), want);
        }
    }
}
