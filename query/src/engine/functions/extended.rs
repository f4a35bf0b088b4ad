//! The `anchored` and `smoothed` range-selector modifiers of Prometheus 3
//! (`increase(x[5m] anchored)`, `rate(x[5m] smoothed)`, `x smoothed`).
//!
//! `anchored` closes the window on the left with the newest sample at or
//! before its start (looked back for as far as an instant selector
//! would), so `increase` is exactly last minus first, resets included,
//! with no extrapolation. `smoothed` replaces both window edges by values
//! interpolated linearly between the samples around them (counter-aware
//! for `rate`/`increase`: a drop means the counter restarted from 0), and
//! an instant selector by the value interpolated at the step.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range::{self, MatrixArg};
use super::super::selected;
use super::super::value::{GSeries, Grid};
use super::apply::per_series;
use crate::parser::ast::{RangeModifier, VectorSelector};
use crate::parser::functions::Func;
use hourglass_storage::Sample;

/// A function over a range argument carrying a modifier.
pub(super) fn call(
    ctx: &Ctx,
    func: Func,
    modifier: RangeModifier,
    m: MatrixArg,
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let (width, lookback) = (m.range, ctx.lookback);
    per_series(ctx, m, g.n, |smp, _, ends, _: &mut ()| {
        ends.iter()
            .map(|&e| window(func, modifier, smp, e, width, lookback))
            .collect()
    })
}

/// The value of `func` over the window `(end - width, end]`.
fn window(
    func: Func,
    modifier: RangeModifier,
    s: &[Sample],
    end: i64,
    width: i64,
    lookback: i64,
) -> Option<f64> {
    let start = end.saturating_sub(width);
    let lo = s.partition_point(|p| p.t <= start);
    let hi = s.partition_point(|p| p.t <= end);
    let counter = matches!(func, Func::Rate | Func::Increase);
    let points: Vec<f64> = match modifier {
        RangeModifier::Anchored => {
            // The samples in `(start - lookback, end]`, from the newest at or
            // before the start on; as Prometheus searches for it among all
            // but the last sample, a window with nothing of its own starts
            // one sample earlier (what `changes` and `resets` see).
            let base = s.partition_point(|p| p.t <= start.saturating_sub(lookback));
            if hi <= base || (lo >= hi && !matches!(func, Func::Changes | Func::Resets)) {
                return None;
            }
            let first = lo.min(hi - 1).saturating_sub(1).max(base);
            s[first..hi].iter().map(|p| p.v).collect()
        }
        RangeModifier::Smoothed => {
            let first = interpolate(s, start, lookback, counter)?;
            let last = interpolate(s, end, lookback, counter)?;
            std::iter::once(first)
                .chain(s[lo..hi].iter().map(|p| p.v))
                .chain(std::iter::once(last))
                .collect()
        }
    };
    let secs = width as f64 / 1000.0;
    // An anchored window with a sample of its own but nothing before it
    // (the series starts inside) has not moved: 0, not nothing.
    if modifier == RangeModifier::Anchored
        && points.len() == 1
        && lo < hi
        && matches!(func, Func::Delta | Func::Increase | Func::Rate)
    {
        return Some(0.0);
    }
    match func {
        Func::Changes => (!points.is_empty()).then(|| {
            points
                .windows(2)
                .filter(|w| !(w[0] == w[1] || (w[0].is_nan() && w[1].is_nan())))
                .count() as f64
        }),
        Func::Resets => {
            (!points.is_empty()).then(|| points.windows(2).filter(|w| w[1] < w[0]).count() as f64)
        }
        Func::Delta => (points.len() >= 2).then(|| points[points.len() - 1] - points[0]),
        Func::Increase | Func::Rate => (points.len() >= 2).then(|| {
            let inc: f64 = points
                .windows(2)
                .map(|w| if w[1] < w[0] { w[1] } else { w[1] - w[0] })
                .sum();
            if func == Func::Rate { inc / secs } else { inc }
        }),
        _ => None,
    }
}

/// The value at `t` interpolated between the newest sample at or before
/// it and the next one after it, each no further than `lookback` away; a
/// side with no sample lends the other side's value. With `counter`, a
/// drop between the two means a restart from 0.
fn interpolate(s: &[Sample], t: i64, lookback: i64, counter: bool) -> Option<f64> {
    let i = s.partition_point(|p| p.t <= t);
    let prev = i
        .checked_sub(1)
        .and_then(|j| s.get(j))
        .filter(|p| p.t > t.saturating_sub(lookback));
    let next = s.get(i).filter(|p| p.t < t.saturating_add(lookback));
    Some(match (prev, next) {
        (Some(p), _) if p.t == t => p.v,
        (Some(p), Some(n)) => {
            let frac = (t - p.t) as f64 / (n.t - p.t) as f64;
            let from = if counter && n.v < p.v { 0.0 } else { p.v };
            from + (n.v - from) * frac
        }
        (Some(p), None) => p.v,
        (None, Some(n)) => n.v,
        (None, None) => return None,
    })
}

/// `x smoothed`: at each step the value interpolated between the samples
/// around it (plain linear, a counter is not assumed).
pub(crate) fn smoothed_selector(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let lookback = ctx.lookback;
    let (raw, eg, off) = range::selector_load_around(ctx, vs, g, lookback)?;
    let mut out = selected::par_map(
        ctx,
        raw,
        || (),
        |_, labels, s, _, _| {
            let mut vals = ctx.grid(eg.n)?;
            for (k, t) in eg.times().enumerate() {
                let t = t.saturating_sub(off);
                let i = s.partition_point(|p| p.t <= t);
                let has_prev = i
                    .checked_sub(1)
                    .and_then(|j| s.get(j))
                    .is_some_and(|p| p.t > t.saturating_sub(lookback));
                if has_prev {
                    vals[k] = interpolate(s, t, lookback, false);
                }
            }
            Ok(GSeries {
                hists: Vec::new(),
                labels: labels.clone(),
                vals,
            })
        },
    )?;
    range::broadcast(ctx, &mut out, g.n)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(vals: &[(i64, f64)]) -> Vec<Sample> {
        vals.iter()
            .map(|&(t, v)| Sample::new(t * 1000, v))
            .collect()
    }

    #[test]
    fn counter_aware_interpolation() {
        let s = series(&[(0, 3.0), (60, 2.0), (120, 4.0)]);
        assert_eq!(interpolate(&s, 30_000, 300_000, true), Some(1.0));
        assert_eq!(interpolate(&s, 30_000, 300_000, false), Some(2.5));
        assert_eq!(interpolate(&s, 90_000, 300_000, true), Some(3.0));
        assert_eq!(interpolate(&s, 500_000, 300_000, true), None);
    }

    #[test]
    fn anchored_increase_counts_resets_without_extrapolating() {
        let s = series(&[(0, 1.0), (60, 2.0), (120, 3.0), (180, 1.0)]);
        let inc = window(
            Func::Increase,
            RangeModifier::Anchored,
            &s,
            180_000,
            120_000,
            300_000,
        );
        // Anchor 2 at 60s, then 3, then a reset to 1.
        assert_eq!(inc, Some(2.0));
    }
}
