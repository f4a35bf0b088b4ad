//! Prometheus's XOR chunk encoding (`chunkenc.XORChunk`), the encoding of
//! `STREAMED_XOR_CHUNKS` remote-read responses. Our own chunks use another
//! layout, so samples are re-encoded on the way out.
//!
//! Layout: a big-endian `u16` sample count, then a bit stream (most
//! significant bit first): the first timestamp as a zigzag varint and its
//! value as 64 raw bits; the second timestamp as an unsigned varint delta
//! and its value XOR-encoded; then delta-of-delta timestamps in buckets of
//! 0/14/17/20/64 bits and XOR-encoded values, as Prometheus writes them.

use hourglass_storage::Sample;

/// Samples per chunk, as Prometheus cuts its head chunks.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A bit writer, most significant bit first: fewer than 8 bits wait in
/// `acc` for the next byte.
#[derive(Debug, Default)]
struct Bits {
    buf: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl Bits {
    #[inline]
    fn bit(&mut self, one: bool) {
        self.bits(u64::from(one), 1);
    }

    /// Writes the low `n` bits of `v` (n ≤ 64).
    #[inline]
    fn bits(&mut self, v: u64, n: u32) {
        if n > 32 {
            self.bits(v >> 32, n - 32);
            self.bits(v, 32);
            return;
        }
        let v = v & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | v;
        self.pending += n;
        while self.pending >= 8 {
            self.pending -= 8;
            self.buf.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.buf.push((self.acc << (8 - self.pending)) as u8);
        }
        self.buf
    }
}

/// Encodes up to `u16::MAX` samples (strictly increasing times) as one
/// Prometheus XOR chunk, appending its bytes to `out`.
pub fn encode(samples: &[Sample], out: &mut Vec<u8>) {
    let n = samples.len().min(usize::from(u16::MAX));
    let mut b = Bits {
        buf: std::mem::take(out),
        ..Bits::default()
    };
    b.buf.extend_from_slice(&(n as u16).to_be_bytes());
    let (mut t, mut v, mut t_delta) = (0i64, 0f64, 0u64);
    let (mut leading, mut trailing) = (0xffu8, 0u8);
    let mut varint = Vec::with_capacity(10);
    for (i, s) in samples.iter().take(n).enumerate() {
        match i {
            0 => {
                varint.clear();
                hourglass_storage::encoding::put_zvarint(&mut varint, s.t);
                for &x in &varint {
                    b.bits(u64::from(x), 8);
                }
                b.bits(s.v.to_bits(), 64);
            }
            1 => {
                t_delta = s.t.wrapping_sub(t) as u64;
                varint.clear();
                hourglass_storage::encoding::put_uvarint(&mut varint, t_delta);
                for &x in &varint {
                    b.bits(u64::from(x), 8);
                }
                xor_value(&mut b, s.v, v, &mut leading, &mut trailing);
            }
            _ => {
                let d = s.t.wrapping_sub(t) as u64;
                let dod = d.wrapping_sub(t_delta) as i64;
                if dod == 0 {
                    b.bit(false);
                } else if in_bits(dod, 14) {
                    b.bits(0b10, 2);
                    b.bits(dod as u64, 14);
                } else if in_bits(dod, 17) {
                    b.bits(0b110, 3);
                    b.bits(dod as u64, 17);
                } else if in_bits(dod, 20) {
                    b.bits(0b1110, 4);
                    b.bits(dod as u64, 20);
                } else {
                    b.bits(0b1111, 4);
                    b.bits(dod as u64, 64);
                }
                t_delta = d;
                xor_value(&mut b, s.v, v, &mut leading, &mut trailing);
            }
        }
        t = s.t;
        v = s.v;
    }
    *out = b.finish();
}

/// Prometheus's `bitRange`: the range a `n`-bit delta-of-delta bucket
/// holds (asymmetric: one more positive value than negative).
fn in_bits(x: i64, n: u32) -> bool {
    let half = 1i64 << (n - 1);
    -(half - 1) <= x && x <= half
}

fn xor_value(b: &mut Bits, new: f64, cur: f64, leading: &mut u8, trailing: &mut u8) {
    let delta = new.to_bits() ^ cur.to_bits();
    if delta == 0 {
        b.bit(false);
        return;
    }
    b.bit(true);
    let new_leading = delta.leading_zeros().min(31) as u8;
    let new_trailing = delta.trailing_zeros() as u8;
    if *leading != 0xff && new_leading >= *leading && new_trailing >= *trailing {
        b.bit(false);
        b.bits(delta >> *trailing, u32::from(64 - *leading - *trailing));
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    b.bit(true);
    b.bits(u64::from(new_leading), 5);
    // 64 significant bits are written as 0 (they never are 0).
    let sig = 64 - new_leading - new_trailing;
    b.bits(u64::from(sig), 6);
    b.bits(delta >> new_trailing, u32::from(sig));
}
