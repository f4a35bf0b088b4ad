//! One column of a downsampled series (a value per interval), byte-aligned
//! so that zstd over the columns of many series finds their redundancy:
//! decimals as varint differences at one scale (a constant column is a run
//! of zero bytes), anything else as the XOR of consecutive bit patterns.
//! Layout in `FORMAT.md` beside this file (version 2).

use crate::chunk::decimals;
use crate::chunk::xor::POW10;
use crate::encoding::{put_zvarint, read_uvarint, unzigzag};

/// Mode byte of a column of raw bit patterns (0..=7 is a decimal scale).
const RAW: u8 = 8;

/// Appends the interval start times: zigzag varint of the first minus
/// `origin`, then zigzag varints of each step's change from the step before.
pub(super) fn put_times(out: &mut Vec<u8>, origin: i64, ts: &[i64]) {
    let (mut prev, mut step) = (origin, 0i64);
    for &t in ts {
        let d = t.wrapping_sub(prev);
        put_zvarint(out, d.wrapping_sub(step));
        (prev, step) = (t, d);
    }
}

/// Reads `n` times written by [`put_times`].
pub(super) fn read_times(
    b: &[u8],
    pos: &mut usize,
    origin: i64,
    n: usize,
) -> Result<Vec<i64>, &'static str> {
    let (mut prev, mut step) = (origin, 0i64);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let dd = unzigzag(read_uvarint(b, pos).map_err(|_| "bad time varint")?);
        step = step.wrapping_add(dd);
        prev = prev.wrapping_add(step);
        out.push(prev);
    }
    Ok(out)
}

/// Appends one column of values: a mode byte, then one varint (decimal
/// scale `k`: the change of `n` where value = `n / 10^k`) or eight bytes
/// (raw: bits XOR the previous value's bits, little-endian) per value.
pub(super) fn put_values(out: &mut Vec<u8>, vs: &[f64]) {
    if let Some((ns, k)) = decimals(vs.iter().copied()) {
        out.push(k);
        let mut prev = 0i64;
        for n in ns {
            put_zvarint(out, n.wrapping_sub(prev));
            prev = n;
        }
        return;
    }
    out.push(RAW);
    let mut prev = 0u64;
    for v in vs {
        out.extend_from_slice(&(v.to_bits() ^ prev).to_le_bytes());
        prev = v.to_bits();
    }
}

/// Reads `n` values written by [`put_values`].
pub(super) fn read_values(b: &[u8], pos: &mut usize, n: usize) -> Result<Vec<f64>, &'static str> {
    let mode = *b.get(*pos).ok_or("column ends early")?;
    *pos += 1;
    let mut out = Vec::with_capacity(n);
    match mode {
        k @ 0..=7 => {
            let scale = POW10[usize::from(k)];
            let mut acc = 0i64;
            for _ in 0..n {
                let d = unzigzag(read_uvarint(b, pos).map_err(|_| "bad value varint")?);
                acc = acc.wrapping_add(d);
                out.push(acc as f64 / scale);
            }
        }
        RAW => {
            let bytes = b
                .get(*pos..pos.saturating_add(n.saturating_mul(8)))
                .ok_or("column ends early")?;
            *pos += bytes.len();
            let mut prev = 0u64;
            for w in bytes.chunks_exact(8) {
                let mut a = [0u8; 8];
                a.copy_from_slice(w);
                prev ^= u64::from_le_bytes(a);
                out.push(f64::from_bits(prev));
            }
        }
        _ => return Err("unknown column mode"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn round_trip(vs: &[f64]) -> usize {
        let mut b = Vec::new();
        put_values(&mut b, vs);
        let mut pos = 0;
        let got = read_values(&b, &mut pos, vs.len()).unwrap();
        assert_eq!(pos, b.len());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(vs));
        b.len()
    }

    #[test]
    fn columns_round_trip_bit_for_bit() {
        assert_eq!(round_trip(&[20.0; 288]), 289, "a constant column is zeros");
        round_trip(&[0.25, 1.5, -3.75, 1e15, 0.0]);
        round_trip(&[f64::NAN, -0.0, f64::INFINITY, 1.0 / 3.0]);
        round_trip(&[f64::from_bits(0x7ff0_0000_0000_0002), 5.0]);
        round_trip(&[]);
        let ts = [-5, 0, 300_000, 600_000, 1_200_000, i64::MAX, i64::MIN];
        let mut b = Vec::new();
        put_times(&mut b, -7, &ts);
        let mut pos = 0;
        assert_eq!(read_times(&b, &mut pos, -7, ts.len()).unwrap(), ts);
    }

    #[test]
    fn damaged_columns_are_errors() {
        let mut pos = 0;
        assert!(read_values(&[9, 0], &mut pos, 1).is_err());
        let mut pos = 0;
        assert!(read_values(&[RAW, 1, 2], &mut pos, 1).is_err());
        let mut pos = 0;
        assert!(read_values(&[0, 0x80], &mut pos, 1).is_err());
        let mut pos = 0;
        assert!(read_times(&[0x80], &mut pos, 0, 1).is_err());
    }
}
