//! One float sample.

/// Bit pattern Prometheus uses for a staleness marker. Compare bits, never
/// `is_nan()`: ordinary NaN values are data and must not end a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A float sample: timestamp in milliseconds since the Unix epoch, value.
///
/// Every `f64` bit pattern is stored and returned exactly (NaN payloads, the
/// stale marker, ±Inf, -0.0).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; compare with `to_bits()` when identity matters.
    pub v: f64,
}

impl Sample {
    /// A sample at `t` (ms) with value `v`.
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

/// Bitwise equality, so NaN samples compare equal to themselves.
impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

impl Eq for Sample {}

/// True when `v` is Prometheus's staleness marker.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinct_from_ordinary_nan() {
        assert!(is_stale_nan(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale_nan(f64::NAN));
        assert_eq!(Sample::new(1, f64::NAN), Sample::new(1, f64::NAN));
        assert_ne!(Sample::new(1, 0.0), Sample::new(1, -0.0));
    }
}
