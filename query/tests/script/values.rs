//! The series-value notation of the test scripts: floats (`1`, `Inf`,
//! `stale`, `_` for missing), native histograms (`{{schema:0 …}}`),
//! expansions (`1+2x3`, `{{…}}+{{…}}xN`), series descriptors, and the
//! custom-bucket histograms a `load` adds for classic ones.

use hourglass_query::histogram_add;
use hourglass_storage::{CounterResetHint, FloatHistogram, Labels, STALE_NAN_BITS, Span};

/// One value: a float or a native histogram.
#[derive(Debug, Clone)]
pub enum Val {
    Float(f64),
    Hist(Box<FloatHistogram>),
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Float(v) => write!(f, "{v}"),
            Val::Hist(h) => write!(
                f,
                "{{{{schema:{} count:{} sum:{} z_bucket:{} z_bucket_w:{} buckets:{:?}@{:?} n_buckets:{:?}@{:?}}}}}",
                h.schema,
                h.count,
                h.sum,
                h.zero_count,
                h.zero_threshold,
                h.positive_buckets,
                h.positive_spans,
                h.negative_buckets,
                h.negative_spans
            ),
        }
    }
}

/// One value slot of a series: missing, or a value (stale markers are the
/// StaleNaN bit pattern).
pub type Slot = Option<Val>;

fn number(s: &str) -> Result<f64, String> {
    match s {
        "Inf" | "+Inf" | "inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        "stale" => Ok(f64::from_bits(STALE_NAN_BITS)),
        _ => s.parse().map_err(|_| format!("bad number {s:?}")),
    }
}

/// `[1 2 3]` -> the numbers.
fn number_list(s: &str) -> Result<Vec<f64>, String> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("bad list {s:?}"))?;
    inner.split_whitespace().map(number).collect()
}

/// Prometheus's histogram notation, without the braces:
/// `schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 1]
/// offset:1 n_buckets:[1] n_offset:0 custom_values:[1 2]
/// counter_reset_hint:gauge`.
pub fn histogram(body: &str) -> Result<FloatHistogram, String> {
    let mut h = FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.0,
        zero_count: 0.0,
        count: 0.0,
        sum: 0.0,
        positive_spans: Vec::new(),
        negative_spans: Vec::new(),
        positive_buckets: Vec::new(),
        negative_buckets: Vec::new(),
        custom_values: Vec::new(),
    };
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once(':')
            .ok_or_else(|| format!("bad histogram field in {body:?}"))?;
        let after = after.trim_start();
        let end = if after.starts_with('[') {
            after.find(']').map(|i| i + 1).unwrap_or(after.len())
        } else {
            after.find(char::is_whitespace).unwrap_or(after.len())
        };
        let val = &after[..end];
        rest = after[end..].trim_start();
        let int = |v: &str| v.parse::<i32>().map_err(|_| format!("bad {key} {v:?}"));
        match key.trim() {
            "schema" => h.schema = int(val)?,
            "sum" => h.sum = number(val)?,
            "count" => h.count = number(val)?,
            "z_bucket" => h.zero_count = number(val)?,
            "z_bucket_w" => h.zero_threshold = number(val)?,
            "buckets" => h.positive_buckets = number_list(val)?,
            "n_buckets" => h.negative_buckets = number_list(val)?,
            "offset" => offset = int(val)?,
            "n_offset" => n_offset = int(val)?,
            "custom_values" => h.custom_values = number_list(val)?,
            "counter_reset_hint" => {
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    v => return Err(format!("bad counter_reset_hint {v:?}")),
                }
            }
            k => return Err(format!("unknown histogram field {k:?}")),
        }
    }
    if !h.positive_buckets.is_empty() {
        h.positive_spans = vec![Span::new(offset, h.positive_buckets.len() as u32)];
    }
    if !h.negative_buckets.is_empty() {
        h.negative_spans = vec![Span::new(n_offset, h.negative_buckets.len() as u32)];
    }
    Ok(h)
}

