//! Seeded byte mutations, for the tests that run a fuzz target's body on
//! every CI run without cargo-fuzz.

/// A xorshift64 generator with the edits the tests make.
pub(crate) struct Mutator(u64);

impl Mutator {
    /// A generator from a non-zero seed.
    pub(crate) fn new(seed: u64) -> Mutator {
        Mutator(seed | 1)
    }

    /// The next pseudo-random number.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `seed` with up to five random edits: a byte removed, a byte of
    /// `alphabet` inserted, a byte overwritten, or the rest cut off.
    pub(crate) fn mutate(&mut self, seed: &[u8], alphabet: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..(self.next() % 6) {
            let pos = (self.next() as usize) % (data.len() + 1);
            match self.next() % 4 {
                0 if pos < data.len() => {
                    data.remove(pos);
                }
                1 => data.insert(pos, self.pick(alphabet)),
                2 if pos < data.len() => data[pos] = self.next() as u8,
                _ => data.truncate(pos),
            }
        }
        data
    }

    /// Up to `max_len` bytes drawn from `alphabet`.
    pub(crate) fn random(&mut self, alphabet: &[u8], max_len: u64) -> Vec<u8> {
        let len = (self.next() % max_len) as usize;
        (0..len).map(|_| self.pick(alphabet)).collect()
    }

    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[(self.next() as usize) % alphabet.len()]
    }
}
