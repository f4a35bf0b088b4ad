//! Aligned subqueries (`x[1h::1m]`) under a range query whose step is not
//! a multiple of theirs. Their points sit on each evaluation time minus
//! multiples of their step, so different steps see different points and
//! no single inner grid serves them all: the call that reads the subquery
//! is evaluated one step at a time and the rows put back together (as is
//! a range query whose durations read `time()`).

use super::Ctx;
use super::error::EvalError;
use super::functions;
use super::value::{GSeries, GValue, Grid};
use crate::parser::ast::{Call, Expr};
use hourglass_storage::Labels;
use std::collections::HashMap;

/// Does `c` read an aligned subquery whose points differ between the
/// steps of `g`?
pub(crate) fn needs_per_step(ctx: &Ctx, c: &Call, g: Grid) -> bool {
    g.n > 1
        && c.args.iter().any(|a| {
            let mut a = a;
            while let Expr::Paren(inner) = a {
                a = inner;
            }
            matches!(a, Expr::Subquery(sq) if sq.aligned
                && sq.at.is_none()
                && g.step % sq.step_ms.unwrap_or(ctx.subquery_step).max(1) != 0)
        })
}

/// Evaluates `c` at each step of `g` alone and joins the results by
/// labels.
pub(crate) fn per_step_call(ctx: &Ctx, c: &Call, g: Grid) -> Result<GValue, EvalError> {
    per_step(ctx, g, |one| functions::call(ctx, c, one))
}

/// Prometheus anchors the points of an aligned subquery under a range
/// query on the query's end, `gcd(query step, subquery step)` apart: when
/// the end is off the query's steps, no step finds its points there.
pub(crate) fn off_end_grid(ctx: &Ctx, sq_step: i64, g: Grid) -> bool {
    let q = ctx.query_step;
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    q > 0 && g.step == q && (ctx.query_end - g.start).rem_euclid(gcd(q, sq_step.max(1))) != 0
}

/// Evaluates `one` at each step of `g` alone and joins the results by
/// labels.
pub(crate) fn per_step(
    ctx: &Ctx,
    g: Grid,
    mut one: impl FnMut(Grid) -> Result<GValue, EvalError>,
) -> Result<GValue, EvalError> {
    let mut rows: Vec<GSeries> = Vec::new();
    let mut scalar: Option<Vec<f64>> = None;
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for k in 0..g.n {
        ctx.check()?;
        let one_grid = Grid {
            start: g.t(k),
            step: g.step,
            n: 1,
        };
        match one(one_grid)? {
            GValue::Scalar(v) => {
                let row = match &mut scalar {
                    Some(row) => row,
                    None => scalar.insert(ctx.filled(f64::NAN, g.n)?),
                };
                row[k] = v.first().copied().unwrap_or(f64::NAN);
            }
            GValue::String(s) => return Ok(GValue::String(s)),
            GValue::Vector(series) => {
                for s in series {
                    let v = s.vals.first().copied().flatten();
                    let h = s.hists.into_iter().next().flatten();
                    if v.is_none() && h.is_none() {
                        continue;
                    }
                    let i = match index.get(&s.labels) {
                        Some(&i) => i,
                        None => {
                            rows.push(GSeries {
                                labels: s.labels.clone(),
                                vals: ctx.grid(g.n)?,
                                hists: Vec::new(),
                            });
                            index.insert(s.labels, rows.len() - 1);
                            rows.len() - 1
                        }
                    };
                    rows[i].vals[k] = v;
                    if let Some(h) = h {
                        let row = &mut rows[i].hists;
                        if row.is_empty() {
                            row.resize(g.n, None);
                        }
                        row[k] = Some(h);
                    }
                }
            }
        }
    }
    Ok(match scalar {
        Some(v) => GValue::Scalar(v),
        None => GValue::Vector(rows),
    })
}
