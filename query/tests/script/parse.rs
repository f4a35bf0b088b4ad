//! Parsing the PromQL test-script language: `load`, `clear`, `eval`; the
//! values they hold are read by `values.rs`.

use super::values::{Slot, nhcb, series_desc, values};
use hourglass_storage::Labels;

#[derive(Debug)]
pub enum Kind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

#[derive(Debug)]
pub struct Expected {
    /// `None` for a bare scalar line.
    pub labels: Option<Labels>,
    pub values: Vec<Slot>,
}

#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub kind: Kind,
    pub expr: String,
    pub fail: bool,
    pub ordered: bool,
    pub fail_message: Option<String>,
    /// `expect fail regex: ...`.
    pub fail_regex: Option<String>,
    /// `expect warn` (`Some(true)`, with an optional message), `expect
    /// no_warn` (`Some(false)`); `None` leaves warnings unchecked.
    pub warn: Option<(bool, Option<String>)>,
    /// The same for `expect info` / `expect no_info`.
    pub info: Option<(bool, Option<String>)>,
    /// The expected result is written in native-histogram notation.
    pub histogram: bool,
    /// `expect string <text>`: a string result.
    pub string: Option<String>,
    /// `expect range vector from A to B step S`: the grid on which an
    /// instant query's range-vector result is written.
    pub range_grid: Option<(i64, i64, i64)>,
    pub expected: Vec<Expected>,
}

#[derive(Debug)]
// Evals outnumber loads, and a script is read once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Load {
        step: i64,
        series: Vec<(Labels, Vec<Slot>)>,
        /// `name@st` rows: per slot, the start timestamp's offset from the
        /// sample's own time (ms), or none.
        starts: Vec<(Labels, Vec<Option<i64>>)>,
    },
    Clear,
    Eval(Box<Eval>),
    /// An eval line the runner cannot read (counted as a failure).
    Unreadable {
        line: usize,
        reason: String,
    },
}

/// The slots of an `@st` row: durations with the value notation's
/// expansions (`-30s-1mx2` is -30s, -90s, -150s; `-1mx3` four times
/// -1m; `_` none).
fn start_offsets(s: &str) -> Result<Vec<Option<i64>>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if let Some(n) = tok.strip_prefix('_') {
            let n = match n.strip_prefix('x') {
                Some(k) => k.parse::<usize>().map_err(|e| format!("{tok:?}: {e}"))? + 1,
                None => 1,
            };
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        // The first sign after the start's own splits off a step.
        let body = tok.strip_prefix(['+', '-']).unwrap_or(tok);
        let lead = tok.len() - body.len();
        let (start, rest) = match body.find(['+', '-']) {
            Some(i) => tok.split_at(lead + i),
            None => match body.rfind('x') {
                Some(i) => tok.split_at(lead + i),
                None => (tok, ""),
            },
        };
        let base = duration(start.strip_prefix('+').unwrap_or(start))?;
        if rest.is_empty() {
            out.push(Some(base));
            continue;
        }
        let (step, count) = rest
            .rsplit_once('x')
            .ok_or_else(|| format!("bad start timestamps {tok:?}"))?;
        let count: i64 = count.parse().map_err(|e| format!("{tok:?}: {e}"))?;
        let step = match step {
            "" => 0,
            s => duration(s.strip_prefix('+').unwrap_or(s))?,
        };
        out.extend((0..=count).map(|k| Some(base + k * step)));
    }
    Ok(out)
}

