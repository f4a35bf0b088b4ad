//! Function calls and aggregations: `rate(x[5m])`,
//! `topk by (job) (5, x)`, `sum(x) without (instance)`.

use super::ast::{Aggregate, AggregateOp, Call, Expr, Grouping, RangeModifier, ValueType};
use super::error::ParseError;
use super::functions::{Func, lookup_function};
use super::lexer::{Tok, Token};
use super::typecheck::{check_call, expect_type};
use super::{Node, PResult, Parser};

impl<'a> Parser<'a> {
    /// `( expr, … )`; returns the arguments and the closing token.
    fn parse_args(&mut self, bypass_arg: Option<usize>) -> PResult<(Vec<Node>, Token)> {
        let open = self.expect(Tok::LParen, "\"(\"")?;
        self.enter(open)?;
        let res = self.parse_args_inner(bypass_arg);
        self.leave();
        res
    }

    fn parse_args_inner(&mut self, bypass_arg: Option<usize>) -> PResult<(Vec<Node>, Token)> {
        let mut args = Vec::new();
        if self.peek().kind == Tok::RParen {
            return Ok((args, self.next()));
        }
        loop {
            if bypass_arg == Some(args.len()) {
                self.bypass_empty_at = Some(self.pos);
            }
            args.push(self.parse_expr(0)?);
            let t = self.next();
            match t.kind {
                Tok::RParen => return Ok((args, t)),
                Tok::Comma if self.peek().kind == Tok::RParen => {
                    return Err(ParseError::new(
                        t.start..t.end,
                        "trailing commas not allowed in function call args",
                    ));
                }
                Tok::Comma => {}
                _ => return Err(self.unexpected(t, "\",\" or \")\"")),
            }
        }
    }

    pub(crate) fn parse_call(&mut self) -> PResult<Node> {
        let name_tok = self.next();
        let name = self.text(name_tok);
        let func = lookup_function(name).ok_or_else(|| {
            ParseError::new(
                name_tok.start..name_tok.end,
                format!("unknown function with name {name:?}"),
            )
        })?;
        let bypass = (func.id == Func::Info).then_some(1);
        let (args, close) = self.parse_args(bypass)?;
        let span = name_tok.start..close.end;
        check_call(func, &args, span.clone())?;
        check_range_modifiers(func.id, &args)?;
        let depth = args.iter().map(|a| a.depth).max().unwrap_or(0);
        let expr = Expr::Call(Call {
            func,
            args: args.into_iter().map(|a| a.expr).collect(),
        });
        self.node(expr, func.returns, span.start, span.end, depth)
    }

    fn parse_grouping(&mut self) -> PResult<Option<Grouping>> {
        let t = self.peek();
        let by = self.is_word(t, "by");
        if !by && !self.is_word(t, "without") {
            return Ok(None);
        }
        self.next();
        let labels = self.parse_label_list()?;
        Ok(Some(if by {
            Grouping::By(labels)
        } else {
            Grouping::Without(labels)
        }))
    }

    pub(crate) fn parse_aggregate(&mut self, op: AggregateOp) -> PResult<Node> {
        let op_tok = self.next();
        let before = self.parse_grouping()?;
        let (args, close) = self.parse_args(None)?;
        let mut end = close.end;
        let grouping = match before {
            Some(g) => Some(g),
            None => {
                let g = self.parse_grouping()?;
                if g.is_some() {
                    end = self
                        .toks
                        .get(self.pos.saturating_sub(1))
                        .map_or(end, |t| t.end);
                }
                g
            }
        };
        let span = op_tok.start..end;
        let want = if op.param_type().is_some() { 2 } else { 1 };
        if args.is_empty() {
            return Err(ParseError::new(
                span,
                "no arguments for aggregate expression provided",
            ));
        }
        if args.len() != want {
            return Err(ParseError::new(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let mut args = args.into_iter();
        let (param, body) = match (op.param_type(), args.next(), args.next()) {
            (Some(pt), Some(p), Some(b)) => {
                expect_type(&p, pt, "aggregation parameter")?;
                (Some(p), b)
            }
            (None, Some(b), _) => (None, b),
            _ => return Err(ParseError::new(span, "malformed aggregation")),
        };
        expect_type(&body, ValueType::Vector, "aggregation expression")?;
        let depth = body.depth.max(param.as_ref().map_or(0, |p| p.depth));
        // `by ()` groups nothing, the same as no clause at all.
        let grouping = grouping.filter(|g| !matches!(g, Grouping::By(l) if l.is_empty()));
        let expr = Expr::Aggregate(Aggregate {
            op,
            expr: Box::new(body.expr),
            param: param.map(|p| Box::new(p.expr)),
            grouping,
        });
        self.node(expr, ValueType::Vector, span.start, span.end, depth)
    }
}

/// `anchored` and `smoothed` windows mean something only to a few
/// functions; any other use is refused with the list.
fn check_range_modifiers(func: Func, args: &[Node]) -> PResult<()> {
    for a in args {
        let mut e = &a.expr;
        while let Expr::Paren(inner) = e {
            e = inner;
        }
        let Expr::Matrix(ms) = e else { continue };
        let Some(m) = ms.vector.modifier else {
            continue;
        };
        let allowed: &[Func] = match m {
            RangeModifier::Anchored => &[
                Func::Changes,
                Func::Delta,
                Func::Increase,
                Func::Rate,
                Func::Resets,
            ],
            RangeModifier::Smoothed => &[Func::Delta, Func::Increase, Func::Rate],
        };
        if !allowed.contains(&func) {
            let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
            return Err(ParseError::new(
                a.span(),
                format!(
                    "{} modifier can only be used with: {} - not with {}",
                    m.as_str(),
                    names.join(", "),
                    func.name()
                ),
            ));
        }
    }
    Ok(())
}
