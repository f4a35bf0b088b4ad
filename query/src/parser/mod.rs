//! PromQL text → [`Expr`]: tokens from `lexer`, a precedence-climbing
//! parser in `expr`, selectors in `selector`, `offset`/`@`/`fill`/…
//! in `modifiers`, duration expressions in `duration_expr`, calls and
//! aggregations in `call`, type rules in `typecheck`, and `printer` for
//! the way back.

pub(crate) mod ast;
mod call;
pub(crate) mod duration_expr;
pub(crate) mod error;
mod expr;
pub(crate) mod functions;
pub(crate) mod lexer;
mod matcher_cache;
mod modifiers;
pub(crate) mod number;
pub(crate) mod printer;
mod selector;
pub(crate) mod string;
mod typecheck;
pub(crate) mod value_type;

use ast::{Expr, ValueType};
use error::ParseError;
use lexer::{Tok, Token};

/// Longest query accepted, in bytes. Dashboards stay far below; the cap
/// keeps a hostile request from costing more than a few milliseconds.
pub const MAX_QUERY_BYTES: usize = 128 * 1024;

/// Deepest nesting of parentheses, calls, aggregations and unary operators.
/// The parser recurses once per level, so this bounds its stack use.
pub const MAX_NESTING: usize = 64;

/// Deepest syntax tree, counting chains of binary operators (`a + b + …`),
/// which the parser builds without recursing but which later walks of the
/// tree (printing, checking, dropping) recurse through.
pub const MAX_DEPTH: u32 = 512;

/// Wall time one query may spend compiling label-matcher regexes. Each
/// regex is bounded by the regex crate's size limit, but thousands of
/// large ones in one query would still add up to seconds.
const REGEX_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);

/// Parses and type-checks one PromQL expression.
///
/// ```
/// let e = hourglass_query::parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
/// assert_eq!(e.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
/// let err = hourglass_query::parse("rate(foo)").unwrap_err();
/// assert!(err.message().contains("expected type range vector"));
/// ```
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    parse_inner(query).map_err(|e| e.with_query(query))
}

fn parse_inner(query: &str) -> Result<Expr, ParseError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ParseError::new(
            0..0,
            format!(
                "query is too long: {} bytes, the limit is {MAX_QUERY_BYTES}",
                query.len()
            ),
        ));
    }
    let toks = lexer::tokenize(query)?;
    let mut p = Parser {
        src: query,
        toks,
        pos: 0,
        nesting: 0,
        regex_time: std::time::Duration::ZERO,
        bypass_empty_at: None,
    };
    if p.peek().kind == Tok::Eof {
        return Err(ParseError::new(
            0..query.len(),
            "no expression found in input",
        ));
    }
    let node = p.parse_expr(0)?;
    let t = p.peek();
    if t.kind != Tok::Eof {
        return Err(p.unexpected(t, "end of input or a binary operator"));
    }
    Ok(node.expr)
}

/// An expression under construction, with what the parser needs to know
/// about it without walking it again.
pub(crate) struct Node {
    pub expr: Expr,
    pub ty: ValueType,
    pub start: usize,
    pub end: usize,
    pub depth: u32,
}

impl Node {
    fn span(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

pub(crate) type PResult<T> = Result<T, ParseError>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    nesting: usize,
    regex_time: std::time::Duration,
    /// Token index of a `{…}` selector exempt from the non-empty matcher
    /// rule (the second argument of `info`).
    bypass_empty_at: Option<usize>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Token {
        let last = self.toks.len().saturating_sub(1);
        self.toks
            .get((self.pos + n).min(last))
            .copied()
            .unwrap_or(Token {
                kind: Tok::Eof,
                start: self.src.len(),
                end: self.src.len(),
            })
    }

    fn next(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        self.src.get(t.start..t.end).unwrap_or("")
    }

    /// Is `t` the keyword `kw` (keywords ignore case)?
    fn is_word(&self, t: Token, kw: &str) -> bool {
        t.kind == Tok::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn expect(&mut self, kind: Tok, expected: &str) -> PResult<Token> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.next())
        } else {
            Err(self.unexpected(t, expected))
        }
    }

    fn unexpected(&self, t: Token, expected: &str) -> ParseError {
        let what = match t.kind {
            Tok::Ident | Tok::Number | Tok::Duration | Tok::Str => {
                let text: String = self.text(t).chars().take(40).collect();
                format!("{} {text:?}", t.kind.describe())
            }
            k => k.describe(),
        };
        let word = self.text(t);
        let hint = if t.kind == Tok::Ident
            && (word.eq_ignore_ascii_case("by") || word.eq_ignore_ascii_case("without"))
        {
            " (by/without may only follow an aggregation such as sum)"
        } else {
            ""
        };
        ParseError::new(
            t.start..t.end,
            format!("unexpected {what}; expected {expected}{hint}"),
        )
    }

    /// Enters one level of recursion, refusing absurd nesting.
    fn enter(&mut self, at: Token) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(ParseError::new(
                at.start..at.end,
                format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// Builds a node whose children have depth `child_depth`.
    fn node(
        &self,
        expr: Expr,
        ty: ValueType,
        start: usize,
        end: usize,
        child_depth: u32,
    ) -> PResult<Node> {
        let depth = child_depth + 1;
        if depth > MAX_DEPTH {
            return Err(ParseError::new(
                start..end,
                format!("expression too deep (more than {MAX_DEPTH} levels of operators)"),
            ));
        }
        Ok(Node {
            expr,
            ty,
            start,
            end,
            depth,
        })
    }
}
