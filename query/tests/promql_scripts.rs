//! Runs every `testdata/promql/eval/**/*.test` script against the engine
//! over a real `Storage`. The scripts use the shape of Prometheus's PromQL
//! test language; the cases are our own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "script/parse.rs"]
mod parse;

use hourglass_query::{Engine, Expr, QueryOptions, Value, parse as parse_promql};
use hourglass_storage::{Labels, Sample, Storage, WriteBatch};
use parse::{Command, Eval, Kind, Slot, Val};
use std::path::{Path, PathBuf};

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
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

fn same_val(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Float(a), Val::Float(b)) => same(*a, *b),
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
fn error_matches(ev: &Eval, text: &str) -> Result<(), String> {
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

/// Checks one eval; `Err` says what differs.
fn check(engine: &Engine, storage: &Storage, ev: &Eval) -> Result<(), String> {
    let expr = match parse_promql(&ev.expr) {
        Ok(e) => e,
        Err(e) if ev.fail => return error_matches(ev, &e.to_string()),
        Err(e) => return Err(format!("parse error: {e}")),
    };
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let qo = QueryOptions::default();
    let (res, grid) = match ev.kind {
        Kind::Instant { at } => (engine.instant_with(&q, &expr, at, &qo), ev.range_grid),
        Kind::Range { start, end, step } => (
            engine.range_with(&q, &expr, start, end, step, &qo),
            Some((start, end, step)),
        ),
    };
    let out = match (res, ev.fail) {
        (Err(e), true) => return error_matches(ev, &e.to_string()),
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
                (Some(a), Some(b)) => same_val(a, b),
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
fn is_histogram_eval(ev: &Eval, histograms: &[Labels]) -> bool {
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

/// What one script did.
#[derive(Default)]
struct Tally {
    evals: usize,
    passed: usize,
    /// Evals written in native-histogram notation or over native
    /// histograms, and how many of them passed.
    native: usize,
    native_passed: usize,
    failures: Vec<String>,
}

/// Runs one script's commands over fresh storage.
fn run_script(engine: &Engine, name: &str, text: &str) -> Tally {
    let mut tally = Tally::default();
    let cmds = match parse::parse(text) {
        Ok(c) => c,
        Err(e) => {
            tally.failures.push(format!("{name}: {e}"));
            return tally;
        }
    };
    let (mut _dir, mut storage) = common::empty_store();
    let mut native: Vec<Labels> = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                (_dir, storage) = common::empty_store();
                native.clear();
            }
            Command::Load { step, series } => {
                let mut batch = WriteBatch::new();
                // A series written twice in one load keeps its last line.
                let last: Vec<_> = series
                    .iter()
                    .enumerate()
                    .filter(|(i, (l, _))| !series[i + 1..].iter().any(|(m, _)| m == l))
                    .map(|(_, s)| s.clone())
                    .collect();
                for (labels, slots) in last {
                    let mut samples = Vec::new();
                    let mut hists = Vec::new();
                    for (i, s) in slots.into_iter().enumerate() {
                        let t = i as i64 * step;
                        match s {
                            Some(Val::Float(v)) => samples.push(Sample::new(t, v)),
                            Some(Val::Hist(h)) => hists.push((t, *h)),
                            None => {}
                        }
                    }
                    if !hists.is_empty() {
                        native.push(labels.clone());
                        storage
                            .append_histograms(&labels, &hists)
                            .expect("append histograms");
                    }
                    batch.push(labels, samples);
                }
                storage.append(&batch).expect("append");
            }
            Command::Unreadable { line, reason } => {
                tally.evals += 1;
                tally.failures.push(format!("{name}:{line}: {reason}"));
            }
            Command::Eval(ev) => {
                tally.evals += 1;
                let on_native = ev.histogram || is_histogram_eval(&ev, &native);
                tally.native += usize::from(on_native);
                match check(engine, &storage, &ev) {
                    Ok(()) => {
                        tally.passed += 1;
                        tally.native_passed += usize::from(on_native);
                    }
                    Err(e) => tally
                        .failures
                        .push(format!("{name}:{}: {}\n  {e}", ev.line, ev.expr)),
                }
            }
        }
    }
    tally
}

/// The engine a script runs on: delayed name removal as `delayed` says,
/// unless the script has a comment line
/// `# hourglass: delayed_name_removal on` (or `off`). Prometheus's own
/// test engine runs every script with it on.
fn engine_for(text: &str, delayed: bool) -> Engine {
    let delayed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# hourglass: delayed_name_removal "))
        .map_or(delayed, |v| v.trim() == "on");
    Engine::new(hourglass_query::EngineOptions {
        delayed_name_removal: delayed,
        ..hourglass_query::EngineOptions::default()
    })
}

#[test]
fn promql_scripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/promql/eval");
    let mut files = Vec::new();
    scripts(&root, &mut files);
    assert!(!files.is_empty(), "no scripts under {}", root.display());
    let (mut evals, mut failures) = (0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read script");
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let t = run_script(&engine_for(&text, false), &name, &text);
        evals += t.evals;
        failures.extend(t.failures);
    }
    eprintln!(
        "{} scripts, {evals} evals, {} failures",
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {evals} evals failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Measures a directory of scripts written elsewhere (Prometheus's own,
/// say), named by `HOURGLASS_PROMQL_SCRIPTS`: prints pass counts per file
/// and, with `HOURGLASS_PROMQL_FAILURES=<file>`, writes every failure
/// there. Never fails; without the variable it does nothing.
#[test]
fn outside_scripts() {
    let Some(dir) = std::env::var_os("HOURGLASS_PROMQL_SCRIPTS") else {
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
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let t = run_script(&engine_for(&text, true), &name, &text);
        eprintln!(
            "{name}: {} of {} evals pass ({} of {} on native histograms)",
            t.passed, t.evals, t.native_passed, t.native
        );
        all.evals += t.evals;
        all.passed += t.passed;
        all.native += t.native;
        all.native_passed += t.native_passed;
        all.failures.extend(t.failures);
    }
    eprintln!(
        "total: {} of {} evals pass ({:.1}%); on native histograms {} of {}",
        all.passed,
        all.evals,
        100.0 * all.passed as f64 / all.evals.max(1) as f64,
        all.native_passed,
        all.native,
    );
    if let Some(out) = std::env::var_os("HOURGLASS_PROMQL_FAILURES") {
        std::fs::write(out, all.failures.join("\n")).expect("write failures");
    }
}

#[test]
fn limits_and_error_kinds() {
    use hourglass_query::{EngineOptions, ErrorKind, EvalError, QueryOptions};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    let (_dir, storage) = common::empty_store();
    let mut batch = WriteBatch::new();
    for i in 0..3 {
        let labels = Labels::from_pairs([("__name__", "x"), ("i", &i.to_string())]);
        batch.push(
            labels,
            (0..100)
                .map(|k| Sample::new(k * 15_000, k as f64))
                .collect(),
        );
    }
    storage.append(&batch).expect("append");
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let expr = parse_promql("sum(rate(x[1h]))").expect("parse");

    // The limit is on samples held at once: each series' 100 samples are
    // released once it is evaluated, so 300 in all pass a limit of 110
    // (the sum's per-step state counts too), but not one of 99 (any
    // series alone is over it).
    let enough = Engine::new(EngineOptions {
        max_samples: 110,
        ..EngineOptions::default()
    });
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| enough.instant(&q, &expr, 1_500_000))
        .expect("300 samples, at most 100 and the sum's state held at once");
    let small = Engine::new(EngineOptions {
        max_samples: 99,
        ..EngineOptions::default()
    });
    let err = small.instant(&q, &expr, 1_500_000).unwrap_err();
    assert!(matches!(err, EvalError::TooManySamples { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Execution);
    // A range-vector result keeps its samples: 300 of them are over 100.
    let raw = parse_promql("x[1h]").expect("parse");
    let err = enough.instant(&q, &raw, 1_500_000).unwrap_err();
    assert!(matches!(err, EvalError::TooManySamples { .. }), "{err}");
    // So do a range query's result points: 3 series × 101 steps.
    let err = enough
        .range(&q, &parse_promql("x").expect("parse"), 0, 1_500_000, 15_000)
        .unwrap_err();
    assert!(matches!(err, EvalError::TooManySamples { .. }), "{err}");

    let few = Engine::new(EngineOptions {
        max_series: 2,
        ..EngineOptions::default()
    });
    let err = few.instant(&q, &expr, 1_500_000).unwrap_err();
    assert!(matches!(err, EvalError::TooManySeries { .. }), "{err}");

    let engine = Engine::default();
    let err = engine.range(&q, &expr, 0, 11_001_000, 1000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadData);
    assert!(err.to_string().contains("11000 points"), "{err}");
    assert!(engine.range(&q, &expr, 0, 11_000_000, 1000).is_ok());
    assert_eq!(
        engine.range(&q, &expr, 10, 0, 1000).unwrap_err().kind(),
        ErrorKind::BadData
    );
    assert_eq!(
        engine.range(&q, &expr, 0, 10, 0).unwrap_err().kind(),
        ErrorKind::BadData
    );

    let timeout = QueryOptions {
        timeout: Some(Duration::ZERO),
        ..QueryOptions::default()
    };
    std::thread::sleep(Duration::from_millis(2));
    let err = engine
        .instant_with(&q, &expr, 1_500_000, &timeout)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.kind().error_type(), "timeout");

    let cancel = QueryOptions {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        ..QueryOptions::default()
    };
    let err = engine
        .instant_with(&q, &expr, 1_500_000, &cancel)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Canceled);

    let dup = parse_promql("x + ignoring(i) x").expect("parse");
    let err = engine.instant(&q, &dup, 1_500_000).unwrap_err();
    assert_eq!(err.kind().error_type(), "execution");

    // Statistics and per-query lookback.
    let sel = parse_promql("x").expect("parse");
    let out = engine
        .instant_with(&q, &sel, 1_500_000, &QueryOptions::default())
        .expect("eval");
    assert_eq!(out.stats.series_loaded, 3);
    assert!(out.stats.samples_loaded > 0);
    let short = QueryOptions {
        lookback_delta_ms: Some(10_000),
        ..QueryOptions::default()
    };
    let out = engine
        .instant_with(&q, &sel, 1_500_000, &short)
        .expect("eval");
    assert_eq!(out.value, Value::Vector(Vec::new()));
    let s = parse_promql("\"hello\"").expect("parse");
    assert!(matches!(
        engine.instant(&q, &s, 0),
        Ok(Value::String { .. })
    ));
}

#[test]
fn annotations() {
    use hourglass_query::QueryOptions;
    let (_dir, storage) = common::empty_store();
    let mut batch = WriteBatch::new();
    for (le, v) in [("1", 10.0), ("2", 8.0), ("+Inf", 12.0), ("x", 1.0)] {
        let labels = Labels::from_pairs([("__name__", "h_bucket"), ("le", le)]);
        batch.push(labels, vec![Sample::new(0, v)]);
    }
    storage.append(&batch).expect("append");
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let expr = parse_promql("histogram_quantile(0.5, h_bucket)").expect("parse");
    let out = Engine::default()
        .instant_with(&q, &expr, 0, &QueryOptions::default())
        .expect("eval");
    assert_eq!(out.infos.len(), 1, "{:?}", out.infos);
    assert!(out.infos[0].contains("monotonicity"), "{:?}", out.infos);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("\"x\""), "{:?}", out.warnings);
    let Value::Vector(v) = out.value else {
        panic!("not a vector")
    };
    assert_eq!(v.len(), 1);
    assert!((v[0].v - 0.6).abs() < 1e-9, "{}", v[0].v);
}

/// Every query of the parser's corpus evaluates (or fails cleanly) over a
/// small dataset, as an instant and as a range query: no panics.
#[test]
fn parser_corpus_evaluates_without_panics() {
    let (_dir, storage) = common::empty_store();
    let mut batch = WriteBatch::new();
    let names = ["foo", "bar", "x", "up", "http_requests_total", "a", "b"];
    for (n, name) in names.iter().enumerate() {
        for i in 0..3 {
            let inst = i.to_string();
            let labels = Labels::from_pairs([
                ("__name__", *name),
                ("job", "api"),
                ("instance", inst.as_str()),
                ("le", ["0.1", "1", "+Inf"][i]),
            ]);
            let samples = (0..40)
                .map(|k| Sample::new(k * 15_000, (k * (n as i64 + 1) + i as i64) as f64))
                .collect();
            batch.push(labels, samples);
        }
    }
    storage.append(&batch).expect("append");
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let engine = Engine::new(hourglass_query::EngineOptions {
        max_samples: 2_000_000,
        ..hourglass_query::EngineOptions::default()
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/promql/parse/valid.txt");
    let text = std::fs::read_to_string(path).expect("corpus");
    let mut evaluated = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("##") {
            continue;
        }
        let query = line.rsplit_once(" ==> ").map_or(line, |(q, _)| q);
        let Ok(expr) = parse_promql(query) else {
            continue;
        };
        let _ = engine.instant(&q, &expr, 300_000);
        let _ = engine.range(&q, &expr, 0, 600_000, 60_000);
        evaluated += 1;
    }
    assert!(evaluated > 100, "only {evaluated} corpus queries evaluated");
}
