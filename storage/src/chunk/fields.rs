//! Bit fields, most-significant bit first: how the packed and grid
//! encodings store time offsets and value differences (fixed-width fields,
//! and the groups of mixed-radix columns).

/// Appends `fields` at `w` bits each, most-significant bit first, the last
/// byte zero-padded (nothing at all when `w` is 0).
pub(super) fn push_fields(body: &mut Vec<u8>, fields: impl Iterator<Item = u64>, w: u32) {
    if w == 0 {
        return;
    }
    let mut out = BitPush::default();
    for field in fields {
        out.push(body, field, w);
    }
    out.finish(body);
}

/// Appends values of up to 64 bits each, most-significant bit first.
#[derive(Default)]
pub(super) struct BitPush {
    acc: u128,
    /// Bits in `acc` not yet written (fewer than 8 between calls).
    bits: u32,
}

impl BitPush {
    /// Appends the low `w` (≤ 64) bits of `v`.
    #[inline]
    pub(super) fn push(&mut self, body: &mut Vec<u8>, v: u64, w: u32) {
        if w == 0 {
            return;
        }
        let v = if w >= 64 { v } else { v & ((1 << w) - 1) };
        self.acc = (self.acc << w) | u128::from(v);
        self.bits += w;
        while self.bits >= 8 {
            self.bits -= 8;
            body.push((self.acc >> self.bits) as u8);
        }
    }

    /// Writes the last bits, zero-padded to a byte.
    pub(super) fn finish(self, body: &mut Vec<u8>) {
        if self.bits > 0 {
            body.push((self.acc << (8 - self.bits)) as u8);
        }
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
