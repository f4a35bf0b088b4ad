//! Query statistics as `stats=all` reports them: samples read, the peak
//! held, samples per step, and time per phase.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hourglass_query::{Engine, EngineOptions, QueryOptions, parse};
use hourglass_storage::{Labels, Sample, Storage, WriteBatch};

/// Three series of `m`, one sample a minute from 0 to 10 minutes.
fn storage() -> (tempfile::TempDir, Storage) {
    let mut batch = WriteBatch::new();
    for s in 0..3 {
        let inst = s.to_string();
        let labels = Labels::from_pairs([("__name__", "m"), ("instance", inst.as_str())]);
        let samples = (0..=10)
            .map(|k| Sample::new(k * 60_000, k as f64))
            .collect();
        batch.push(labels, samples);
    }
    common::store(&batch)
}

const ALL: QueryOptions = QueryOptions {
    lookback_delta_ms: None,
    timeout: None,
    cancel: None,
    per_step_stats: true,
};

#[test]
fn range_query_reports_samples_read_per_step_and_their_total() {
    let (_d, st) = storage();
    let q = st.querier(i64::MIN, i64::MAX);
    let engine = Engine::new(EngineOptions::default());
    // Steps at 2, 4, 6, 8 minutes, each over the window (t-2m, t].
    let expr = parse("sum(count_over_time(m[2m]))").unwrap();
    let out = engine
        .range_with(&q, &expr, 120_000, 480_000, 120_000, &ALL)
        .unwrap();
    let st = out.stats;
    // Every sample read is counted once, at the first step at or after
    // it; how many the first step gets depends on where storage cuts the
    // selection's start.
    let per_step: u64 = out.samples_per_step.iter().map(|s| s.1).sum();
    assert_eq!(
        per_step as usize, st.samples_loaded,
        "{:?}",
        out.samples_per_step
    );
    let times: Vec<i64> = out.samples_per_step.iter().map(|s| s.0).collect();
    assert_eq!(times, vec![120_000, 240_000, 360_000, 480_000]);
    // Two samples per series between one step and the next.
    for (t, n) in &out.samples_per_step[1..] {
        assert_eq!(*n, 6, "step {t}: {:?}", out.samples_per_step);
    }
    assert_eq!(st.series_loaded, 3);
    assert!(st.peak_samples >= 3, "{st:?}");
    assert!(st.eval_time >= st.prepare_time + st.sort_time, "{st:?}");
}

#[test]
fn instant_query_peak_counts_what_was_held_at_once() {
    let (_d, st) = storage();
    let q = st.querier(i64::MIN, i64::MAX);
    let engine = Engine::new(EngineOptions::default());
    // A range-vector result holds every sample it returns: 3 × 10 in the
    // left-open window (0, 10m].
    let out = engine
        .instant_with(&q, &parse("m[10m]").unwrap(), 600_000, &ALL)
        .unwrap();
    assert_eq!(out.stats.samples_loaded, 30);
    assert!(out.stats.peak_samples >= 30, "{:?}", out.stats);
    assert_eq!(out.samples_per_step, vec![(600_000, 30)]);

    // Without asking, no per-step figures.
    let out = engine
        .instant_with(&q, &parse("m").unwrap(), 600_000, &QueryOptions::default())
        .unwrap();
    assert!(out.samples_per_step.is_empty());
    assert!(out.stats.peak_samples > 0);
    assert_eq!(engine.admission().memory().in_use(), 0);
}
