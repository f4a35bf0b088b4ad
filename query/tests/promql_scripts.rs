//! Runs every `testdata/promql/eval/**/*.test` script against the engine
//! over a real `Storage`. The scripts use the shape of Prometheus's PromQL
//! test language; the cases are our own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "script/compare.rs"]
mod compare;
#[path = "script/parse.rs"]
mod parse;
#[path = "script/values.rs"]
mod values;

use compare::{Answer, Tally, judge, script_name, scripts};
use hourglass_query::{Engine, QueryOptions, Value, parse as parse_promql};
use hourglass_storage::{Labels, Sample, Storage, WriteBatch};
use parse::{Command, Eval, Kind};
use std::path::Path;
use values::Val;

/// Checks one eval; `Err` says what differs.
fn check(engine: &Engine, storage: &Storage, ev: &Eval) -> Result<(), String> {
    let expr = match parse_promql(&ev.expr) {
        Ok(e) => e,
        Err(e) if ev.fail => return compare::error_matches(ev, &e.to_string()),
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
    let outcome = res
        .map(|o| Answer {
            value: o.value,
            warnings: o.warnings,
            infos: o.infos,
            coarse_histograms: false,
        })
        .map_err(|e| e.to_string());
    judge(ev, outcome, grid)
}

/// Runs one script's commands over fresh storage.
fn run_script(engine: &Engine, name: &str, text: &str) -> Tally {
    let (mut tally, cmds) = match Tally::start(name, text) {
        Ok(c) => c,
        Err(unreadable) => return unreadable,
    };
    let (mut _dir, mut storage) = common::empty_store();
    let mut native: Vec<Labels> = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                (_dir, storage) = common::empty_store();
                native.clear();
            }
            Command::Load {
                step,
                series,
                starts,
            } => {
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
                storage
                    .append_start_times(&start_times(step, &starts), None)
                    .expect("append start times");
            }
            Command::Unreadable { line, reason } => tally.unreadable(name, line, &reason),
            Command::Eval(ev) => {
                let verdict = check(engine, &storage, &ev);
                tally.eval(name, &ev, &native, verdict);
            }
        }
    }
    tally
}

/// `@st` rows as `(t, st)` pairs per series: slot `i` sits at `i * step`
/// and its start timestamp `offset` from there.
fn start_times(step: i64, rows: &[(Labels, Vec<Option<i64>>)]) -> Vec<(Labels, Vec<(i64, i64)>)> {
    rows.iter()
        .map(|(labels, offsets)| {
            let pairs = offsets
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.map(|o| (i as i64 * step, i as i64 * step + o)))
                .collect();
            (labels.clone(), pairs)
        })
        .collect()
}

/// The engine a script runs on, with delayed name removal as
/// [`compare::delayed_name_removal`] says.
fn engine_for(text: &str, delayed: bool) -> Engine {
    Engine::new(hourglass_query::EngineOptions {
        delayed_name_removal: compare::delayed_name_removal(text, delayed),
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
        let name = script_name(file, &root);
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
    compare::run_outside(
        "HOURGLASS_PROMQL_SCRIPTS",
        "",
        "HOURGLASS_PROMQL_FAILURES",
        |name, text| run_script(&engine_for(text, true), name, text),
    );
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
