//! Prometheus text exposition format 0.0.4: a line parser with borrowed
//! output, shared by the Pushgateway endpoint, scraping and `import`.
//!
//! Follows Prometheus 3: UTF-8 names may be quoted inside the braces
//! (`{"my.metric", "a"="b"}`), and `le` (histograms) and `quantile`
//! (summaries) label values are normalised to float form (`"1"` → `"1.0"`).
//! Lenient where Prometheus's scraper is: unknown escapes in label values
//! are kept verbatim. [`parse_strict`] is as strict as Prometheus's expfmt
//! parser, which the Pushgateway uses.

mod created;
mod error;
mod line;
mod print;
mod raw;
mod strict;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use error::{ErrorKind, ParseError};
pub use print::{write_help, write_sample, write_type};
pub use raw::{RawEntry, RawSample};

/// A metric family's type from `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `summary`
    Summary,
    /// `untyped`, or no `# TYPE` line at all.
    Untyped,
}

impl MetricKind {
    /// The word used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
            MetricKind::Untyped => "untyped",
        }
    }

    fn from_word(w: &str) -> Option<MetricKind> {
        Some(match w {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "summary" => MetricKind::Summary,
            "untyped" => MetricKind::Untyped,
            _ => return None,
        })
    }

    /// Whether a sample called `name` belongs to the family `family` of
    /// this kind (`x_bucket` belongs to histogram `x`, …).
    fn owns(self, family: &str, name: &str) -> bool {
        let Some(rest) = name.strip_prefix(family) else {
            return false;
        };
        match self {
            MetricKind::Histogram => matches!(rest, "_bucket" | "_sum" | "_count"),
            MetricKind::Summary => matches!(rest, "" | "_sum" | "_count"),
            MetricKind::Counter => matches!(rest, "" | "_total"),
            MetricKind::Gauge | MetricKind::Untyped => rest.is_empty(),
        }
    }
}

/// One meaningful line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP family text`, text unescaped.
    Help {
        /// Family name.
        family: Cow<'a, str>,
        /// Help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE family kind`.
    Type {
        /// Family name.
        family: Cow<'a, str>,
        /// Its type.
        kind: MetricKind,
    },
    /// A sample line.
    Sample(SampleLine<'a>),
}

/// `name{labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleLine<'a> {
    /// Metric name (`__name__`).
    pub name: Cow<'a, str>,
    /// Labels in the order written, values unescaped (and normalised for
    /// `le`/`quantile`).
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The value.
    pub value: f64,
    /// Timestamp in Unix milliseconds, when the line has one.
    pub timestamp_ms: Option<i64>,
    /// The family this sample belongs to: the last `# TYPE`/`# HELP` name
    /// when it owns this sample, else the sample's own name.
    pub family: Cow<'a, str>,
    /// The family's type.
    pub kind: MetricKind,
}

/// Parses `input` lazily, one entry per meaningful line; stops after the
/// first error (see [`Parser::recover`]).
pub fn parse(input: &str) -> Parser<'_> {
    Parser {
        rest: input,
        line_no: 0,
        family: None,
        failed: false,
        openmetrics: false,
        eof: false,
        strict: None,
        skip_created: false,
        ct_family: false,
        histogram_family: false,
        ahead: None,
    }
}

/// Like [`parse`], as strict as Prometheus's expfmt parser (the
/// Pushgateway's): escapes other than `\\`, `\"` and `\n`, a second
/// `# HELP` or `# TYPE` for a family, a `# TYPE` after the family's
/// samples, and `le`/`quantile` values that are not floats are errors.
/// Samples are assigned to families as expfmt does.
pub fn parse_strict(input: &str) -> Parser<'_> {
    Parser {
        strict: Some(strict::Families::default()),
        ..parse(input)
    }
}

/// Like [`parse_strict`], for bytes that must be UTF-8.
pub fn parse_strict_bytes(input: &[u8]) -> Result<Parser<'_>, ParseError> {
    let parser = parse_bytes(input)?;
    Ok(Parser {
        strict: Some(strict::Families::default()),
        ..parser
    })
}

