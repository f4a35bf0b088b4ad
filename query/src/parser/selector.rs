//! Vector selectors `name{label op "value", …}` (with Prometheus 3's quoted
//! UTF-8 names) and the label lists of `by`, `on` and `group_left`.

use super::ast::{BinaryOp, Expr, ValueType, VectorSelector};
use super::error::ParseError;
use super::lexer::{Tok, Token};
use super::string::unquote;
use super::{Node, PResult, Parser, REGEX_BUDGET};
use hourglass_storage::{MatchOp, Matcher};

const METRIC_NAME: &str = "__name__";

impl<'a> Parser<'a> {
    /// Decodes a string token, mapping escape errors into the query.
    pub(crate) fn string_value(&self, t: Token) -> PResult<String> {
        unquote(self.text(t)).map_err(|(off, msg)| {
            let at = (t.start + off).min(t.end);
            ParseError::new(at..t.end.min(at + 2).max(at + 1), msg)
        })
    }

    /// A label name: a bare word or a quoted string.
    fn label_name(&mut self, t: Token, allow_colon: bool) -> PResult<String> {
        let name = match t.kind {
            Tok::Str => self.string_value(t)?,
            Tok::Ident => {
                let w = self.text(t);
                if !allow_colon && w.contains(':') {
                    return Err(ParseError::new(
                        t.start..t.end,
                        format!("invalid label name {w:?}: quote names that contain \":\""),
                    ));
                }
                w.to_owned()
            }
            _ => return Err(self.unexpected(t, "a label name")),
        };
        Ok(name)
    }

    /// `( label, … )`, a trailing comma allowed.
    pub(crate) fn parse_label_list(&mut self) -> PResult<Vec<String>> {
        self.expect(Tok::LParen, "\"(\" and a list of label names")?;
        let mut labels = Vec::new();
        loop {
            let t = self.next();
            if t.kind == Tok::RParen {
                return Ok(labels);
            }
            if t.kind == Tok::Ident {
                let w = self.text(t);
                if w.eq_ignore_ascii_case("inf") || w.eq_ignore_ascii_case("nan") {
                    return Err(self.unexpected(t, "a label name"));
                }
            }
            let label = self.label_name(t, true)?;
            if label.is_empty() {
                return Err(ParseError::new(
                    t.start..t.end,
                    "invalid label name for grouping: \"\"",
                ));
            }
            labels.push(label);
            let sep = self.next();
            match sep.kind {
                Tok::Comma => {}
                Tok::RParen => return Ok(labels),
                _ => return Err(self.unexpected(sep, "\",\" or \")\"")),
            }
        }
    }

    /// `name`, `name{…}` or `{…}`; `name_tok` has already been consumed.
    pub(crate) fn parse_vector_selector(&mut self, name_tok: Option<Token>) -> PResult<Node> {
        // `info(v, {…})` may select with empty matchers only.
        let bypass_empty = name_tok.is_none() && self.bypass_empty_at == Some(self.pos);
        let name_outside = name_tok.is_some();
        let start = name_tok.map_or(self.peek().start, |t| t.start);
        let mut end = name_tok.map_or(start, |t| t.end);
        let mut name = name_tok.map(|t| self.text(t).to_owned());
        let mut matchers = Vec::new();
        if self.peek().kind == Tok::LBrace {
            self.next();
            loop {
                let t = self.next();
                if t.kind == Tok::RBrace {
                    end = t.end;
                    break;
                }
                let op_tok = self.peek();
                let op = match op_tok.kind {
                    Tok::Assign => Some(MatchOp::Equal),
                    Tok::Op(BinaryOp::Neq) => Some(MatchOp::NotEqual),
                    Tok::ReMatch => Some(MatchOp::RegexMatch),
                    Tok::ReNoMatch => Some(MatchOp::RegexNoMatch),
                    _ => None,
                };
                match (t.kind, op) {
                    (Tok::Str, None) => {
                        // A lone quoted string names the metric; a second
                        // one inside the braces is just another matcher.
                        let n = self.string_value(t)?;
                        match &name {
                            None => name = Some(n),
                            Some(prev) if name_outside => {
                                return Err(ParseError::new(
                                    t.start..t.end,
                                    format!("metric name must not be set twice: {prev:?} or {n:?}"),
                                ));
                            }
                            Some(_) => matchers.push(
                                Matcher::new(MatchOp::Equal, METRIC_NAME, n)
                                    .map_err(|e| ParseError::new(t.start..t.end, e.to_string()))?,
                            ),
                        }
                    }
                    (Tok::Str | Tok::Ident, Some(op)) => {
                        let label = self.label_name(t, false)?;
                        if label.is_empty() {
                            return Err(ParseError::new(
                                t.start..t.end,
                                "label name must not be empty",
                            ));
                        }
                        self.next();
                        let v = self.peek();
                        if v.kind != Tok::Str {
                            return Err(self.unexpected(v, "a quoted label value"));
                        }
                        self.next();
                        let value = self.string_value(v)?;
                        let started = std::time::Instant::now();
                        let (m, compiled) = super::matcher_cache::matcher(op, label, value);
                        let m = m.map_err(|e| {
                            // The regex crate's report spans lines; keep its last line.
                            let reason = e.reason.lines().last().unwrap_or("").trim();
                            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                            ParseError::new(
                                v.start..v.end,
                                format!(
                                    "invalid regular expression {:?} for label {:?}: {reason}",
                                    e.pattern, e.name
                                ),
                            )
                        })?;
                        // An invalid pattern is named as such however long
                        // its compilation took; only valid ones spend the
                        // query's compile budget.
                        if compiled {
                            self.regex_time += started.elapsed();
                            if self.regex_time > REGEX_BUDGET {
                                return Err(ParseError::new(
                                    v.start..v.end,
                                    "regular expressions in this query are too expensive to compile",
                                ));
                            }
                        }
                        matchers.push(m);
                    }
                    (Tok::Ident, None) => {
                        return Err(
                            self.unexpected(op_tok, "a label matching operator (=, !=, =~ or !~)")
                        );
                    }
                    _ => return Err(self.unexpected(t, "a label matcher or \"}\"")),
                }
                let sep = self.next();
                match sep.kind {
                    Tok::Comma => {}
                    Tok::RBrace => {
                        end = sep.end;
                        break;
                    }
                    _ => return Err(self.unexpected(sep, "\",\" or \"}\"")),
                }
            }
        }
        let span = start..end;
        if let Some(n) = &name {
            if let Some(m) = matchers
                .iter()
                .find(|m| name_outside && m.name() == METRIC_NAME)
            {
                return Err(ParseError::new(
                    span,
                    format!(
                        "metric name must not be set twice: {n:?} or {:?}",
                        m.value()
                    ),
                ));
            }
            let m = Matcher::new(MatchOp::Equal, METRIC_NAME, n.as_str())
                .map_err(|e| ParseError::new(span.clone(), e.to_string()))?;
            matchers.insert(0, m);
        }
        if !bypass_empty && matchers.iter().all(Matcher::matches_empty) {
            return Err(ParseError::new(
                span,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        let vs = VectorSelector::new(name, matchers);
        self.node(Expr::Vector(vs), ValueType::Vector, start, end, 0)
    }
}
