//! Canonical PromQL for an [`Expr`]: one space around binary operators,
//! `sum by (job) (x)` for aggregations, double-quoted strings, compound
//! durations. Parsing the output gives back an equal tree.

use super::ast::{
    Aggregate, At, Binary, BinaryOp, Call, DurationExpr, Expr, GroupSide, Grouping, MatrixSelector,
    Subquery, Unary, UnaryOp, VectorSelector,
};
use super::number::format_number;
use crate::duration::format_duration;
use crate::prom_text::is_legacy_label_name;
use crate::prom_text::{Quoting, quoted};
use std::fmt::{self, Display, Formatter, Write};

/// Words that would not read back as a metric name if printed bare.
pub const KEYWORDS: [&str; 34] = [
    "and",
    "or",
    "unless",
    "atan2",
    "bitand",
    "bitor",
    "bitxor",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "start",
    "end",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "nan",
];

fn is_bare_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k))
}

fn write_label(f: &mut Formatter<'_>, name: &str, in_list: bool) -> fmt::Result {
    let numeric = name.eq_ignore_ascii_case("inf") || name.eq_ignore_ascii_case("nan");
    if is_legacy_label_name(name) && !(in_list && numeric) {
        f.write_str(name)
    } else {
        f.write_str(&quote_promql(name))
    }
}

fn write_label_list(f: &mut Formatter<'_>, labels: &[String]) -> fmt::Result {
    f.write_char('(')?;
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_label(f, l, true)?;
    }
    f.write_char(')')
}

/// A range or step: milliseconds, or the expression the query binds.
fn write_duration(f: &mut Formatter<'_>, ms: i64, e: Option<&DurationExpr>) -> fmt::Result {
    match e {
        Some(e) => write!(f, "{e}"),
        None => f.write_str(&format_duration(ms)),
    }
}

fn write_modifiers(
    f: &mut Formatter<'_>,
    at: Option<At>,
    offset: Option<i64>,
    offset_expr: Option<&DurationExpr>,
) -> fmt::Result {
    match at {
        Some(At::Timestamp(ms)) => {
            let sign = if ms < 0 { "-" } else { "" };
            let abs = ms.unsigned_abs();
            write!(f, " @ {sign}{}.{:03}", abs / 1000, abs % 1000)?;
        }
        Some(At::Start) => f.write_str(" @ start()")?,
        Some(At::End) => f.write_str(" @ end()")?,
        None => {}
    }
    if let Some(e) = offset_expr {
        if e.is_primary() {
            write!(f, " offset {e}")?;
        } else {
            write!(f, " offset ({e})")?;
        }
    } else if let Some(ms) = offset.filter(|&ms| ms != 0) {
        write!(f, " offset {}", format_duration(ms))?;
    }
    Ok(())
}

impl VectorSelector {
    fn write_selector(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut rest = self.matchers.as_slice();
        let mut items: Vec<String> = Vec::new();
        if let Some(name) = &self.name {
            // The first matcher is the name's own `__name__="…"`.
            rest = rest.get(1..).unwrap_or(&[]);
            // Outside the braces a name may not meet another `__name__`.
            let other_name = rest.iter().any(|m| m.name() == "__name__");
            if is_bare_metric_name(name) && !other_name {
                f.write_str(name)?;
            } else {
                items.push(quote_promql(name));
            }
        }
        for m in rest {
            let label = if is_legacy_label_name(m.name()) {
                m.name().to_owned()
            } else {
                quote_promql(m.name())
            };
            items.push(format!(
                "{label}{}{}",
                m.op().as_str(),
                quote_promql(m.value())
            ));
        }
        if !items.is_empty() || self.name.is_none() {
            write!(f, "{{{}}}", items.join(", "))?;
        }
        Ok(())
    }

    /// What follows the selector (after a range, if any): `@`, `offset`,
    /// then an `anchored`/`smoothed` modifier.
    fn write_suffix(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_modifiers(f, self.at, self.offset, self.offset_expr.as_deref())?;
        if let Some(ms) = self.align {
            write!(f, " align {}", format_duration(ms))?;
        }
        if let Some(m) = self.modifier {
            write!(f, " {}", m.as_str())?;
        }
        Ok(())
    }
}

impl Display for VectorSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write_selector(f)?;
        self.write_suffix(f)
    }
}

impl Display for MatrixSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.vector.write_selector(f)?;
        f.write_char('[')?;
        write_duration(f, self.range_ms, self.range_expr.as_deref())?;
        f.write_char(']')?;
        self.vector.write_suffix(f)
    }
}

impl Display for Subquery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `[…]` binds tighter than any operator.
        let wrap = matches!(*self.expr, Expr::Binary(_) | Expr::Unary(_));
        write_operand(f, &self.expr, wrap)?;
        f.write_char('[')?;
        write_duration(f, self.range_ms, self.range_expr.as_deref())?;
        f.write_str(if self.aligned { "::" } else { ":" })?;
        if let Some(e) = &self.step_expr {
            write!(f, "{e}")?;
        } else if let Some(step) = self.step_ms {
            f.write_str(&format_duration(step))?;
        }
        f.write_char(']')?;
        write_modifiers(f, self.at, self.offset, self.offset_expr.as_deref())
    }
}

