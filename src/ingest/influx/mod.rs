//! InfluxDB line protocol (`/write`, `/api/v2/write`) into series.
//!
//! Mapping, as VictoriaMetrics and M3 do it: each numeric field becomes a
//! series named `{measurement}_{field}`, the tags its labels, plus the
//! database (v1 `db`) or bucket (v2 `bucket`) as a label unless a tag of
//! that name is already there. Names are made Prometheus-legal: a
//! character outside `[a-zA-Z0-9_:]` (`[a-zA-Z0-9_]` in label names)
//! becomes `_`, and a leading digit gets a `_` before it. Integers and
//! unsigned integers are stored as floats, booleans as 1 and 0; string
//! fields are skipped and counted. Timestamps are converted from the
//! request's precision to milliseconds (rounded down); a line without one
//! takes the time the request arrived.
//!
//! A bad line is reported with its number and reason and the rest of the
//! body is still read, so the good lines of a body are stored.

pub mod line;

use super::arena::SeriesArena;
use hourglass_storage::Sample;
use line::{FieldValue, Line};

/// Longest line accepted (bytes): a longer one is refused by number.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Bad lines reported in full; the rest are counted.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// The unit of the timestamps in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds (the default).
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes (v1 only).
    Minutes,
    /// Hours (v1 only).
    Hours,
}

impl Precision {
    /// The v1 `precision` parameter: `n`/`ns`, `u`/`us`, `ms`, `s`, `m`, `h`.
    pub fn from_v1(s: &str) -> Option<Precision> {
        Some(match s {
            "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// The v2 `precision` parameter: `ns`, `us`, `ms`, `s`.
    pub fn from_v2(s: &str) -> Option<Precision> {
        Some(match s {
            "ns" => Precision::Nanoseconds,
            "us" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            _ => return None,
        })
    }

    /// `ts` in this unit as milliseconds; `None` on overflow.
    pub fn to_ms(self, ts: i64) -> Option<i64> {
        match self {
            Precision::Nanoseconds => Some(ts.div_euclid(1_000_000)),
            Precision::Microseconds => Some(ts.div_euclid(1_000)),
            Precision::Milliseconds => Some(ts),
            Precision::Seconds => ts.checked_mul(1_000),
            Precision::Minutes => ts.checked_mul(60_000),
            Precision::Hours => ts.checked_mul(3_600_000),
        }
    }
}

/// How to read one body.
#[derive(Debug, Clone, Copy)]
pub struct Options<'o> {
    /// The label naming the database or bucket, and its value.
    pub db_label: Option<(&'o str, &'o str)>,
    /// Unit of the timestamps.
    pub precision: Precision,
    /// The time of lines without a timestamp (ms).
    pub now_ms: i64,
    /// Most series (numeric fields) the body may yield; past it decoding
    /// stops with an error.
    pub max_series: usize,
}

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// Why it was refused.
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What reading a body found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Lines read without error (blank and comment lines not counted).
    pub lines: usize,
    /// Numeric fields turned into samples.
    pub fields: usize,
    /// String fields skipped.
    pub strings_skipped: usize,
    /// The first [`MAX_REPORTED_ERRORS`] bad lines.
    pub errors: Vec<LineError>,
    /// All bad lines.
    pub bad_lines: usize,
    /// Set when the body yields more than `max_series` series.
    pub too_many_series: bool,
    /// Set when the series built outgrew what `charge` allowed.
    pub over_budget: bool,
}

impl Report {
    fn bad(&mut self, line: usize, reason: String) {
        self.bad_lines += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError { line, reason });
        }
    }
}

/// Pushes a Prometheus-legal form of `s` onto `out`: characters outside
/// `[a-zA-Z0-9_]` (plus `:` when `colons`) become `_`, and a name starting
/// with a digit gets a leading `_`.
pub fn push_legal(out: &mut String, s: &str, colons: bool, first: bool) {
    if first && s.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in s.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
        out.push(if ok { c } else { '_' });
    }
}

/// Most labels one line may expand to (fields × (tags + 2)): each field
/// repeats the line's tags.
pub const MAX_LINE_LABELS: usize = 65_536;

/// Reads `body`, adding a series per numeric field to `out`. The arena's
/// growth is handed to `charge` line by line; when it says no, reading
/// stops (`over_budget`).
pub fn decode(
    body: &[u8],
    opts: &Options<'_>,
    out: &mut SeriesArena,
    charge: &mut dyn FnMut(usize) -> bool,
) -> Report {
    let mut report = Report::default();
    let mut charged = out.held_bytes();
    let mut parsed = Line::default();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        if raw.len() > MAX_LINE_BYTES {
            report.bad(
                number,
                format!(
                    "line is {} bytes, over the limit of {MAX_LINE_BYTES}",
                    raw.len()
                ),
            );
            continue;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            report.bad(number, "not valid UTF-8".into());
            continue;
        };
        let text = text
            .trim_start_matches([' ', '\t'])
            .trim_end_matches(['\r', ' ', '\t']);
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Err(reason) = line::parse(text, &mut parsed) {
            report.bad(number, reason);
            continue;
        }
        let t = match parsed.timestamp {
            None => opts.now_ms,
            Some(ts) => match opts.precision.to_ms(ts) {
                Some(t) => t,
                None => {
                    report.bad(number, format!("timestamp {ts} out of range"));
                    continue;
                }
            },
        };
        let numeric = parsed
            .fields
            .iter()
            .filter(|(_, v)| !matches!(v, FieldValue::Str(_)))
            .count();
        if out.len() + numeric > opts.max_series {
            report.too_many_series = true;
            return report;
        }
        if numeric.saturating_mul(parsed.tags.len() + 2) > MAX_LINE_LABELS {
            report.bad(
                number,
                format!(
                    "{numeric} fields × {} tags expand to more than {MAX_LINE_LABELS} labels",
                    parsed.tags.len()
                ),
            );
            continue;
        }
        report.lines += 1;
        emit(&parsed, t, opts, out, &mut report);
        let held = out.held_bytes();
        if held > charged {
            if !charge(held - charged) {
                report.over_budget = true;
                return report;
            }
            charged = held;
        }
    }
    report
}

fn emit(l: &Line<'_>, t: i64, opts: &Options<'_>, out: &mut SeriesArena, report: &mut Report) {
    // The first series writes the tags; later fields of the line copy them.
    let mut shared: Option<std::ops::Range<usize>> = None;
    for (key, value) in &l.fields {
        let v = match value {
            FieldValue::Float(f) => *f,
            FieldValue::Int(i) => *i as f64,
            FieldValue::UInt(u) => *u as f64,
            FieldValue::Bool(b) => f64::from(u8::from(*b)),
            FieldValue::Str(_) => {
                report.strings_skipped += 1;
                continue;
            }
        };
        out.label_with(
            |s| s.push_str("__name__"),
            |s| {
                push_legal(s, &l.measurement, true, true);
                s.push('_');
                push_legal(s, key, true, false);
            },
        );
        match &shared {
            Some(r) => out.copy_labels(r.clone()),
            None => {
                let from = out.mark();
                for (k, val) in &l.tags {
                    out.label_with(|s| push_legal(s, k, false, true), |s| s.push_str(val));
                }
                if let Some((name, db)) = opts.db_label
                    && !l.tags.iter().any(|(k, _)| k == name)
                {
                    out.label(name, db);
                }
                shared = Some(from..out.mark());
            }
        }
        out.finish(Sample { t, v });
        report.fields += 1;
    }
}

#[cfg(test)]
mod tests;
