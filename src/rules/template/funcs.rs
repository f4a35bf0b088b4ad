//! Prometheus's template functions and Go's builtins, with Prometheus's
//! output rules (`humanize` steps by 1000 through k M G…, `%.4g`).

use super::gofmt::{fmt_g, print_val, sprintf};
use super::{Data, TemplateError, Val};
use std::collections::BTreeMap;

fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError(msg.into())
}

fn to_f64(v: &Val) -> Result<f64, TemplateError> {
    match v {
        Val::Int(i) => Ok(*i as f64),
        Val::Float(f) => Ok(*f),
        Val::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| fail(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))),
        other => Err(fail(format!(
            "can't convert {} to float",
            other.type_name()
        ))),
    }
}

fn to_str(v: &Val) -> String {
    print_val(v)
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return Err(fail(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

/// `humanize`: SI prefixes, `%.4g`.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    if v.abs() >= 1.0 {
        let big = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
        return with_prefix(v, big, |v| (v.abs() >= 1000.0).then_some(v / 1000.0));
    }
    let small = ["m", "u", "n", "p", "f", "a", "z", "y"];
    with_prefix(v, small, |v| (v.abs() < 1.0).then_some(v * 1000.0))
}

/// `v` in four significant digits after as many `step`s as apply (each
/// scales it by one prefix), followed by the last prefix taken.
fn with_prefix(mut v: f64, prefixes: [&str; 8], step: impl Fn(f64) -> Option<f64>) -> String {
    let mut prefix = "";
    for p in prefixes {
        let Some(next) = step(v) else { break };
        prefix = p;
        v = next;
    }
    format!("{}{prefix}", fmt_g(v, Some(4)))
}

/// `humanize1024`: binary prefixes above 1.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    let binary = ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
    with_prefix(v, binary, |v| (v.abs() >= 1024.0).then_some(v / 1024.0))
}

/// `humanizeDuration`: `1d 2h 3m 4s`, `%.4gs` under a minute, prefixes
/// under a second.
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    if v == 0.0 {
        return "0s".to_string();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let v = v.abs();
    if v >= 1.0 {
        let secs = v as i64;
        let (days, hours, minutes, seconds) =
            (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", fmt_g(v, Some(4)))
        };
    }
    let mut prefix = "";
    let mut v = v;
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{sign}{}{prefix}s", fmt_g(v, Some(4)))
}

/// `humanizeTimestamp`: UTC time of a unix timestamp, Go's `time.Time`
/// print form.
fn humanize_timestamp(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    let ms = (v * 1000.0).round() as i64;
    let t = hourglass_storage::calendar::format_rfc3339_ms(ms);
    // 2026-01-02T03:04:05.678Z → 2026-01-02 03:04:05.678 +0000 UTC
    let t = t.trim_end_matches('Z').replacen('T', " ", 1);
    format!("{t} +0000 UTC")
}

fn compare(name: &str, a: &Val, b: &Val) -> Result<std::cmp::Ordering, TemplateError> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
            let (x, y) = (to_f64(a)?, to_f64(b)?);
            x.partial_cmp(&y)
                .ok_or_else(|| fail(format!("error calling {name}: NaN is not comparable")))
        }
        (Val::Bool(x), Val::Bool(y)) if name == "eq" || name == "ne" => Ok(x.cmp(y)),
        _ => Err(fail(format!(
            "error calling {name}: incompatible types for comparison"
        ))),
    }
}

fn sample_list(rows: Vec<(BTreeMap<String, String>, f64)>) -> Val {
    Val::List(
        rows.into_iter()
            .map(|(labels, v)| {
                Val::Map(
                    [
                        ("Labels".to_string(), Val::labels(&labels)),
                        ("Value".to_string(), Val::Float(v)),
                    ]
                    .into_iter()
                    .collect(),
                )
            })
            .collect(),
    )
}

