//! The modifiers of expressions: `offset`, `@`, `align`, `anchored`/`smoothed` on
//! selectors, and `bool`, `on`/`ignoring`, `group_left`/`group_right` and
//! `fill`/`fill_left`/`fill_right` on binary operators.

use super::ast::{At, BinaryOp, Expr, GroupSide, NumberLiteral, RangeModifier, VectorMatching};
use super::duration_expr::split;
use super::error::ParseError;
use super::lexer::Tok;
use super::{Node, PResult, Parser};

impl<'a> Parser<'a> {
    /// `[bool] [on|ignoring (labels) [group_left|group_right [(labels)]]]`.
    pub(crate) fn parse_bin_modifiers(&mut self) -> PResult<(bool, Option<VectorMatching>)> {
        let return_bool = self.is_word(self.peek(), "bool");
        if return_bool {
            self.next();
        }
        let t = self.peek();
        let on = self.is_word(t, "on");
        if !on && !self.is_word(t, "ignoring") {
            let g = self.peek();
            if self.is_word(g, "group_left") || self.is_word(g, "group_right") {
                return Err(ParseError::new(
                    g.start..g.end,
                    "group_left/group_right must follow on(…) or ignoring(…)",
                ));
            }
            return Ok((return_bool, None));
        }
        self.next();
        let labels = self.parse_label_list()?;
        let g = self.peek();
        let side = if self.is_word(g, "group_left") {
            Some(GroupSide::Left)
        } else if self.is_word(g, "group_right") {
            Some(GroupSide::Right)
        } else {
            None
        };
        let group = match side {
            Some(side) => {
                self.next();
                let include = if self.peek().kind == Tok::LParen {
                    self.parse_label_list()?
                } else {
                    Vec::new()
                };
                Some((side, include))
            }
            None => None,
        };
        Ok((return_bool, Some(VectorMatching { on, labels, group })))
    }

    /// `fill(v)`, `fill_left(v)`, `fill_right(v)` after the matching
    /// modifiers: the value of a missing operand. A word followed by `(`
    /// here cannot be a function call, since no function has these names.
    pub(crate) fn parse_fill_modifiers(&mut self) -> PResult<Fill> {
        let mut fill = Fill::default();
        loop {
            let t = self.peek();
            let word = self.text(t).to_ascii_lowercase();
            let which = match word.as_str() {
                "fill" | "fill_left" | "fill_right" if t.kind == Tok::Ident => word,
                _ => return Ok(fill),
            };
            if self.peek_at(1).kind != Tok::LParen {
                return Ok(fill);
            }
            self.next();
            self.next();
            let v = self.fill_value()?;
            self.expect(Tok::RParen, "\")\"")?;
            let dup = |slot: &Option<NumberLiteral>| slot.is_some();
            let (left, right) = match which.as_str() {
                "fill" => (true, true),
                "fill_left" => (true, false),
                _ => (false, true),
            };
            if (left && dup(&fill.left)) || (right && dup(&fill.right)) {
                return Err(ParseError::new(
                    t.start..self.prev_end(t),
                    format!("{which} may not be set twice, nor with fill()"),
                ));
            }
            if left {
                fill.left = Some(NumberLiteral(v));
            }
            if right {
                fill.right = Some(NumberLiteral(v));
            }
            let from = fill.span.as_ref().map_or(t.start, |s| s.start);
            fill.span = Some(from..self.prev_end(t));
        }
    }

    /// A fill value: a number literal with an optional sign.
    pub(crate) fn fill_value(&mut self) -> PResult<f64> {
        let t = self.next();
        let (sign, num) = match t.kind {
            Tok::Op(BinaryOp::Sub) => (-1.0, self.next()),
            Tok::Op(BinaryOp::Add) => (1.0, self.next()),
            _ => (1.0, t),
        };
        let v = match num.kind {
            Tok::Number => self.literal_seconds(num)?,
            Tok::Ident if self.is_word(num, "inf") => f64::INFINITY,
            Tok::Ident if self.is_word(num, "nan") => f64::NAN,
            _ => return Err(self.unexpected(num, "a number to fill with")),
        };
        Ok(sign * v)
    }

