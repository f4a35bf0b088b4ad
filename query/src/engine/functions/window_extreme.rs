//! `max_over_time`/`min_over_time` over every window of a series in one
//! pass: a monotonic queue of the window's candidates slides with the
//! windows, so each sample enters and leaves it once, however much the
//! windows overlap (a 1 h window at a 15 s step otherwise reads each
//! sample 240 times).
//!
//! The answers are bit for bit those of the fold over each window: the
//! first sample to reach the extreme wins a tie (so `0.0` and `-0.0` come
//! out as the fold finds them), NaN counts only when the window holds
//! nothing else.

use super::super::range;
use hourglass_storage::Sample;

/// Which extreme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Extreme {
    Max,
    Min,
}

impl Extreme {
    /// True when `new` displaces `old` as a candidate: strictly beyond it,
    /// so of equal values the earliest stays in front.
    #[inline]
    fn beats(self, new: f64, old: f64) -> bool {
        match self {
            Extreme::Max => new > old,
            Extreme::Min => new < old,
        }
    }
}

/// The extreme of each window `(end - width, end]` over `smp`, one entry
/// per end (`None` for an empty window); `ends` must not decrease.
/// `queue` is scratch space, reused across series.
pub(super) fn extremes(
    smp: &[Sample],
    ends: &[i64],
    width: i64,
    which: Extreme,
    queue: &mut Vec<usize>,
) -> Vec<Option<f64>> {
    // The candidates are `queue[head..]`: sample indices in time order
    // whose values run from the extreme down (non-NaN only).
    queue.clear();
    let mut head = 0usize;
    let mut pushed = 0usize;
    range::windows(smp, ends, width)
        .map(|(lo, hi)| {
            for (i, p) in smp.iter().enumerate().take(hi).skip(pushed) {
                if p.v.is_nan() {
                    continue;
                }
                while queue.len() > head
                    && queue.last().is_some_and(|&j| which.beats(p.v, smp[j].v))
                {
                    queue.pop();
                }
                queue.push(i);
            }
            pushed = pushed.max(hi);
            while head < queue.len() && queue[head] < lo {
                head += 1;
            }
            if head == queue.len() {
                // Nothing left before `head` that can come back.
                queue.clear();
                head = 0;
            }
            (lo < hi).then(|| queue.get(head).map_or(f64::NAN, |&j| smp[j].v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    /// The definition, as Prometheus folds each window:
    /// `if v > m || m.is_nan() { m = v }` from `m = NaN`.
    fn folded(smp: &[Sample], ends: &[i64], width: i64, which: Extreme) -> Vec<Option<f64>> {
        range::windows(smp, ends, width)
            .map(|(lo, hi)| {
                smp[lo..hi].iter().map(|p| p.v).reduce(|m, v| {
                    let beyond = match which {
                        Extreme::Max => v > m,
                        Extreme::Min => v < m,
                    };
                    if beyond || m.is_nan() { v } else { m }
                })
            })
            .collect()
    }

    fn bits(v: &[Option<f64>]) -> Vec<Option<u64>> {
        v.iter().map(|x| x.map(f64::to_bits)).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn sliding_extremes_match_the_fold_over_each_window(
            gaps in prop::collection::vec(1i64..40, 0..120),
            vals in prop::collection::vec(prop_oneof![
                4 => (-5i32..5).prop_map(f64::from),
                1 => Just(f64::NAN),
                1 => Just(-0.0),
                1 => Just(0.0),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ], 120),
            first_end in -50i64..400,
            step in 1i64..60,
            steps in 0usize..80,
            width in 1i64..300,
            max in any::<bool>(),
        ) {
            let mut t = 0;
            let smp: Vec<Sample> = gaps
                .iter()
                .zip(&vals)
                .map(|(g, &v)| {
                    t += g;
                    Sample::new(t, v)
                })
                .collect();
            let ends: Vec<i64> = (0..steps).map(|k| first_end + k as i64 * step).collect();
            let which = if max { Extreme::Max } else { Extreme::Min };
            let mut q = Vec::new();
            let got = extremes(&smp, &ends, width, which, &mut q);
            prop_assert_eq!(bits(&got), bits(&folded(&smp, &ends, width, which)));
        }
    }

    #[test]
    fn a_tie_between_zeros_keeps_the_first_as_the_fold_does() {
        let smp = [
            Sample::new(1, -0.0),
            Sample::new(2, 0.0),
            Sample::new(3, -0.0),
        ];
        let ends = [2, 3, 4];
        let mut q = Vec::new();
        for which in [Extreme::Max, Extreme::Min] {
            let got = extremes(&smp, &ends, 2, which, &mut q);
            assert_eq!(bits(&got), bits(&folded(&smp, &ends, 2, which)));
        }
    }

    #[test]
    fn a_window_of_nans_alone_is_nan() {
        let smp = [Sample::new(1, f64::NAN), Sample::new(5, 2.0)];
        let got = extremes(&smp, &[1, 5, 9], 2, Extreme::Max, &mut Vec::new());
        assert!(got[0].unwrap().is_nan());
        assert_eq!(got[1], Some(2.0));
        assert_eq!(got[2], None);
    }
}
