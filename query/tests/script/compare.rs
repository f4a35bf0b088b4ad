//! Judging a script's evals: what an answer must be to pass (values,
//! labels, order, errors, annotations), shared by the in-process runner
//! (`promql_scripts.rs`) and the one that asks a live server over HTTP
//! (`tests/promql_scripts_http.rs` at the workspace root).

use super::parse::{Command, Eval};
use super::values::{Slot, Val};
use hourglass_query::{Expr, Value, parse as parse_promql};
use hourglass_storage::Labels;
use std::path::{Path, PathBuf};

/// An evaluated answer, with its annotations.
pub struct Answer {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// Histograms compared by count and sum only (their buckets came
    /// back as the API writes them, not as the engine holds them).
    pub coarse_histograms: bool,
}

pub fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scripts(&p, out);
        } else if p.extension().is_some_and(|e| e == "test") {
            out.push(p);
        }
    }
}

/// `file` as the reports name it: relative to the scripts' `root`.
pub fn script_name(file: &Path, root: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// Runs every script below the directory the environment variable
/// `dir_var` names (nothing when it is unset): `run` tallies one from its
/// name and text. Prints each script's line and the total (`how`, e.g.
/// " over HTTP") and writes the failures where `failures_var` says.
pub fn run_outside(
    dir_var: &str,
    how: &str,
    failures_var: &str,
    mut run: impl FnMut(&str, &str) -> Tally,
) {
    let Some(dir) = std::env::var_os(dir_var) else {
        return;
    };
    let root = PathBuf::from(dir);
    let mut files = Vec::new();
    scripts(&root, &mut files);
    let mut all = Tally::default();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let name = script_name(file, &root);
        let t = run(&name, &text);
        all.add(&name, how, t);
    }
    all.finish(how, failures_var);
}

fn same(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    diff <= 1e-6 * a.abs().max(b.abs()) || diff < 1e-12
}

/// Two histograms hold the same observations: count, sum and every
/// non-empty bucket (bounds and count) agree within float noise.
fn same_histogram(
    a: &hourglass_storage::FloatHistogram,
    b: &hourglass_storage::FloatHistogram,
) -> bool {
    let (ba, bb) = (
        hourglass_query::histogram_buckets(a),
        hourglass_query::histogram_buckets(b),
    );
    same(a.count, b.count)
        && same(a.sum, b.sum)
        && ba.len() == bb.len()
        && ba.iter().zip(&bb).all(|(x, y)| {
            x.boundaries == y.boundaries
                && same(x.lower, y.lower)
                && same(x.upper, y.upper)
                && same(x.count, y.count)
        })
}

fn same_val(a: &Val, b: &Val, coarse: bool) -> bool {
    match (a, b) {
        (Val::Float(a), Val::Float(b)) => same(*a, *b),
        (Val::Hist(a), Val::Hist(b)) if coarse => same(a.count, b.count) && same(a.sum, b.sum),
        (Val::Hist(a), Val::Hist(b)) => same_histogram(a, b),
        _ => false,
    }
}

