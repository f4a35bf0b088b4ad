//! One line of the exposition: a comment, `# HELP`, `# TYPE` or a sample.

use super::{Entry, ErrorKind, MetricKind, SampleLine};
use std::borrow::Cow;

/// An error at a byte offset of the line.
type LineError = (usize, ErrorKind);

/// Parses one line (without its `\n`); `Ok(None)` for blank lines and
/// plain comments. `family` is the last `# HELP`/`# TYPE` seen. `strict`
/// refuses escapes other than `\\`, `\"` and `\n` (HELP: `\\`, `\n`), as
/// Prometheus's expfmt parser does.
pub(super) fn parse_line<'a>(
    text: &'a str,
    family: Option<&(Cow<'a, str>, MetricKind)>,
    openmetrics: bool,
    strict: bool,
) -> Result<Option<Entry<'a>>, LineError> {
    let mut c = Cursor {
        s: text,
        pos: 0,
        strict,
    };
    c.skip_blanks();
    match c.peek() {
        None => Ok(None),
        Some(b'#') => {
            c.pos += 1;
            meta(c, openmetrics)
        }
        Some(_) => sample(c, family, openmetrics).map(|s| Some(Entry::Sample(s))),
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    /// Unknown escapes are errors rather than kept verbatim.
    strict: bool,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips spaces and tabs; true when there were any.
    fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Text up to the next blank or the end of the line.
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric) or without `:` (label).
    fn legacy_name(&mut self, colons: bool) -> Option<&'a str> {
        let ok = |b: u8, first: bool| {
            b.is_ascii_alphabetic()
                || b == b'_'
                || (colons && b == b':')
                || (!first && b.is_ascii_digit())
        };
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !ok(b, self.pos == start) {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// A `"…"` string at the cursor, unescaped: `\\`, `\"` and `\n`;
    /// other escapes are kept verbatim, as Prometheus's scraper does, or
    /// refused when strict.
    fn quoted(&mut self) -> Result<Cow<'a, str>, LineError> {
        let open = self.pos;
        let b = self.s.as_bytes();
        let mut i = open + 1;
        let mut owned: Option<String> = None;
        let mut copied = i;
        loop {
            match b.get(i) {
                None => return Err((open, ErrorKind::Unterminated)),
                Some(b'"') => break,
                Some(b'\\') => {
                    let rep = match b.get(i + 1) {
                        None => return Err((open, ErrorKind::Unterminated)),
                        Some(b'\\') => "\\",
                        Some(b'"') => "\"",
                        Some(b'n') => "\n",
                        Some(_) if self.strict => {
                            let ch = self.s[i + 1..].chars().next().unwrap_or('\\');
                            return Err((i, ErrorKind::InvalidEscape(ch)));
                        }
                        Some(_) => {
                            i += 1;
                            continue;
                        }
                    };
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(&self.s[copied..i]);
                    o.push_str(rep);
                    i += 2;
                    copied = i;
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(match owned {
            None => Cow::Borrowed(&self.s[open + 1..i]),
            Some(mut o) => {
                o.push_str(&self.s[copied..i]);
                Cow::Owned(o)
            }
        })
    }

    /// A metric family name after `# HELP`/`# TYPE`: plain or quoted.
    fn family_name(&mut self, what: &'static str) -> Result<Cow<'a, str>, LineError> {
        let at = self.pos;
        let name = match self.peek() {
            Some(b'"') => self.quoted()?,
            _ => match self.legacy_name(true) {
                Some(n) => Cow::Borrowed(n),
                None => return Err((at, ErrorKind::ExpectedFamily(what))),
            },
        };
        if name.is_empty() {
            return Err((at, ErrorKind::EmptyName));
        }
        if !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            return Err((self.pos, ErrorKind::ExpectedFamily(what)));
        }
        Ok(name)
    }
}

/// After `#`: `HELP`, `TYPE`, or a comment.
fn meta(mut c: Cursor<'_>, openmetrics: bool) -> Result<Option<Entry<'_>>, LineError> {
    if !c.skip_blanks() {
        return Ok(None);
    }
    let keyword = c.word();
    let what = match keyword {
        "HELP" => "HELP",
        "TYPE" => "TYPE",
        _ => return Ok(None),
    };
    c.skip_blanks();
    let family = c.family_name(what)?;
    c.skip_blanks();
    if what == "HELP" {
        let text = unescape_help(&c.s[c.pos..], c.strict).map_err(|(at, k)| (c.pos + at, k))?;
        return Ok(Some(Entry::Help { family, text }));
    }
    let at = c.pos;
    let word = c.word();
    let kind = match (openmetrics, word) {
        (true, "unknown" | "info" | "stateset") => Some(MetricKind::Untyped),
        (true, "gaugehistogram") => Some(MetricKind::Histogram),
        _ => MetricKind::from_word(word),
    };
    let Some(kind) = kind else {
        return Err((at, ErrorKind::UnknownType(word.to_string())));
    };
    c.skip_blanks();
    if !c.at_end() {
        return Err((c.pos, ErrorKind::Trailing(c.s[c.pos..].to_string())));
    }
    Ok(Some(Entry::Type { family, kind }))
}

/// Help text escapes: `\\` and `\n`; anything else stays as written, or
/// is refused when `strict`.
fn unescape_help(s: &str, strict: bool) -> Result<Cow<'_, str>, LineError> {
    if !s.contains('\\') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((at, ch)) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.clone().next().map(|(_, c)| c) {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some(other) if strict => return Err((at, ErrorKind::InvalidEscape(other))),
            None if strict => return Err((at, ErrorKind::Unterminated)),
            _ => out.push('\\'),
        }
    }
    Ok(Cow::Owned(out))
}

fn sample<'a>(
    mut c: Cursor<'a>,
    family: Option<&(Cow<'a, str>, MetricKind)>,
    openmetrics: bool,
) -> Result<SampleLine<'a>, LineError> {
    let start = c.pos;
    let mut name: Option<Cow<'a, str>> = match c.peek() {
        Some(b'{') => None,
        _ => match c.legacy_name(true) {
            Some(n) => Some(Cow::Borrowed(n)),
            None => return Err((start, ErrorKind::ExpectedMetricName)),
        },
    };
    c.skip_blanks();
    let mut labels: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
    if c.peek() == Some(b'{') {
        c.pos += 1;
        labels_into(&mut c, &mut name, &mut labels)?;
    }
    let Some(name) = name else {
        return Err((start, ErrorKind::MissingName));
    };
    let (value, timestamp_ms) = value_and_timestamp(&mut c, openmetrics)?;
    let (family, kind) = match family {
        Some((f, k)) if k.owns(f, &name) => (f.clone(), *k),
        _ => (name.clone(), MetricKind::Untyped),
    };
    let normalise = match kind {
        MetricKind::Histogram if name.ends_with("_bucket") => Some("le"),
        MetricKind::Summary if name == family => Some("quantile"),
        _ => None,
    };
    if let Some(which) = normalise {
        for (n, v) in &mut labels {
            if n == which
                && let Some(norm) = normalise_float(v)
            {
                *v = Cow::Owned(norm);
            }
        }
    }
    Ok(SampleLine {
        name,
        labels,
        value,
        timestamp_ms,
        family,
        kind,
    })
}

