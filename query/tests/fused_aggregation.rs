//! Aggregations of `rate`/`increase`/`delta` are folded as each series is
//! evaluated (`engine/fused.rs`). These tests hold that path to the
//! general one, over more series than one fold block, with counter resets,
//! gaps, stale markers, NaN and infinities, and check that it gives the
//! same bits whatever the number of worker threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hourglass_query::{Engine, Value, parse};
use hourglass_storage::{Labels, STALE_NAN_BITS, Sample, Storage, WriteBatch};

/// 400 series of `x` over 40 minutes with irregular scrapes, plus a
/// second metric `y` with the same label sets.
fn dataset() -> (tempfile::TempDir, Storage) {
    // Seeded, so failures reproduce.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut batch = WriteBatch::new();
    for name in ["x", "y"] {
        for s in 0..400 {
            let inst = format!("i-{}", s % 13);
            let pod = format!("p-{s}");
            let labels = Labels::from_pairs([
                ("__name__", name),
                ("instance", inst.as_str()),
                ("pod", pod.as_str()),
            ]);
            let mut samples = Vec::new();
            let mut t = rng.u64(..15_000) as i64;
            let mut v = rng.u64(..1_000) as f64;
            while t < 2_400_000 {
                let roll = rng.u64(..100);
                v = match roll {
                    0 => 0.0,                            // counter reset
                    1 => f64::from_bits(STALE_NAN_BITS), // series ends
                    2 if s % 50 == 0 => f64::NAN,        // a NaN sample
                    3 if s % 97 == 0 => f64::INFINITY,   // an infinite one
                    _ if v.is_finite() => v + rng.u64(..500) as f64 / 8.0,
                    _ => rng.u64(..1_000) as f64,
                };
                samples.push(Sample::new(t, v));
                // Mostly 15 s apart, sometimes a gap of minutes.
                t += if rng.u64(..40) == 0 {
                    rng.u64(..400_000) as i64
                } else {
                    14_000 + rng.u64(..2_000) as i64
                };
            }
            batch.push(labels, samples);
        }
    }
    common::store(&batch)
}

/// A result's series as (labels, points), sorted by labels.
type Flat = Vec<(String, Vec<(i64, f64)>)>;

/// [`Flat`] form of a result, whatever the value kind.
fn series(v: Value) -> Flat {
    let mut out: Vec<_> = match v {
        Value::Matrix(m) => m
            .into_iter()
            .map(|s| {
                let pts = s.points.iter().map(|p| (p.t, p.v)).collect();
                (s.labels.to_string(), pts)
            })
            .collect(),
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (s.labels.to_string(), vec![(s.t, s.v)]))
            .collect(),
        other => panic!("unexpected {other:?}"),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Equal up to the rounding of a different summation order.
fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

/// Fusable queries, each with a form the general path evaluates to the
/// same values (`1 *` or `and` make an input that is not fused).
const CASES: [(&str, &str); 13] = [
    ("sum(rate(x[5m]))", "sum(1 * rate(x[5m]))"),
    (
        "sum by (instance) (rate(x[5m]))",
        "sum by (instance) (1 * rate(x[5m]))",
    ),
    (
        "avg without (pod) (increase(x[3m]))",
        "avg without (pod) (1 * increase(x[3m]))",
    ),
    (
        "count by (instance) (delta(x[2m]))",
        "count by (instance) (1 * delta(x[2m]))",
    ),
    (
        "group by (instance) (rate(x[1m]))",
        "group by (instance) (1 * rate(x[1m]))",
    ),
    (
        "min by (instance) (rate(x[5m]))",
        "min by (instance) (1 * rate(x[5m]))",
    ),
    ("max((rate(x[10m])))", "max(1 * rate(x[10m]))"),
    (
        "sum(rate(x[5m] offset 2m))",
        "sum(1 * rate(x[5m] offset 2m))",
    ),
    // Two metric names: per-series results collide once the name is
    // dropped, which the general path reports.
    (
        "sum(rate({__name__=~\"x|y\"}[5m]))",
        "sum(1 * rate({__name__=~\"x|y\"}[5m]))",
    ),
    ("sum(x)", "sum(x and x)"),
    (
        "max by (instance) (x offset 1m)",
        "max by (instance) (x offset 1m and x offset 1m)",
    ),
    (
        "count by (__name__) ({__name__=~\"x|y\"})",
        "count by (__name__) ({__name__=~\"x|y\"} and {__name__=~\"x|y\"})",
    ),
    ("avg without (pod) (y)", "avg without (pod) (y and y)"),
];

#[test]
fn fused_aggregations_match_the_general_path() {
    let (_dir, storage) = dataset();
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let engine = Engine::default();
    for (text, general_text) in CASES {
        let (fused, general) = (
            parse(text).expect(text),
            parse(general_text).expect(general_text),
        );
        assert_ne!(fused, general, "{text}: the general form must differ");
        let range = |e| engine.range(&q, e, 300_000, 2_400_000, 30_000);
        match (range(&fused), range(&general)) {
            (Ok(a), Ok(b)) => {
                let (a, b) = (series(a), series(b));
                assert_eq!(a.len(), b.len(), "{text}: series count");
                for ((la, pa), (lb, pb)) in a.iter().zip(&b) {
                    assert_eq!(la, lb, "{text}");
                    assert_eq!(pa.len(), pb.len(), "{text} {la}: points");
                    for (x, y) in pa.iter().zip(pb) {
                        assert_eq!(x.0, y.0, "{text} {la}");
                        assert!(
                            close(x.1, y.1),
                            "{text} {la} at {}: {} vs {}",
                            x.0,
                            x.1,
                            y.1
                        );
                    }
                }
                assert!(!a.is_empty(), "{text}: nothing to compare");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (a, b) => panic!("{text}: fused {a:?} but general {b:?}"),
        }
        let instant = |e| engine.instant(&q, e, 1_800_000).map(series);
        let (a, b) = (instant(&fused), instant(&general));
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{text}: instant series count");
                for ((la, pa), (lb, pb)) in a.iter().zip(&b) {
                    assert_eq!(la, lb, "{text}");
                    assert!(close(pa[0].1, pb[0].1), "{text} {la}: {pa:?} vs {pb:?}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (a, b) => panic!("{text}: fused {a:?} but general {b:?}"),
        }
    }
}

#[test]
fn fused_results_do_not_depend_on_the_number_of_threads() {
    let (_dir, storage) = dataset();
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let engine = Engine::default();
    for (text, _) in CASES {
        let e = parse(text).expect(text);
        let run = |threads| {
            in_pool(threads, || {
                engine
                    .range(&q, &e, 300_000, 2_400_000, 30_000)
                    .map(series)
                    .map_err(|e| e.to_string())
            })
        };
        let one = run(1);
        for threads in [2, 5] {
            let many = run(threads);
            let bits = |r: &Result<Flat, String>| {
                r.as_ref()
                    .map(|s| {
                        s.iter()
                            .map(|(l, p)| {
                                (l.clone(), p.iter().map(|x| (x.0, x.1.to_bits())).collect())
                            })
                            .collect::<Vec<(String, Vec<(i64, u64)>)>>()
                    })
                    .map_err(Clone::clone)
            };
            assert_eq!(bits(&one), bits(&many), "{text} with {threads} threads");
        }
    }
}
