//! Writes the text format back: for tests, fuzzing and later `export`.

use super::{Entry, MetricKind, SampleLine};
use hourglass_query::prom_text::{Quoting, exposition_float, write_quoted};
use std::fmt::Write as _;

fn is_legacy(name: &str, colons: bool) -> bool {
    let mut chars = name.chars();
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || c == '_'
            || (colons && c == ':')
            || (!first && c.is_ascii_digit())
    };
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

fn quote(out: &mut String, s: &str) {
    write_quoted(out, s, Quoting::Exposition);
}

fn family_name(out: &mut String, name: &str) {
    if is_legacy(name, true) {
        out.push_str(name);
    } else {
        quote(out, name);
    }
}

/// `# HELP name text\n`.
pub fn write_help(out: &mut String, family: &str, text: &str) {
    out.push_str("# HELP ");
    family_name(out, family);
    out.push(' ');
    out.push_str(&text.replace('\\', "\\\\").replace('\n', "\\n"));
    out.push('\n');
}

/// `# TYPE name kind\n`.
pub fn write_type(out: &mut String, family: &str, kind: MetricKind) {
    out.push_str("# TYPE ");
    family_name(out, family);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
}

/// `name{labels} value [timestamp]\n`; a name that is not a legacy name
/// goes quoted inside the braces.
pub fn write_sample<'l>(
    out: &mut String,
    name: &str,
    labels: impl IntoIterator<Item = (&'l str, &'l str)>,
    value: f64,
    timestamp_ms: Option<i64>,
) {
    let mut labels = labels.into_iter().peekable();
    let legacy = is_legacy(name, true);
    if legacy {
        out.push_str(name);
    }
    if !legacy || labels.peek().is_some() {
        out.push('{');
        let mut first = true;
        if !legacy {
            quote(out, name);
            first = false;
        }
        for (n, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            if is_legacy(n, false) {
                out.push_str(n);
            } else {
                quote(out, n);
            }
            out.push('=');
            quote(out, v);
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&exposition_float(value));
    if let Some(t) = timestamp_ms {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}

/// Any entry, as a line.
pub(super) fn write_entry(out: &mut String, e: &Entry<'_>) {
    match e {
        Entry::Help { family, text } => write_help(out, family, text),
        Entry::Type { family, kind } => write_type(out, family, *kind),
        Entry::Sample(s) => write_sample(
            out,
            &s.name,
            s.labels.iter().map(|(n, v)| (n.as_ref(), v.as_ref())),
            s.value,
            s.timestamp_ms,
        ),
    }
}

/// Equality with NaN equal to NaN (bit patterns may differ after printing).
pub(super) fn same_entry(a: &Entry<'_>, b: &Entry<'_>) -> bool {
    match (a, b) {
        (Entry::Sample(x), Entry::Sample(y)) => same_sample(x, y),
        _ => a == b,
    }
}

fn same_sample(x: &SampleLine<'_>, y: &SampleLine<'_>) -> bool {
    let v = x.value == y.value || (x.value.is_nan() && y.value.is_nan());
    v && x.name == y.name
        && x.labels == y.labels
        && x.timestamp_ms == y.timestamp_ms
        && x.family == y.family
        && x.kind == y.kind
}