/// After the series: blanks, the value, an optional timestamp, and (in
/// OpenMetrics) an optional exemplar, to the end of the line.
fn value_and_timestamp(
    c: &mut Cursor<'_>,
    openmetrics: bool,
) -> Result<(f64, Option<i64>), LineError> {
    c.skip_blanks();
    let at = c.pos;
    let word = c.word();
    if word.is_empty() {
        return Err((at, ErrorKind::ExpectedValue));
    }
    let value = parse_value(word).ok_or_else(|| (at, ErrorKind::InvalidValue(word.to_string())))?;
    c.skip_blanks();
    let mut timestamp_ms = None;
    // An OpenMetrics exemplar (` # {labels} value [ts]`) ends the sample.
    let at_exemplar = |c: &Cursor<'_>| openmetrics && c.peek() == Some(b'#');
    if !c.at_end() && !at_exemplar(c) {
        let at = c.pos;
        let word = c.word();
        timestamp_ms = Some(if openmetrics {
            seconds_to_ms(word).ok_or_else(|| (at, ErrorKind::InvalidSeconds(word.to_string())))?
        } else {
            word.parse::<i64>()
                .map_err(|_| (at, ErrorKind::InvalidTimestamp(word.to_string())))?
        });
        c.skip_blanks();
    }
    if !c.at_end() && !at_exemplar(c) {
        return Err((c.pos, ErrorKind::Trailing(c.s[c.pos..].to_string())));
    }
    Ok((value, timestamp_ms))
}

