//! Variable-length integers, the one copy every byte format here uses:
//! WAL records, partition files, packed chunks, and (in the `hourglass`
//! crate) protobuf.
//!
//! A varint is LEB128 as Go and protobuf write it: 7-bit groups, low group
//! first, the high bit set on every byte but the last. A `u64` takes at
//! most [`MAX_VARINT_BYTES`]; the tenth byte may only carry bit 63, so
//! anything more is [`VarintError::Overflow`], never a silent wrap. Signed
//! values are zigzag-mapped first, so small magnitudes stay short.
//!
//! The Gorilla chunk reader and writer keep their own copy of the loop
//! because they read and write through a bit stream, not a byte slice;
//! they follow the same rules.

/// The longest varint of a `u64`.
pub const MAX_VARINT_BYTES: usize = 10;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    /// The bytes ended before the last byte of the varint.
    #[error("truncated varint")]
    Truncated,
    /// The value does not fit in 64 bits (a tenth byte above 1, or more
    /// than ten bytes).
    #[error("varint overflows 64 bits")]
    Overflow,
}

/// Writes `x` into the front of `buf` (at least [`MAX_VARINT_BYTES`]
/// long, checked at compile time) and returns how many bytes it took.
#[inline]
pub fn encode_uvarint<const N: usize>(buf: &mut [u8; N], mut x: u64) -> usize {
    const { assert!(N >= MAX_VARINT_BYTES) };
    let mut n = 0;
    while x >= 0x80 {
        buf[n] = (x as u8) | 0x80;
        x >>= 7;
        n += 1;
    }
    buf[n] = x as u8;
    n + 1
}

/// Appends `x` as a varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    // Byte by byte: a copy of a variable length is a call to memcpy, which
    // costs more than the one or two bytes most varints take.
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Appends `x` zigzag-mapped, as a varint.
#[inline]
pub fn put_zvarint(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, zigzag(x));
}

/// Reads a varint from the front of `bytes`: the value and the bytes it
/// took.
#[inline]
pub fn decode_uvarint(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut pos = 0;
    read_uvarint(bytes, &mut pos).map(|x| (x, pos))
}

/// Reads a varint at `*pos` and moves `*pos` past it; `*pos` is left
/// alone on error.
#[inline]
pub fn read_uvarint(bytes: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    let mut x = 0u64;
    let mut at = *pos;
    for i in 0..MAX_VARINT_BYTES {
        let Some(&b) = bytes.get(at) else {
            return Err(VarintError::Truncated);
        };
        // The tenth byte holds bit 63 only.
        if i == MAX_VARINT_BYTES - 1 && b > 1 {
            return Err(VarintError::Overflow);
        }
        at += 1;
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos = at;
            return Ok(x);
        }
    }
    // The tenth byte always decides above.
    Err(VarintError::Overflow)
}

/// Maps a signed value to an unsigned one, small magnitudes to small
/// numbers: 0, -1, 1, -2 … → 0, 1, 2, 3 ….
#[inline]
pub fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_group_boundary() {
        let mut values = vec![0, 1, u64::MAX, u64::MAX - 1];
        for shift in (7..64).step_by(7) {
            let edge = 1u64 << shift;
            values.extend([edge - 1, edge, edge + 1]);
        }
        for x in values {
            let mut out = Vec::new();
            put_uvarint(&mut out, x);
            assert!(out.len() <= MAX_VARINT_BYTES);
            let mut buf = [0u8; MAX_VARINT_BYTES];
            let n = encode_uvarint(&mut buf, x);
            assert_eq!(out, buf[..n], "{x}");
            out.push(0xAA);
            let (got, n) = decode_uvarint(&out).unwrap();
            assert_eq!((got, n), (x, out.len() - 1), "{x}");
        }
    }

    #[test]
    fn refuses_truncated_and_overflowing_input() {
        assert_eq!(decode_uvarint(&[]), Err(VarintError::Truncated));
        assert_eq!(decode_uvarint(&[0x80, 0x80]), Err(VarintError::Truncated));
        let mut max = vec![0xff; 9];
        max.push(0x01);
        assert_eq!(decode_uvarint(&max), Ok((u64::MAX, 10)));
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert_eq!(decode_uvarint(&over), Err(VarintError::Overflow));
        assert_eq!(decode_uvarint(&[0x80; 11]), Err(VarintError::Overflow));
    }

    #[test]
    fn read_moves_the_position_only_on_success() {
        let bytes = [0x05, 0xac, 0x02, 0x80];
        let mut pos = 0;
        assert_eq!(read_uvarint(&bytes, &mut pos), Ok(5));
        assert_eq!(read_uvarint(&bytes, &mut pos), Ok(300));
        assert_eq!(read_uvarint(&bytes, &mut pos), Err(VarintError::Truncated));
        assert_eq!(pos, 3);
        let mut past = 9;
        assert_eq!(read_uvarint(&bytes, &mut past), Err(VarintError::Truncated));
    }

    #[test]
    fn zigzag_keeps_small_magnitudes_small() {
        for (x, z) in [(0, 0), (-1, 1), (1, 2), (-2, 3), (i64::MAX, u64::MAX - 1)] {
            assert_eq!(zigzag(x), z);
            assert_eq!(unzigzag(z), x);
        }
        assert_eq!(unzigzag(zigzag(i64::MIN)), i64::MIN);
    }
}