/// `{{a}}`, `{{a}}xN`, `{{a}}+{{b}}xN`, `{{a}}-{{b}}xN`.
fn expand_histogram(tok: &str, out: &mut Vec<Slot>) -> Result<(), String> {
    let body = |s: &str| -> Result<(FloatHistogram, usize), String> {
        let inner = s
            .strip_prefix("{{")
            .ok_or_else(|| format!("bad histogram {tok:?}"))?;
        let end = inner
            .find("}}")
            .ok_or_else(|| format!("unterminated histogram {tok:?}"))?;
        Ok((histogram(&inner[..end])?, end + 4))
    };
    let (a, used) = body(tok)?;
    let rest = &tok[used..];
    if rest.is_empty() {
        out.push(Some(Val::Hist(Box::new(a))));
        return Ok(());
    }
    let (b, times) = match rest.as_bytes()[0] {
        op @ (b'+' | b'-') => {
            let (mut b, used) = body(&rest[1..])?;
            if op == b'-' {
                b = hourglass_query::histogram_scale(&b, -1.0);
            }
            (Some(b), &rest[1 + used..])
        }
        _ => (None, rest),
    };
    let n: usize = times
        .strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad repeat in {tok:?}"))?;
    let mut cur = a;
    out.push(Some(Val::Hist(Box::new(cur.clone()))));
    for _ in 0..n {
        if let Some(b) = &b {
            let hint = cur.counter_reset_hint;
            cur = histogram_add(&cur, b).map_err(|e| format!("{tok:?}: {e:?}"))?;
            cur.counter_reset_hint = hint;
        }
        out.push(Some(Val::Hist(Box::new(cur.clone()))));
    }
    Ok(())
}

/// The classic histograms among `series` (`<name>_bucket` with `le`, and
/// `<name>_sum` beside them) as native histograms with custom buckets,
/// named `<name>`: at each step where every bucket has a value.
pub fn nhcb(series: &[(Labels, Vec<Slot>)]) -> Vec<(Labels, Vec<Slot>)> {
    type Group = (Labels, Vec<(f64, usize)>);
    let mut groups: Vec<Group> = Vec::new();
    for (i, (labels, _)) in series.iter().enumerate() {
        let Some(base) = labels.metric_name().and_then(|n| n.strip_suffix("_bucket")) else {
            continue;
        };
        let Some(le) = labels.get("le").and_then(|l| {
            let l = l.trim();
            match l.to_ascii_lowercase().as_str() {
                "+inf" | "inf" => Some(f64::INFINITY),
                _ => l.parse::<f64>().ok(),
            }
        }) else {
            continue;
        };
        let key = Labels::from_pairs(
            std::iter::once(("__name__", base)).chain(
                labels
                    .iter()
                    .filter(|l| &*l.name != "le" && &*l.name != "__name__")
                    .map(|l| (&*l.name, &*l.value)),
            ),
        );
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push((le, i)),
            None => groups.push((key, vec![(le, i)])),
        }
    }
    let float_at = |i: usize, k: usize| match series[i].1.get(k) {
        Some(Some(Val::Float(v))) => Some(*v),
        _ => None,
    };
    let mut out = Vec::new();
    for (key, mut buckets) in groups {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets.dedup_by(|b, a| a.0 == b.0);
        // Without a `+Inf` bucket every bound is a custom value and the
        // overflow bucket stays empty, as Prometheus converts them.
        let Some(last) = buckets.last() else { continue };
        let bounds = if last.0 == f64::INFINITY {
            buckets.len() - 1
        } else {
            buckets.len()
        };
        let sum_name = format!("{}_sum", key.metric_name().unwrap_or(""));
        let sum_labels = Labels::from_pairs(
            std::iter::once(("__name__", sum_name.as_str())).chain(
                key.iter()
                    .filter(|l| &*l.name != "__name__")
                    .map(|l| (&*l.name, &*l.value)),
            ),
        );
        let sum_series = series.iter().position(|(l, _)| *l == sum_labels);
        let steps = buckets
            .iter()
            .map(|&(_, i)| series[i].1.len())
            .max()
            .unwrap_or(0);
        let slots = (0..steps)
            .map(|k| {
                let cum: Option<Vec<f64>> = buckets.iter().map(|&(_, i)| float_at(i, k)).collect();
                let cum = cum?;
                let mut counts = Vec::with_capacity(cum.len());
                let mut prev = 0.0;
                for c in &cum {
                    counts.push(c - prev);
                    prev = *c;
                }
                let count = *cum.last()?;
                Some(Val::Hist(Box::new(FloatHistogram {
                    counter_reset_hint: CounterResetHint::Unknown,
                    schema: -53,
                    zero_threshold: 0.0,
                    zero_count: 0.0,
                    count,
                    sum: sum_series.and_then(|i| float_at(i, k)).unwrap_or(0.0),
                    positive_spans: vec![Span::new(0, counts.len() as u32)],
                    negative_spans: Vec::new(),
                    positive_buckets: counts,
                    negative_buckets: Vec::new(),
                    custom_values: buckets[..bounds].iter().map(|b| b.0).collect(),
                })))
            })
            .collect();
        out.push((key, slots));
    }
    out
}

