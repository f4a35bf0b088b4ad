//! Element-wise math: `abs`, `ceil`, trig, `clamp*`, `round`, `sgn`, and
//! `sort*` ordering of instant results.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::value::{GSeries, Grid};
use super::apply::map_values;
use super::args::{scalar_arg, vector_arg};
use crate::parser::ast::Expr;

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// `sgn`: the sign, with zero and NaN as they are.
pub(super) fn sgn(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// `f` applied to every value of the vector argument.
pub(super) fn unary(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    f: fn(f64) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    let v = vector_arg(ctx, args.first(), g)?;
    map_values(ctx, v, |x, _| f(x))
}

/// `clamp(v, min, max)`.
pub(super) fn clamp(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let v = vector_arg(ctx, args.first(), g)?;
    let lo = scalar_arg(ctx, args.get(1), g)?;
    let hi = scalar_arg(ctx, args.get(2), g)?;
    let mut out = map_values(ctx, v, |x, k| go_max(lo[k], go_min(hi[k], x)))?;
    // min > max selects nothing at that step.
    for s in &mut out {
        for (k, v) in s.vals.iter_mut().enumerate() {
            if lo[k] > hi[k] {
                *v = None;
            }
        }
    }
    out.retain(|s| s.vals.iter().any(Option::is_some));
    Ok(out)
}

/// `clamp_min(v, min)`.
pub(super) fn clamp_min(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let v = vector_arg(ctx, args.first(), g)?;
    let lo = scalar_arg(ctx, args.get(1), g)?;
    map_values(ctx, v, |x, k| go_max(x, lo[k]))
}

/// `clamp_max(v, max)`.
pub(super) fn clamp_max(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let v = vector_arg(ctx, args.first(), g)?;
    let hi = scalar_arg(ctx, args.get(1), g)?;
    map_values(ctx, v, |x, k| go_min(x, hi[k]))
}

/// `round(v, to_nearest = 1)`.
pub(super) fn round(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let v = vector_arg(ctx, args.first(), g)?;
    let to = match args.get(1) {
        Some(_) => scalar_arg(ctx, args.get(1), g)?,
        None => ctx.filled(1.0, g.n)?,
    };
    // Halves round up, as Prometheus does (not away from zero).
    map_values(ctx, v, |x, k| {
        let inv = 1.0 / to[k];
        (x * inv + 0.5).floor() / inv
    })
}

/// `sort(v)`, or `sort_desc(v)` with `desc`: only an instant query's
/// result has an order.
pub(super) fn sort(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    desc: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let mut v = vector_arg(ctx, args.first(), g)?;
    // Histogram samples have no order: sort drops them.
    for s in &mut v {
        s.hists = Vec::new();
    }
    v.retain(GSeries::has_any);
    if g.n == 1 {
        let key = |s: &GSeries| s.vals[0].unwrap_or(f64::NAN);
        v.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => y.total_cmp(&x),
                _ => x.total_cmp(&y),
            }
        });
    }
    Ok(v)
}