/// Like [`parse`], for OpenMetrics 1.0 text: timestamps are seconds (they
/// come out as milliseconds), exemplars after ` # ` are skipped, `# UNIT`
/// is read as a comment, the types `unknown`, `info`, `stateset` and
/// `gaugehistogram` are accepted (as untyped, untyped, untyped and
/// histogram), and nothing may follow `# EOF`.
pub fn parse_openmetrics(input: &str) -> Parser<'_> {
    Parser {
        openmetrics: true,
        ..parse(input)
    }
}

/// Like [`parse`], for bytes that must be UTF-8.
pub fn parse_bytes(input: &[u8]) -> Result<Parser<'_>, ParseError> {
    match std::str::from_utf8(input) {
        Ok(s) => Ok(parse(s)),
        Err(e) => {
            let good = &input[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            // The valid prefix of the line is UTF-8 by construction.
            let column =
                std::str::from_utf8(&good[line_start..]).map_or(1, |s| s.chars().count() + 1);
            Err(ParseError {
                line,
                column,
                kind: ErrorKind::InvalidUtf8,
            })
        }
    }
}

/// Iterator over the entries of an exposition; see [`parse`].
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    rest: &'a str,
    line_no: usize,
    /// The last `# TYPE`/`# HELP` family and its type.
    family: Option<(Cow<'a, str>, MetricKind)>,
    failed: bool,
    openmetrics: bool,
    /// `# EOF` seen (OpenMetrics).
    eof: bool,
    /// The families seen, when strict.
    strict: Option<strict::Families>,
    /// `_created` samples are created timestamps (OpenMetrics).
    skip_created: bool,
    /// The current family's type carries created timestamps.
    ct_family: bool,
    /// The current family's `# TYPE` is `histogram` (not a gauge
    /// histogram).
    histogram_family: bool,
    /// The `_created` line ahead of the current sample.
    ahead: Option<created::Ahead<'a>>,
}

impl Parser<'_> {
    /// The current family's name when its `# TYPE` is `histogram` (a
    /// classic histogram; gauge histograms are not).
    pub fn histogram_family(&self) -> Option<&str> {
        self.family
            .as_ref()
            .filter(|_| self.histogram_family)
            .map(|(f, _)| f.as_ref())
    }

    /// 1-based number of the line the last entry came from.
    pub fn line(&self) -> usize {
        self.line_no
    }

    /// After an error, goes on with the next line instead of stopping, for
    /// readers that report every bad line and keep the good ones.
    pub fn recover(&mut self) {
        self.failed = false;
    }

    /// A parser for the next piece of the same exposition, for readers that
    /// parse big inputs a block of lines at a time: line numbers, the
    /// current family, `# EOF` and (when strict) the families seen carry
    /// over.
    pub fn resume<'b>(&self, input: &'b str) -> Parser<'b> {
        Parser {
            rest: input,
            line_no: self.line_no + self.rest.lines().count(),
            family: self
                .family
                .as_ref()
                .map(|(f, k)| (Cow::Owned(f.to_string()), *k)),
            failed: false,
            openmetrics: self.openmetrics,
            eof: self.eof,
            strict: self.strict.clone(),
            skip_created: self.skip_created,
            ct_family: self.ct_family,
            histogram_family: self.histogram_family,
            ahead: None,
        }
    }
}

/// What one line gave.
enum Step<'a> {
    /// Blank, a comment, or `# EOF`.
    Skip,
    Entry(Entry<'a>),
    Error(ParseError),
}

