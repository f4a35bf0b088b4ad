//! Writes the text format back: for tests, fuzzing and later `export`.

use super::{Entry, MetricKind, SampleLine};
use std::fmt::Write as _;

/// A float as Prometheus prints it in label values and samples: Go's
/// shortest `%g` form with `.0` added to integers (`1.0`, `1e+06`,
/// `0.25`, `+Inf`, `NaN`).
pub fn format_value(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return "0.0".into();
    }
    // Shortest round-trip digits and decimal exponent, from Rust's `{:e}`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    // Go switches to exponent form below 1e-4 and from 1e+06 on.
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs());
    }
    let mut s = format!("{}", f);
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

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
    out.push('"');
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
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
    out.push_str(&format_value(value));
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
