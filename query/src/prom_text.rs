//! How Prometheus spells floats and strings in text, the one copy the
//! engine, the query API, the text exposition writer and `/metrics` use.
//!
//! Floats come in three spellings, each Go's formatting as a Prometheus
//! surface uses it: [`plain_float`] (`strconv.FormatFloat(v, 'f', -1, 64)`:
//! label values made by the engine, the parse_query AST, `/metrics`),
//! [`write_api_value`] (query results: plain digits from 1e-6 to below
//! 1e21, Go's exponent form outside) and [`exposition_float`] (the text
//! format's `%g` with `.0` on integers). All three write `NaN`, `+Inf` and
//! `-Inf`.
//!
//! Strings are quoted in three dialects that share one escaper
//! ([`Quoting`]): JSON, PromQL (Go's `strconv.Quote`, which the parser's
//! `unquote` reads back) and the exposition format's label values.

use std::fmt::Write as _;

/// `[a-zA-Z_][a-zA-Z0-9_]*`: a label name in Prometheus's legacy character
/// set, which PromQL writes without quotes.
pub fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How Prometheus and Go spell a value that is not finite (`NaN`, `+Inf`,
/// `-Inf`); `None` for a finite one.
pub fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits,
/// never an exponent.
pub fn plain_float(v: f64) -> String {
    match non_finite(v) {
        Some(s) => s.to_owned(),
        None => format!("{v}"),
    }
}

/// A sample value as the query API prints it: shortest round-trip digits,
/// plain below 1e21 and from 1e-6, Go's exponent form (`1e-07`, `1e+21`)
/// outside.
pub fn write_api_value(v: f64, out: &mut String) {
    if let Some(s) = non_finite(v) {
        out.push_str(s);
    } else if v != 0.0 && (v.abs() < 1e-6 || v.abs() >= 1e21) {
        let e = format!("{v:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A float as the text exposition format prints it in label values and
/// samples: Go's shortest `%g` form with `.0` added to integers (`1.0`,
/// `1e+06`, `0.25`).
pub fn exposition_float(f: f64) -> String {
    if let Some(s) = non_finite(f) {
        return s.to_owned();
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
    let mut s = format!("{f}");
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

/// The dialects of a double-quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// A JSON string: `\"`, `\\`, `\n`, `\r`, `\t`, other controls
    /// below U+0020 as `\u00XX`.
    Json,
    /// A PromQL string as Go's `strconv.Quote` writes it: `\"`, `\\`,
    /// `\n`, `\r`, `\t`, other controls as `\xXX` (ASCII) or `\uXXXX`.
    PromQl,
    /// A label value of the text exposition format: only `\\`, `\"` and
    /// `\n` are escaped.
    Exposition,
}

/// Appends `s` in double quotes, escaped for `dialect`.
pub fn write_quoted(out: &mut String, s: &str, dialect: Quoting) {
    out.push('"');
    write_escaped(out, s, dialect);
    out.push('"');
}

/// Appends `s` escaped for `dialect`, without the quotes.
pub fn write_escaped(out: &mut String, s: &str, dialect: Quoting) {
    out.reserve(s.len());
    for c in s.chars() {
        match (c, dialect) {
            ('"', _) => out.push_str("\\\""),
            ('\\', _) => out.push_str("\\\\"),
            ('\n', _) => out.push_str("\\n"),
            (c, Quoting::Exposition) => out.push(c),
            ('\r', _) => out.push_str("\\r"),
            ('\t', _) => out.push_str("\\t"),
            (c, Quoting::Json) if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            (c, Quoting::PromQl) if c.is_control() => {
                let v = c as u32;
                if v < 0x80 {
                    let _ = write!(out, "\\x{v:02x}");
                } else {
                    let _ = write!(out, "\\u{v:04x}");
                }
            }
            (c, _) => out.push(c),
        }
    }
}

/// `s` in double quotes, escaped for `dialect`.
pub fn quoted(s: &str, dialect: Quoting) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_quoted(&mut out, s, dialect);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(x: f64) -> String {
        let mut s = String::new();
        write_api_value(x, &mut s);
        s
    }

    #[test]
    fn api_values_print_as_go_prints_them() {
        assert_eq!(api(1.0), "1");
        assert_eq!(api(0.1), "0.1");
        assert_eq!(api(-2.5), "-2.5");
        assert_eq!(api(0.0), "0");
        assert_eq!(api(1e-7), "1e-07");
        assert_eq!(api(1.5e-7), "1.5e-07");
        assert_eq!(api(1e21), "1e+21");
        assert_eq!(api(1e20), "100000000000000000000");
        assert_eq!(api(0.000001), "0.000001");
        assert_eq!(api(1.2345e100), "1.2345e+100");
        assert_eq!(api(f64::NAN), "NaN");
        assert_eq!(api(f64::INFINITY), "+Inf");
        assert_eq!(api(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn plain_floats_never_use_an_exponent() {
        assert_eq!(plain_float(1.0), "1");
        assert_eq!(plain_float(0.25), "0.25");
        assert_eq!(plain_float(1e21), "1000000000000000000000");
        assert_eq!(plain_float(1e-7), "0.0000001");
        assert_eq!(plain_float(f64::NAN), "NaN");
        assert_eq!(plain_float(f64::INFINITY), "+Inf");
        assert_eq!(plain_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn exposition_floats_match_go() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-1.0, "-1.0"),
            (0.25, "0.25"),
            (1e6, "1e+06"),
            (123456.0, "123456.0"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(exposition_float(f), want, "{f}");
        }
    }

    #[test]
    fn each_dialect_escapes_its_own_set() {
        let s = "a\"b\\c\nd\re\tf\u{1}g\u{85}é";
        assert_eq!(
            quoted(s, Quoting::Json),
            "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{85}é\""
        );
        assert_eq!(
            quoted(s, Quoting::PromQl),
            "\"a\\\"b\\\\c\\nd\\re\\tf\\x01g\\u0085é\""
        );
        assert_eq!(
            quoted(s, Quoting::Exposition),
            "\"a\\\"b\\\\c\\nd\re\tf\u{1}g\u{85}é\""
        );
    }

    #[test]
    fn json_quoting_is_valid_json() {
        let s = "a\"b\\c\n\u{0}\u{1f}\u{7f}😀";
        let text = quoted(s, Quoting::Json);
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
