//! Rice-coded gap lists (`0x05`, see `FORMAT.md`): the positions of a
//! sparse grid's stored fields as the gaps between them, each gap `q · 2^r
//! + rem` written as `q` one bits, a zero, then `rem` in `r` bits.
//!
//! Why: a series that moves once in twenty scrapes pays one bitmap bit per
//! scrape in `0x04`; its gaps of about twenty cost `r + 2` ≈ 6 bits per move.

use super::ChunkError;
use super::bitstream::BitWriter;
use super::fields::read_bits;

/// Largest Rice parameter a reader accepts (gaps are below 2^16).
pub(super) const MAX_R: u8 = 16;

/// Bits `positions` (increasing) take as gaps at parameter `r`.
fn cost(positions: &[usize], r: u32) -> usize {
    let mut prev = 0;
    positions
        .iter()
        .map(|&p| {
            let g = p - prev;
            prev = p + 1;
            (g >> r) + 1 + r as usize
        })
        .sum()
}

/// The cheapest Rice parameter for `positions` and the bytes it takes.
pub(super) fn best(positions: &[usize]) -> (u8, usize) {
    (0..=12u8)
        .map(|r| (r, cost(positions, u32::from(r)).div_ceil(8)))
        .min_by_key(|&(_, len)| len)
        .unwrap_or((0, 0))
}

/// Appends `positions` (increasing) as gaps at parameter `r`, the last
/// byte zero-padded.
pub(super) fn push(body: &mut Vec<u8>, positions: &[usize], r: u8) {
    let mut bits = BitWriter::with_capacity(positions.len());
    let mut prev = 0;
    for &p in positions {
        let g = (p - prev) as u64;
        prev = p + 1;
        let mut q = g >> r;
        while q >= 32 {
            bits.write_bits(u64::from(u32::MAX), 32);
            q -= 32;
        }
        bits.write_bits(((1u64 << q) - 1) << 1, q as u32 + 1);
        bits.write_bits(g & ((1u64 << r) - 1), u32::from(r));
    }
    bits.copy_to(body);
}

/// The gap at bit `*bit` of `bytes` (zeros past the end, so a read always
/// ends), moving `*bit` past it.
#[inline]
pub(super) fn read(bytes: &[u8], bit: &mut usize, r: u32) -> usize {
    let mut q = 0usize;
    loop {
        let word = read_bits(bytes, *bit, 56);
        let ones = (!(word << 8)).leading_zeros() as usize;
        if ones < 56 {
            q += ones;
            *bit += ones + 1;
            break;
        }
        q += 56;
        *bit += 56;
    }
    let rem = read_bits(bytes, *bit, r) as usize;
    *bit += r as usize;
    (q << r) | rem
}

/// Checks that `stream` starts with `m` gaps at parameter `r` whose
/// positions are all below `fields`, with zero padding; returns the
/// bytes they take.
pub(super) fn check(stream: &[u8], m: usize, r: u8, fields: usize) -> Result<usize, ChunkError> {
    let bad = |reason| ChunkError::Corrupt { sample: 0, reason };
    if r > MAX_R {
        return Err(bad("gap parameter out of range"));
    }
    if m > fields {
        return Err(bad("more stored fields than samples"));
    }
    let (mut bit, mut next) = (0usize, 0usize);
    for _ in 0..m {
        // A gap longer than the stream's bits cannot be valid: stop before
        // reading zeros far past the end.
        if bit > stream.len() * 8 {
            return Err(bad("stream ends in the gap list"));
        }
        let pos = next.saturating_add(read(stream, &mut bit, u32::from(r)));
        if pos >= fields {
            return Err(bad("gap past the last sample"));
        }
        next = pos + 1;
    }
    let len = bit.div_ceil(8);
    let tail = stream
        .get(..len)
        .ok_or(bad("stream ends in the gap list"))?;
    if bit % 8 != 0 && tail.last().is_some_and(|b| b & (0xff >> (bit % 8)) != 0) {
        return Err(bad("gap list padding not zero"));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn gaps_round_trip_at_every_parameter() {
        let positions = [0usize, 1, 2, 19, 40, 41, 500, 2046];
        for r in 0..=MAX_R {
            let mut b = Vec::new();
            push(&mut b, &positions, r);
            assert_eq!(check(&b, positions.len(), r, 2047).unwrap(), b.len());
            if r <= 12 {
                assert_eq!(b.len(), cost(&positions, u32::from(r)).div_ceil(8));
            }
            let (mut bit, mut next) = (0, 0);
            for &p in &positions {
                next += read(&b, &mut bit, u32::from(r));
                assert_eq!(next, p, "r = {r}");
                next += 1;
            }
            assert!(check(&b, positions.len(), r, 2046).is_err());
            assert!(check(&b, positions.len() + 1, r, 2047).is_err());
        }
    }
}
