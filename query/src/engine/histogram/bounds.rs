//! Bucket boundaries of native histograms: exponential schemas (`-4..=8`)
//! and custom buckets (schema `-53`).

use hourglass_storage::FloatHistogram;

/// `frac * 2^exp` without overflowing on the way (`2^1024` alone is
/// infinite while `0.5 * 2^1025` is not).
fn ldexp(frac: f64, exp: i32) -> f64 {
    let half = exp / 2;
    frac * 2f64.powi(half) * 2f64.powi(exp - half)
}

/// Upper bound of exponential bucket `idx` at `schema`. Bucket `idx`
/// covers `(upper(idx - 1), upper(idx)]`; the last finite bucket ends at
/// `f64::MAX`, the next one (for ±Inf observations) at `+Inf`.
pub(crate) fn exponential_upper(idx: i32, schema: i32) -> f64 {
    if schema <= 0 {
        let exp = i64::from(idx) << (-schema).clamp(0, 4);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp.clamp(-2000, 2000) as i32);
    }
    let schema = schema.min(8);
    let n = 1i32 << schema;
    let frac_idx = idx & (n - 1);
    // 2^(k/2^schema) / 2: in [0.5, 1), as frexp would give it.
    let frac = 2f64.powf(f64::from(frac_idx) / f64::from(n)) / 2.0;
    let exp = (idx >> schema) + 1;
    if frac_idx == 0 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// `(lower, upper)` of positive bucket `idx` of `h` (custom buckets:
/// `(custom[idx-1], custom[idx]]`, `-Inf` below the first, `+Inf` above
/// the last).
pub(crate) fn positive_bounds(h: &FloatHistogram, idx: i32) -> (f64, f64) {
    if h.uses_custom_buckets() {
        let cv = &h.custom_values;
        let at = |i: i32| -> f64 {
            if i < 0 {
                f64::NEG_INFINITY
            } else {
                cv.get(i as usize).copied().unwrap_or(f64::INFINITY)
            }
        };
        return (at(idx - 1), at(idx));
    }
    (
        exponential_upper(idx.saturating_sub(1), h.schema),
        exponential_upper(idx, h.schema),
    )
}

/// The index a bucket of `from` falls into at the coarser `to`.
pub(crate) fn reduced_index(idx: i32, from: i32, to: i32) -> i32 {
    let shift = (from - to).clamp(0, 31);
    ((idx - 1) >> shift) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_common_schemas() {
        assert_eq!(exponential_upper(0, 0), 1.0);
        assert_eq!(exponential_upper(1, 0), 2.0);
        assert_eq!(exponential_upper(-1, 0), 0.5);
        assert_eq!(exponential_upper(1, -1), 4.0);
        assert!((exponential_upper(1, 1) - 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(exponential_upper(2, 1), 2.0);
        assert_eq!(exponential_upper(1024, 0), f64::MAX);
        assert_eq!(exponential_upper(1025, 0), f64::INFINITY);
        assert_eq!(reduced_index(3, 1, 0), 2);
        assert_eq!(reduced_index(4, 1, 0), 2);
        assert_eq!(reduced_index(0, 1, 0), 0);
        assert_eq!(reduced_index(-1, 1, 0), 0);
    }
}
