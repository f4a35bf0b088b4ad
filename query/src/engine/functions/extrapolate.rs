//! Prometheus's `extrapolatedRate` for `rate`, `increase` and `delta`,
//! computed once per window shape rather than once per step.
//!
//! The extrapolation factor depends only on where the window's first and
//! last samples sit relative to the window and how many there are; with
//! regular scrapes that shape repeats step after step, and recomputing it
//! costs a chain of divisions per step. The factor is memoised on the
//! exact integer inputs, so results are bit-for-bit those of the direct
//! formula (`extrapolate`, kept in the tests as the reference).

use hourglass_storage::Sample;

/// The direct formula over `s`, the samples of the window `(start, end]`
/// (none for fewer than two). `increase` is `last - first` plus, for
/// counters, the value before every reset.
#[cfg(test)]
pub(super) fn extrapolate(
    s: &[Sample],
    increase: f64,
    start: i64,
    end: i64,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    let threshold = avg * 1.1;
    let mut to_start = first.t.saturating_sub(start) as f64 / 1000.0;
    let mut to_end = (end - last.t) as f64 / 1000.0;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    // A counter is not extrapolated below zero.
    if counter && increase > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(increase * factor)
}

/// Window shape: first and last sample time relative to the window's
/// start, and the sample count.
type Shape = (i64, i64, usize);

/// `extrapolate` for a run of windows of one width, memoising the
/// factor of the last shape seen.
pub(super) struct Extrapolator {
    counter: bool,
    per_second: bool,
    width: i64,
    range_secs: f64,
    memo: Option<(Shape, Parts)>,
}

/// The parts of the formula that depend on the shape alone.
#[derive(Clone, Copy)]
pub(super) struct Parts {
    sampled: f64,
    to_start: f64,
    to_end: f64,
    factor: f64,
}

impl Extrapolator {
    pub(super) fn new(width: i64, counter: bool, per_second: bool) -> Self {
        Extrapolator {
            counter,
            per_second,
            width,
            range_secs: width as f64 / 1000.0,
            memo: None,
        }
    }

    /// As `extrapolate` with `end - start` equal to the width given to
    /// [`Extrapolator::new`].
    #[inline]
    pub(super) fn rate(
        &mut self,
        first: Sample,
        last: Sample,
        n: usize,
        increase: f64,
        start: i64,
    ) -> f64 {
        let shape = (
            first.t.saturating_sub(start),
            last.t.saturating_sub(start),
            n,
        );
        let p = match self.memo {
            Some((s, p)) if s == shape => p,
            _ => {
                let p = self.parts(first, last, n, start);
                self.memo = Some((shape, p));
                p
            }
        };
        self.finish(&p, first, increase)
    }

    /// Whether [`Extrapolator::finish`] may have to stop a counter's
    /// extrapolation at zero; when not, the result is
    /// [`Extrapolator::scaled`].
    #[inline]
    pub(super) fn near_zero(&self, first_v: f64, increase: f64) -> bool {
        // `to_start` is at most 1.1 × the average interval, so at most
        // 1.1 × `sampled`: when `first.v >= 2 × increase` the zero point is
        // further away than that and the division can be skipped.
        // Non-short-circuit `&` so a loop over windows has no branch.
        (first_v < 2.0 * increase) & self.counter & (increase > 0.0) & (first_v >= 0.0)
    }

    /// The result for a window whose shape gave `p`, when not
    /// [`Extrapolator::near_zero`].
    #[inline]
    pub(super) fn scaled(p: &Parts, increase: f64) -> f64 {
        increase * p.factor
    }

    /// The result for a window whose shape gave `p`.
    #[inline]
    pub(super) fn finish(&self, p: &Parts, first: Sample, increase: f64) -> f64 {
        // A counter is not extrapolated below zero.
        if self.near_zero(first.v, increase) {
            let to_zero = p.sampled * (first.v / increase);
            if to_zero < p.to_start {
                let mut factor = (p.sampled + to_zero + p.to_end) / p.sampled;
                if self.per_second {
                    factor /= self.range_secs;
                }
                return increase * factor;
            }
        }
        Self::scaled(p, increase)
    }

    pub(super) fn parts(&self, first: Sample, last: Sample, n: usize, start: i64) -> Parts {
        let sampled = (last.t - first.t) as f64 / 1000.0;
        let avg = sampled / (n - 1) as f64;
        let threshold = avg * 1.1;
        let end_gap = (start + self.width) - last.t;
        let mut to_start = first.t.saturating_sub(start) as f64 / 1000.0;
        let mut to_end = end_gap as f64 / 1000.0;
        if to_start >= threshold {
            to_start = avg / 2.0;
        }
        if to_end >= threshold {
            to_end = avg / 2.0;
        }
        let mut factor = (sampled + to_start + to_end) / sampled;
        if self.per_second {
            factor /= self.range_secs;
        }
        Parts {
            sampled,
            to_start,
            to_end,
            factor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn memoised_rate_is_bitwise_the_direct_formula(
            width in prop_oneof![Just(300_000i64), 8i64..1_000_000],
            windows in prop::collection::vec(
                (0i64..4, 0i64..4, 2usize..6, prop_oneof![
                    Just(0.0), Just(1e9), -10.0f64..1e6, Just(f64::NAN), Just(f64::INFINITY)
                ], prop_oneof![Just(0.0), 0.0f64..1e4, Just(-5.0), Just(f64::INFINITY)]),
                1..20,
            ),
            counter in any::<bool>(),
            per_second in any::<bool>(),
        ) {
            let mut x = Extrapolator::new(width, counter, per_second);
            for (k, (a, b, n, v0, inc)) in windows.into_iter().enumerate() {
                let start = k as i64 * 15_000 - width;
                // First and last sample times inside (start, start + width],
                // drawn from a few positions so shapes repeat.
                let ft = start + 1 + a * width / 8;
                let lt = (start + width - b * width / 8).max(ft + 1);
                let first = Sample::new(ft, v0);
                let last = Sample::new(lt, v0 + inc);
                let mut w = vec![first; n - 1];
                w.push(last);
                let want = extrapolate(&w, inc, start, start + width, counter, per_second);
                let got = x.rate(first, last, n, inc, start);
                let want = want.unwrap_or(f64::NAN);
                prop_assert_eq!(got.to_bits(), want.to_bits(), "{} vs {}", got, want);
            }
        }
    }
}