    pub(crate) fn parse_range_modifier(&mut self, mut node: Node) -> PResult<Node> {
        let t = self.next();
        let m = if self.is_word(t, "anchored") {
            RangeModifier::Anchored
        } else {
            RangeModifier::Smoothed
        };
        let slot = match &mut node.expr {
            Expr::Matrix(ms) => &mut ms.vector.modifier,
            Expr::Vector(vs) if m == RangeModifier::Smoothed => &mut vs.modifier,
            _ => {
                return Err(ParseError::new(
                    t.start..t.end,
                    format!(
                        "{} modifier must follow a range selector{}",
                        m.as_str(),
                        if m == RangeModifier::Smoothed {
                            " or an instant vector selector"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(ParseError::new(
                t.start..t.end,
                "anchored/smoothed may be set only once",
            ));
        }
        *slot = Some(m);
        node.end = t.end;
        Ok(node)
    }

    pub(crate) fn parse_offset(&mut self, mut node: Node) -> PResult<Node> {
        let kw = self.next();
        let t = self.peek();
        let plain = match t.kind {
            Tok::Number | Tok::Duration => true,
            Tok::Op(BinaryOp::Sub) => matches!(self.peek_at(1).kind, Tok::Number | Tok::Duration),
            _ => false,
        };
        let (ms, expr) = if plain {
            let negative = t.kind == Tok::Op(BinaryOp::Sub);
            if negative {
                self.next();
            }
            let ms = self.duration_ms("an offset duration such as 5m")?;
            (if negative { -ms } else { ms }, None)
        } else {
            split(self.offset_duration()?)
        };
        let end = self.prev_end(kw);
        let (slot, expr_slot) = match &mut node.expr {
            Expr::Vector(v) => (&mut v.offset, &mut v.offset_expr),
            Expr::Matrix(m) => (&mut m.vector.offset, &mut m.vector.offset_expr),
            Expr::Subquery(s) => (&mut s.offset, &mut s.offset_expr),
            _ => {
                return Err(ParseError::new(
                    kw.start..end,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() || expr_slot.is_some() {
            return Err(ParseError::new(
                kw.start..end,
                "offset may not be set multiple times",
            ));
        }
        // A zero offset is no offset, as Prometheus prints it.
        *slot = (ms != 0).then_some(ms);
        *expr_slot = expr;
        node.end = end;
        Ok(node)
    }

    /// Is the `align` at the cursor the modifier, i.e. followed by a
    /// duration or number (`metric align 1m`), rather than a name?
    pub(crate) fn align_follows(&self) -> bool {
        matches!(self.peek_at(1).kind, Tok::Number | Tok::Duration)
    }

    /// `align <duration>` (experimental) on a selector: steps read at
    /// their time (after `@` and `offset`) rounded down to a multiple of
    /// the duration; `align 0` aligns nothing.
    pub(crate) fn parse_align(&mut self, mut node: Node) -> PResult<Node> {
        let kw = self.next();
        let ms = self.duration_ms("an align duration such as 1m")?;
        let end = self.prev_end(kw);
        let slot = match &mut node.expr {
            Expr::Vector(v) => &mut v.align,
            Expr::Matrix(m) => &mut m.vector.align,
            _ => {
                return Err(ParseError::new(
                    kw.start..end,
                    "align modifier must be preceded by an instant vector selector or range vector selector",
                ));
            }
        };
        set_once(slot, (ms != 0).then_some(ms), kw.start..end, "align")?;
        node.end = end;
        Ok(node)
    }

    pub(crate) fn parse_at(&mut self, mut node: Node) -> PResult<Node> {
        let at_tok = self.next();
        let t = self.next();
        let at = match t.kind {
            Tok::Ident if self.is_word(t, "start") || self.is_word(t, "end") => {
                self.expect(Tok::LParen, "\"(\"")?;
                self.expect(Tok::RParen, "\")\"")?;
                if self.is_word(t, "start") {
                    At::Start
                } else {
                    At::End
                }
            }
            Tok::Ident if self.is_word(t, "inf") || self.is_word(t, "nan") => {
                return Err(ParseError::new(
                    at_tok.start..t.end,
                    format!("timestamp out of bounds for @ modifier: {}", self.text(t)),
                ));
            }
            Tok::Op(BinaryOp::Add) | Tok::Op(BinaryOp::Sub) | Tok::Number | Tok::Duration => {
                let sign = match t.kind {
                    Tok::Op(BinaryOp::Sub) => -1.0,
                    _ => 1.0,
                };
                let num = if matches!(t.kind, Tok::Op(BinaryOp::Add) | Tok::Op(BinaryOp::Sub)) {
                    self.next()
                } else {
                    t
                };
                let secs = match num.kind {
                    Tok::Number | Tok::Duration => sign * self.literal_seconds(num)?,
                    Tok::Ident if self.is_word(num, "inf") => sign * f64::INFINITY,
                    Tok::Ident if self.is_word(num, "nan") => f64::NAN,
                    _ => return Err(self.unexpected(num, "a timestamp")),
                };
                let ms = (secs * 1000.0).round();
                if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
                    return Err(ParseError::new(
                        at_tok.start..num.end,
                        format!("timestamp out of bounds for @ modifier: {secs}"),
                    ));
                }
                // Plain decimals are converted exactly, so the printed
                // `@ 1700000000.123` always reads back to the same instant.
                let exact = (num.kind == Tok::Number)
                    .then(|| decimal_ms(self.text(num)))
                    .flatten()
                    .map(|ms| if sign < 0.0 { -ms } else { ms });
                At::Timestamp(exact.unwrap_or(ms as i64))
            }
            _ => return Err(self.unexpected(t, "a timestamp, start() or end()")),
        };
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .map_or(t.end, |t| t.end);
        let slot = match &mut node.expr {
            Expr::Vector(v) => &mut v.at,
            Expr::Matrix(m) => &mut m.vector.at,
            Expr::Subquery(s) => &mut s.at,
            _ => {
                return Err(ParseError::new(
                    at_tok.start..end,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        set_once(slot, Some(at), at_tok.start..end, "@ <timestamp>")?;
        node.end = end;
        Ok(node)
    }
}

/// `123.4567` seconds as milliseconds, rounded half away from zero, using
/// integer arithmetic. `None` for anything but plain decimal digits (hex,
/// exponents, Go's octal `010`) or on overflow.
fn decimal_ms(text: &str) -> Option<i64> {
    let text = text.replace('_', "");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let octal_looking =
        frac.is_empty() && !text.contains('.') && int.len() > 1 && int.starts_with('0');
    if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) || octal_looking {
        return None;
    }
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ms = whole.checked_mul(1000)?;
    let mut place = 100;
    for b in frac.bytes().take(3) {
        ms = ms.checked_add(i64::from(b - b'0') * place)?;
        place /= 10;
    }
    if frac.as_bytes().get(3).is_some_and(|&b| b >= b'5') {
        ms = ms.checked_add(1)?;
    }
    Some(ms)
}

/// Parsed `fill` modifiers and where they were written.
#[derive(Default)]
pub(crate) struct Fill {
    pub(crate) left: Option<NumberLiteral>,
    pub(crate) right: Option<NumberLiteral>,
    pub(crate) span: Option<std::ops::Range<usize>>,
}

/// Sets a modifier's `slot` to `value`, or refuses (at `span`) a modifier
/// `what` that was set already.
fn set_once<T>(
    slot: &mut Option<T>,
    value: Option<T>,
    span: std::ops::Range<usize>,
    what: &str,
) -> PResult<()> {
    if slot.is_some() {
        return Err(ParseError::new(
            span,
            format!("{what} may not be set multiple times"),
        ));
    }
    *slot = value;
    Ok(())
}
