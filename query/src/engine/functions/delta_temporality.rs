//! The experimental functions over delta-temporality series (each sample
//! is the change since the previous one, as OTLP delta sums arrive):
//! `direct_delta_increase`/`direct_delta_rate` add up the samples in the
//! window; the `extrapolated_` forms scale that sum to the window, taking
//! each sample to cover the mean spacing of the window's samples.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::value::{GSeries, Grid};
use super::apply::over_windows;
use super::args::matrix;
use crate::parser::ast::Expr;
use hourglass_storage::Sample;

/// One of the four functions: `extrapolated` and/or `per_second`.
pub(super) fn call(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    extrapolated: bool,
    per_second: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let m = matrix(ctx, args.first(), g)?;
    let range_s = m.range as f64 / 1000.0;
    over_windows(ctx, m, g.n, false, |w, _| {
        let sum = window_sum(w, range_s, extrapolated)?;
        Some(if per_second { sum / range_s } else { sum })
    })
}

/// The window's total change, scaled to `range_s` when `extrapolated`.
fn window_sum(w: &[Sample], range_s: f64, extrapolated: bool) -> Option<f64> {
    let sum: f64 = w.iter().map(|s| s.v).sum();
    if !extrapolated {
        return (!w.is_empty()).then_some(sum);
    }
    // Each sample covers the mean spacing before it: n of them cover
    // n * spacing; at least two are needed to know the spacing.
    let (first, last) = (w.first()?, w.last()?);
    if w.len() < 2 {
        return None;
    }
    let spacing = (last.t - first.t) as f64 / 1000.0 / (w.len() - 1) as f64;
    let covered = spacing * w.len() as f64;
    Some(sum * range_s / covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_sums_and_extrapolated_scales_to_the_window() {
        let w: Vec<Sample> = [10_000, 20_000, 30_000]
            .iter()
            .map(|&t| Sample::new(t, 1.0))
            .collect();
        assert_eq!(window_sum(&w, 21.0, false), Some(3.0));
        let e = window_sum(&w, 21.0, true).unwrap_or(f64::NAN);
        assert!((e - 2.1).abs() < 1e-12, "{e}");
        assert_eq!(window_sum(&w[..1], 21.0, true), None);
        assert_eq!(window_sum(&[], 21.0, false), None);
    }
}
