//! Native histograms read from hour partitions stay in their chunks until
//! a function reads them (a sum of `rate` decodes one series at a time).
//! These tests hold every answer over partitions to the same answer over
//! the same samples in the head (decoded at once), over more series than
//! one fold block, with counter resets, gaps and stale markers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hourglass_query::{Engine, EngineOptions, QueryOptions, parse};
use hourglass_storage::{CounterResetHint, FloatHistogram, Labels, Sample, Span, Storage};

const STEP: i64 = 15_000;
/// Three hours and a bit: two whole hours end up in partitions.
const POINTS: i64 = 3 * 240 + 17;

fn histogram(counts: &[f64; 8], sum: f64) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 1,
        zero_threshold: 1e-9,
        count: counts.iter().sum(),
        sum,
        positive_spans: vec![Span::new(-3, 8)],
        positive_buckets: counts.to_vec(),
        ..FloatHistogram::default()
    }
}

/// 150 histogram series `h` (two jobs), some with a reset, a gap or a
/// stale marker, and a float series `f` beside them.
fn fill(storage: &Storage) {
    for s in 0..150usize {
        let inst = format!("i-{s}");
        let job = if s % 3 == 0 { "a" } else { "b" };
        let labels = Labels::from_pairs([("__name__", "h"), ("instance", &inst), ("job", job)]);
        let mut counts = [0.0; 8];
        let mut sum = 0.0;
        let mut samples = Vec::new();
        for k in 0..POINTS {
            if s % 17 == 0 && (300..340).contains(&k) {
                continue; // a gap of ten minutes
            }
            if s % 23 == 0 && k == 500 {
                counts = [0.0; 8]; // a counter reset
            }
            for (b, c) in counts.iter_mut().enumerate() {
                *c += ((s + b * 3 + k as usize) % 4) as f64;
            }
            sum += 0.01 * (s as f64 + 1.0) * k as f64;
            let h = if s % 29 == 0 && k == 600 {
                FloatHistogram::stale_marker()
            } else {
                histogram(&counts, sum)
            };
            samples.push((k * STEP, h));
        }
        storage.append_histograms(&labels, &samples).unwrap();
    }
    let mut batch = hourglass_storage::WriteBatch::new();
    batch.push(
        Labels::from_pairs([("__name__", "f")]),
        (0..POINTS)
            .map(|k| Sample::new(k * STEP, k as f64))
            .collect(),
    );
    storage.append(&batch).unwrap();
}

fn answer(engine: &Engine, storage: &Storage, q: &str, start: i64, end: i64) -> String {
    let querier = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let expr = parse(q).unwrap();
    let out = engine
        .range_with(
            &querier,
            &expr,
            start,
            end,
            60_000,
            &QueryOptions::default(),
        )
        .unwrap();
    format!("{:?}", out.value)
}

#[test]
fn histogram_queries_over_partitions_answer_as_over_the_head() {
    let (_d1, parted) = common::empty_store();
    fill(&parted);
    parted.persist().unwrap();
    assert!(
        parted.partitions().len() >= 2,
        "{} partitions",
        parted.partitions().len()
    );
    let (_d2, head) = common::empty_store();
    fill(&head);
    assert!(head.partitions().is_empty());
    let engine = Engine::new(EngineOptions {
        max_samples: 100_000_000,
        ..EngineOptions::default()
    });
    let end = (POINTS - 1) * STEP;
    for q in [
        "sum(rate(h[5m]))",
        "histogram_quantile(0.9, sum(rate(h[5m])))",
        "sum by (job) (rate(h[5m]))",
        "avg without (instance) (increase(h[10m]))",
        "sum(delta(h[2m] offset 7m))",
        "sum(rate(h[5m])) / 2",
        "rate(h[5m])",
        "count(rate(h[5m]))",
        // Floats beside histograms: the mix has no sum (a warning), and
        // the histograms are decoded at once for the general path.
        "sum(rate({__name__=~\"h|f\"}[5m]))",
        "histogram_count(sum(rate(h[5m])))",
    ] {
        // Ranges starting inside a partition, across the hour boundaries
        // and ending in the head.
        for (start, stop) in [(0, end), (1_234_567, 5_000_000), (3_700_000, end)] {
            let a = answer(&engine, &parted, q, start, stop);
            let b = answer(&engine, &head, q, start, stop);
            assert!(a.len() > 40 || q.contains('|'), "{q}: no answer: {a}");
            assert_eq!(a, b, "{q} over [{start}, {stop}]");
        }
    }
}

#[test]
fn a_folded_histogram_sum_holds_one_series_at_a_time() {
    let (_d, storage) = common::empty_store();
    fill(&storage);
    storage.persist().unwrap();
    let querier = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let end = (POINTS - 1) * STEP;
    let q = parse("sum(rate(h[5m]))").unwrap();
    // Every histogram decoded at once would hold 150 series × 787
    // samples × 10 samples each against the limit; one series at a time
    // holds under a tenth of that.
    let limit = 150 * 787 * 10 / 10;
    let engine = Engine::new(EngineOptions {
        max_samples: limit,
        ..EngineOptions::default()
    });
    let out = engine.range_with(&querier, &q, 0, end, 60_000, &QueryOptions::default());
    assert!(out.is_ok(), "{:?}", out.err());
    let general = parse("sum(1 * rate(h[5m]))").unwrap();
    let refused = engine.range_with(&querier, &general, 0, end, 60_000, &QueryOptions::default());
    assert!(refused.is_err(), "the general path holds them all");
}