impl<'a> Parser<'a> {
    /// Consumes one line; `None` at the end or after an error.
    fn step(&mut self) -> Option<Step<'a>> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let (text, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
        self.rest = rest;
        self.line_no += 1;
        if self.openmetrics {
            let trimmed = text.trim();
            if self.eof && !trimmed.is_empty() {
                self.failed = true;
                return Some(Step::Error(ParseError {
                    line: self.line_no,
                    column: 1,
                    kind: ErrorKind::AfterEof,
                }));
            }
            if trimmed == "# EOF" {
                self.eof = true;
                return Some(Step::Skip);
            }
        }
        // Strict parsing assigns families itself, across the exposition.
        let family = self.family.as_ref().filter(|_| self.strict.is_none());
        let parsed = line::parse_line(text, family, self.openmetrics, self.strict.is_some());
        let parsed = match (parsed, self.strict.as_mut()) {
            (Ok(Some(mut entry)), Some(families)) => families
                .check(&mut entry)
                .map(|()| Some(entry))
                .map_err(|kind| (0, kind)),
            (other, _) => other,
        };
        Some(match parsed {
            Ok(None) => Step::Skip,
            Ok(Some(entry)) => {
                match &entry {
                    Entry::Help { family, .. } => {
                        let same = self.family.as_ref().is_some_and(|(f, _)| f == family);
                        if !same {
                            self.family = Some((family.clone(), MetricKind::Untyped));
                            self.ct_family = false;
                            self.histogram_family = false;
                        }
                    }
                    Entry::Type { family, kind } => {
                        self.family = Some((family.clone(), *kind));
                        let word = text.split_whitespace().last().unwrap_or_default();
                        self.ct_family = self.openmetrics && created::has_created(word);
                        self.histogram_family = word == "histogram";
                    }
                    Entry::Sample(s) if self.skips(&s.name) => return Some(Step::Skip),
                    Entry::Sample(_) => {}
                }
                Step::Entry(entry)
            }
            Err((column, kind)) => {
                self.failed = true;
                Step::Error(self.error_at(text, column, kind))
            }
        })
    }

    /// An error at byte `column` of the current line `text`.
    fn error_at(&self, text: &str, column: usize, kind: ErrorKind) -> ParseError {
        let column = text.get(..column).map_or(column, |p| p.chars().count()) + 1;
        ParseError {
            line: self.line_no,
            column,
            kind,
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.step()? {
                Step::Skip => continue,
                Step::Entry(e) => return Some(Ok(e)),
                Step::Error(e) => return Some(Err(e)),
            }
        }
    }
}

/// Runs arbitrary bytes through the parser and checks that whatever parses
/// prints back to text that parses the same. Shared by the `text_parse`
/// fuzz target and a unit test; panics on a broken invariant.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let Ok(parser) = parse_bytes(data) else {
        return;
    };
    // The OpenMetrics dialect reads the same bytes without panicking, and
    // the scraper's raw mode reads both dialects as the iterator does.
    if let Ok(text) = std::str::from_utf8(data) {
        for entry in parse_openmetrics(text) {
            if entry.is_err() {
                break;
            }
        }
        raw::check_against_iterator(text, false, false);
        raw::check_against_iterator(text, true, false);
        raw::check_against_iterator(text, true, true);
    }
    let (printed, first) = print_until_error(parser);
    check_reparsed(&printed, &first, parse);
}

/// Runs arbitrary bytes through the strict parser: the lenient parser gets
/// at least as far, and whatever parses strictly prints back to text that
/// parses strictly the same. For the `push_text_strict` fuzz target and a
/// unit test; panics on a broken invariant.
#[doc(hidden)]
pub fn fuzz_strict(data: &[u8]) {
    let Ok(parser) = parse_strict_bytes(data) else {
        return;
    };
    let (printed, first) = print_until_error(parser);
    if let Ok(lenient) = parse_bytes(data) {
        let ok = lenient.take_while(Result::is_ok).count();
        assert!(ok >= first.len(), "lenient parsing stopped earlier");
    }
    check_reparsed(&printed, &first, parse_strict);
}

/// The entries `parser` reads before its first error, and their text as
/// printed.
fn print_until_error(parser: Parser<'_>) -> (String, Vec<Entry<'_>>) {
    let mut printed = String::new();
    let mut first = Vec::new();
    for entry in parser {
        let Ok(entry) = entry else { break };
        print::write_entry(&mut printed, &entry);
        first.push(entry);
    }
    (printed, first)
}

/// Panics unless `printed` parses with `reparse`, without error, into the
/// same entries as `first`.
fn check_reparsed(printed: &str, first: &[Entry<'_>], reparse: fn(&str) -> Parser<'_>) {
    let again: Vec<Entry<'_>> = match reparse(printed).collect::<Result<_, _>>() {
        Ok(v) => v,
        Err(e) => panic!("printed text does not parse again: {e}\n{printed}"),
    };
    assert_eq!(again.len(), first.len(), "{printed}");
    for (a, b) in again.iter().zip(first) {
        assert!(print::same_entry(a, b), "{a:?} != {b:?}\n{printed}");
    }
}
