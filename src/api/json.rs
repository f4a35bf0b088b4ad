//! Query results as JSON, written by hand: results can hold millions of
//! points, and the number formats must match Prometheus's.

use hourglass_query::{InstantSample, RangeSeries, Value};
use hourglass_storage::Labels;
use std::fmt::Write as _;

/// A sample value as Prometheus prints it: shortest round-trip digits,
/// plain below 1e21 and from 1e-6, Go's exponent form (`1e-07`, `1e+21`)
/// outside, `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
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

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` prints it, with
/// Prometheus's spellings of NaN and the infinities: the text format and
/// the parse_query AST use it.
pub fn plain_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// A timestamp in ms as Prometheus prints it: seconds, with three decimals
/// only when there is a fraction.
pub fn format_timestamp(ms: i64, out: &mut String) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// A JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_labels(l: &Labels, out: &mut String) {
    out.push('{');
    for (i, label) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&label.name, out);
        out.push(':');
        write_str(&label.value, out);
    }
    out.push('}');
}

fn write_point(t: i64, v: f64, out: &mut String) {
    out.push('[');
    format_timestamp(t, out);
    out.push_str(",\"");
    format_value(v, out);
    out.push_str("\"]");
}

fn write_vector(v: &[InstantSample], out: &mut String) {
    out.push('[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(&s.labels, out);
        out.push_str(",\"value\":");
        write_point(s.t, s.v, out);
        out.push('}');
    }
    out.push(']');
}

fn write_matrix(m: &[RangeSeries], out: &mut String) {
    out.push('[');
    for (i, s) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(&s.labels, out);
        out.push_str(",\"values\":[");
        for (j, p) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(p.t, p.v, out);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// The whole success envelope of a query result.
pub fn query_response(value: &Value, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":");
    match value {
        Value::Scalar { t, v } => {
            out.push_str("\"scalar\",\"result\":");
            write_point(*t, *v, &mut out);
        }
        Value::String { t, s } => {
            out.push_str("\"string\",\"result\":[");
            format_timestamp(*t, &mut out);
            out.push(',');
            write_str(s, &mut out);
            out.push(']');
        }
        Value::Vector(v) => {
            out.push_str("\"vector\",\"result\":");
            write_vector(v, &mut out);
        }
        Value::Matrix(m) => {
            out.push_str("\"matrix\",\"result\":");
            write_matrix(m, &mut out);
        }
    }
    out.push('}');
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if list.is_empty() {
            continue;
        }
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        for (i, w) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(w, &mut out);
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> String {
        let mut s = String::new();
        format_value(x, &mut s);
        s
    }

    fn t(ms: i64) -> String {
        let mut s = String::new();
        format_timestamp(ms, &mut s);
        s
    }

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(v(1.0), "1");
        assert_eq!(v(0.1), "0.1");
        assert_eq!(v(-2.5), "-2.5");
        assert_eq!(v(0.0), "0");
        assert_eq!(v(1e-7), "1e-07");
        assert_eq!(v(1.5e-7), "1.5e-07");
        assert_eq!(v(1e21), "1e+21");
        assert_eq!(v(1e20), "100000000000000000000");
        assert_eq!(v(0.000001), "0.000001");
        assert_eq!(v(1.2345e100), "1.2345e+100");
        assert_eq!(v(f64::NAN), "NaN");
        assert_eq!(v(f64::INFINITY), "+Inf");
        assert_eq!(v(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn timestamps_print_as_prometheus_prints_them() {
        assert_eq!(t(1_435_781_451_781), "1435781451.781");
        assert_eq!(t(1500), "1.500");
        assert_eq!(t(4000), "4");
        assert_eq!(t(5), "0.005");
        assert_eq!(t(-1500), "-1.500");
    }

    #[test]
    fn responses_are_valid_json() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b\\c\n")]);
        let value = Value::Vector(vec![InstantSample {
            labels,
            t: 4000,
            v: f64::NAN,
        }]);
        let text = query_response(&value, &["careful".into()], &["repaired".into()]);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["data"]["result"][0]["metric"]["job"], "a\"b\\c\n");
        assert_eq!(parsed["data"]["result"][0]["value"][1], "NaN");
        assert_eq!(parsed["warnings"][0], "careful");
        assert_eq!(parsed["infos"][0], "repaired");
        let s = query_response(&Value::Scalar { t: 4000, v: 2.0 }, &[], &[]);
        assert_eq!(
            s,
            r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
        );
    }
}
