//! `histogram_quantile(0.99, sum(rate(h[5m])))` over native histograms:
//! `HOURGLASS_BENCH_HISTOGRAMS` series (default 1,000) of a 20-bucket
//! latency histogram, 24 h at 15 s, in the head (or, with
//! `HOURGLASS_BENCH_PERSIST=1`, sealed into hour partitions as a server
//! holds a day); a range query over the day at a 60 s step. Prints the time per query and per histogram sample
//! read; run with `RAYON_NUM_THREADS=1` for the per-core figure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use hourglass_query::{Engine, EngineOptions, QueryOptions, parse};
use hourglass_storage::{CounterResetHint, FloatHistogram, Labels, Options, Span, Storage};
use std::hint::black_box;

#[path = "support/cpu.rs"]
mod cpu;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 5_760;
const BUCKETS: usize = 20;

/// Series `s` after `k` scrapes: a few observations a scrape spread over
/// 20 buckets of schema 2 around 100 ms, cumulative (a counter).
fn histogram(s: usize, k: i64, counts: &mut [f64; BUCKETS]) -> FloatHistogram {
    for (b, c) in counts.iter_mut().enumerate() {
        // Deterministic, uneven growth: busier middle buckets.
        let w = 1
            + ((s + b * 7 + k as usize) % 5)
                * (BUCKETS / 2 - (b as isize - 10).unsigned_abs().min(9));
        *c += w as f64;
    }
    let count: f64 = counts.iter().sum();
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 2,
        zero_threshold: 2f64.powi(-128),
        zero_count: 0.0,
        count,
        sum: count * 0.1,
        positive_spans: vec![Span::new(-22, BUCKETS as u32)],
        negative_spans: Vec::new(),
        positive_buckets: counts.to_vec(),
        negative_buckets: Vec::new(),
        custom_values: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let series: usize = std::env::var("HOURGLASS_BENCH_HISTOGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Options::default();
    opts.wal.sync = hourglass_wal::SyncPolicy::Never;
    let storage = Storage::open(dir.path(), opts).expect("open");
    let t0 = std::time::Instant::now();
    for s in 0..series {
        let inst = format!("i-{s:04}");
        let labels = Labels::from_pairs([("__name__", "h"), ("instance", inst.as_str())]);
        let mut counts = [0.0; BUCKETS];
        let samples: Vec<(i64, FloatHistogram)> = (0..POINTS)
            .map(|k| (k * STEP_MS, histogram(s, k, &mut counts)))
            .collect();
        storage
            .append_histograms(&labels, &samples)
            .expect("append");
    }
    if std::env::var_os("HOURGLASS_BENCH_PERSIST").is_some() {
        storage.persist().expect("persist");
    }
    eprintln!(
        "histogram_eval: {series} histograms x {POINTS} samples written in {:.1} s ({} partitions)",
        t0.elapsed().as_secs_f64(),
        storage.partitions().len()
    );
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    // Every selected series' histograms are decoded when selected (not
    // one series at a time, as floats are), so the day of 1,000 series
    // needs more than the default budget.
    let engine = Engine::new(EngineOptions {
        max_samples: 1_000_000_000,
        memory_budget_samples: 1_000_000_000,
        ..EngineOptions::default()
    });
    let expr = parse("histogram_quantile(0.99, sum(rate(h[5m])))").expect("parse");
    let (start, end, step) = (300_000, (POINTS - 1) * STEP_MS, 60_000);
    let run = || {
        engine
            .range_with(&q, &expr, start, end, step, &QueryOptions::default())
            .expect("query")
    };
    let out = run();
    let read = out.stats.samples_loaded;
    let t = std::time::Instant::now();
    let cpu = cpu::process_cpu_seconds();
    let runs = 3;
    for _ in 0..runs {
        black_box(run());
    }
    let per = t.elapsed().as_secs_f64() / f64::from(runs);
    let cpu_per = cpu::process_cpu_seconds()
        .zip(cpu)
        .map(|(b, a)| (b - a) / f64::from(runs));
    eprintln!(
        "histogram_eval: 24 h range query at 60 s: {:.3} s per query, {} CPU s per query ({} histogram samples read)",
        per,
        cpu_per.map_or("?".to_string(), |c| format!("{c:.3}")),
        read
    );
    let mut group = c.benchmark_group("histogram_eval");
    group.sample_size(10);
    group.bench_function("quantile_of_summed_rate_24h", |b| {
        b.iter(|| black_box(run()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
