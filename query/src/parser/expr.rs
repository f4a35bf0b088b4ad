//! Expressions: binary operators by precedence climbing, unary signs,
//! primaries, and the ranges and subqueries after them (`[range]`,
//! `[range:step]`); the other modifiers are parsed in `modifiers`.

use super::ast::{
    Binary, BinaryOp, Expr, MatrixSelector, NumberLiteral, Subquery, Unary, UnaryOp, ValueType,
    VectorMatching,
};
use super::duration_expr::{Dur, split};
use super::error::ParseError;
use super::lexer::{Tok, Token};
use super::modifiers::Fill;
use super::number::parse_number;
use super::{Node, PResult, Parser};
use crate::duration::{parse_duration_ms, seconds_to_ms};

/// Unary signs bind tighter than `*` but looser than `^`: `-2 ^ 2` is -4.
const UNARY_OPERAND_PREC: u8 = 6;

/// Keywords that may not name a metric where an expression starts.
const RESERVED: [&str; 9] = [
    "on",
    "ignoring",
    "bool",
    "group_left",
    "group_right",
    "atan2",
    "bitand",
    "bitor",
    "bitxor",
];

impl<'a> Parser<'a> {
    /// Parses operators of precedence `min_prec` and above.
    pub(crate) fn parse_expr(&mut self, min_prec: u8) -> PResult<Node> {
        let mut lhs = self.parse_unary()?;
        while let Some(op) = self.peek_binary_op() {
            if op.precedence() < min_prec {
                break;
            }
            let op_tok = self.next();
            let (return_bool, matching) = self.parse_bin_modifiers()?;
            let fill = self.parse_fill_modifiers()?;
            let next_min = op.rhs_min_precedence();
            self.enter(op_tok)?;
            let rhs = self.parse_expr(next_min);
            self.leave();
            let rhs = rhs?;
            lhs = self.make_binary(op, op_tok, lhs, rhs, (return_bool, matching, fill))?;
        }
        Ok(lhs)
    }

