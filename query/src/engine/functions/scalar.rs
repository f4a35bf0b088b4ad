//! Between scalars and vectors: `time`, `pi`, `vector`, `scalar`,
//! `timestamp`, `min_of`/`max_of`, and the query's `step`, `range`,
//! `start` and `end`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range;
use super::super::value::{GSeries, GValue, Grid};
use super::apply::map_values;
use super::args::{scalar_arg, unparen, vector_arg};
use crate::parser::ast::Expr;
use hourglass_storage::Labels;

/// `time()`: the evaluation time of each step, in seconds.
pub(super) fn time(ctx: &Ctx, g: Grid) -> Result<GValue, EvalError> {
    ctx.admit::<f64>(g.n)?;
    Ok(GValue::Scalar(
        g.times().map(|t| t as f64 / 1000.0).collect(),
    ))
}

/// `step()`, `range()`, `start()`, `end()`: a time of the query (ms),
/// in seconds, at every step.
pub(super) fn seconds(ctx: &Ctx, g: Grid, ms: i64) -> Result<GValue, EvalError> {
    Ok(GValue::Scalar(ctx.filled(ms as f64 / 1000.0, g.n)?))
}

/// `pi()`.
pub(super) fn pi(ctx: &Ctx, g: Grid) -> Result<GValue, EvalError> {
    Ok(GValue::Scalar(ctx.filled(std::f64::consts::PI, g.n)?))
}

/// `min_of(a, b)` (`first` is `<`) and `max_of(a, b)` (`>`): the smaller
/// or larger scalar at each step, NaN when either is NaN.
pub(super) fn min_max_of(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    first: fn(&f64, &f64) -> bool,
) -> Result<GValue, EvalError> {
    let a = scalar_arg(ctx, args.first(), g)?;
    let b = scalar_arg(ctx, args.get(1), g)?;
    let vals = a
        .into_iter()
        .zip(b)
        .map(|(a, b)| match (a.is_nan() || b.is_nan(), first(&a, &b)) {
            (true, _) => f64::NAN,
            (false, true) => a,
            (false, false) => b,
        })
        .collect();
    Ok(GValue::Scalar(vals))
}

/// `vector(s)`: one series without labels.
pub(super) fn vector(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<GValue, EvalError> {
    let v = scalar_arg(ctx, args.first(), g)?;
    ctx.admit::<Option<f64>>(v.len())?;
    Ok(GValue::Vector(vec![GSeries {
        hists: Vec::new(),
        labels: Labels::default(),
        vals: v.into_iter().map(Some).collect(),
    }]))
}

/// `scalar(v)`: the value of a one-element vector, NaN otherwise.
pub(super) fn scalar(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<GValue, EvalError> {
    let series = vector_arg(ctx, args.first(), g)?;
    ctx.admit::<f64>(g.n)?;
    let vals = (0..g.n)
        .map(|k| {
            let mut it = series.iter().filter_map(|s| s.vals[k]);
            match (it.next(), it.next()) {
                (Some(v), None) => v,
                _ => f64::NAN,
            }
        })
        .collect();
    Ok(GValue::Scalar(vals))
}

/// `timestamp(v)`.
pub(super) fn timestamp(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let e = args.first();
    // On a plain selector the sample's own time; otherwise the step's.
    if let Some(Expr::Vector(vs)) = e.map(unparen) {
        let series = range::vector_selector(ctx, vs, g, true)?;
        return map_values(ctx, series, |v, _| v);
    }
    let series = vector_arg(ctx, e, g)?;
    map_values(ctx, series, |_, k| g.t(k) as f64 / 1000.0)
}
