//! Duration expressions, as Prometheus 3 accepts them wherever a duration
//! stands: `[5m * 2]`, `[step() + 1ms]`, `x[1h:(30s + 30s)]`,
//! `offset (1h - 5m)`, `offset -step()`. Operands are duration literals,
//! numbers of seconds, `step()`, `range()`, `start()`, `end()` (the
//! query's step, `end - start`, start and end, in seconds) and
//! `min(a, b)`/`max(a, b)`, and `time()` (the evaluation time); operators
//! are `+ - * / % ^` and the comparisons with `bool` (`time() > bool 0`),
//! with PromQL's precedence, and unary signs.
//!
//! An expression without query-dependent operands is folded to
//! milliseconds while parsing; the others stay in the tree and are bound
//! when the query runs ([`bind`]).

use super::ast::{BinaryOp, DurationExpr, Expr, NumberLiteral};
use super::error::ParseError;
use super::lexer::Tok;
use super::number::{format_number, parse_number};
use super::{PResult, Parser};
use crate::duration::{format_duration, parse_duration_ms};
use std::fmt::{self, Display, Formatter};

/// Unary signs bind tighter than `*` but looser than `^`, as in PromQL.
const UNARY_OPERAND_PREC: u8 = 6;

/// What `step()`, `range()`, `start()` and `end()` stand for (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTimes {
    /// Query start.
    pub start: i64,
    /// Query end.
    pub end: i64,
    /// Query step; 0 for an instant query.
    pub step: i64,
    /// The evaluation time `time()` stands for: the instant query's time,
    /// or the step a range query is at.
    pub now: i64,
}

impl DurationExpr {
    /// True when the value does not depend on the query.
    pub fn is_constant(&self) -> bool {
        match self {
            DurationExpr::Number(_) | DurationExpr::Duration(_) => true,
            DurationExpr::Step
            | DurationExpr::Range
            | DurationExpr::Start
            | DurationExpr::End
            | DurationExpr::Time => false,
            DurationExpr::Neg(e) => e.is_constant(),
            DurationExpr::Binary(_, a, b) | DurationExpr::Min(a, b) | DurationExpr::Max(a, b) => {
                a.is_constant() && b.is_constant()
            }
        }
    }

    /// True when `time()` is in it: the value changes from step to step.
    fn reads_time(&self) -> bool {
        match self {
            DurationExpr::Time => true,
            DurationExpr::Neg(e) => e.reads_time(),
            DurationExpr::Binary(_, a, b) | DurationExpr::Min(a, b) | DurationExpr::Max(a, b) => {
                a.reads_time() || b.reads_time()
            }
            _ => false,
        }
    }

    /// The value in seconds.
    pub fn seconds(&self, q: QueryTimes) -> Result<f64, String> {
        let ms = |v: i64| v as f64 / 1000.0;
        Ok(match self {
            DurationExpr::Number(n) => n.0,
            DurationExpr::Duration(d) => ms(*d),
            DurationExpr::Step => ms(q.step),
            DurationExpr::Range => ms(q.end.saturating_sub(q.start)),
            DurationExpr::Start => ms(q.start),
            DurationExpr::End => ms(q.end),
            DurationExpr::Time => ms(q.now),
            DurationExpr::Neg(e) => -e.seconds(q)?,
            DurationExpr::Min(a, b) => a.seconds(q)?.min(b.seconds(q)?),
            DurationExpr::Max(a, b) => a.seconds(q)?.max(b.seconds(q)?),
            DurationExpr::Binary(op, a, b) => {
                let (a, b) = (a.seconds(q)?, b.seconds(q)?);
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div if b == 0.0 => {
                        return Err("division by zero in duration expression".into());
                    }
                    BinaryOp::Div => a / b,
                    BinaryOp::Mod if b == 0.0 => {
                        return Err("modulo by zero in duration expression".into());
                    }
                    BinaryOp::Mod => a % b,
                    BinaryOp::Pow => a.powf(b),
                    op if op.is_comparison() => {
                        let holds = match op {
                            BinaryOp::Eql => a == b,
                            BinaryOp::Neq => a != b,
                            BinaryOp::Lt => a < b,
                            BinaryOp::Le => a <= b,
                            BinaryOp::Gt => a > b,
                            _ => a >= b,
                        };
                        if holds { 1.0 } else { 0.0 }
                    }
                    other => {
                        return Err(format!(
                            "operator {:?} is not allowed in a duration expression",
                            other.as_str()
                        ));
                    }
                }
            }
        })
    }

    /// The value in whole milliseconds (rounded), refusing non-finite and
    /// out-of-range results.
    pub fn millis(&self, q: QueryTimes) -> Result<i64, String> {
        let secs = self.seconds(q)?;
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() >= crate::duration::MAX_MS as f64 {
            return Err(format!("duration expression out of range: {secs}"));
        }
        Ok(ms as i64)
    }

    fn precedence(&self) -> Option<u8> {
        match self {
            DurationExpr::Binary(op, ..) => Some(op.precedence()),
            DurationExpr::Neg(_) => Some(UNARY_OPERAND_PREC - 1),
            _ => None,
        }
    }

    /// A single operand that needs no parentheses after `offset`.
    pub(crate) fn is_primary(&self) -> bool {
        match self {
            DurationExpr::Number(n) => !n.0.is_sign_negative() || n.0.is_nan(),
            DurationExpr::Duration(ms) => *ms >= 0,
            DurationExpr::Neg(_) | DurationExpr::Binary(..) => false,
            _ => true,
        }
    }
}

