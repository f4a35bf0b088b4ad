//! `rate`/`increase` of a finite counter scraped at a fixed interval.
//!
//! Prometheus writes the timestamps of a target's samples exactly one
//! interval apart (it snaps scrape times within a small tolerance), and
//! range queries step by a fixed amount. When the step is a whole number
//! `m` of intervals, each window is the previous one moved by exactly `m`
//! samples, with its first and last samples at the same places relative
//! to its bounds: the same extrapolation shape. So once one window is
//! found by walking, the following ones need no walking and no shape
//! check, only two prefix-sum lookups each, until the window reaches the
//! end of the series.

use super::extrapolate::Extrapolator;
use hourglass_storage::Sample;

/// The common spacing of `smp`'s timestamps, if there are at least two
/// and every gap equals the first.
pub(super) fn interval(smp: &[Sample]) -> Option<i64> {
    let d = smp.get(1)?.t - smp.first()?.t;
    let regular = smp.windows(2).all(|w| w[1].t - w[0].t == d);
    (d > 0 && regular).then_some(d)
}

/// The spacing of `ends` if it is one fixed step.
pub(super) fn step(ends: &[i64]) -> Option<i64> {
    let s = ends.get(1)? - ends.first()?;
    let regular = ends.windows(2).all(|w| w[1] - w[0] == s);
    (s > 0 && regular).then_some(s)
}

/// [`super::rate::windowed_each`] for finite counter values spaced `d`
/// apart, over `ends` spaced `step` apart, with `step` a multiple of `d`.
pub(super) fn counter_windows(
    smp: &[Sample],
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    m: usize,
    mut emit: impl FnMut(usize, f64),
) {
    // Values with every earlier reset added back: the increase over a
    // window is the difference of its edges' entries (the same additions
    // in the same order as the running sums of the general walk).
    let mut acc = 0.0;
    let mut prev = f64::NAN;
    let p: Vec<f64> = smp
        .iter()
        .map(|p| {
            if p.v < prev {
                acc += prev;
            }
            prev = p.v;
            p.v + acc
        })
        .collect();
    let len = smp.len();
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut k = 0;
    while k < ends.len() {
        let end = ends[k];
        while hi < len && smp[hi].t <= end {
            hi += 1;
        }
        let start = end.saturating_sub(width);
        while lo < hi && smp[lo].t <= start {
            lo += 1;
        }
        if hi < lo + 2 {
            k += 1;
            continue;
        }
        let (first, last) = (smp[lo], smp[hi - 1]);
        let parts = x.parts(first, last, hi - lo, start);
        emit(k, x.finish(&parts, first, p[hi - 1] - p[lo]));
        // The next windows are this one moved by `m` samples while a
        // sample precedes the window (so its start moves past exactly `m`
        // more) and the window's end stays within the series.
        while lo >= 1 && hi + m <= len && k + 1 < ends.len() {
            k += 1;
            lo += m;
            hi += m;
            let first = smp[lo];
            emit(k, x.finish(&parts, first, p[hi - 1] - p[lo]));
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::rate::tests::naive;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn regular_windows_match_the_definition(
            first_t in -50_000i64..50_000,
            d in prop_oneof![Just(15_000i64), 1i64..20_000],
            incs in prop::collection::vec(prop_oneof![
                6 => (0i64..500).prop_map(|v| v as f64),
                1 => Just(-1.0), // a reset: the next value starts near zero
            ], 0..80),
            m in 1usize..5,
            first_end in -100_000i64..600_000,
            steps in 1usize..60,
            width in prop_oneof![Just(300_000i64), 1i64..400_000],
            per_second in any::<bool>(),
        ) {
            let mut v = 0.0;
            let smp: Vec<Sample> = incs
                .iter()
                .enumerate()
                .map(|(i, &inc)| {
                    v = if inc < 0.0 { 3.0 } else { v + inc };
                    Sample::new(first_t + i as i64 * d, v)
                })
                .collect();
            let step = d * m as i64;
            let ends: Vec<i64> = (0..steps).map(|k| first_end + k as i64 * step).collect();
            let x = Extrapolator::new(width, true, per_second);
            let mut got = vec![None; ends.len()];
            counter_windows(&smp, &ends, width, &x, m, |k, r| got[k] = Some(r));
            let want = naive(&smp, &ends, width, true, per_second);
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
