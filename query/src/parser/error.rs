//! Parse errors: a message and the byte range it is about, shown with a
//! caret under the query so a Grafana user can see where to look.

use std::fmt;
use std::ops::Range;

/// Why a query was refused, and where.
///
/// `Display` prints `parse error at line:col: message`, then the offending
/// line of the query with carets under the byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    span: Range<usize>,
    message: String,
    query: String,
}

/// The most we echo back of one query line, so a huge input does not make a
/// huge error.
const MAX_ECHO_CHARS: usize = 160;

impl ParseError {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> ParseError {
        ParseError {
            span,
            message: message.into(),
            query: String::new(),
        }
    }

    /// Attaches the query text so `Display` can draw the caret.
    pub(crate) fn with_query(mut self, query: &str) -> ParseError {
        let end = query.len();
        self.span.start = floor_char_boundary(query, self.span.start.min(end));
        self.span.end = floor_char_boundary(query, self.span.end.clamp(self.span.start, end));
        self.query = query.to_owned();
        self
    }

    /// Byte range of the problem in the query.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// What is wrong, without position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 1-based line and column (in characters) of the start of the span.
    pub fn line_col(&self) -> (usize, usize) {
        let before = &self.query[..self.span.start.min(self.query.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        write!(f, "parse error at {line}:{col}: {}", self.message)?;
        if self.query.is_empty() {
            return Ok(());
        }
        let start = self.span.start;
        let line_start = self.query[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.query[start..]
            .find('\n')
            .map_or(self.query.len(), |i| start + i);
        let text = &self.query[line_start..line_end];
        // Window long lines around the caret.
        let caret_col = self.query[line_start..start].chars().count();
        let skip = caret_col.saturating_sub(MAX_ECHO_CHARS / 2);
        let shown: String = text.chars().skip(skip).take(MAX_ECHO_CHARS).collect();
        let shown = shown.replace('\t', " ");
        let width = self.query[start..self.span.end.min(line_end).max(start)]
            .chars()
            .count()
            .clamp(1, MAX_ECHO_CHARS);
        write!(
            f,
            "\n  {shown}\n  {}{}",
            " ".repeat(caret_col - skip),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for ParseError {}