impl Display for DurationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Number(n) => f.write_str(&format_number(n.0)),
            DurationExpr::Duration(0) => f.write_str("0s"),
            DurationExpr::Duration(ms) => f.write_str(&format_duration(*ms)),
            DurationExpr::Step => f.write_str("step()"),
            DurationExpr::Range => f.write_str("range()"),
            DurationExpr::Start => f.write_str("start()"),
            DurationExpr::End => f.write_str("end()"),
            DurationExpr::Time => f.write_str("time()"),
            DurationExpr::Min(a, b) => write!(f, "min({a}, {b})"),
            DurationExpr::Max(a, b) => write!(f, "max({a}, {b})"),
            DurationExpr::Neg(e) => {
                let wrap = matches!(**e, DurationExpr::Number(_) | DurationExpr::Duration(_))
                    || e.precedence()
                        .is_some_and(|p| p < BinaryOp::Pow.precedence());
                if wrap {
                    write!(f, "-({e})")
                } else {
                    write!(f, "-{e}")
                }
            }
            DurationExpr::Binary(op, a, b) => {
                let p = op.precedence();
                let right = op.is_right_associative();
                let wrap_a = a.precedence().is_some_and(|l| l < p || (l == p && right))
                    || (*op == BinaryOp::Pow
                        && (matches!(**a, DurationExpr::Neg(_))
                            || matches!(**a, DurationExpr::Number(n) if n.0.is_sign_negative())
                            || matches!(**a, DurationExpr::Duration(ms) if ms < 0)));
                let wrap_b = b.precedence().is_some_and(|r| r < p || (r == p && !right));
                let side = |f: &mut Formatter<'_>, e: &DurationExpr, wrap: bool| {
                    if wrap {
                        write!(f, "({e})")
                    } else {
                        write!(f, "{e}")
                    }
                };
                side(f, a, wrap_a)?;
                let flag = if op.is_comparison() { " bool" } else { "" };
                write!(f, " {}{flag} ", op.as_str())?;
                side(f, b, wrap_b)
            }
        }
    }
}

/// A parsed duration: folded, or kept for binding at query time.
pub(crate) enum Dur {
    Fixed(i64),
    Query(Box<DurationExpr>),
}

impl<'a> Parser<'a> {
    /// A full duration expression, up to the first token that cannot
    /// continue it (`]`, `:` or the end of an `offset`'s parentheses).
    pub(crate) fn duration_expr(&mut self) -> PResult<Dur> {
        let start = self.peek().start;
        let e = self.dur_binary(0)?;
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .map_or(start, |t| t.end);
        fold(e, start..end)
    }

    /// After `offset`: an optional sign and one operand (a literal, a
    /// function, or a parenthesised expression), so that `x offset 5m + 1`
    /// still adds 1 to the offset selector.
    pub(crate) fn offset_duration(&mut self) -> PResult<Dur> {
        let start = self.peek().start;
        let t = self.peek();
        let first = if matches!(t.kind, Tok::Op(BinaryOp::Sub) | Tok::Op(BinaryOp::Add)) {
            self.peek_at(1)
        } else {
            t
        };
        let starts_duration = match first.kind {
            Tok::Number | Tok::Duration | Tok::LParen => true,
            Tok::Ident => {
                let w = self.text(first).to_ascii_lowercase();
                matches!(
                    w.as_str(),
                    "step" | "range" | "start" | "end" | "time" | "min" | "max" | "inf" | "nan"
                )
            }
            _ => false,
        };
        if !starts_duration {
            return Err(self.unexpected(first, "an offset duration such as 5m"));
        }
        let e = match t.kind {
            Tok::Op(BinaryOp::Sub) | Tok::Op(BinaryOp::Add) => {
                self.next();
                let inner = self.dur_primary()?;
                if t.kind == Tok::Op(BinaryOp::Sub) {
                    negate(inner)
                } else {
                    inner
                }
            }
            _ => self.dur_primary()?,
        };
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .map_or(start, |t| t.end);
        fold(e, start..end)
    }