fn fmt_slots(v: &[Slot]) -> String {
    v.iter()
        .map(|s| s.as_ref().map_or("_".to_string(), |x| x.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Does an error message satisfy the eval's `msg:` / `regex:`?
pub fn error_matches(ev: &Eval, text: &str) -> Result<(), String> {
    if let Some(m) = &ev.fail_message
        && !text.contains(m.as_str())
    {
        return Err(format!("error {text:?} does not contain {m:?}"));
    }
    if let Some(r) = &ev.fail_regex
        && !regex::Regex::new(r).is_ok_and(|re| re.is_match(text))
    {
        return Err(format!("error {text:?} does not match {r:?}"));
    }
    Ok(())
}

/// Checks `expect warn`/`expect info` style expectations.
fn annotations_match(
    what: &str,
    want: &Option<(bool, Option<String>)>,
    got: &[String],
) -> Result<(), String> {
    match want {
        None => Ok(()),
        Some((false, _)) if got.is_empty() => Ok(()),
        Some((false, _)) => Err(format!("no {what} expected, got {got:?}")),
        Some((true, _)) if got.is_empty() => Err(format!("a {what} expected, got none")),
        Some((true, Some(m))) if !got.iter().any(|g| g.contains(m.as_str())) => {
            Err(format!("{what} {m:?} expected, got {got:?}"))
        }
        Some((true, _)) => Ok(()),
    }
}

/// Judges one eval's outcome (`Err` holds the error's text); `grid` is the
/// range query's `(start, end, step)`, or the grid an instant query's
/// range-vector result is written on. `Err` says what differs.
pub fn judge(
    ev: &Eval,
    outcome: Result<Answer, String>,
    grid: Option<(i64, i64, i64)>,
) -> Result<(), String> {
    let out = match (outcome, ev.fail) {
        (Err(e), true) => return error_matches(ev, &e),
        (Ok(v), true) => return Err(format!("expected an error, got {:?}", v.value)),
        (Err(e), false) => return Err(format!("unexpected error: {e}")),
        (Ok(v), false) => v,
    };
    annotations_match("warning", &ev.warn, &out.warnings)?;
    annotations_match("info", &ev.info, &out.infos)?;
    let value = out.value;
    // Normalise the result to (labels, slots) rows.
    let got: Vec<(Option<Labels>, Vec<Slot>)> = match (&value, grid) {
        (Value::Scalar { v, .. }, _) => vec![(None, vec![Some(Val::Float(*v))])],
        (Value::String { s, .. }, _) => {
            return match &ev.string {
                Some(want) if want == s => Ok(()),
                _ => Err(format!("string result {s:?}, expected {:?}", ev.string)),
            };
        }
        (Value::Vector(v), _) => v
            .iter()
            .map(|s| {
                let v = match &s.h {
                    Some(h) => Val::Hist(h.clone()),
                    None => Val::Float(s.v),
                };
                (Some(s.labels.clone()), vec![Some(v)])
            })
            .collect(),
        (Value::Matrix(m), Some((start, end, step))) => m
            .iter()
            .map(|s| {
                let n = ((end - start) / step) as usize + 1;
                let mut slots = vec![None; n];
                for p in &s.points {
                    slots[((p.t - start) / step) as usize] = Some(Val::Float(p.v));
                }
                for (t, h) in &s.histograms {
                    slots[((t - start) / step) as usize] = Some(Val::Hist(Box::new(h.clone())));
                }
                while slots.last().is_some_and(Option::is_none) {
                    slots.pop();
                }
                let labels =
                    if s.labels.is_empty() && ev.expected.iter().all(|e| e.labels.is_none()) {
                        None
                    } else {
                        Some(s.labels.clone())
                    };
                (labels, slots)
            })
            .collect(),
        (Value::Matrix(m), None) => m
            .iter()
            .map(|s| {
                let mut pts: Vec<(i64, Val)> =
                    s.points.iter().map(|p| (p.t, Val::Float(p.v))).collect();
                pts.extend(
                    s.histograms
                        .iter()
                        .map(|(t, h)| (*t, Val::Hist(Box::new(h.clone())))),
                );
                pts.sort_by_key(|p| p.0);
                (
                    Some(s.labels.clone()),
                    pts.into_iter().map(|(_, v)| Some(v)).collect(),
                )
            })
            .collect(),
    };
    let trim = |v: &[Slot]| {
        let mut v = v.to_vec();
        while v.last().is_some_and(Option::is_none) {
            v.pop();
        }
        v
    };
    let show = |rows: &[(Option<Labels>, Vec<Slot>)]| {
        rows.iter()
            .map(|(l, v)| {
                format!(
                    "\n    {} {}",
                    l.as_ref().map_or(String::new(), |l| l.to_string()),
                    fmt_slots(v)
                )
            })
            .collect::<String>()
    };
    let mismatch = || {
        format!(
            "expected:{}\n  got:{}",
            show(
                &ev.expected
                    .iter()
                    .map(|e| (e.labels.clone(), e.values.clone()))
                    .collect::<Vec<_>>()
            ),
            show(&got)
        )
    };
    if got.len() != ev.expected.len() {
        return Err(format!(
            "{} series expected, {} returned\n  {}",
            ev.expected.len(),
            got.len(),
            mismatch()
        ));
    }
    for (pos, exp) in ev.expected.iter().enumerate() {
        let found = if ev.ordered {
            got.get(pos).filter(|(l, _)| *l == exp.labels)
        } else {
            got.iter().find(|(l, _)| *l == exp.labels)
        };
        let Some((_, vals)) = found else {
            return Err(format!(
                "series {:?} missing (or out of order)\n  {}",
                exp.labels.as_ref().map(|l| l.to_string()),
                mismatch()
            ));
        };
        let (e, g) = (trim(&exp.values), trim(vals));
        let eq = e.len() == g.len()
            && e.iter().zip(&g).all(|(a, b)| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => same_val(a, b, out.coarse_histograms),
                _ => false,
            });
        if !eq {
            return Err(format!("values differ\n  {}", mismatch()));
        }
    }
    Ok(())
}

/// Collects the matchers of every selector in `e`.
fn selectors<'a>(e: &'a Expr, out: &mut Vec<&'a [hourglass_storage::Matcher]>) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Vector(v) => out.push(&v.matchers),
        Expr::Matrix(m) => out.push(&m.vector.matchers),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::Paren(e) => selectors(e, out),
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Call(c) => c.args.iter().for_each(|a| selectors(a, out)),
    }
}

