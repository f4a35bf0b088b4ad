//! Big-endian bit writer and reader for the chunk codecs.
//!
//! The writer buffers up to 63 bits in a register and spills whole 32-bit
//! words; the reader keeps a left-aligned 64-bit window refilled a word at a
//! time. Reading past the end yields zero bits and sets a sticky flag, so the
//! decoder's hot loop never branches on a `Result`.

/// Appends bits most-significant first.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Pending bits, right-aligned; fewer than 32 between calls.
    acc: u64,
    nacc: u32,
}

impl BitWriter {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        BitWriter {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            nacc: 0,
        }
    }

    /// Writes the low `k` bits of `v`, `k <= 32`.
    #[inline]
    pub(crate) fn write_bits(&mut self, v: u64, k: u32) {
        debug_assert!(k <= 32);
        debug_assert!(k == 64 || v >> k == 0 || k == 0);
        self.acc = (self.acc << k) | v;
        self.nacc += k;
        if self.nacc >= 32 {
            self.nacc -= 32;
            let word = (self.acc >> self.nacc) as u32;
            self.bytes.extend_from_slice(&word.to_be_bytes());
        }
    }

    /// Writes the low `k` bits of `v`, `k <= 64`.
    #[inline]
    pub(crate) fn write_bits_wide(&mut self, v: u64, k: u32) {
        if k > 32 {
            self.write_bits(v >> 32, k - 32);
            self.write_bits(v & 0xffff_ffff, 32);
        } else {
            self.write_bits(v, k);
        }
    }

    /// Total bits written.
    pub(crate) fn bit_len(&self) -> usize {
        self.bytes.len() * 8 + self.nacc as usize
    }

    /// Hints the cache line the next spilled bytes go to.
    #[inline]
    pub(crate) fn prefetch_end(&self) {
        crate::prefetch::line(self.bytes.as_ptr().wrapping_add(self.bytes.len()));
    }

    /// The bytes spilled so far; [`BitWriter::tail`] follows them.
    pub(crate) fn whole_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends the written bits to `out`, the last byte zero-padded.
    pub(crate) fn copy_to(&self, out: &mut Vec<u8>) {
        let (tail, n) = self.tail();
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(&tail[..n]);
    }

    /// The pending bits as bytes (the last zero-padded) and how many.
    pub(crate) fn tail(&self) -> ([u8; 4], usize) {
        let mut out = [0u8; 4];
        let mut len = 0;
        let mut n = self.nacc;
        while n > 0 && len < out.len() {
            let take = n.min(8);
            let byte = ((self.acc >> (n - take)) & ((1 << take) - 1)) << (8 - take);
            out[len] = byte as u8;
            len += 1;
            n -= take;
        }
        (out, len)
    }

    /// Heap bytes held (for memory accounting).
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

