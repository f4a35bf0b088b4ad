//! Tests of `duration_expr`.

#![allow(clippy::unwrap_used)]
use super::*;

fn q() -> QueryTimes {
    QueryTimes {
        start: 50_000,
        end: 60_000,
        step: 5_000,
        now: 55_000,
    }
}

#[track_caller]
fn range_of(query: &str) -> i64 {
    match crate::parse(query).unwrap() {
        Expr::Matrix(m) => m.range_ms,
        Expr::Call(c) => match &c.args[0] {
            Expr::Matrix(m) => m.range_ms,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn constant_expressions_fold_when_parsed() {
    assert_eq!(range_of("x[5m * 2]"), 600_000);
    assert_eq!(range_of("x[26m+4m]"), 1_800_000);
    assert_eq!(range_of("x[2m*(10+5)]"), 1_800_000);
    assert_eq!(range_of("x[24m+((1.5*2m)+2m)]"), 1_740_000);
    assert_eq!(range_of("x[-5m+35m]"), 1_800_000);
    assert_eq!(range_of("x[30m1s-30m1s % 1m]"), 1_800_000);
    assert_eq!(range_of("x[-(10s-5s)+20s]"), 15_000);
    assert_eq!(range_of("x[1h/2]"), 1_800_000);
    assert_eq!(range_of("x[max(1m, 2m) - min(30s, 1m)]"), 90_000);
}

#[test]
fn query_durations_bind_at_run_time() {
    let e = crate::parse("count_over_time(x[step() + 1ms])").unwrap();
    let bound = bind(&e, q()).unwrap().unwrap();
    assert_eq!(bound.to_string(), "count_over_time(x[5s1ms])");
    let e = crate::parse("x offset -step() * 2").unwrap();
    assert_eq!(e.to_string(), "x offset (-step()) * 2");
    let bound = bind(&e, q()).unwrap().unwrap();
    assert_eq!(bound.to_string(), "x offset -5s * 2");
    let e = crate::parse("x[range():step() / 5]").unwrap();
    assert_eq!(bind(&e, q()).unwrap().unwrap().to_string(), "x[10s:1s]");
    assert!(
        bind(&crate::parse("x[5m]").unwrap(), q())
            .unwrap()
            .is_none()
    );
    let zero = QueryTimes { step: 0, ..q() };
    assert!(bind(&crate::parse("x[step()]").unwrap(), zero).is_err());
}

#[test]
fn time_and_comparisons_need_the_evaluation_time() {
    let e = crate::parse("x offset (time() != bool 0 + time() == bool 0)").unwrap();
    assert!(reads_eval_time(&e));
    assert_eq!(
        e.to_string(),
        "x offset (time() != bool 0 + time() == bool 0)"
    );
    assert_eq!(bind(&e, q()).unwrap().unwrap().to_string(), "x offset 1s");
    let e = crate::parse("x offset (time() - 50)").unwrap();
    assert_eq!(bind(&e, q()).unwrap().unwrap().to_string(), "x offset 5s");
    let later = QueryTimes { now: 60_000, ..q() };
    assert_eq!(
        bind(&e, later).unwrap().unwrap().to_string(),
        "x offset 10s"
    );
    assert!(!reads_eval_time(&crate::parse("x offset step()").unwrap()));
    assert!(crate::parse("x offset (time() > 0)").is_err());
}

#[test]
fn bad_expressions_are_refused() {
    for bad in [
        "x[1m / 0]",
        "x[1m % 0]",
        "x[1m +]",
        "x[foo()]",
        "x offset (1m",
    ] {
        assert!(crate::parse(bad).is_err(), "{bad}");
    }
}