/// Does `ev` select a series loaded with native histograms?
pub fn is_histogram_eval(ev: &Eval, histograms: &[Labels]) -> bool {
    let Ok(expr) = parse_promql(&ev.expr) else {
        // Unparsable here: judged by the names it mentions.
        return histograms.iter().any(|l| {
            l.metric_name().is_some_and(|n| {
                ev.expr
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .any(|w| w == n)
            })
        });
    };
    let mut sels = Vec::new();
    selectors(&expr, &mut sels);
    sels.iter().any(|ms| {
        histograms
            .iter()
            .any(|l| ms.iter().all(|m| m.matches(l.get(m.name()).unwrap_or(""))))
    })
}

/// Delayed name removal for a script: as `default` says, unless it has a
/// comment line `# hourglass: delayed_name_removal on` (or `off`).
/// Prometheus's own test engine runs every script with it on.
pub fn delayed_name_removal(text: &str, default: bool) -> bool {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("# hourglass: delayed_name_removal "))
        .map_or(default, |v| v.trim() == "on")
}

/// What one script, or a whole run of them, did.
#[derive(Default)]
pub struct Tally {
    pub evals: usize,
    pub passed: usize,
    /// Evals written in native-histogram notation or over native
    /// histograms, and how many of them passed.
    pub native: usize,
    pub native_passed: usize,
    pub failures: Vec<String>,
}

impl Tally {
    /// An empty tally for script `name` and its commands; or, when `text`
    /// cannot be read, a tally holding that one failure.
    pub fn start(name: &str, text: &str) -> Result<(Tally, Vec<Command>), Tally> {
        match super::parse::parse(text) {
            Ok(cmds) => Ok((Tally::default(), cmds)),
            Err(e) => Err(Tally {
                failures: vec![format!("{name}: unreadable: {e}")],
                ..Tally::default()
            }),
        }
    }

    /// Counts `ev` (over native histograms when it is written so or names
    /// one of `native`) with its verdict; a failure is kept with its line.
    pub fn eval(&mut self, name: &str, ev: &Eval, native: &[Labels], verdict: Result<(), String>) {
        let on_native = ev.histogram || is_histogram_eval(ev, native);
        self.evals += 1;
        self.native += usize::from(on_native);
        match verdict {
            Ok(()) => {
                self.passed += 1;
                self.native_passed += usize::from(on_native);
            }
            Err(e) => self
                .failures
                .push(format!("{name}:{}: {}\n  {e}", ev.line, ev.expr)),
        }
    }

    /// Counts a line the script parser could not read as a failed eval.
    pub fn unreadable(&mut self, name: &str, line: usize, reason: &str) {
        self.evals += 1;
        self.failures.push(format!("{name}:{line}: {reason}"));
    }

    /// Prints `script`'s line (`how`: e.g. " over HTTP") and adds it in.
    pub fn add(&mut self, name: &str, how: &str, script: Tally) {
        eprintln!(
            "{name}: {} of {} evals pass{how} ({} of {} on native histograms)",
            script.passed, script.evals, script.native_passed, script.native
        );
        self.evals += script.evals;
        self.passed += script.passed;
        self.native += script.native;
        self.native_passed += script.native_passed;
        self.failures.extend(script.failures);
    }

    /// Prints the run's total and writes its failures to the file the
    /// environment variable `var` names, if set.
    pub fn finish(&self, how: &str, var: &str) {
        eprintln!(
            "total{how}: {} of {} evals pass ({:.1}%); on native histograms {} of {}",
            self.passed,
            self.evals,
            100.0 * self.passed as f64 / self.evals.max(1) as f64,
            self.native_passed,
            self.native,
        );
        if let Some(out) = std::env::var_os(var) {
            std::fs::write(out, self.failures.join("\n")).expect("write failures");
        }
    }
}
