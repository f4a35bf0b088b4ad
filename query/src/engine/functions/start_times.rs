//! `rate`, `increase`, `irate` and `resets` of float series that carry
//! start timestamps (STs: since when a sample's counter has counted).
//!
//! Rules, as Prometheus's `start_timestamps.test` expects them:
//! - An ST is usable when set and before its sample (`0 < st < t`);
//!   storage keeps only those, so an ST at or after its sample reads as
//!   unset.
//! - A sample whose ST is after the previous sample's time follows a
//!   reset (the counter restarted between them). An ST equal to the
//!   previous sample's time is a reset only when the previous sample has
//!   an ST too (a delta point); without one it is a cumulative series
//!   whose start is unknown. A reset adds the previous value to the
//!   increase, as a drop in value does.
//! - When the first sample in the window has an ST inside the window, a
//!   zero at that ST replaces extrapolation to the left: the increase
//!   counts the first value too and runs from the ST. Extrapolation to the
//!   right still uses the mean spacing of the real samples (none for a
//!   single sample, which then yields a value of its own).
//! - Otherwise the increase is extrapolated as without STs.
//! - `irate` of two samples across a reset is the last value over their
//!   spacing; `resets` counts ST resets too.
//!
//! Worked by hand from the test (samples every minute from 2m):
//! - `increase(x[5m])` at 12m over values 360..600 (resets at 11m, first
//!   ST 420.001s inside `(420s, 720s]`): 600 − 360 + 480 (reset) + 360
//!   (zero at the ST) = 1080, nothing to extrapolate on either side.
//! - `st_inside_extrapolate_right` at 6m: samples 1..4 at 2m..5m, all with
//!   ST 90s: 4 from 90s to 300s (210 s), extended to 360s because the
//!   real samples' spacing (60 s, threshold 66 s) reaches it:
//!   4 × 270 / 210 = 5.142857.
//! - A single sample 3 at 4m with ST 90s, window `(60s, 360s]`: 3.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range::{self, MatrixArg};
use super::super::value::{GSeries, Grid};
use super::apply::per_series;
use super::extrapolate::Extrapolator;
use hourglass_storage::{Sample, valid_start};

/// Each sample's ST, aligned with `smp` (`0`: none); `starts` are
/// `(t, st)` samples in time order.
pub(super) fn aligned(smp: &[Sample], starts: &[Sample]) -> Vec<i64> {
    let mut j = 0usize;
    smp.iter()
        .map(|s| {
            while j < starts.len() && starts[j].t < s.t {
                j += 1;
            }
            match starts.get(j) {
                Some(st) if st.t == s.t && valid_start(st.v as i64, s.t) => st.v as i64,
                _ => 0,
            }
        })
        .collect()
}

/// Whether the sample at `t` with ST `st` follows a reset after the
/// previous sample at `prev_t` with ST `prev_st`.
fn st_reset(prev_t: i64, prev_st: i64, t: i64, st: i64) -> bool {
    if !valid_start(st, t) || st < prev_t {
        return false;
    }
    st > prev_t || valid_start(prev_st, prev_t)
}

/// Whether there is a reset between samples `i - 1` and `i`.
fn reset_at(smp: &[Sample], sts: &[i64], i: usize) -> bool {
    let (p, c) = (smp[i - 1], smp[i]);
    c.v < p.v || st_reset(p.t, sts[i - 1], c.t, sts[i])
}

/// The extrapolated increase (rate when `per_second`) of a counter over
/// each window `(end - width, end]` of `ends`; `sts` as [`aligned`].
pub(super) fn increase_windows(
    smp: &[Sample],
    sts: &[i64],
    ends: &[i64],
    width: i64,
    per_second: bool,
) -> Vec<Option<f64>> {
    let mut x = Extrapolator::new(width, true, per_second);
    range::windows(smp, ends, width)
        .enumerate()
        .map(|(k, (lo, hi))| {
            if hi == lo {
                return None;
            }
            let start = ends[k].saturating_sub(width);
            let (first, last) = (smp[lo], smp[hi - 1]);
            let mut inc = last.v - first.v;
            for i in lo + 1..hi {
                if reset_at(smp, sts, i) {
                    inc += smp[i - 1].v;
                }
            }
            let st = sts[lo];
            if valid_start(st, first.t) && st > start {
                return Some(from_zero(
                    first,
                    last,
                    hi - lo,
                    inc,
                    st,
                    ends[k],
                    width,
                    per_second,
                ));
            }
            (hi - lo >= 2).then(|| x.rate(first, last, hi - lo, inc, start))
        })
        .collect()
}

/// The increase of a window whose first sample counts from `st`, inside
/// the window: a zero at `st`, no extrapolation to the left.
#[allow(clippy::too_many_arguments)]
fn from_zero(
    first: Sample,
    last: Sample,
    n: usize,
    inc: f64,
    st: i64,
    end: i64,
    width: i64,
    per_second: bool,
) -> f64 {
    let inc = inc + first.v;
    let sampled = (last.t - st) as f64 / 1000.0;
    // The real samples' mean spacing (none for a single sample).
    let avg = if n > 1 {
        (last.t - first.t) as f64 / 1000.0 / (n - 1) as f64
    } else {
        0.0
    };
    let mut to_end = (end - last.t) as f64 / 1000.0;
    if to_end >= avg * 1.1 {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_end) / sampled;
    if per_second {
        factor /= width as f64 / 1000.0;
    }
    inc * factor
}