fn url_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Calls function `name` with `args` (a piped value is the last).
pub fn call(name: &str, args: Vec<Val>, data: &Data<'_>) -> Result<Val, TemplateError> {
    let one = |args: &[Val]| -> Result<Val, TemplateError> {
        arity(name, args, 1)?;
        Ok(args[0].clone())
    };
    Ok(match name {
        "humanize" => Val::Str(humanize(to_f64(&one(&args)?)?)),
        "humanize1024" => Val::Str(humanize1024(to_f64(&one(&args)?)?)),
        "humanizeDuration" => Val::Str(humanize_duration(to_f64(&one(&args)?)?)),
        "humanizePercentage" => Val::Str(format!(
            "{}%",
            fmt_g(to_f64(&one(&args)?)? * 100.0, Some(4))
        )),
        "humanizeTimestamp" => Val::Str(humanize_timestamp(to_f64(&one(&args)?)?)),
        "toTime" => Val::Str(humanize_timestamp(to_f64(&one(&args)?)?)),
        "toDuration" => Val::Str(humanize_duration(to_f64(&one(&args)?)?)),
        "parseDuration" => {
            let s = to_str(&one(&args)?);
            let d =
                hourglass_query::duration::parse_duration(&s).map_err(|e| fail(e.to_string()))?;
            Val::Float(d.as_secs_f64())
        }
        "now" => Val::Float(data.now_s),
        "title" => {
            let s = to_str(&one(&args)?);
            let mut out = String::with_capacity(s.len());
            let mut start = true;
            for c in s.chars() {
                if start && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric() && c != '\'';
            }
            Val::Str(out)
        }
        "toUpper" => Val::Str(to_str(&one(&args)?).to_uppercase()),
        "toLower" => Val::Str(to_str(&one(&args)?).to_lowercase()),
        "stripPort" => {
            let s = to_str(&one(&args)?);
            let host = if let Some(rest) = s.strip_prefix('[') {
                rest.split_once(']')
                    .map_or(s.clone(), |(h, _)| h.to_string())
            } else if s.matches(':').count() == 1 {
                s.split(':').next().unwrap_or_default().to_string()
            } else {
                s.clone()
            };
            Val::Str(host)
        }
        "stripDomain" => {
            let s = to_str(&one(&args)?);
            let (host, port) = match s.rsplit_once(':') {
                Some((h, p)) if s.matches(':').count() == 1 => (h.to_string(), format!(":{p}")),
                _ => (s.clone(), String::new()),
            };
            let short = if host.parse::<std::net::IpAddr>().is_ok() {
                host
            } else {
                host.split('.').next().unwrap_or_default().to_string()
            };
            Val::Str(format!("{short}{port}"))
        }
        "match" => {
            arity(name, &args, 2)?;
            let re = regex::Regex::new(&to_str(&args[0])).map_err(|e| fail(e.to_string()))?;
            Val::Bool(re.is_match(&to_str(&args[1])))
        }
        "reReplaceAll" => {
            arity(name, &args, 3)?;
            let re = regex::Regex::new(&to_str(&args[0])).map_err(|e| fail(e.to_string()))?;
            let repl = to_str(&args[1]);
            Val::Str(
                re.replace_all(&to_str(&args[2]), repl.as_str())
                    .into_owned(),
            )
        }
        "urlQueryEscape" | "urlquery" => Val::Str(url_escape(&to_str(&one(&args)?))),
        "html" => Val::Str(html_escape(&to_str(&one(&args)?))),
        "js" => Val::Str(
            to_str(&one(&args)?)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('"', "\\\""),
        ),
        "safeHtml" => Val::Str(to_str(&one(&args)?)),
        "externalURL" => Val::Str(data.external_url.to_string()),
        "pathPrefix" => Val::Str(String::new()),
        "graphLink" => Val::Str(format!(
            "/graph?g0.expr={}&g0.tab=0",
            url_escape(&to_str(&one(&args)?))
        )),
        "tableLink" => Val::Str(format!(
            "/graph?g0.expr={}&g0.tab=1",
            url_escape(&to_str(&one(&args)?))
        )),
        "query" => {
            let q = to_str(&one(&args)?);
            let run = data
                .query
                .ok_or_else(|| fail("error calling query: no query engine"))?;
            sample_list(
                run.query(&q)
                    .map_err(|e| fail(format!("error calling query: {e}")))?,
            )
        }
        "first" => match one(&args)? {
            Val::List(l) => l.into_iter().next().ok_or_else(|| {
                fail("error calling first: first() called on vector with no elements")
            })?,
            other => {
                return Err(fail(format!(
                    "error calling first: not a query result: {}",
                    other.type_name()
                )));
            }
        },
        "label" => {
            arity(name, &args, 2)?;
            let key = to_str(&args[0]);
            match &args[1] {
                Val::Map(m) => match m.get("Labels") {
                    Some(Val::Map(l)) => l.get(&key).cloned().unwrap_or(Val::Str(String::new())),
                    _ => Val::Str(String::new()),
                },
                _ => Val::Str(String::new()),
            }
        }
        "value" => match one(&args)? {
            Val::Map(m) => m.get("Value").cloned().unwrap_or(Val::Nil),
            other => {
                return Err(fail(format!(
                    "error calling value: not a sample: {}",
                    other.type_name()
                )));
            }
        },
        "strvalue" => match one(&args)? {
            Val::Map(m) => match m.get("Labels") {
                Some(Val::Map(l)) => l
                    .get("__value__")
                    .cloned()
                    .unwrap_or(Val::Str(String::new())),
                _ => Val::Str(String::new()),
            },
            _ => Val::Str(String::new()),
        },
        "sortByLabel" => {
            arity(name, &args, 2)?;
            let key = to_str(&args[0]);
            let mut list = match &args[1] {
                Val::List(l) => l.clone(),
                other => {
                    return Err(fail(format!(
                        "error calling sortByLabel: {}",
                        other.type_name()
                    )));
                }
            };
            let get = |v: &Val| match v {
                Val::Map(m) => match m.get("Labels") {
                    Some(Val::Map(l)) => l.get(&key).map(print_val).unwrap_or_default(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            list.sort_by_key(get);
            Val::List(list)
        }
        "args" => Val::Map(
            args.into_iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v))
                .collect(),
        ),
        "and" => {
            let mut last = Val::Bool(true);
            for a in args {
                if !a.truth() {
                    return Ok(a);
                }
                last = a;
            }
            last
        }
        "or" => {
            let mut last = Val::Bool(false);
            for a in args {
                if a.truth() {
                    return Ok(a);
                }
                last = a;
            }
            last
        }
        "not" => Val::Bool(!one(&args)?.truth()),
        "len" => match one(&args)? {
            Val::Str(s) => Val::Int(s.len() as i64),
            Val::Map(m) => Val::Int(m.len() as i64),
            Val::List(l) => Val::Int(l.len() as i64),
            other => {
                return Err(fail(format!(
                    "error calling len: len of type {}",
                    other.type_name()
                )));
            }
        },
        "index" => {
            let mut it = args.into_iter();
            let mut cur = it.next().unwrap_or(Val::Nil);
            for k in it {
                cur = match (cur, k) {
                    (Val::Map(mut m), k) => {
                        m.remove(&to_str(&k)).unwrap_or(Val::Str(String::new()))
                    }
                    (Val::List(l), Val::Int(i)) => l
                        .into_iter()
                        .nth(usize::try_from(i).unwrap_or(usize::MAX))
                        .ok_or_else(|| {
                            fail(format!("error calling index: index out of range: {i}"))
                        })?,
                    (other, _) => {
                        return Err(fail(format!(
                            "error calling index: can't index item of type {}",
                            other.type_name()
                        )));
                    }
                };
            }
            cur
        }
        "slice" => {
            let s = args.first().map(to_str).unwrap_or_default();
            let n = s.len() as i64;
            let at = |i: usize, d: i64| args.get(i).map_or(Ok(d), |v| to_f64(v).map(|f| f as i64));
            let (a, b) = (at(1, 0)?, at(2, n)?);
            if a < 0
                || b > n
                || a > b
                || !s.is_char_boundary(a as usize)
                || !s.is_char_boundary(b as usize)
            {
                return Err(fail(format!(
                    "error calling slice: index out of range: {b}"
                )));
            }
            Val::Str(s[a as usize..b as usize].to_string())
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let both_non_str =
                    i > 0 && !matches!(a, Val::Str(_)) && !matches!(args[i - 1], Val::Str(_));
                if both_non_str {
                    out.push(' ');
                }
                out.push_str(&print_val(a));
            }
            Val::Str(out)
        }
        "println" => Val::Str(format!(
            "{}\n",
            args.iter().map(print_val).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err(fail(
                    "wrong number of args for printf: want at least 1 got 0",
                ));
            };
            Val::Str(sprintf(&to_str(format), rest))
        }
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return Err(fail("missing argument for comparison"));
            };
            let mut any = false;
            for b in rest {
                if compare(name, first, b)? == std::cmp::Ordering::Equal {
                    any = true;
                }
            }
            Val::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let o = compare(name, &args[0], &args[1])?;
            use std::cmp::Ordering::*;
            Val::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            })
        }
        other => return Err(fail(format!("function {other:?} not defined"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_like_prometheus() {
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(1_000_000.0), "1M");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(12.5), "12.5");
        assert_eq!(humanize1024(1024.0), "1ki");
        assert_eq!(humanize1024(1.0), "1");
        assert_eq!(humanize_duration(93784.0), "1d 2h 3m 4s");
        assert_eq!(humanize_duration(3723.0), "1h 2m 3s");
        assert_eq!(humanize_duration(61.0), "1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.0015), "1.5ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(-61.0), "-1m 1s");
    }
}
