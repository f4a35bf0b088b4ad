//! Every sample a query holds is counted before it is allocated: subquery
//! grids, per-series step rows, `count_values` series, aggregation state.
//! A query over its limit stops with `TooManySamples` instead of
//! allocating, a query that cannot draw from the shared budget stops with
//! `MemoryBudget`, and either way what it drew goes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hourglass_query::{Engine, EngineOptions, ErrorKind, EvalError, parse};
use hourglass_storage::{Labels, Querier, Sample, Storage, WriteBatch};
use std::time::{Duration, Instant};

/// `series` series of `m` (and `n`), one sample every 15 s for an hour,
/// each value distinct.
fn storage(series: usize) -> (tempfile::TempDir, Storage) {
    let mut batch = WriteBatch::new();
    for name in ["m", "n"] {
        for s in 0..series {
            let inst = s.to_string();
            let labels = Labels::from_pairs([("__name__", name), ("instance", inst.as_str())]);
            let samples = (0..=240)
                .map(|k| Sample::new(k * 15_000, (s * 1000 + k as usize) as f64))
                .collect();
            batch.push(labels, samples);
        }
    }
    common::store(&batch)
}

fn engine(max_samples: usize, budget: usize) -> Engine {
    Engine::new(EngineOptions {
        max_samples,
        memory_budget_samples: budget,
        ..EngineOptions::default()
    })
}

const HOUR_MS: i64 = 3_600_000;

