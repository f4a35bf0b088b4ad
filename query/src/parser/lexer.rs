//! Splits a query into tokens. Words (identifiers and keywords) stay plain
//! `Ident`s: whether `sum` is an aggregation, a metric name or a label name
//! depends on where it stands, so the parser decides.

use super::error::ParseError;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{opt, recognize};
use nom::sequence::pair;
use nom::{IResult, Parser};

/// What a token is; its text is `src[span]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident,
    Number,
    Duration,
    Str,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    /// `=`, only meaningful in label matchers.
    Assign,
    Eql,
    Neq,
    ReMatch,
    ReNoMatch,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl Tok {
    /// How the token is named in "unexpected …" messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Tok::Ident => "identifier",
            Tok::Number => "number",
            Tok::Duration => "duration",
            Tok::Str => "string",
            Tok::LParen => "\"(\"",
            Tok::RParen => "\")\"",
            Tok::LBrace => "\"{\"",
            Tok::RBrace => "\"}\"",
            Tok::LBracket => "\"[\"",
            Tok::RBracket => "\"]\"",
            Tok::Comma => "\",\"",
            Tok::Colon => "\":\"",
            Tok::At => "\"@\"",
            Tok::Assign => "\"=\"",
            Tok::Eql => "\"==\"",
            Tok::Neq => "\"!=\"",
            Tok::ReMatch => "\"=~\"",
            Tok::ReNoMatch => "\"!~\"",
            Tok::Lt => "\"<\"",
            Tok::Le => "\"<=\"",
            Tok::Gt => "\">\"",
            Tok::Ge => "\">=\"",
            Tok::Add => "\"+\"",
            Tok::Sub => "\"-\"",
            Tok::Mul => "\"*\"",
            Tok::Div => "\"/\"",
            Tok::Mod => "\"%\"",
            Tok::Pow => "\"^\"",
            Tok::Eof => "end of input",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn skip_blanks(mut s: &str) -> &str {
    loop {
        let t = s.trim_start_matches([' ', '\t', '\n', '\r']);
        match t.strip_prefix('#') {
            Some(rest) => s = rest.find('\n').map_or("", |i| &rest[i..]),
            None => return t,
        }
    }
}

/// `0x1F`, `12`, `1.5`, `.5`, `5.`, `1e-3`: the shapes Prometheus scans as a
/// number; whether the text parses as one is checked later.
fn number(s: &str) -> IResult<&str, &str> {
    let hex = recognize((
        char('0'),
        one_of("xX"),
        take_while(|c: char| c.is_ascii_hexdigit()),
    ));
    let digits = |s| take_while(|c: char| c.is_ascii_digit())(s);
    let exponent = opt((one_of("eE"), opt(one_of("+-")), digits));
    let decimal = recognize((digits, opt(pair(char('.'), digits)), exponent));
    alt((hex, decimal)).parse(s)
}

/// `1h30m`: digit runs each followed by a unit.
fn duration(s: &str) -> IResult<&str, &str> {
    let unit = alt((
        tag("ms"),
        tag("s"),
        tag("m"),
        tag("h"),
        tag("d"),
        tag("w"),
        tag("y"),
    ));
    recognize(nom::multi::many1(pair(
        take_while1(|c: char| c.is_ascii_digit()),
        unit,
    )))
    .parse(s)
}

/// Length of a quoted string starting at `s` (which begins with the quote),
/// or an error message if it never closes.
fn quoted_len(s: &str, quote: char) -> Result<usize, &'static str> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            // Skip the escaped character; a missing one ends the loop.
            '\\' if quote != '`' => {
                chars.next();
            }
            '\n' if quote != '`' => return Err("unterminated quoted string"),
            c if c == quote => return Ok(i + c.len_utf8()),
            _ => {}
        }
    }
    Err(if quote == '`' {
        "unterminated raw string"
    } else {
        "unterminated quoted string"
    })
}