    fn dur_binary(&mut self, min_prec: u8) -> PResult<DurationExpr> {
        let mut lhs = self.dur_unary()?;
        loop {
            let t = self.peek();
            let op = match t.kind {
                Tok::Op(
                    op @ (BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Mod
                    | BinaryOp::Pow),
                ) => op,
                Tok::Op(op) if op.is_comparison() => op,
                _ => return Ok(lhs),
            };
            if op.precedence() < min_prec {
                return Ok(lhs);
            }
            self.next();
            if op.is_comparison() {
                let b = self.peek();
                if !self.is_word(b, "bool") {
                    return Err(self.unexpected(b, "\"bool\" after a comparison in a duration"));
                }
                self.next();
            }
            let next = op.rhs_min_precedence();
            self.enter(t)?;
            let rhs = self.dur_binary(next);
            self.leave();
            lhs = DurationExpr::Binary(op, Box::new(lhs), Box::new(rhs?));
        }
    }

    fn dur_unary(&mut self) -> PResult<DurationExpr> {
        let t = self.peek();
        if !matches!(t.kind, Tok::Op(BinaryOp::Add) | Tok::Op(BinaryOp::Sub)) {
            return self.dur_primary();
        }
        self.next();
        self.enter(t)?;
        let operand = self.dur_binary(UNARY_OPERAND_PREC);
        self.leave();
        let operand = operand?;
        Ok(if t.kind == Tok::Op(BinaryOp::Sub) {
            negate(operand)
        } else {
            operand
        })
    }

    fn dur_primary(&mut self) -> PResult<DurationExpr> {
        let t = self.next();
        match t.kind {
            Tok::Number => parse_number(self.text(t))
                .map(|v| DurationExpr::Number(NumberLiteral(v)))
                .map_err(|m| ParseError::new(t.start..t.end, m)),
            Tok::Duration => parse_duration_ms(self.text(t))
                .map(DurationExpr::Duration)
                .map_err(|e| ParseError::new(t.start..t.end, e.to_string())),
            Tok::LParen => {
                self.enter(t)?;
                let inner = self.dur_binary(0);
                self.leave();
                let inner = inner?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(inner)
            }
            Tok::Ident => {
                let word = self.text(t).to_ascii_lowercase();
                let leaf = match word.as_str() {
                    "step" => Some(DurationExpr::Step),
                    "range" => Some(DurationExpr::Range),
                    "start" => Some(DurationExpr::Start),
                    "end" => Some(DurationExpr::End),
                    "time" => Some(DurationExpr::Time),
                    _ => None,
                };
                if let Some(leaf) = leaf {
                    self.expect(Tok::LParen, "\"(\"")?;
                    self.expect(Tok::RParen, "\")\"")?;
                    return Ok(leaf);
                }
                if word == "inf" || word == "nan" {
                    let v = if word == "inf" {
                        f64::INFINITY
                    } else {
                        f64::NAN
                    };
                    return Ok(DurationExpr::Number(NumberLiteral(v)));
                }
                if word == "min" || word == "max" {
                    self.expect(Tok::LParen, "\"(\"")?;
                    self.enter(t)?;
                    let a = self.dur_binary(0);
                    let sep = a.and_then(|a| {
                        self.expect(Tok::Comma, "\",\"")?;
                        let b = self.dur_binary(0)?;
                        Ok((a, b))
                    });
                    self.leave();
                    let (a, b) = sep?;
                    self.expect(Tok::RParen, "\")\"")?;
                    let (a, b) = (Box::new(a), Box::new(b));
                    return Ok(if word == "min" {
                        DurationExpr::Min(a, b)
                    } else {
                        DurationExpr::Max(a, b)
                    });
                }
                Err(self.unexpected(
                    t,
                    "a duration, a number, step(), range(), start(), end(), time(), min() or max()",
                ))
            }
            _ => Err(self.unexpected(t, "a duration expression")),
        }
    }
}

/// `-e`, folded into a literal.
fn negate(e: DurationExpr) -> DurationExpr {
    match e {
        DurationExpr::Number(NumberLiteral(v)) => DurationExpr::Number(NumberLiteral(-v)),
        DurationExpr::Duration(ms) => DurationExpr::Duration(-ms),
        other => DurationExpr::Neg(Box::new(other)),
    }
}

fn fold(e: DurationExpr, span: std::ops::Range<usize>) -> PResult<Dur> {
    if !e.is_constant() {
        return Ok(Dur::Query(Box::new(e)));
    }
    let q = QueryTimes {
        start: 0,
        end: 0,
        step: 0,
        now: 0,
    };
    e.millis(q)
        .map(Dur::Fixed)
        .map_err(|m| ParseError::new(span, m))
}