/// Writes `e`, in parentheses when `wrap`. Trees from the parser already
/// hold `Paren` nodes wherever grouping matters, so this only fires for
/// hand-built trees, keeping their printed meaning intact.
fn write_operand(f: &mut Formatter<'_>, e: &Expr, wrap: bool) -> fmt::Result {
    if wrap {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn precedence(e: &Expr) -> Option<u8> {
    match e {
        Expr::Binary(b) => Some(b.op.precedence()),
        _ => None,
    }
}

fn is_negative_number(e: &Expr) -> bool {
    matches!(e, Expr::Number(n) if n.0.is_sign_negative() && !n.0.is_nan())
}

impl Display for Unary {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let op = if self.op == UnaryOp::Neg { '-' } else { '+' };
        f.write_char(op)?;
        // The operand binds like `^`; a literal would fold into the sign.
        let wrap = matches!(*self.expr, Expr::Number(_))
            || precedence(&self.expr).is_some_and(|p| p < BinaryOp::Pow.precedence());
        write_operand(f, &self.expr, wrap)
    }
}

impl Display for Binary {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let p = self.op.precedence();
        let right_assoc = self.op.is_right_associative();
        let wrap_lhs = precedence(&self.lhs).is_some_and(|l| l < p || (l == p && right_assoc))
            || (self.op == BinaryOp::Pow
                && (matches!(*self.lhs, Expr::Unary(_)) || is_negative_number(&self.lhs)));
        write_operand(f, &self.lhs, wrap_lhs)?;
        write!(f, " {}", self.op.as_str())?;
        if self.return_bool {
            f.write_str(" bool")?;
        }
        if let Some(m) = &self.matching {
            f.write_str(if m.on { " on " } else { " ignoring " })?;
            write_label_list(f, &m.labels)?;
            if let Some((side, include)) = &m.group {
                f.write_str(match side {
                    GroupSide::Left => " group_left ",
                    GroupSide::Right => " group_right ",
                })?;
                write_label_list(f, include)?;
            }
        }
        match (self.fill_left, self.fill_right) {
            (Some(l), Some(r)) if l == r => write!(f, " fill({})", format_number(l.0))?,
            (l, r) => {
                if let Some(l) = l {
                    write!(f, " fill_left({})", format_number(l.0))?;
                }
                if let Some(r) = r {
                    write!(f, " fill_right({})", format_number(r.0))?;
                }
            }
        }
        let wrap_rhs = precedence(&self.rhs).is_some_and(|r| r < p || (r == p && !right_assoc));
        f.write_char(' ')?;
        write_operand(f, &self.rhs, wrap_rhs)
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        match &self.grouping {
            Some(Grouping::By(l)) => {
                f.write_str(" by ")?;
                write_label_list(f, l)?;
                f.write_char(' ')?;
            }
            Some(Grouping::Without(l)) => {
                f.write_str(" without ")?;
                write_label_list(f, l)?;
                f.write_char(' ')?;
            }
            None => {}
        }
        f.write_char('(')?;
        if let Some(p) = &self.param {
            write!(f, "{p}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_char(')')
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => f.write_str(&format_number(n.0)),
            Expr::String(s) => f.write_str(&quote_promql(s)),
            Expr::Vector(v) => v.fmt(f),
            Expr::Matrix(m) => m.fmt(f),
            Expr::Subquery(s) => s.fmt(f),
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Unary(u) => u.fmt(f),
            Expr::Binary(b) => b.fmt(f),
            Expr::Aggregate(a) => a.fmt(f),
            Expr::Call(c) => c.fmt(f),
        }
    }
}

fn quote_promql(s: &str) -> String {
    quoted(s, Quoting::PromQl)
}

#[cfg(test)]
mod tests {
    use super::super::ast::NumberLiteral;
    use super::*;

    fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary(Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool: false,
            matching: None,
            fill_left: None,
            fill_right: None,
        })
    }

    fn num(v: f64) -> Expr {
        Expr::Number(NumberLiteral(v))
    }

    #[test]
    fn hand_built_trees_keep_their_meaning() {
        let a = crate::parse("a").unwrap();
        let sum = bin(BinaryOp::Add, a.clone(), num(1.0));
        assert_eq!(
            bin(BinaryOp::Mul, sum.clone(), num(2.0)).to_string(),
            "(a + 1) * 2"
        );
        assert_eq!(
            bin(BinaryOp::Sub, num(2.0), sum.clone()).to_string(),
            "2 - (a + 1)"
        );
        assert_eq!(
            bin(BinaryOp::Pow, num(-1.0), num(2.0)).to_string(),
            "(-1) ^ 2"
        );
        let pow = bin(BinaryOp::Pow, num(2.0), num(3.0));
        assert_eq!(
            bin(BinaryOp::Pow, pow.clone(), num(2.0)).to_string(),
            "(2 ^ 3) ^ 2"
        );
        assert_eq!(bin(BinaryOp::Pow, num(2.0), pow).to_string(), "2 ^ 2 ^ 3");
        let neg = |e: Expr| {
            Expr::Unary(Unary {
                op: UnaryOp::Neg,
                expr: Box::new(e),
            })
        };
        assert_eq!(neg(num(1.0)).to_string(), "-(1)");
        assert_eq!(neg(sum.clone()).to_string(), "-(a + 1)");
        let sq = Expr::Subquery(Subquery {
            expr: Box::new(sum),
            range_ms: 60_000,
            step_ms: None,
            aligned: false,
            offset: None,
            at: None,
            range_expr: None,
            step_expr: None,
            offset_expr: None,
        });
        assert_eq!(sq.to_string(), "(a + 1)[1m:]");
        let Expr::Subquery(mut aligned) = sq else {
            unreachable!()
        };
        aligned.aligned = true;
        aligned.step_ms = Some(20_000);
        assert_eq!(Expr::Subquery(aligned).to_string(), "(a + 1)[1m::20s]");
    }
}
