//! Fixed-width fields, most-significant bit first: how the packed and
//! grid encodings store time offsets and value differences.

/// Appends `fields` at `w` bits each, most-significant bit first, the last
/// byte zero-padded (nothing at all when `w` is 0).
pub(super) fn push_fields(body: &mut Vec<u8>, fields: impl Iterator<Item = u64>, w: u32) {
    if w == 0 {
        return;
    }
    let mut acc = 0u128;
    let mut bits = 0u32;
    for field in fields {
        acc = (acc << w) | u128::from(field);
        bits += w;
        while bits >= 8 {
            bits -= 8;
            body.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        body.push((acc << (8 - bits)) as u8);
    }
}

/// `w` (≤ 64) bits of `bytes` from bit `bit`, right-aligned; zeros past
/// the end.
#[inline(always)]
pub(super) fn read_at(bytes: &[u8], bit: usize, w: u32) -> u64 {
    if w <= 56 {
        return read_bits(bytes, bit, w);
    }
    let (byte, shift) = (bit / 8, (bit % 8) as u32);
    let word = padded::<16>(bytes, byte);
    ((word << shift) >> (128 - w)) as u64
}

/// `w` (≤ 56) bits of `bytes` from bit `bit`, right-aligned; zeros past
/// the end.
#[inline(always)]
pub(super) fn read_bits(bytes: &[u8], bit: usize, w: u32) -> u64 {
    if w == 0 {
        return 0;
    }
    let (byte, shift) = (bit / 8, (bit % 8) as u32);
    let word = match bytes.get(byte..byte + 8) {
        Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        None => padded::<8>(bytes, byte) as u64,
    };
    (word << shift) >> (64 - w)
}

/// `N` bytes of `bytes` from `at` as a big-endian integer, zeros past the end.
fn padded<const N: usize>(bytes: &[u8], at: usize) -> u128 {
    let mut b = [0u8; 16];
    if let Some(src) = bytes.get(at..) {
        let n = src.len().min(N);
        b[..n].copy_from_slice(&src[..n]);
    }
    u128::from_be_bytes(b) >> (8 * (16 - N))
}