/// Replaces every query-dependent duration in `e` by its value for `q`.
/// `Ok(None)` when there is none (the common case: nothing is copied).
pub fn bind(e: &Expr, q: QueryTimes) -> Result<Option<Expr>, String> {
    if !has_query_durations(e) {
        return Ok(None);
    }
    let mut e = e.clone();
    bind_mut(&mut e, q)?;
    Ok(Some(e))
}

/// True when a duration in `e` reads `time()`: a range query binds it
/// anew at each step.
pub fn reads_eval_time(e: &Expr) -> bool {
    any_duration(e, &DurationExpr::reads_time)
}

fn has_query_durations(e: &Expr) -> bool {
    any_duration(e, &|_| true)
}

/// True when a duration expression (an offset, range or step) anywhere in
/// `e` satisfies `f`.
fn any_duration(e: &Expr, f: &impl Fn(&DurationExpr) -> bool) -> bool {
    let d = |d: &Option<Box<DurationExpr>>| d.as_deref().is_some_and(f);
    let any = |e: &Expr| any_duration(e, f);
    match e {
        Expr::Number(_) | Expr::String(_) => false,
        Expr::Vector(v) => d(&v.offset_expr),
        Expr::Matrix(m) => d(&m.range_expr) || d(&m.vector.offset_expr),
        Expr::Subquery(s) => {
            d(&s.range_expr) || d(&s.step_expr) || d(&s.offset_expr) || any(&s.expr)
        }
        Expr::Paren(e) => any(e),
        Expr::Unary(u) => any(&u.expr),
        Expr::Binary(b) => any(&b.lhs) || any(&b.rhs),
        Expr::Aggregate(a) => any(&a.expr) || a.param.as_deref().is_some_and(any),
        Expr::Call(c) => c.args.iter().any(any),
    }
}

fn positive(ms: i64, what: &str) -> Result<i64, String> {
    if ms <= 0 {
        return Err(format!(
            "{what} must be greater than 0, got {}",
            format_duration(ms)
        ));
    }
    Ok(ms)
}

fn bind_offset(
    slot: &mut Option<i64>,
    expr: &mut Option<Box<DurationExpr>>,
    q: QueryTimes,
) -> Result<(), String> {
    if let Some(d) = expr.take() {
        let ms = d.millis(q)?;
        *slot = (ms != 0).then_some(ms);
    }
    Ok(())
}

fn bind_mut(e: &mut Expr, q: QueryTimes) -> Result<(), String> {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Vector(v) => bind_offset(&mut v.offset, &mut v.offset_expr, q)?,
        Expr::Matrix(m) => {
            if let Some(d) = m.range_expr.take() {
                m.range_ms = positive(d.millis(q)?, "range")?;
            }
            bind_offset(&mut m.vector.offset, &mut m.vector.offset_expr, q)?;
        }
        Expr::Subquery(s) => {
            if let Some(d) = s.range_expr.take() {
                s.range_ms = positive(d.millis(q)?, "subquery range")?;
            }
            if let Some(d) = s.step_expr.take() {
                let ms = d.millis(q)?;
                if ms < 0 {
                    return Err(format!(
                        "subquery step must not be negative, got {}",
                        format_duration(ms)
                    ));
                }
                s.step_ms = (ms != 0).then_some(ms);
            }
            bind_offset(&mut s.offset, &mut s.offset_expr, q)?;
            bind_mut(&mut s.expr, q)?;
        }
        Expr::Paren(inner) => bind_mut(inner, q)?,
        Expr::Unary(u) => bind_mut(&mut u.expr, q)?,
        Expr::Binary(b) => {
            bind_mut(&mut b.lhs, q)?;
            bind_mut(&mut b.rhs, q)?;
        }
        Expr::Aggregate(a) => {
            bind_mut(&mut a.expr, q)?;
            if let Some(p) = a.param.as_deref_mut() {
                bind_mut(p, q)?;
            }
        }
        Expr::Call(c) => {
            for a in &mut c.args {
                bind_mut(a, q)?;
            }
        }
    }
    Ok(())
}

/// A parsed duration as the tree holds it: milliseconds, or 0 and the
/// expression to bind at query time.
pub(crate) fn split(d: Dur) -> (i64, Option<Box<DurationExpr>>) {
    match d {
        Dur::Fixed(ms) => (ms, None),
        Dur::Query(e) => (0, Some(e)),
    }
}

#[cfg(test)]
#[path = "duration_expr_tests.rs"]
mod tests;
