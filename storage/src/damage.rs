//! Damaged copies of a valid encoding for the decoders' tests: every
//! prefix, and copies with one byte flipped at a seeded random place.

/// Checks that `decode` refuses every prefix of `bytes`, then hands
/// `flips` copies of it, each with one byte flipped, to `flipped`.
pub(crate) fn check_damage<T, E>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, E>,
    flips: usize,
    mut flipped: impl FnMut(&[u8]),
) {
    for n in 0..bytes.len() {
        assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
    }
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    for _ in 0..flips {
        let mut d = bytes.to_vec();
        let i = rng.usize(..d.len());
        d[i] ^= rng.u8(1..);
        flipped(&d);
    }
}
