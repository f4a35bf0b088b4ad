//! Splits a query into tokens. Words (identifiers and keywords) stay plain
//! `Ident`s: whether `sum` is an aggregation, a metric name or a label name
//! depends on where it stands, so the parser decides.

use super::ast::BinaryOp;
use super::error::ParseError;

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
    ReMatch,
    ReNoMatch,
    /// A binary operator written as symbols (`==` … `^`); `+` and `-`
    /// are also signs, `!=` also a matcher.
    Op(BinaryOp),
    Eof,
}

impl Tok {
    /// How the token is named in "unexpected …" messages.
    pub(crate) fn describe(self) -> String {
        let name = match self {
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
            Tok::ReMatch => "\"=~\"",
            Tok::ReNoMatch => "\"!~\"",
            Tok::Eof => "end of input",
            Tok::Op(op) => return format!("\"{}\"", op.as_str()),
        };
        name.to_string()
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

/// Prometheus's number scan: an optional `0x` prefix, digits with at most
/// one `.` and one exponent, `_` between digits. Returns how far the scan
/// got and whether that is a number (not glued to a letter or digit).
///
/// The rules are Prometheus's, quirks included: an `e` right after hex
/// digits starts an exponent, so `0x1e3` scans but `0x1e` does not.
fn scan_number(s: &str) -> (usize, bool) {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = 0;
    let hex = b.len() >= 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X');
    if hex {
        i = 2;
        if at(i) == Some(b'_') {
            i += 1;
        }
    }
    let is_digit = |c: u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    if at(i) == Some(b'.') {
        i += 1;
    }
    if at(i).is_some_and(is_digit) {
        i += 1;
    }
    let (mut dot, mut exp) = (false, false);
    while let Some(c) = at(i) {
        match c {
            b'.' => {
                if dot || hex {
                    return (i + 1, false);
                }
                dot = true;
                i += 1;
                if matches!(at(i), Some(b'_' | b'.')) {
                    return (i + 1, false);
                }
            }
            b'e' | b'E' => {
                if exp {
                    return (i + 1, false);
                }
                exp = true;
                i += 1;
                if matches!(at(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                match at(i) {
                    None => return (i, false),
                    Some(b'.' | b'_' | b'e' | b'E') => return (i + 1, false),
                    _ => {}
                }
            }
            b'_' => {
                i += 1;
                match at(i) {
                    None => return (i, false),
                    Some(b'.' | b'_' | b'e' | b'E') => return (i + 1, false),
                    _ => {}
                }
            }
            c if is_digit(c) => i += 1,
            _ => break,
        }
    }
    let glued = at(i).is_some_and(|c| is_alnum(c as char));
    (i, i > 0 && !glued)
}

/// After the digits of a duration: a unit (`ms` included), then more
/// digit-unit pairs, then something that is not a letter or digit. Unit
/// order and repeats are checked when the duration is parsed.
fn duration_tail(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    // A unit letter at `i`, with an `s` after it when there is one (`ms`).
    let unit = |i: usize, units: &[u8]| {
        let c = b.get(i)?;
        units
            .contains(c)
            .then(|| i + 1 + usize::from(b.get(i + 1) == Some(&b's')))
    };
    let mut end = unit(0, b"smhdwy")?;
    loop {
        let digits = b[end..].iter().take_while(|c| c.is_ascii_digit()).count();
        match unit(end + digits, b"smhdw") {
            Some(next) if digits > 0 => end = next,
            _ => break,
        }
    }
    (!s[end..].starts_with(is_alnum)).then_some(end)
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
            '0'..='9' => lex_number(rest, start)?,
            '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => lex_number(rest, start)?,
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
    let (n, is_number) = scan_number(s);
    if is_number {
        return Ok((Tok::Number, n));
    }
    // `5m`, `1h30m`: the number scan stops at the unit.
    if let Some(len) = s.get(n..).and_then(duration_tail) {
        return Ok((Tok::Duration, n + len));
    }
    let end = s
        .char_indices()
        .find(|&(i, c)| i >= n && !is_alnum(c) && c != '.')
        .map_or(s.len(), |(i, _)| i);
    Err(ParseError::new(
        start..start + end.max(1),
        format!("bad number or duration syntax: {:?}", &s[..end]),
    ))
}

fn lex_punct(s: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let two = s.get(..2).unwrap_or("");
    let tok2 = match two {
        "==" => Some(Tok::Op(BinaryOp::Eql)),
        "!=" => Some(Tok::Op(BinaryOp::Neq)),
        "=~" => Some(Tok::ReMatch),
        "!~" => Some(Tok::ReNoMatch),
        "<=" => Some(Tok::Op(BinaryOp::Le)),
        ">=" => Some(Tok::Op(BinaryOp::Ge)),
        "</" => Some(Tok::Op(BinaryOp::TrimUpper)),
        ">/" => Some(Tok::Op(BinaryOp::TrimLower)),
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
        '<' => Tok::Op(BinaryOp::Lt),
        '>' => Tok::Op(BinaryOp::Gt),
        '+' => Tok::Op(BinaryOp::Add),
        '-' => Tok::Op(BinaryOp::Sub),
        '*' => Tok::Op(BinaryOp::Mul),
        '/' => Tok::Op(BinaryOp::Div),
        '%' => Tok::Op(BinaryOp::Mod),
        '^' => Tok::Op(BinaryOp::Pow),
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
        assert_eq!(kinds("1.5h"), [Tok::Duration, Tok::Eof]);
        assert_eq!(kinds("1_000"), [Tok::Number, Tok::Eof]);
        assert!(tokenize("1_").is_err());
        assert!(tokenize("0x1e").is_err());
        assert!(tokenize("\"abc").is_err());
    }

    #[test]
    fn comments_are_blanks() {
        assert_eq!(
            kinds("foo # x\n+ # y"),
            [Tok::Ident, Tok::Op(BinaryOp::Add), Tok::Eof]
        );
    }
}
