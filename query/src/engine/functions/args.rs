//! A call's arguments, evaluated: a missing or mistyped argument reads as
//! an empty vector, NaN scalars, an empty string or an empty matrix.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range::{self, MatrixArg};
use super::super::value::{GSeries, GValue, Grid};
use crate::parser::ast::Expr;
use hourglass_storage::ReadAs;

/// `e` without the parentheses around it.
pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(inner) => unparen(inner),
        e => e,
    }
}

pub(super) fn scalar_arg(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<Vec<f64>, EvalError> {
    Ok(match e.map(|e| ctx.eval(e, g)).transpose()? {
        Some(GValue::Scalar(v)) => v,
        _ => ctx.filled(f64::NAN, g.n)?,
    })
}

pub(super) fn vector_arg(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<Vec<GSeries>, EvalError> {
    Ok(match e.map(|e| ctx.eval(e, g)).transpose()? {
        Some(GValue::Vector(v)) => v,
        _ => Vec::new(),
    })
}

pub(super) fn string_arg(e: Option<&Expr>) -> String {
    match e.map(unparen) {
        Some(Expr::String(s)) => s.clone(),
        _ => String::new(),
    }
}

pub(super) fn matrix(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<MatrixArg, EvalError> {
    matrix_as(ctx, e, g, ReadAs::Last)
}

/// [`matrix`], with downsampled spans read as `read`.
pub(super) fn matrix_as(
    ctx: &Ctx,
    e: Option<&Expr>,
    g: Grid,
    read: ReadAs,
) -> Result<MatrixArg, EvalError> {
    match e {
        Some(e) => range::matrix_arg_as(ctx, e, g, read),
        None => Ok(MatrixArg {
            series: Vec::new(),
            range: 1,
            ends: vec![g.start],
            times: vec![g.start],
            name_fixed: true,
        }),
    }
}
