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

use super::Emit;
use super::extrapolate::Extrapolator;
use hourglass_storage::Sample;

/// The common spacing of `smp`'s timestamps, if there are at least two
/// and every gap equals the first.
pub(super) fn interval(smp: &[Sample]) -> Option<i64> {
    let d = smp.get(1)?.t - smp.first()?.t;
    // Every gap XOR `d`, OR-ed together, is zero exactly when all gaps
    // are `d`: integer operations with no early exit and no compare, which
    // the compiler runs several at a time.
    let later = smp.get(1..).unwrap_or_default();
    let differs = smp
        .iter()
        .zip(later)
        .fold(0u64, |acc, (a, b)| acc | (b.t.wrapping_sub(a.t) ^ d) as u64);
    (d > 0 && differs == 0).then_some(d)
}

/// Whether every value is finite (folded without an early exit, as above).
pub(super) fn all_finite(smp: &[Sample]) -> bool {
    smp.iter().fold(true, |ok, p| ok & p.v.is_finite())
}

/// The spacing of `ends` if it is one fixed step.
pub(super) fn step(ends: &[i64]) -> Option<i64> {
    let s = ends.get(1)? - ends.first()?;
    let regular = ends.windows(2).all(|w| w[1] - w[0] == s);
    (s > 0 && regular).then_some(s)
}

/// `rate::windowed_each` for finite counter values spaced `d`
/// apart, over `ends` spaced `step` apart, with `step` a multiple of `d`.
pub(super) fn counter_windows(
    smp: &[Sample],
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    m: usize,
    emit: &mut impl Emit,
) {
    // The increase over a window is the difference of its edges' values
    // with every earlier reset added back (the same additions in the same
    // order as the running sums of the general walk, and `+ 0.0` as they
    // start from zero). Without a reset that is the values themselves:
    // checked first, in a loop with no dependency from one sample to the
    // next, where the running sum has one.
    match reset_prefix(smp) {
        Some(p) => slide(smp, &p, ends, width, x, m, emit),
        None => {
            let p: Vec<f64> = smp.iter().map(|p| p.v + 0.0).collect();
            slide(smp, &p, ends, width, x, m, emit)
        }
    }
}

/// Each sample's value plus every reset up to it (the value before each
/// drop), or `None` when the values never drop: then that is the value
/// plus `0.0`. The running sum adds the resets in order from zero, as a
/// walk keeping one sum per window edge does, so a window's increase
/// `p[hi] - p[lo]` is bit for bit the walk's.
pub(super) fn reset_prefix(smp: &[Sample]) -> Option<Vec<f64>> {
    let later = smp.get(1..).unwrap_or_default();
    let resets = smp
        .iter()
        .zip(later)
        .fold(false, |r, (a, b)| r | (b.v < a.v));
    if !resets {
        return None;
    }
    let mut acc = 0.0;
    let mut prev = f64::NAN;
    Some(
        smp.iter()
            .map(|p| {
                if p.v < prev {
                    acc += prev;
                }
                prev = p.v;
                p.v + acc
            })
            .collect(),
    )
}

/// The windows over `smp` whose increases are differences of `p`.
#[inline]
fn slide(
    smp: &[Sample],
    p: &[f64],
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    m: usize,
    emit: &mut impl Emit,
) {
    let len = smp.len().min(p.len());
    let (mut lo, mut hi) = (0usize, 0usize);
    // Windows ending before the second sample hold fewer than two: a
    // series that starts late in the range (or is short) skips them all.
    let mut k = smp
        .get(1)
        .map_or(ends.len(), |s| ends.partition_point(|&e| e < s.t));
    // One run of slid windows' values at a time, handed over together.
    let mut buf = [0.0f64; RUN];
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
        emit.one(k, x.finish(&parts, first, p[hi - 1] - p[lo]));
        // The next windows are this one moved by `m` samples while a
        // sample precedes the window (so its start moves past exactly `m`
        // more) and the window's end stays within the series.
        let slides = if lo >= 1 {
            ((len - hi) / m).min(ends.len() - 1 - k)
        } else {
            0
        };
        let mut left = slides;
        while left > 0 {
            let n = left.min(RUN);
            let out = &mut buf[..n];
            if m == 1 {
                // Contiguous: loops without branches, which the compiler
                // turns into vector code; the rare window whose counter
                // extrapolation may stop at zero is redone exactly.
                let (firsts, los, his) =
                    (&smp[lo + 1..=lo + n], &p[lo + 1..=lo + n], &p[hi..hi + n]);
                for ((o, &a), &b) in out.iter_mut().zip(los).zip(his) {
                    *o = Extrapolator::scaled(&parts, b - a);
                }
                let near = firsts
                    .iter()
                    .zip(los.iter().zip(his))
                    .fold(false, |any, (f, (&a, &b))| any | x.near_zero(f.v, b - a));
                if near {
                    for (o, (f, (&a, &b))) in
                        out.iter_mut().zip(firsts.iter().zip(los.iter().zip(his)))
                    {
                        *o = x.finish(&parts, *f, b - a);
                    }
                }
            } else {
                for (j, o) in out.iter_mut().enumerate() {
                    let (l, h) = (lo + (j + 1) * m, hi + (j + 1) * m);
                    *o = x.finish(&parts, smp[l], p[h - 1] - p[l]);
                }
            }
            lo += n * m;
            hi += n * m;
            emit.run(k + 1, &buf[..n]);
            k += n;
            left -= n;
        }
        k += 1;
    }
}

/// Slid windows computed before being handed over in one run.
const RUN: usize = 64;

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
            counter_windows(&smp, &ends, width, &x, m, &mut |k, r| got[k] = Some(r));
            let want = naive(&smp, &ends, width, true, per_second);
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