/// A sample line split without reading its labels: the series as written
/// (`name`, `name{…}` or `{…}`), the value and the timestamp. `None` when
/// the line is not a well-formed sample; the full parser then says why.
/// Labels are not checked, only skipped (quotes and escapes respected).
pub(super) fn split_sample(text: &str, openmetrics: bool) -> Option<(&str, f64, Option<i64>)> {
    let b = text.as_bytes();
    let mut c = Cursor {
        s: text,
        pos: 0,
        strict: false,
    };
    c.skip_blanks();
    let start = c.pos;
    if c.peek() != Some(b'{') {
        c.legacy_name(true)?;
        let name_end = c.pos;
        c.skip_blanks();
        if c.peek() != Some(b'{') {
            c.pos = name_end;
            let (v, t) = value_and_timestamp(&mut c, openmetrics).ok()?;
            return Some((&text[start..name_end], v, t));
        }
    }
    let mut i = c.pos + 1;
    let mut quoted = false;
    loop {
        match (b.get(i)?, quoted) {
            (b'"', _) => quoted = !quoted,
            (b'\\', true) => i += 1,
            (b'}', false) => break,
            _ => {}
        }
        i += 1;
    }
    c.pos = i + 1;
    let (v, t) = value_and_timestamp(&mut c, openmetrics).ok()?;
    Some((&text[start..=i], v, t))
}

/// The inside of `{…}`, the cursor just past `{`.
fn labels_into<'a>(
    c: &mut Cursor<'a>,
    name: &mut Option<Cow<'a, str>>,
    labels: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
) -> Result<(), LineError> {
    loop {
        c.skip_blanks();
        let at = c.pos;
        let label = match c.peek() {
            Some(b'}') => {
                c.pos += 1;
                return Ok(());
            }
            Some(b'"') => {
                let q = c.quoted()?;
                c.skip_blanks();
                if c.peek() == Some(b'=') {
                    q
                } else {
                    // A quoted string on its own is the metric name.
                    set_name(name, q, at)?;
                    if !end_of_label(c)? {
                        return Ok(());
                    }
                    continue;
                }
            }
            _ => match c.legacy_name(false) {
                Some(n) => Cow::Borrowed(n),
                None => return Err((at, ErrorKind::ExpectedLabelName)),
            },
        };
        c.skip_blanks();
        if c.peek() != Some(b'=') {
            return Err((c.pos, ErrorKind::ExpectedEquals(label.into_owned())));
        }
        c.pos += 1;
        c.skip_blanks();
        if c.peek() != Some(b'"') {
            return Err((c.pos, ErrorKind::ExpectedLabelValue(label.into_owned())));
        }
        let value = c.quoted()?;
        if label == "__name__" {
            set_name(name, value, at)?;
        } else if labels.iter().any(|(n, _)| *n == label) {
            return Err((at, ErrorKind::DuplicateLabel(label.into_owned())));
        } else {
            labels.push((label, value));
        }
        if !end_of_label(c)? {
            return Ok(());
        }
    }
}

fn set_name<'a>(
    name: &mut Option<Cow<'a, str>>,
    q: Cow<'a, str>,
    at: usize,
) -> Result<(), LineError> {
    if name.is_some() {
        return Err((at, ErrorKind::NameTwice));
    }
    if q.is_empty() {
        return Err((at, ErrorKind::EmptyName));
    }
    *name = Some(q);
    Ok(())
}

/// After a label: true on `,` (more may follow), false on `}`.
fn end_of_label(c: &mut Cursor<'_>) -> Result<bool, LineError> {
    c.skip_blanks();
    match c.peek() {
        Some(b',') => {
            c.pos += 1;
            Ok(true)
        }
        Some(b'}') => {
            c.pos += 1;
            Ok(false)
        }
        _ => Err((c.pos, ErrorKind::ExpectedCommaOrBrace)),
    }
}

/// A sample value: a float, `NaN`, `+Inf`, `-Inf` (any case, as Go's
/// `ParseFloat` reads them).
/// OpenMetrics seconds (`1700000000.123`, or an integer) as Unix ms,
/// rounded to the nearest millisecond.
fn seconds_to_ms(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let secs: f64 = s.parse().ok()?;
    let ms = (secs * 1000.0).round();
    // Within i64 and finite; `as` saturates, so check the range first.
    (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64)
}

fn parse_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// `"1"` → `"1.0"`, `"1e3"` → `"1000.0"`, `"+inf"` → `"+Inf"`; `None` when
/// the text is not a float or already in that form.
pub(super) fn normalise_float(s: &str) -> Option<String> {
    let f = parse_value(s)?;
    let norm = hourglass_query::prom_text::exposition_float(f);
    (norm != s).then_some(norm)
}