#[track_caller]
fn refused_for_samples(engine: &Engine, err: EvalError, started: Instant) {
    assert!(matches!(err, EvalError::TooManySamples { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Execution);
    assert!(
        err.to_string().starts_with(
            "query processing would load too many samples into memory in query execution"
        ),
        "{err}"
    );
    assert_eq!(
        engine.admission().memory().in_use(),
        0,
        "memory not returned"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "refused late");
}

/// Runs `query` as an instant query at `t_ms` and checks that it is
/// refused for samples, promptly.
fn instant_refused(e: &Engine, q: &dyn Querier, query: &str, t_ms: i64) {
    let expr = parse(query).expect("parse");
    let started = Instant::now();
    let err = e
        .instant_with(q, &expr, t_ms, &Default::default())
        .unwrap_err();
    refused_for_samples(e, err, started);
}

#[test]
fn subquery_with_a_tiny_step_over_many_series_is_refused_before_allocating() {
    let (_dir, st) = storage(100);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    // 3.6M inner steps per series: 5.7 GB of step rows for 100 series.
    let e = engine(2_000_000, 1_000_000_000);
    instant_refused(&e, &q, "max_over_time(rate(m[1m])[1h:1ms])", HOUR_MS);
}

#[test]
fn subquery_over_every_series_under_an_aggregation_is_refused() {
    let (_dir, st) = storage(100);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    let e = engine(2_000_000, 1_000_000_000);
    let query = r#"count(max_over_time({__name__=~".+"}[1h:100ms]))"#;
    instant_refused(&e, &q, query, HOUR_MS);
}

#[test]
fn count_values_over_a_range_counts_each_distinct_value_series() {
    let (_dir, st) = storage(100);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    // Every sample is a distinct value: one series of 3601 steps each.
    let e = engine(2_000_000, 1_000_000_000);
    let expr = parse(r#"count_values("v", m)"#).expect("parse");
    let started = Instant::now();
    let err = e
        .range_with(&q, &expr, 0, HOUR_MS, 1000, &Default::default())
        .unwrap_err();
    refused_for_samples(&e, err, started);
}

#[test]
fn a_query_that_fits_still_answers_and_returns_what_it_drew() {
    let (_dir, st) = storage(20);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    let e = engine(2_000_000, 10_000_000);
    for text in [
        "max_over_time(rate(m[1m])[10m:15s])",
        r#"count_values("v", m)"#,
        "sum by (instance) (rate(m[5m])) / on(instance) sum by (instance) (rate(n[5m]))",
        "topk(3, m) or n",
    ] {
        let expr = parse(text).expect("parse");
        let out = e
            .range_with(&q, &expr, 0, HOUR_MS, 15_000, &Default::default())
            .unwrap_or_else(|err| panic!("{text}: {err}"));
        assert!(matches!(out.value, hourglass_query::Value::Matrix(ref m) if !m.is_empty()));
        assert_eq!(e.admission().memory().in_use(), 0, "{text}");
    }
}

#[test]
fn queries_share_one_memory_budget_and_a_query_past_it_is_unavailable() {
    let (_dir, st) = storage(50);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    // Alone within its own limit, but not within the server's budget.
    let e = engine(10_000_000, 50_000);
    let expr = parse("rate(m[5m])").expect("parse");
    let err = e
        .range_with(&q, &expr, 0, HOUR_MS, 1000, &Default::default())
        .unwrap_err();
    assert!(matches!(err, EvalError::MemoryBudget { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(e.admission().memory().in_use(), 0);
    // Clones of an engine draw from the same budget.
    let clone = e.clone();
    assert!(std::ptr::eq(clone.admission(), e.admission()));
}

#[test]
fn range_query_whose_point_count_overflows_is_refused_not_a_panic() {
    let (_dir, st) = storage(1);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    let e = Engine::default();
    let expr = parse("m").expect("parse");
    for (start, end, step) in [
        (i64::MIN, i64::MAX, 1),
        (-9_223_372_036_854_775, 9_223_372_036_854_775_807, 1000),
        (0, i64::MAX, 1),
    ] {
        let err = e.range(&q, &expr, start, end, step).unwrap_err();
        assert!(matches!(err, EvalError::TooManyPoints { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::BadData);
    }
}

#[test]
fn offsets_and_subquery_ranges_near_the_ends_of_time_do_not_overflow() {
    let (_dir, st) = storage(2);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    let e = engine(1_000_000, 10_000_000);
    for text in [
        "m offset -292y",
        "rate(m[5m] offset 292y)",
        "max_over_time(m[292y:1y] offset -292y)",
        "max_over_time(m[1h:1h] @ 9223372036854775.807)",
        "m @ -9223372036854775.808",
        "sum_over_time(m[292y] @ 9223372036854775.807)",
    ] {
        let Ok(expr) = parse(text) else { continue };
        for t in [i64::MIN, 0, i64::MAX] {
            let _ = e.instant_with(&q, &expr, t, &Default::default());
        }
        let _ = e.range_with(
            &q,
            &expr,
            i64::MAX - 10_000,
            i64::MAX,
            1000,
            &Default::default(),
        );
        let _ = e.range_with(
            &q,
            &expr,
            i64::MIN,
            i64::MIN + 10_000,
            1000,
            &Default::default(),
        );
        assert_eq!(e.admission().memory().in_use(), 0, "{text}");
    }
}

#[test]
fn label_replace_and_label_join_count_the_labels_they_build() {
    let mut batch = WriteBatch::new();
    let long = "x".repeat(4000);
    for s in 0..20 {
        let inst = format!("{s}{long}");
        let labels = Labels::from_pairs([("__name__", "m"), ("instance", inst.as_str())]);
        batch.push(labels, vec![Sample::new(0, 1.0)]);
    }
    let (_dir, st) = common::store(&batch);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    // 2000 copies of a 4 KB value: 8 MB of label per series, 160 MB in all.
    let e = engine(1_000_000, 1_000_000_000);
    let many = "$1".repeat(2000);
    let args = vec![r#""instance""#; 2000].join(", ");
    for text in [
        format!(r#"label_replace(m, "d", "{many}", "instance", "(.*)")"#),
        format!(r#"label_join(m, "d", "", {args})"#),
    ] {
        instant_refused(&e, &q, &text, 0);
    }
    // The same functions within bounds still work.
    let expr = parse(r#"label_replace(m, "d", "$1$1", "instance", "(.*)")"#).expect("parse");
    e.instant(&q, &expr, 0).expect("small labels");
}

#[test]
fn the_series_a_selector_picks_are_drawn_from_the_budget_and_given_back() {
    let (_dir, st) = storage(2_000);
    let q = st.querier(i64::MIN / 4, i64::MAX / 4);
    // `count(m)` holds one series' samples at a time (241 of them), but
    // picking 2,000 series with their chunk handles costs far more than
    // the 1,000 samples' worth of budget.
    let expr = parse("count(m)").expect("parse");
    let tight = engine(2_000_000, 1_000);
    let err = tight.instant(&q, &expr, HOUR_MS).unwrap_err();
    assert!(matches!(err, EvalError::MemoryBudget { .. }), "{err}");
    assert_eq!(tight.admission().memory().in_use(), 0);
    // With room for them, the same query answers and gives it all back.
    let roomy = engine(2_000_000, 1_000_000);
    let out = roomy.instant(&q, &expr, HOUR_MS).expect("fits");
    match out {
        hourglass_query::Value::Vector(v) => assert_eq!(v[0].v, 2_000.0),
        other => panic!("{other:?}"),
    }
    assert_eq!(roomy.admission().memory().in_use(), 0);
}
