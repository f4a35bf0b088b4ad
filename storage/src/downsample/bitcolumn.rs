//! One column of residuals (signed 64-bit integers), bit-packed in the
//! cheapest of several layouts: nothing when every residual is 0, else
//! codes dense, sparse, as a list of the non-zero ones, or Rice-coded,
//! after a transform (plain, delta, and from version 4 on, minus the
//! least residual or minus the median). Layout in `FORMAT.md` beside this
//! file ("A column").

use crate::chunk::bitstream::{BitReader, BitWriter};
use crate::encoding::{unzigzag, zigzag};

/// The first `downsampled` version whose columns may use transforms 2
/// and 3 (a 2-bit transform instead of a 1-bit "delta").
pub(super) const TRANSFORMS_FROM: u8 = 4;

/// Bits to write an index below `n`.
fn index_width(n: usize) -> u32 {
    64 - (n as u64).leading_zeros()
}

/// Bits of `x` without its leading zeros.
fn width(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Longest unary quotient of a Rice code (longer ones are not written).
const MAX_QUOTIENT: u64 = 1024;

/// Bits of `codes` as Rice codes with parameter `k` (`None`: a quotient
/// too long).
fn rice_cost(codes: &[u64], k: u32) -> Option<usize> {
    codes.iter().try_fold(0usize, |acc, &c| {
        let q = c >> k;
        (q <= MAX_QUOTIENT).then(|| acc + q as usize + 1 + k as usize)
    })
}

/// The cheapest layout of `codes`: (bits, layout, parameter): 0 dense,
/// 1 sparse, 2 list (parameter: the width less one), 3 Rice (parameter:
/// `k`). Every code 0: an empty list.
fn cheapest(codes: &[u64]) -> (usize, u64, u32) {
    let n = codes.len();
    let iw = index_width(n) as usize;
    let any = codes.iter().fold(0, |a, &c| a | c);
    if any == 0 {
        return (iw, 2, 0);
    }
    let wb = width(any) as usize;
    let nz = codes.iter().filter(|&&c| c != 0).count();
    let mut best = [(n * wb, 0), (n + nz * wb, 1), (iw + nz * (iw + wb), 2)]
        .into_iter()
        .min()
        .map_or((0, 0, 0), |(c, l)| (c, l, width(any) - 1));
    // Rice around the mean's width.
    let mean = codes.iter().map(|&c| c as u128).sum::<u128>() / n as u128;
    let b = 128 - mean.leading_zeros();
    for k in b.saturating_sub(3)..=(b + 1).min(63) {
        if let Some(c) = rice_cost(codes, k)
            && c < best.0
        {
            best = (c, 3, k);
        }
    }
    best
}

/// The codes of `r` under transform `t` (0 plain, 1 delta, 2 minus the
/// least, 3 minus the median) and the base it subtracts (2, 3).
fn transform(r: &[i64], t: u64) -> (Vec<u64>, i64) {
    match t {
        0 => (r.iter().map(|&x| zigzag(x)).collect(), 0),
        1 => {
            let mut prev = 0i64;
            let codes = r
                .iter()
                .map(|&x| {
                    let d = x.wrapping_sub(prev);
                    prev = x;
                    zigzag(d)
                })
                .collect();
            (codes, 0)
        }
        2 => {
            let lo = r.iter().copied().min().unwrap_or(0);
            let codes = r
                .iter()
                .map(|&x| (x as u64).wrapping_sub(lo as u64))
                .collect();
            (codes, lo)
        }
        _ => {
            let mut s = r.to_vec();
            s.sort_unstable();
            let mid = s.get(s.len() / 2).copied().unwrap_or(0);
            (
                r.iter().map(|&x| zigzag(x.wrapping_sub(mid))).collect(),
                mid,
            )
        }
    }
}

/// Writes one column of residuals `r` as version 4 does: a bit "any
/// non-zero"; then 2 bits of layout, 2 bits of transform, a 6-bit
/// parameter, the base (transforms 2 and 3: its zigzag width in 7 bits,
/// then its zigzag code) and the codes: every code at a width (dense), a
/// bit "non-zero" per code and the non-zero ones (sparse), the count of
/// non-zero codes and each one's index and code (list), or every code as
/// a Rice code (`code >> k` in unary, then its low `k` bits). The cheapest
/// wins.
pub(super) fn put_column(w: &mut BitWriter, r: &[i64]) {
    if r.iter().all(|&x| x == 0) {
        w.write_bits(0, 1);
        return;
    }
    let cost = |t: u64| {
        let (codes, base) = transform(r, t);
        let c = cheapest(&codes);
        let extra = if t >= 2 {
            7 + width(zigzag(base)) as usize
        } else {
            0
        };
        (c.0 + extra, t)
    };
    let t = (0..4).map(cost).min().map_or(0, |(_, t)| t);
    let (codes, base) = transform(r, t);
    let (_, layout, param) = cheapest(&codes);
    w.write_bits(0b10000 | (layout << 2) | t, 5);
    w.write_bits(u64::from(param), 6);
    if t >= 2 {
        let z = zigzag(base);
        w.write_bits(u64::from(width(z)), 7);
        w.write_bits_wide(z, width(z));
    }
    let width = param + 1;
    match layout {
        0 => codes.iter().for_each(|&c| w.write_bits_wide(c, width)),
        1 => {
            for &c in &codes {
                w.write_bits(u64::from(c != 0), 1);
                if c != 0 {
                    w.write_bits_wide(c, width);
                }
            }
        }
        2 => {
            let iw = index_width(codes.len());
            let nz = codes.iter().filter(|&&c| c != 0).count();
            w.write_bits_wide(nz as u64, iw);
            for (k, &c) in codes.iter().enumerate().filter(|x| *x.1 != 0) {
                w.write_bits_wide(k as u64, iw);
                w.write_bits_wide(c, width);
            }
        }
        _ => {
            for &c in &codes {
                let mut q = c >> param;
                while q >= 32 {
                    w.write_bits(u64::from(u32::MAX), 32);
                    q -= 32;
                }
                w.write_bits(((1u64 << q) - 1) << 1, q as u32 + 1);
                w.write_bits_wide(c & ((1u64 << param) - 1), param);
            }
        }
    }
}

/// Reads `n` residuals of a file of `version` written by [`put_column`]
/// (version 3: a 1-bit "delta" where version 4 has the 2-bit transform)
/// (zeros past the end: the caller checks [`BitReader::overrun`]).
pub(super) fn read_column(
    r: &mut BitReader<'_>,
    n: usize,
    version: u8,
) -> Result<Vec<i64>, &'static str> {
    if !r.read_bit() {
        return Ok(vec![0; n]);
    }
    let (layout, t) = if version >= TRANSFORMS_FROM {
        let head = r.read_bits(4);
        (head >> 2, head & 3)
    } else {
        let head = r.read_bits(3);
        (head >> 1, head & 1)
    };
    let param = r.read_bits(6) as u32;
    let base = if t >= 2 {
        let bw = r.read_bits(7) as u32;
        if bw > 64 {
            return Err("column base too wide");
        }
        unzigzag(r.read_bits_wide(bw))
    } else {
        0
    };
    let width = param + 1;
    let mut codes = vec![0u64; n];
    match layout {
        0 => codes.iter_mut().for_each(|c| *c = r.read_bits_wide(width)),
        1 => {
            for c in &mut codes {
                if r.read_bit() {
                    *c = r.read_bits_wide(width);
                }
            }
        }
        2 => {
            let iw = index_width(n);
            let nz = r.read_bits_wide(iw);
            if nz > n as u64 {
                return Err("column lists more codes than intervals");
            }
            for _ in 0..nz {
                let k = r.read_bits_wide(iw) as usize;
                *codes.get_mut(k).ok_or("column index out of range")? = r.read_bits_wide(width);
            }
        }
        _ => {
            for c in &mut codes {
                let mut q = 0u64;
                while r.read_bit() {
                    q += 1;
                    if q > MAX_QUOTIENT || r.overrun() {
                        return Err("Rice code too long");
                    }
                }
                *c = (q << param) | r.read_bits_wide(param);
            }
        }
    }
    let mut prev = 0i64;
    Ok(codes
        .into_iter()
        .map(|c| match t {
            0 => unzigzag(c),
            1 => {
                prev = prev.wrapping_add(unzigzag(c));
                prev
            }
            2 => base.wrapping_add(c as i64),
            _ => base.wrapping_add(unzigzag(c)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    /// Columns as they come: small moves around a level, one-sided runs,
    /// constants, and any 64-bit values (the extremes wrap).
    fn column() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            (any::<i64>(), proptest::collection::vec(-40i64..40, 0..300))
                .prop_map(|(at, d)| d.iter().map(|&x| at.wrapping_add(x)).collect()),
            (0i64..5000, proptest::collection::vec(0i64..5000, 1..300))
                .prop_map(|(lo, d)| d.iter().map(|&x| lo + x).collect()),
            (any::<i64>(), 1usize..300).prop_map(|(v, n)| vec![v; n]),
            proptest::collection::vec(
                prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0)],
                0..50
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_column_round_trips_in_version_4(cols in proptest::collection::vec(column(), 1..4)) {
            let mut w = BitWriter::default();
            for c in &cols {
                put_column(&mut w, c);
            }
            let mut bytes = Vec::new();
            w.copy_to(&mut bytes);
            let mut r = BitReader::new(&bytes);
            for c in &cols {
                prop_assert_eq!(&read_column(&mut r, c.len(), 4).unwrap(), c);
            }
            prop_assert!(!r.overrun());
        }
    }

    #[test]
    fn one_sided_and_offset_columns_take_fewer_bits_than_zigzag_codes() {
        let bits = |r: &[i64]| {
            let mut w = BitWriter::default();
            put_column(&mut w, r);
            w.bit_len()
        };
        // A counter's first step in each interval: 0..=3, never negative.
        let steps: Vec<i64> = (0..288).map(|k| (k * 7 % 4) as i64).collect();
        assert!(bits(&steps) <= 288 * 2 + 30, "{}", bits(&steps));
        // A counter's moves: 30 ± 5 around a level.
        let moves: Vec<i64> = (0..288).map(|k| 25 + (k * 13 % 11) as i64).collect();
        let shifted: Vec<i64> = moves.iter().map(|x| x - 30).collect();
        assert!(
            bits(&moves) <= bits(&shifted) + 20,
            "{} vs {}",
            bits(&moves),
            bits(&shifted)
        );
    }
}
