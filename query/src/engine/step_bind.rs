//! A range query's durations bound to the query: once, or at each step
//! when one reads `time()` (each step then evaluated alone).

use super::error::EvalError;
use super::value::{GValue, Grid};
use super::{Ctx, aligned, eval};
use crate::parser::ast::Expr;
use crate::parser::duration_expr::{QueryTimes, bind, reads_eval_time};

/// `expr` over `g` with its query-dependent durations bound to `times`
/// (`now` taken from each step where `time()` is read).
pub(crate) fn eval_bound(
    ctx: &Ctx,
    expr: &Expr,
    g: Grid,
    times: QueryTimes,
) -> Result<GValue, EvalError> {
    let bad = |reason| EvalError::BadDuration { reason };
    if reads_eval_time(expr) {
        return aligned::per_step(ctx, g, |one| {
            let at = QueryTimes {
                now: one.start,
                ..times
            };
            let bound = bind(expr, at).map_err(bad)?;
            eval::eval(ctx, bound.as_ref().unwrap_or(expr), one)
        });
    }
    let bound = bind(expr, times).map_err(bad)?;
    eval::eval(ctx, bound.as_ref().unwrap_or(expr), g)
}