/// Expands one value token: `1`, `_`, `_x3`, `stale`, `1x3`, `0+10x5`,
/// `10-2x4` (`a±bxN` is N+1 values a, a±b, ..., a±N·b), and histograms.
fn expand(tok: &str, out: &mut Vec<Slot>) -> Result<(), String> {
    if tok.starts_with("{{") {
        return expand_histogram(tok, out);
    }
    if tok == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad token {tok:?}"))?;
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    let Some(xpos) = tok.rfind('x') else {
        out.push(Some(Val::Float(number(tok)?)));
        return Ok(());
    };
    let (head, times) = (&tok[..xpos], &tok[xpos + 1..]);
    let n: usize = times
        .parse()
        .map_err(|_| format!("bad repeat in {tok:?}"))?;
    // The operator is the first +/- after the first character that does
    // not follow an exponent marker.
    let bytes = head.as_bytes();
    let op = (1..bytes.len())
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (a, b) = match op {
        Some(i) => {
            let a = number(&head[..i])?;
            let b = number(&head[i + 1..])?;
            (a, if bytes[i] == b'-' { -b } else { b })
        }
        None => (number(head)?, 0.0),
    };
    for k in 0..=n {
        out.push(Some(Val::Float(a + b * k as f64)));
    }
    Ok(())
}

/// Whitespace-separated tokens; a `{{…}}` stays inside its token.
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut depth) = (None, 0usize);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"{{") {
            depth += 1;
            start.get_or_insert(i);
            i += 2;
            continue;
        }
        if b[i..].starts_with(b"}}") && depth > 0 {
            depth -= 1;
            i += 2;
            continue;
        }
        if b[i].is_ascii_whitespace() && depth == 0 {
            if let Some(st) = start.take() {
                out.push(&s[st..i]);
            }
        } else {
            start.get_or_insert(i);
        }
        i += 1;
    }
    if let Some(st) = start {
        out.push(&s[st..]);
    }
    out
}

pub fn values(s: &str) -> Result<Vec<Slot>, String> {
    let mut out = Vec::new();
    for tok in tokens(s) {
        expand(tok, &mut out)?;
    }
    Ok(out)
}

/// `name{a="b", c="d"} rest` -> (labels, rest).
pub fn series_desc(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let mut pairs: Vec<(String, String)> = Vec::new();
    if name_end > 0 {
        pairs.push(("__name__".into(), s[..name_end].into()));
    }
    let mut rest = &s[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        loop {
            while chars
                .peek()
                .is_some_and(|(_, c)| c.is_whitespace() || *c == ',')
            {
                chars.next();
            }
            let Some(&(i, c)) = chars.peek() else { break };
            if c == '}' {
                end = Some(i + 1);
                break;
            }
            let mut name = String::new();
            if c == '"' {
                // A quoted (UTF-8) label name.
                chars.next();
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    name.push(c);
                }
            }
            while let Some(&(_, c)) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                name.push(c);
                chars.next();
            }
            while chars
                .peek()
                .is_some_and(|(_, c)| c.is_whitespace() || *c == '=')
            {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("expected quoted value in {s:?}"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err(format!("unterminated value in {s:?}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated value in {s:?}")),
                }
            }
            pairs.push((name, value));
        }
        let end = end.ok_or_else(|| format!("unterminated labels in {s:?}"))?;
        rest = &body[end..];
    } else if name_end == 0 {
        return Err(format!("expected a series description in {s:?}"));
    }
    Ok((Labels::from_pairs(pairs), rest))
}
