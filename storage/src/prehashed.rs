//! A hasher for map keys that are uniformly random already (a strong hash
//! of something): the map uses the key's `u64` as it is instead of hashing
//! it again.

use std::hash::{BuildHasherDefault, Hasher};

/// Passes a written `u64` through; bytes written instead (a key that is
/// not one `u64`) are folded in, so it stays a valid `Hasher`.
#[derive(Debug, Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` of [`PreHashed`], for `HashMap<K, V, BuildPreHashed>`.
pub type BuildPreHashed = BuildHasherDefault<PreHashed>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_u64_key_is_its_own_hash() {
        assert_eq!(
            BuildPreHashed::default().hash_one(0xdead_beef_u64),
            0xdead_beef
        );
    }
}
