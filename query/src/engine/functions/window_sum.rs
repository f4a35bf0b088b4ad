//! Window sums in O(1) from prefix sums, when that is exact.
//!
//! If every value is an integer and their magnitudes add up to less than
//! 2^53, every partial sum is an exactly representable integer: a
//! difference of two prefix sums is then bit for bit the compensated sum
//! of the window (whose compensation stays zero). Counters and integer
//! gauges qualify; other series sum each window as before.

use super::super::numeric::kahan_sum;
use hourglass_storage::Sample;

/// Total magnitudes below this keep every partial sum exact. (A rounded
/// running total reaches it whenever the true one does.)
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Fills `out` with the `smp.len() + 1` prefix sums of the values when
/// they are exact, else leaves it empty.
pub(super) fn exact_prefix(smp: &[Sample], out: &mut Vec<f64>) {
    out.clear();
    let mut total = 0.0;
    for p in smp {
        // Also rules out NaN and the infinities.
        if p.v != p.v.trunc() {
            return;
        }
        total += p.v.abs();
    }
    if total >= EXACT {
        return;
    }
    out.reserve(smp.len() + 1);
    let mut acc = 0.0;
    out.push(acc);
    for p in smp {
        acc += p.v;
        out.push(acc);
    }
}

/// The sum of `smp[lo..hi]`'s values, as `kahan_sum` gives it.
pub(super) fn window_sum(prefix: &[f64], smp: &[Sample], lo: usize, hi: usize) -> f64 {
    match (prefix.get(hi), prefix.get(lo)) {
        (Some(h), Some(l)) => h - l,
        _ => kahan_sum(smp[lo..hi].iter().map(|p| p.v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => (-1000i64..1000).prop_map(|v| v as f64),
            1 => Just(-0.0),
            1 => (0i64..4).prop_map(|k| (1u64 << 50) as f64 * k as f64),
            1 => -1e3f64..1e3,
            1 => Just(f64::NAN),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn window_sums_are_bitwise_kahan(
            vals in prop::collection::vec(value(), 0..40),
            cuts in prop::collection::vec((0usize..40, 0usize..40), 1..10),
        ) {
            let smp: Vec<Sample> = vals.iter().enumerate().map(|(i, &v)| Sample::new(i as i64, v)).collect();
            let mut prefix = Vec::new();
            exact_prefix(&smp, &mut prefix);
            for (a, b) in cuts {
                let (lo, hi) = (a.min(b).min(smp.len()), a.max(b).min(smp.len()));
                let want = kahan_sum(smp[lo..hi].iter().map(|p| p.v));
                let got = window_sum(&prefix, &smp, lo, hi);
                prop_assert_eq!(got.to_bits(), want.to_bits(), "{} vs {}", got, want);
            }
        }
    }
}