/// Reads bits most-significant first from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load into the window.
    pos: usize,
    /// Left-aligned window of unread bits.
    acc: u64,
    /// Valid bits in `acc`.
    n: u32,
    /// Zero bits appended past the end of `data` so reads stay branch-free.
    fake: u64,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            n: 0,
            fake: 0,
        }
    }

    /// True once a read consumed bits past the end of the data.
    #[inline]
    pub(crate) fn overrun(&self) -> bool {
        // Cheap common case: nothing was ever padded.
        self.fake > 0 && {
            let loaded = self.pos as u64 * 8 + self.fake;
            loaded - u64::from(self.n) > self.data.len() as u64 * 8
        }
    }

    /// Bits consumed so far, zero bits read past the end included.
    pub(crate) fn bits_read(&self) -> u64 {
        self.pos as u64 * 8 + self.fake - u64::from(self.n)
    }

    #[inline]
    fn refill(&mut self) {
        if let Some(w) = self.data.get(self.pos..self.pos + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            let word = u64::from_be_bytes(b);
            // n < 64 here; load as many whole bytes as fit.
            self.acc |= word >> self.n;
            let bytes = (63 - self.n) / 8;
            self.pos += bytes as usize;
            self.n += bytes * 8;
        } else {
            self.refill_slow();
        }
    }

    #[cold]
    fn refill_slow(&mut self) {
        while self.n <= 56 {
            match self.data.get(self.pos) {
                Some(&b) => {
                    self.acc |= u64::from(b) << (56 - self.n);
                    self.pos += 1;
                    self.n += 8;
                }
                None => return,
            }
        }
    }

    /// Ensures at least `k` bits (k <= 56) are in the window, padding with
    /// zeros past the end (see [`BitReader::overrun`]).
    #[inline]
    fn ensure(&mut self, k: u32) {
        if self.n < k {
            self.refill();
            if self.n < k {
                self.fake += u64::from(64 - self.n);
                self.n = 64;
            }
        }
    }

    /// Ensures at least `k` bits (k <= 56) are visible to [`BitReader::peek`].
    #[inline]
    pub(crate) fn prepare(&mut self, k: u32) {
        self.ensure(k);
    }

    /// The unread bits, left-aligned (only the prepared ones are meaningful).
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        self.acc
    }

    /// Drops `k` prepared bits, 1 <= k <= the prepared count.
    #[inline]
    pub(crate) fn consume(&mut self, k: u32) {
        debug_assert!(k >= 1 && k <= self.n);
        self.acc <<= k;
        self.n -= k;
    }

    /// Reads `k` bits, 1 <= k <= 56.
    #[inline]
    pub(crate) fn read_bits(&mut self, k: u32) -> u64 {
        debug_assert!((1..=56).contains(&k));
        self.ensure(k);
        let v = self.acc >> (64 - k);
        self.acc <<= k;
        self.n -= k;
        v
    }

    /// Reads `k` bits, 0 <= k <= 64.
    #[inline]
    pub(crate) fn read_bits_wide(&mut self, k: u32) -> u64 {
        match k {
            0 => 0,
            1..=32 => self.read_bits(k),
            _ => {
                let hi = self.read_bits(k - 32);
                (hi << 32) | self.read_bits(32)
            }
        }
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> bool {
        self.read_bits(1) == 1
    }

    /// Counts leading one bits, consuming them and the terminating zero, up
    /// to `max` ones (then nothing more is consumed). Returns the count.
    #[inline]
    pub(crate) fn read_unary(&mut self, max: u32) -> u32 {
        debug_assert!(max < 8);
        self.ensure(max + 1);
        let ones = (self.acc.leading_ones()).min(max);
        let used = if ones == max { max } else { ones + 1 };
        self.acc <<= used;
        self.n -= used;
        ones
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_mixed_widths() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let k = (i % 64 + 1) as u32;
                let v = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - k);
                (v, k)
            })
            .collect();
        for &(v, k) in &items {
            w.write_bits_wide(v, k);
        }
        let mut bytes = Vec::new();
        w.copy_to(&mut bytes);
        assert_eq!(bytes.len(), w.bit_len().div_ceil(8));
        let mut r = BitReader::new(&bytes);
        for &(v, k) in &items {
            assert_eq!(r.read_bits_wide(k), v, "width {k}");
        }
        assert!(!r.overrun());
    }

    #[test]
    fn reading_past_the_end_flags_overrun_and_yields_zeros() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(4), 0xf);
        assert!(!r.overrun());
        assert_eq!(r.read_bits(8), 0xf0);
        assert!(r.overrun());
    }

    #[test]
    fn unary_stops_at_max() {
        let mut w = BitWriter::default();
        w.write_bits(0b10, 2);
        w.write_bits(0b1111, 4);
        w.write_bits(0b0, 1);
        let mut b = Vec::new();
        w.copy_to(&mut b);
        let mut r = BitReader::new(&b);
        assert_eq!(r.read_unary(4), 1);
        assert_eq!(r.read_unary(4), 4);
        assert!(!r.read_bit());
    }
}