/// Tokenizes the whole query, ending with an `Eof` token.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut toks = Vec::with_capacity(src.len() / 3 + 1);
    let mut rest = skip_blanks(src);
    // Inside `[...]` a colon separates a subquery's range and step; outside
    // it is part of a metric name (`job:rate5m`).
    let mut in_brackets = false;
    while let Some(c) = rest.chars().next() {
        let start = src.len() - rest.len();
        let (kind, len) = match c {
            '0'..='9' | '.' => lex_number(rest, start)?,
            '"' | '\'' | '`' => match quoted_len(rest, c) {
                Ok(n) => (Tok::Str, n),
                Err(msg) => return Err(ParseError::new(start..src.len(), msg)),
            },
            ':' if in_brackets => (Tok::Colon, 1),
            c if is_word_start(c) || c == ':' => {
                let n = rest
                    .find(|c: char| !(is_alnum(c) || c == ':'))
                    .unwrap_or(rest.len());
                (Tok::Ident, n)
            }
            _ => lex_punct(rest, start)?,
        };
        match kind {
            Tok::LBracket => in_brackets = true,
            Tok::RBracket => in_brackets = false,
            _ => {}
        }
        toks.push(Token {
            kind,
            start,
            end: start + len,
        });
        rest = skip_blanks(&rest[len..]);
    }
    toks.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(toks)
}

fn lex_number(s: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let bad = |n: usize| {
        let end = s[n..]
            .find(|c: char| !is_alnum(c) && c != '.')
            .map_or(s.len(), |i| n + i);
        ParseError::new(
            start..start + end,
            format!("bad number or duration syntax: {:?}", &s[..end]),
        )
    };
    let (after, text) = number(s).map_err(|_| bad(0))?;
    if text.is_empty() || text == "." {
        return Err(bad(0));
    }
    match after.chars().next() {
        Some(c) if is_alnum(c) => {}
        _ => return Ok((Tok::Number, text.len())),
    }
    // A number glued to letters must be a duration such as `5m` or `1h30m`.
    match duration(s) {
        Ok((after, d)) if !after.starts_with(|c: char| is_alnum(c) || c == '.') => {
            Ok((Tok::Duration, d.len()))
        }
        _ => Err(bad(text.len())),
    }
}

fn lex_punct(s: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let two = s.get(..2).unwrap_or("");
    let tok2 = match two {
        "==" => Some(Tok::Eql),
        "!=" => Some(Tok::Neq),
        "=~" => Some(Tok::ReMatch),
        "!~" => Some(Tok::ReNoMatch),
        "<=" => Some(Tok::Le),
        ">=" => Some(Tok::Ge),
        _ => None,
    };
    if let Some(t) = tok2 {
        return Ok((t, 2));
    }
    let c = s.chars().next().unwrap_or('\0');
    let t = match c {
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        '{' => Tok::LBrace,
        '}' => Tok::RBrace,
        '[' => Tok::LBracket,
        ']' => Tok::RBracket,
        ',' => Tok::Comma,
        '@' => Tok::At,
        '=' => Tok::Assign,
        '<' => Tok::Lt,
        '>' => Tok::Gt,
        '+' => Tok::Add,
        '-' => Tok::Sub,
        '*' => Tok::Mul,
        '/' => Tok::Div,
        '%' => Tok::Mod,
        '^' => Tok::Pow,
        ':' => Tok::Colon,
        '!' => {
            return Err(ParseError::new(
                start..start + 1,
                "unexpected character after \"!\": expected \"=\" or \"~\"",
            ));
        }
        c => {
            return Err(ParseError::new(
                start..start + c.len_utf8(),
                format!("unexpected character {c:?}"),
            ));
        }
    };
    Ok((t, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_durations_and_colons() {
        assert_eq!(kinds("1.5e3"), [Tok::Number, Tok::Eof]);
        assert_eq!(kinds("0x1F"), [Tok::Number, Tok::Eof]);
        assert_eq!(kinds("1h30m"), [Tok::Duration, Tok::Eof]);
        assert_eq!(kinds("a:b[5m:1m]"), {
            use Tok::*;
            [Ident, LBracket, Duration, Colon, Duration, RBracket, Eof]
        });
        assert!(tokenize("5x").is_err());
        assert!(tokenize("1.5h").is_err());
        assert!(tokenize("\"abc").is_err());
    }

    #[test]
    fn comments_are_blanks() {
        assert_eq!(kinds("foo # x\n+ # y"), [Tok::Ident, Tok::Add, Tok::Eof]);
    }
}