    fn peek_binary_op(&self) -> Option<BinaryOp> {
        let t = self.peek();
        Some(match t.kind {
            Tok::Op(op) => op,
            Tok::Ident => {
                let w = self.text(t).to_ascii_lowercase();
                match w.as_str() {
                    "and" => BinaryOp::And,
                    "or" => BinaryOp::Or,
                    "unless" => BinaryOp::Unless,
                    "atan2" => BinaryOp::Atan2,
                    "bitand" => BinaryOp::BitAnd,
                    "bitor" => BinaryOp::BitOr,
                    "bitxor" => BinaryOp::BitXor,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// The end of the token before the current one (`or` `t`'s end).
    pub(crate) fn prev_end(&self, t: Token) -> usize {
        self.toks
            .get(self.pos.saturating_sub(1))
            .map_or(t.end, |p| p.end)
    }

    fn parse_unary(&mut self) -> PResult<Node> {
        let t = self.peek();
        let op = match t.kind {
            Tok::Op(BinaryOp::Add) => UnaryOp::Plus,
            Tok::Op(BinaryOp::Sub) => UnaryOp::Neg,
            _ => return self.parse_postfix(),
        };
        self.next();
        self.enter(t)?;
        let operand = self.parse_expr(UNARY_OPERAND_PREC);
        self.leave();
        let operand = operand?;
        let end = operand.end;
        // A sign on a literal folds into it, as in Prometheus: `-1` is a number.
        if let Expr::Number(NumberLiteral(v)) = operand.expr {
            let v = if op == UnaryOp::Neg { -v } else { v };
            return self.node(
                Expr::Number(NumberLiteral(v)),
                ValueType::Scalar,
                t.start,
                end,
                0,
            );
        }
        if !matches!(operand.ty, ValueType::Scalar | ValueType::Vector) {
            return Err(ParseError::new(
                t.start..end,
                format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    operand.ty.name()
                ),
            ));
        }
        let ty = operand.ty;
        let expr = Expr::Unary(Unary {
            op,
            expr: Box::new(operand.expr),
        });
        self.node(expr, ty, t.start, end, operand.depth)
    }

    /// A primary followed by any number of `[…]`, `offset`, `@`, `align`
    /// and `anchored`/`smoothed`.
    fn parse_postfix(&mut self) -> PResult<Node> {
        let mut node = self.parse_primary()?;
        loop {
            let t = self.peek();
            node = match t.kind {
                Tok::LBracket => self.parse_range_or_subquery(node)?,
                Tok::At => self.parse_at(node)?,
                Tok::Ident if self.is_word(t, "offset") => self.parse_offset(node)?,
                Tok::Ident if self.is_word(t, "align") && self.align_follows() => {
                    self.parse_align(node)?
                }
                Tok::Ident if self.is_word(t, "anchored") || self.is_word(t, "smoothed") => {
                    self.parse_range_modifier(node)?
                }
                _ => return Ok(node),
            };
        }
    }

    fn parse_primary(&mut self) -> PResult<Node> {
        let t = self.peek();
        match t.kind {
            Tok::Number | Tok::Duration => {
                self.next();
                let v = self.literal_seconds(t)?;
                self.node(
                    Expr::Number(NumberLiteral(v)),
                    ValueType::Scalar,
                    t.start,
                    t.end,
                    0,
                )
            }
            Tok::Str => {
                self.next();
                let s = self.string_value(t)?;
                self.node(Expr::String(s), ValueType::String, t.start, t.end, 0)
            }
            Tok::LParen => {
                self.next();
                self.enter(t)?;
                let inner = self.parse_expr(0);
                self.leave();
                let inner = inner?;
                let close = self.expect(Tok::RParen, "\")\"")?;
                let ty = inner.ty;
                self.node(
                    Expr::Paren(Box::new(inner.expr)),
                    ty,
                    t.start,
                    close.end,
                    inner.depth,
                )
            }
            Tok::LBrace => self.parse_vector_selector(None),
            Tok::Ident => self.parse_word(t),
            _ => Err(self.unexpected(t, "an expression")),
        }
    }

    /// A word where an expression starts: a number word, an aggregation, a
    /// function call or a metric name.
    fn parse_word(&mut self, t: Token) -> PResult<Node> {
        let word = self.text(t);
        if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan") {
            self.next();
            let v = if word.eq_ignore_ascii_case("inf") {
                f64::INFINITY
            } else {
                f64::NAN
            };
            return self.node(
                Expr::Number(NumberLiteral(v)),
                ValueType::Scalar,
                t.start,
                t.end,
                0,
            );
        }
        let after = self.peek_at(1);
        if let Some(op) = super::ast::AggregateOp::from_word(word)
            && (after.kind == Tok::LParen
                || self.is_word(after, "by")
                || self.is_word(after, "without"))
        {
            return self.parse_aggregate(op);
        }
        if RESERVED.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            return Err(self.unexpected(t, "an expression"));
        }
        if after.kind == Tok::LParen {
            return self.parse_call();
        }
        self.next();
        self.parse_vector_selector(Some(t))
    }

    /// The value in seconds of a number or duration token.
    pub(crate) fn literal_seconds(&self, t: Token) -> PResult<f64> {
        let text = self.text(t);
        let res = if t.kind == Tok::Duration {
            positive_duration_ms(text).map(|ms| ms as f64 / 1000.0)
        } else {
            parse_number(text)
        };
        res.map_err(|m| ParseError::new(t.start..t.end, m))
    }

    /// A duration token, or a number of seconds, as milliseconds. A zero
    /// duration token is refused when parsed; a plain `0` is accepted, as in
    /// Prometheus.
    pub(crate) fn duration_ms(&mut self, what: &str) -> PResult<i64> {
        let t = self.peek();
        if !matches!(t.kind, Tok::Number | Tok::Duration) {
            return Err(self.unexpected(t, what));
        }
        self.next();
        if t.kind == Tok::Duration {
            positive_duration_ms(self.text(t))
        } else {
            parse_number(self.text(t)).and_then(seconds_to_ms)
        }
        .map_err(|m| ParseError::new(t.start..t.end, m))
    }

    /// True when the next token is a lone literal, followed by `follow`
    /// or `follow2`: the plain form, parsed as before duration
    /// expressions existed.
    fn literal_then(&self, follow: Tok, follow2: Tok) -> bool {
        matches!(self.peek().kind, Tok::Number | Tok::Duration)
            && matches!(self.peek_at(1).kind, k if k == follow || k == follow2)
    }

    /// A range, subquery step or offset: a literal, or a duration
    /// expression (folded, or kept for the query to bind).
    fn duration_arg(&mut self, what: &str, follow: Tok, follow2: Tok) -> PResult<Dur> {
        if self.literal_then(follow, follow2) {
            return self.duration_ms(what).map(Dur::Fixed);
        }
        let t = self.peek();
        let d = self.duration_expr()?;
        if let Dur::Fixed(ms) = d
            && ms <= 0
            && follow == Tok::RBracket
            && what.starts_with("a range")
        {
            return Err(ParseError::new(
                t.start..self.prev_end(t),
                format!(
                    "duration must be greater than 0, got {}",
                    crate::duration::format_duration(ms)
                ),
            ));
        }
        Ok(d)
    }

    fn parse_range_or_subquery(&mut self, node: Node) -> PResult<Node> {
        let open = self.next();
        let (range_ms, range_expr) =
            split(self.duration_arg("a range duration such as 5m", Tok::RBracket, Tok::Colon)?);
        let t = self.next();
        match t.kind {
            Tok::RBracket => {
                let Expr::Vector(vector) = node.expr else {
                    return Err(ParseError::new(
                        node.start..t.end,
                        "ranges only allowed for vector selectors",
                    ));
                };
                let misplaced = if vector.offset.is_some() {
                    Some("no offset modifiers allowed before range")
                } else if vector.at.is_some() {
                    Some("no @ modifiers allowed before range")
                } else {
                    None
                };
                if let Some(msg) = misplaced {
                    return Err(ParseError::new(open.start..t.end, msg));
                }
                if vector.modifier.is_some() {
                    return Err(ParseError::new(
                        open.start..t.end,
                        "no smoothed modifier allowed before range",
                    ));
                }
                let expr = Expr::Matrix(MatrixSelector {
                    vector,
                    range_ms,
                    range_expr,
                });
                self.node(expr, ValueType::Matrix, node.start, t.end, node.depth)
            }
            Tok::Colon => {
                let aligned = self.peek().kind == Tok::Colon;
                if aligned {
                    self.next();
                }
                let (step_ms, step_expr) = if self.peek().kind == Tok::RBracket {
                    (None, None)
                } else {
                    let d = self.duration_arg(
                        "a step duration or \"]\"",
                        Tok::RBracket,
                        Tok::RBracket,
                    )?;
                    if let Dur::Fixed(ms) = d
                        && ms < 0
                    {
                        return Err(ParseError::new(
                            t.end..self.prev_end(t),
                            "subquery step must not be negative",
                        ));
                    }
                    // A zero step means the default step, the same as none.
                    let (ms, e) = split(d);
                    (Some(ms).filter(|&ms| ms != 0), e)
                };
                let close = self.expect(Tok::RBracket, "\"]\"")?;
                if node.ty != ValueType::Vector {
                    return Err(ParseError::new(
                        node.start..close.end,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            node.ty.name()
                        ),
                    ));
                }
                let expr = Expr::Subquery(Subquery {
                    expr: Box::new(node.expr),
                    range_ms,
                    step_ms,
                    aligned,
                    offset: None,
                    at: None,
                    range_expr,
                    step_expr,
                    offset_expr: None,
                });
                self.node(expr, ValueType::Matrix, node.start, close.end, node.depth)
            }
            _ => Err(self.unexpected(t, "\"]\" or \":\"")),
        }
    }

    fn make_binary(
        &self,
        op: BinaryOp,
        op_tok: Token,
        lhs: Node,
        rhs: Node,
        (return_bool, matching, fill): (bool, Option<VectorMatching>, Fill),
    ) -> PResult<Node> {
        let (start, end) = (lhs.start, rhs.end);
        if let Some(span) = fill.span.clone()
            && (op.is_set() || lhs.ty != ValueType::Vector || rhs.ty != ValueType::Vector)
        {
            return Err(ParseError::new(
                span,
                "fill modifiers are only allowed between two instant vectors with an arithmetic or comparison operator",
            ));
        }
        let (ty, matching) =
            super::typecheck::check_binary(op, op_tok, &lhs, &rhs, return_bool, matching)?;
        let depth = lhs.depth.max(rhs.depth);
        let expr = Expr::Binary(Binary {
            op,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
            return_bool,
            matching,
            fill_left: fill.left,
            fill_right: fill.right,
        });
        self.node(expr, ty, start, end, depth)
    }
}

/// A duration literal in milliseconds; zero is refused, as in Prometheus,
/// because a zero range, step or offset literal is always a mistake.
fn positive_duration_ms(text: &str) -> Result<i64, String> {
    match parse_duration_ms(text) {
        Ok(0) => Err("duration must be greater than 0".to_owned()),
        Ok(ms) => Ok(ms),
        Err(e) => Err(e.to_string()),
    }
}
