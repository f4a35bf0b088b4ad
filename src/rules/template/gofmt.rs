//! Go's `fmt` spellings the templates print with: `%v` of every value,
//! `%g`/`%e`/`%f` of floats (with Go's exponent form `e+06`), and `printf`.

use super::Val;
use hourglass_query::prom_text::non_finite;
use std::fmt::Write as _;

/// `e+06` style exponent from Rust's `e6`.
fn go_exponent(rust: &str) -> String {
    let (mantissa, exp) = rust.split_once('e').unwrap_or((rust, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// `%e` with `prec` digits after the point; `None`: shortest.
pub fn fmt_e(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = non_finite(v) {
        return s.to_string();
    }
    match prec {
        Some(p) => go_exponent(&format!("{v:.p$e}")),
        None => go_exponent(&format!("{v:e}")),
    }
}

/// `%f` with `prec` digits after the point (Go's default is 6).
pub fn fmt_f(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = non_finite(v) {
        return s.to_string();
    }
    let p = prec.unwrap_or(6);
    format!("{v:.p$}")
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// `%g` with `prec` significant digits; `None`: shortest, as `%v` prints
/// a float (`1e+06`, `0.5`, `123456`).
pub fn fmt_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = non_finite(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (sci, eprec) = match prec {
        Some(p) => {
            let p = p.max(1);
            (format!("{v:.prec$e}", prec = p - 1), p as i64)
        }
        None => (format!("{v:e}"), 0),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i64 = exp.parse().unwrap_or(0);
    let eprec = if prec.is_none() { 6 } else { eprec };
    if x < -4 || x >= eprec {
        let m = strip_zeros(mantissa);
        let (sign, d) = if x < 0 { ('-', -x) } else { ('+', x) };
        format!("{m}e{sign}{d:02}")
    } else {
        match prec {
            Some(p) => {
                let decimals = (p.max(1) as i64 - 1 - x).max(0) as usize;
                strip_zeros(&format!("{v:.decimals$}"))
            }
            None => format!("{v}"),
        }
    }
}

/// Go's `%v` of a template value.
pub fn print_val(v: &Val) -> String {
    match v {
        Val::Nil => "<no value>".to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => fmt_g(*f, None),
        Val::Str(s) => s.clone(),
        Val::Map(m) => {
            let mut out = String::from("map[");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:{}", print_val(v));
            }
            out.push(']');
            out
        }
        Val::List(l) => {
            let parts: Vec<String> = l.iter().map(print_val).collect();
            format!("[{}]", parts.join(" "))
        }
    }
}

fn as_f64(v: &Val) -> Option<f64> {
    match v {
        Val::Int(i) => Some(*i as f64),
        Val::Float(f) => Some(*f),
        _ => None,
    }
}

fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => ("-", r.to_string()),
            None => ("", s),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %e %g %q
/// %x %t %%`, with flags `-`, `+`, `0`, width and precision.
pub fn sprintf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero, mut plus) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut prec = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            prec = Some(p.min(64));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let text = match (verb, arg) {
            ('d', Val::Int(i)) => i.to_string(),
            ('d', Val::Float(f)) => format!("%!d(float64={})", fmt_g(*f, None)),
            ('f' | 'F', a) => match as_f64(a) {
                Some(f) => fmt_f(f, prec),
                None => format!("%!f({})", print_val(a)),
            },
            ('e', a) => match as_f64(a) {
                Some(f) => fmt_e(f, Some(prec.unwrap_or(6))),
                None => format!("%!e({})", print_val(a)),
            },
            ('g', a) => match as_f64(a) {
                Some(f) => fmt_g(f, prec),
                None => format!("%!g({})", print_val(a)),
            },
            ('q', a) => format!("{:?}", print_val(a)),
            ('x', Val::Int(i)) => format!("{i:x}"),
            ('x', Val::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('s' | 'v' | 't', a) => {
                let s = print_val(a);
                match (verb, prec) {
                    ('s', Some(p)) => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            (v, a) => format!("%!{v}({})", print_val(a)),
        };
        let text = if plus && !text.starts_with('-') && as_f64(arg).is_some() {
            format!("+{text}")
        } else {
            text
        };
        out.push_str(&pad(text, width, left, zero));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..].iter().map(print_val).collect();
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_matches_go() {
        assert_eq!(fmt_g(1_000_000.0, None), "1e+06");
        assert_eq!(fmt_g(123_456.0, None), "123456");
        assert_eq!(fmt_g(0.5, None), "0.5");
        assert_eq!(fmt_g(3.0, None), "3");
        assert_eq!(fmt_g(0.00001, None), "1e-05");
        assert_eq!(fmt_g(1234.5678, Some(4)), "1235");
        assert_eq!(fmt_g(12_345.0, Some(4)), "1.234e+04");
        assert_eq!(fmt_g(0.5, Some(4)), "0.5");
        assert_eq!(fmt_g(2.0, Some(4)), "2");
        assert_eq!(fmt_e(1.0, None), "1e+00");
        assert_eq!(fmt_e(15.0, None), "1.5e+01");
    }

    #[test]
    fn printf_verbs() {
        let args = [Val::Float(0.123456), Val::Str("a".into()), Val::Int(7)];
        assert_eq!(sprintf("%.2f %s %d", &args), "0.12 a 7");
        assert_eq!(
            sprintf("%5.1f|%-3s|", &[Val::Float(2.25), Val::Str("x".into())]),
            "  2.2|x  |"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%d", &[]), "%!d(MISSING)");
    }
}
