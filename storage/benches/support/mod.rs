//! What the storage benchmarks and examples share.

/// xorshift64: deterministic data without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next value of the sequence (never 0 for a non-zero seed).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl hourglass_storage::synthetic_host::Draw for Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
