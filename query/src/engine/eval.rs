//! The evaluator's dispatch over the AST.

use super::Ctx;
use super::error::EvalError;
use super::value::{GValue, Grid, RangeSeries, merge_same_labels, samples_held};
use super::{aggregate, aligned, binary, functions, range};
use crate::parser::ast::{Expr, UnaryOp};

/// Evaluates an expression of scalar, string or instant-vector type at
/// every step of `g`. When it returns, the query's count of samples held
/// is what it held before plus the result: the subexpression's inputs and
/// scratch have been let go.
pub(crate) fn eval(ctx: &Ctx, e: &Expr, g: Grid) -> Result<GValue, EvalError> {
    ctx.check()?;
    let before = ctx.held();
    let v = eval_node(ctx, e, g)?;
    ctx.settle(before, samples_held(&v))?;
    Ok(v)
}

fn eval_node(ctx: &Ctx, e: &Expr, g: Grid) -> Result<GValue, EvalError> {
    Ok(match e {
        Expr::Number(n) => GValue::Scalar(ctx.filled(n.0, g.n)?),
        Expr::String(s) => GValue::String(s.clone()),
        Expr::Paren(inner) => eval(ctx, inner, g)?,
        Expr::Vector(vs) if vs.modifier.is_some() => {
            GValue::Vector(functions::smoothed_selector(ctx, vs, g)?)
        }
        Expr::Vector(vs) if let Some(a) = vs.align => {
            GValue::Vector(super::align::vector_selector(ctx, vs, g, false, a)?)
        }
        Expr::Vector(vs) => GValue::Vector(range::vector_selector(ctx, vs, g, false)?),
        Expr::Matrix(_) | Expr::Subquery(_) => {
            return Err(EvalError::BadRangeType {
                got: "range vector",
            });
        }
        Expr::Unary(u) => {
            let v = eval(ctx, &u.expr, g)?;
            match (u.op, v) {
                (UnaryOp::Plus, v) => v,
                (UnaryOp::Neg, GValue::Scalar(v)) => {
                    GValue::Scalar(v.into_iter().map(|x| -x).collect())
                }
                (UnaryOp::Neg, GValue::Vector(mut series)) => {
                    for s in &mut series {
                        s.labels = ctx.drop_name(&s.labels);
                        s.vals.iter_mut().flatten().for_each(|x| *x = -*x);
                        for h in s.hists.iter_mut().flatten() {
                            *h = super::histogram::arith::map_values(h, |c| -c);
                        }
                    }
                    GValue::Vector(merge_same_labels(series)?)
                }
                (UnaryOp::Neg, v) => v,
            }
        }
        Expr::Binary(b) => binary::eval(ctx, b, g)?,
        Expr::Aggregate(a) => aggregate::eval(ctx, a, g)?,
        Expr::Call(c) if aligned::needs_per_step(ctx, c, g) => aligned::per_step_call(ctx, c, g)?,
        Expr::Call(c) => functions::call(ctx, c, g)?,
    })
}

/// An instant query of a range-vector expression: the raw samples of
/// each window at `t`.
pub(crate) fn eval_raw_matrix(ctx: &Ctx, e: &Expr, t: i64) -> Result<Vec<RangeSeries>, EvalError> {
    let g = Grid {
        start: t,
        step: 1,
        n: 1,
    };
    let m = range::matrix_arg(ctx, e, g)?;
    let end = m.ends[0];
    let inside = |t: i64| t > end - m.range && t <= end;
    let mut raw = super::selected::into_raw(ctx, m.series)?;
    if let Some(hm) = ctx.take_hists(range::hist_key(e))? {
        // Those series' floats are in `raw` already.
        raw.retain(|s| !hm.series.iter().any(|h| h.labels == s.labels));
        raw.extend(hm.series);
    }
    let mut out: Vec<RangeSeries> = raw
        .into_iter()
        .map(|s| RangeSeries {
            points: s.samples.into_iter().filter(|p| inside(p.t)).collect(),
            histograms: s.hists.into_iter().filter(|h| inside(h.0)).collect(),
            labels: s.labels,
        })
        .filter(|s| !s.points.is_empty() || !s.histograms.is_empty())
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}