/// `irate` of the window `lo..hi` of `smp`.
pub(super) fn irate(smp: &[Sample], sts: &[i64], lo: usize, hi: usize) -> Option<f64> {
    if hi < lo + 2 {
        return None;
    }
    let (prev, last) = (smp[hi - 2], smp[hi - 1]);
    let dt = (last.t - prev.t) as f64 / 1000.0;
    if dt == 0.0 {
        return None;
    }
    let inc = if reset_at(smp, sts, hi - 1) {
        last.v
    } else {
        last.v - prev.v
    };
    Some(inc / dt)
}

/// `resets` of the window `lo..hi` of `smp`.
pub(super) fn resets(smp: &[Sample], sts: &[i64], lo: usize, hi: usize) -> Option<f64> {
    Some((lo + 1..hi).filter(|&i| reset_at(smp, sts, i)).count() as f64)
}

/// A per-window function of a series with STs: samples, aligned STs and
/// the window's index range.
pub(super) type Window = fn(&[Sample], &[i64], usize, usize) -> Option<f64>;

/// `resets(m)`: ST resets count where a series has STs.
pub(super) fn resets_call(
    ctx: &Ctx,
    args: &[crate::parser::ast::Expr],
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let m = super::args::matrix(ctx, args.first(), g)?;
    if !m.series.iter().any(|s| s.has_starts()) {
        return super::apply::over_windows(ctx, m, g.n, false, |w, _| super::over_time::resets(w));
    }
    over_windows(ctx, m, g, resets, super::over_time::resets)
}

/// `f` over every window of every series of `m` that carries STs, and
/// `plain` (the window's samples) over those of a series that does not.
pub(super) fn over_windows(
    ctx: &Ctx,
    m: MatrixArg,
    g: Grid,
    f: Window,
    plain: impl Fn(&[Sample]) -> Option<f64> + Sync + Send,
) -> Result<Vec<GSeries>, EvalError> {
    let width = m.range;
    per_series(ctx, m, g.n, |smp, starts, ends, _: &mut ()| {
        let sts = if starts.is_empty() {
            Vec::new()
        } else {
            aligned(smp, starts)
        };
        range::windows(smp, ends, width)
            .map(|(lo, hi)| match (hi > lo, sts.is_empty()) {
                (false, _) => None,
                (true, true) => plain(&smp[lo..hi]),
                (true, false) => f(smp, &sts, lo, hi),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample::new(t, v)
    }

    #[test]
    fn st_resets_follow_the_rules() {
        // ST after the previous sample: a reset.
        assert!(st_reset(120_000, 0, 180_000, 120_001));
        // ST at the previous sample: a delta point only when it had one.
        assert!(st_reset(120_000, 60_000, 180_000, 120_000));
        assert!(!st_reset(120_000, 0, 180_000, 120_000));
        // An invalid previous ST (after its sample) is no ST.
        assert!(!st_reset(120_000, 180_000, 180_000, 120_000));
        // ST before the previous sample, unset, or at/after its sample.
        assert!(!st_reset(120_000, 60_000, 180_000, 90_000));
        assert!(!st_reset(120_000, 60_000, 180_000, 0));
        assert!(!st_reset(120_000, 60_000, 180_000, 180_000));
    }

    #[test]
    fn worked_examples() {
        // `st_inside_extrapolate_right` at 6m.
        let smp = [
            s(120_000, 1.0),
            s(180_000, 2.0),
            s(240_000, 3.0),
            s(300_000, 4.0),
        ];
        let sts = [90_000; 4];
        let got = increase_windows(&smp, &sts, &[360_000], 300_000, false);
        assert!(
            (got[0].unwrap() - 4.0 * 270.0 / 210.0).abs() < 1e-12,
            "{got:?}"
        );
        // A single sample with its ST inside the window.
        let got = increase_windows(&[s(240_000, 3.0)], &[90_000], &[360_000], 300_000, false);
        assert_eq!(got, vec![Some(3.0)]);
        // Its ST on the window's start: no value.
        let got = increase_windows(&[s(240_000, 3.0)], &[60_000], &[360_000], 300_000, false);
        assert_eq!(got, vec![None]);
        // Resets before and between samples: 16.
        let smp = [s(120_000, 5.0), s(180_000, 5.0), s(240_000, 2.0)];
        let got = increase_windows(&smp, &[60_000, 179_000, 0], &[300_000], 300_000, false);
        assert!((got[0].unwrap() - 16.0).abs() < 1e-12, "{got:?}");
        assert_eq!(resets(&smp, &[60_000, 179_000, 0], 0, 3), Some(2.0));
        assert_eq!(irate(&smp, &[60_000, 179_000, 0], 0, 2), Some(5.0 / 60.0));
    }

    proptest::proptest! {
        /// Without start timestamps the windows are the definition's, bit
        /// for bit.
        #[test]
        fn without_starts_it_is_the_plain_rate(
            gaps in proptest::collection::vec((1i64..40_000, 0i64..1000), 0..40),
            first_end in -100_000i64..400_000,
            step in 1i64..60_000,
            steps in 1usize..20,
            width in 1i64..300_000,
            per_second in proptest::bool::ANY,
        ) {
            let mut t = 0;
            let smp: Vec<Sample> = gaps
                .into_iter()
                .map(|(d, v)| {
                    t += d;
                    Sample::new(t, v as f64)
                })
                .collect();
            let ends: Vec<i64> = (0..steps).map(|k| first_end + k as i64 * step).collect();
            let got = increase_windows(&smp, &vec![0; smp.len()], &ends, width, per_second);
            let want = super::super::rate::tests::naive(&smp, &ends, width, true, per_second);
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    #[test]
    fn aligned_matches_by_time() {
        let smp = [s(1, 1.0), s(2, 1.0), s(3, 1.0)];
        let starts = [s(0, 5.0), s(2, 1.0), s(3, 3.0), s(4, 1.0)];
        assert_eq!(aligned(&smp, &starts), vec![0, 1, 0]);
    }
}
