//! Element-wise math: `abs`, `ceil`, trig, `clamp*`, `round`, `sgn`, and
//! `sort*` ordering of instant results.

use super::super::Ctx;
use super::super::value::{GSeries, Grid};
use super::{FamilyResult, map_values, scalar_arg, vector_arg};
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

fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        "sgn" => |x: f64| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        },
        _ => return None,
    })
}

pub(super) fn call(ctx: &Ctx, name: &str, args: &[Expr], g: Grid) -> FamilyResult {
    if let Some(f) = simple(name) {
        let v = vector_arg(ctx, args.first(), g)?;
        return map_values(v, |x, _| f(x)).map(Some);
    }
    Ok(Some(match name {
        "clamp" => {
            let v = vector_arg(ctx, args.first(), g)?;
            let lo = scalar_arg(ctx, args.get(1), g)?;
            let hi = scalar_arg(ctx, args.get(2), g)?;
            let mut out = map_values(v, |x, k| go_max(lo[k], go_min(hi[k], x)))?;
            // min > max selects nothing at that step.
            for s in &mut out {
                for (k, v) in s.vals.iter_mut().enumerate() {
                    if lo[k] > hi[k] {
                        *v = None;
                    }
                }
            }
            out.retain(|s| s.vals.iter().any(Option::is_some));
            out
        }
        "clamp_min" => {
            let v = vector_arg(ctx, args.first(), g)?;
            let lo = scalar_arg(ctx, args.get(1), g)?;
            map_values(v, |x, k| go_max(x, lo[k]))?
        }
        "clamp_max" => {
            let v = vector_arg(ctx, args.first(), g)?;
            let hi = scalar_arg(ctx, args.get(1), g)?;
            map_values(v, |x, k| go_min(x, hi[k]))?
        }
        "round" => {
            let v = vector_arg(ctx, args.first(), g)?;
            let to = match args.get(1) {
                Some(_) => scalar_arg(ctx, args.get(1), g)?,
                None => ctx.filled(1.0, g.n)?,
            };
            // Halves round up, as Prometheus does (not away from zero).
            map_values(v, |x, k| {
                let inv = 1.0 / to[k];
                (x * inv + 0.5).floor() / inv
            })?
        }
        "sort" | "sort_desc" => {
            let mut v = vector_arg(ctx, args.first(), g)?;
            if g.n == 1 {
                let desc = name == "sort_desc";
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
            v
        }
        _ => return Ok(None),
    }))
}