/// A Prometheus duration (`1h30m`, `5m`, `100ms`, `0`) in milliseconds;
/// a leading `-` is allowed.
pub fn duration(s: &str) -> Result<i64, String> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0i64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("bad duration {s:?}"));
        }
        let n: i64 = rest[..digits].parse().map_err(|e| format!("{s:?}: {e}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            u => return Err(format!("bad duration unit {u:?} in {s:?}")),
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Ok(if neg { -total } else { total })
}

fn is_indented(l: &str) -> bool {
    l.starts_with(' ') || l.starts_with('\t')
}

/// One `expect ...` line of an eval block.
fn expectation(x: &str, ev: &mut Eval) -> Result<(), String> {
    let (word, raw) = x.split_once(' ').unwrap_or((x, ""));
    let rest = raw.trim();
    let message = |r: &str, key: &str| {
        r.strip_prefix(key)
            .map(|m| m.trim_start_matches(':').trim().to_string())
    };
    match word {
        "fail" => {
            ev.fail = true;
            ev.fail_message = message(rest, "msg");
            ev.fail_regex = message(rest, "regex");
        }
        "ordered" => ev.ordered = true,
        "string" => ev.string = Some(raw.to_string()),
        "range" => {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let [_vector, _from, a, _to, b, _step, s] = w.as_slice() else {
                return Err(format!("bad range expectation {x:?}"));
            };
            ev.range_grid = Some((duration(a)?, duration(b)?, duration(s)?));
        }
        "warn" => ev.warn = Some((true, message(rest, "msg"))),
        "no_warn" => ev.warn = Some((false, None)),
        "info" => ev.info = Some((true, message(rest, "msg"))),
        "no_info" => ev.info = Some((false, None)),
        _ => return Err(format!("unknown expectation {x:?}")),
    }
    Ok(())
}

pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lno = i + 1;
        i += 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // The indented block after a command.
        let mut block = Vec::new();
        while i < lines.len() && is_indented(lines[i]) && !lines[i].trim().is_empty() {
            if !lines[i].trim().starts_with('#') {
                block.push((i + 1, lines[i].trim()));
            }
            i += 1;
        }
        let err = |m: String| format!("line {lno}: {m}");
        let mut words = t.split_whitespace();
        match words.next() {
            Some("clear") => cmds.push(Command::Clear),
            Some("load" | "load_with_nhcb") => {
                let step = duration(words.next().unwrap_or("")).map_err(err)?;
                let mut series = Vec::new();
                let mut starts = Vec::new();
                for (bl, l) in block {
                    let (labels, rest) = series_desc(l).map_err(|m| format!("line {bl}: {m}"))?;
                    let at = |m: String| format!("line {bl}: {m}");
                    match rest.trim_start().strip_prefix("@st") {
                        Some(offsets) => starts.push((labels, start_offsets(offsets).map_err(at)?)),
                        None => series.push((labels, values(rest).map_err(at)?)),
                    }
                }
                // `load_with_nhcb` also loads each classic histogram as a
                // native one with custom buckets.
                if t.starts_with("load_with_nhcb") {
                    let converted = nhcb(&series);
                    series.extend(converted);
                }
                cmds.push(Command::Load {
                    step,
                    series,
                    starts,
                });
            }
            Some(w @ ("eval" | "eval_fail" | "eval_ordered" | "eval_warn" | "eval_info")) => {
                let rest = t[w.len()..].trim_start();
                let (kind, expr) = if let Some(r) = rest.strip_prefix("instant at ") {
                    let (at, expr) = r
                        .split_once(' ')
                        .ok_or_else(|| err("missing expr".into()))?;
                    (
                        Kind::Instant {
                            at: duration(at).map_err(err)?,
                        },
                        expr,
                    )
                } else if let Some(r) = rest.strip_prefix("range from ") {
                    let mut p = r.splitn(6, ' ');
                    let start = duration(p.next().unwrap_or("")).map_err(err)?;
                    let _to = p.next();
                    let end = duration(p.next().unwrap_or("")).map_err(err)?;
                    let _step = p.next();
                    let step = duration(p.next().unwrap_or("")).map_err(err)?;
                    let expr = p.next().ok_or_else(|| err("missing expr".into()))?;
                    (Kind::Range { start, end, step }, expr)
                } else {
                    cmds.push(Command::Unreadable {
                        line: lno,
                        reason: format!("bad eval line {t:?}"),
                    });
                    continue;
                };
                let mut ev = Eval {
                    line: lno,
                    kind,
                    expr: expr.trim().to_string(),
                    fail: w == "eval_fail",
                    ordered: w == "eval_ordered",
                    fail_message: None,
                    fail_regex: None,
                    warn: (w == "eval_warn").then_some((true, None)),
                    info: (w == "eval_info").then_some((true, None)),
                    histogram: false,
                    string: None,
                    range_grid: None,
                    expected: Vec::new(),
                };
                let mut unreadable = None;
                for (bl, l) in block {
                    if let Some(m) = l.strip_prefix("expected_fail_message ") {
                        ev.fail_message = Some(m.trim().to_string());
                        continue;
                    }
                    if let Some(m) = l.strip_prefix("expected_fail_regexp ") {
                        ev.fail_regex = Some(m.trim().to_string());
                        continue;
                    }
                    if let Some(x) = l.strip_prefix("expect ") {
                        if let Err(m) = expectation(x.trim(), &mut ev) {
                            unreadable = Some(format!("line {bl}: {m}"));
                        }
                        continue;
                    }
                    if l.contains("{{") {
                        ev.histogram = true;
                    }
                    let e = |m: String| format!("line {bl}: {m}");
                    if l.starts_with('{')
                        || l.starts_with(|c: char| {
                            c.is_ascii_alphabetic()
                                && !l.starts_with("NaN")
                                && !l.starts_with("Inf")
                        })
                    {
                        match series_desc(l).and_then(|(labels, rest)| Ok((labels, values(rest)?)))
                        {
                            Ok((labels, values)) => ev.expected.push(Expected {
                                labels: Some(labels),
                                values,
                            }),
                            Err(m) => unreadable = Some(e(m)),
                        }
                    } else {
                        match values(l) {
                            Ok(values) => ev.expected.push(Expected {
                                labels: None,
                                values,
                            }),
                            Err(m) => unreadable = Some(e(m)),
                        }
                    }
                }
                cmds.push(match unreadable {
                    Some(reason) => Command::Unreadable { line: lno, reason },
                    None => Command::Eval(Box::new(ev)),
                });
            }
            _ => cmds.push(Command::Unreadable {
                line: lno,
                reason: format!("unknown command {t:?}"),
            }),
        }
    }
    Ok(cmds)
}
