//! Parse errors that name the line and column.

/// A text exposition that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong there.
    pub kind: ErrorKind,
}

/// What went wrong, without the position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The body is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A line starts with something that is not a metric name.
    #[error("expected a metric name")]
    ExpectedMetricName,
    /// `{` not followed by a label name or a quoted metric name.
    #[error("expected a label name")]
    ExpectedLabelName,
    /// A label name not followed by `=`.
    #[error("expected '=' after label name {0:?}")]
    ExpectedEquals(String),
    /// `=` not followed by `"`.
    #[error("expected '\"' to open the value of label {0:?}")]
    ExpectedLabelValue(String),
    /// A quoted string runs to the end of the line.
    #[error("unterminated quoted string")]
    Unterminated,
    /// After a label, neither `,` nor `}`.
    #[error("expected ',' or '}}'")]
    ExpectedCommaOrBrace,
    /// The same label twice in one sample.
    #[error("duplicate label {0:?}")]
    DuplicateLabel(String),
    /// The metric name both before and inside the braces.
    #[error("metric name given twice")]
    NameTwice,
    /// A quoted metric name that is empty.
    #[error("empty metric name")]
    EmptyName,
    /// `{…}` with no metric name anywhere.
    #[error("sample has no metric name")]
    MissingName,
    /// No value after the name and labels.
    #[error("expected a value")]
    ExpectedValue,
    /// A value that is not a float.
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    /// A timestamp that is not an integer of milliseconds.
    #[error("invalid timestamp {0:?}: want integer milliseconds")]
    InvalidTimestamp(String),
    /// Text after the timestamp.
    #[error("unexpected text {0:?} at end of line")]
    Trailing(String),
    /// `# HELP`/`# TYPE` without a family name.
    #[error("expected a metric family name after # {0}")]
    ExpectedFamily(&'static str),
    /// An OpenMetrics timestamp that is not a number of seconds.
    #[error("invalid timestamp {0:?}: want seconds (OpenMetrics)")]
    InvalidSeconds(String),
    /// OpenMetrics text after `# EOF`.
    #[error("text after # EOF")]
    AfterEof,
    /// `# TYPE x y` with an unknown `y`.
    #[error("unknown metric type {0:?}: want counter, gauge, histogram, summary or untyped")]
    UnknownType(String),
    /// A backslash escape other than `\\`, `\"` or `\n` (strict).
    #[error("invalid escape sequence '\\{0}'")]
    InvalidEscape(char),
    /// A second `# HELP` for a family (strict).
    #[error("second HELP line for metric name {0:?}")]
    SecondHelp(String),
    /// A second `# TYPE` for a family, or one after its samples (strict).
    #[error("second TYPE line for metric name {0:?}, or TYPE reported after samples")]
    SecondType(String),
    /// An `le` (histogram) or `quantile` (summary) value that is not a
    /// float (strict).
    #[error("expected float as value for '{label}' label, got {value:?}")]
    BadBound {
        /// `le` or `quantile`.
        label: &'static str,
        /// The value as written.
        value: String,
    },
}
