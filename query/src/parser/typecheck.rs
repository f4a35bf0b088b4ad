//! Static type rules, applied as each node is built so no extra walk of
//! the tree is needed. Messages keep Prometheus's wording where a user may
//! search for it.

use super::ast::{BinaryOp, Expr, ValueType, VectorMatching};
use super::error::ParseError;
use super::functions::{Func, Function};
use super::lexer::Token;
use super::{Node, PResult};
use std::ops::Range;

pub(crate) fn expect_type(node: &Node, want: ValueType, context: &str) -> PResult<()> {
    if node.ty == want {
        return Ok(());
    }
    Err(ParseError::new(
        node.span(),
        format!(
            "expected type {} in {context}, got {}",
            want.name(),
            node.ty.name()
        ),
    ))
}

pub(crate) fn check_call(func: &Function, args: &[Node], span: Range<usize>) -> PResult<()> {
    let n = args.len();
    let (min, max) = (func.min_args(), func.max_args());
    let problem = if func.variadic == 0 && n != min {
        Some(format!("expected {min} argument(s)"))
    } else if n < min {
        Some(format!("expected at least {min} argument(s)"))
    } else {
        max.filter(|&max| n > max)
            .map(|max| format!("expected at most {max} argument(s)"))
    };
    if let Some(p) = problem {
        return Err(ParseError::new(
            span,
            format!("{p} in call to {:?}, got {n}", func.name),
        ));
    }
    let context = format!("call to function {:?}", func.name);
    for (i, arg) in args.iter().enumerate() {
        if let Some(want) = func.arg_type(i) {
            expect_type(arg, want, &context)?;
        }
    }
    // `info`'s second argument selects info metrics by labels only.
    if func.id == Func::Info
        && let Some(sel) = args.get(1)
    {
        match &sel.expr {
            Expr::Vector(v) if v.name.is_none() => {}
            _ => {
                return Err(ParseError::new(
                    sel.span(),
                    "expected label selectors only, got vector selector instead",
                ));
            }
        }
    }
    Ok(())
}

/// Checks `lhs op rhs` and returns its type and the normalised matching.
pub(crate) fn check_binary(
    op: BinaryOp,
    op_tok: Token,
    lhs: &Node,
    rhs: &Node,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> PResult<(ValueType, Option<VectorMatching>)> {
    let span = lhs.start..rhs.end;
    let op_span = op_tok.start..op_tok.end;
    let err = |range: Range<usize>, msg: String| Err(ParseError::new(range, msg));
    let (lt, rt) = (lhs.ty, rhs.ty);
    if return_bool && !op.is_comparison() {
        return err(
            op_span,
            "bool modifier can only be used on comparison operators".into(),
        );
    }
    if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
        return err(
            span,
            "comparisons between scalars must use BOOL modifier".into(),
        );
    }
    if let Some(m) = &matching
        && m.on
        && let Some((_, include)) = &m.group
        && let Some(l) = m.labels.iter().find(|l| include.contains(l))
    {
        return err(
            op_span,
            format!("label {l:?} must not occur in ON and GROUP clause at once"),
        );
    }
    for (side, t) in [(lhs, lt), (rhs, rt)] {
        if !matches!(t, ValueType::Scalar | ValueType::Vector) {
            return err(
                side.span(),
                format!(
                    "binary expression must contain only scalar and instant vector types, got {}",
                    t.name()
                ),
            );
        }
    }
    let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
    let mut matching = matching;
    if !both_vectors {
        if matching.as_ref().is_some_and(|m| !m.labels.is_empty()) {
            return err(
                op_span,
                "vector matching only allowed between instant vectors".into(),
            );
        }
        matching = None;
        if op.is_set() {
            return err(
                op_span,
                format!(
                    "set operator {:?} not allowed in binary scalar expression",
                    op.as_str()
                ),
            );
        }
    } else if op.is_set() && matching.as_ref().is_some_and(|m| m.group.is_some()) {
        return err(
            op_span,
            format!("no grouping allowed for {:?} operation", op.as_str()),
        );
    }
    // `ignoring()` alone is the default matching.
    let matching = matching.filter(|m| m.on || !m.labels.is_empty() || m.group.is_some());
    let ty = if both_vectors || lt == ValueType::Vector || rt == ValueType::Vector {
        ValueType::Vector
    } else {
        ValueType::Scalar
    };
    Ok((ty, matching))
}
