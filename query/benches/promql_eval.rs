//! PromQL evaluation over a real head, on the dataset of
//! `benches/data/promql.rs` (the issue's: 10,000 series × 24 h at 15 s).
//! Queries are range queries at a 15 s step over the last hour (every
//! series read for 65 minutes), and `sum by (instance)` over the whole day.
//! Throughput is samples loaded from storage per second; run with
//! `RAYON_NUM_THREADS=1` for the per-core figure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass_query::{Engine, QueryOptions, parse};
use hourglass_storage::{MatchOp, Matcher, Querier};
use std::hint::black_box;

// The allocator the server runs with, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/cpu.rs"]
mod cpu;
#[path = "data/promql.rs"]
mod data;

use data::{POINTS, STEP_MS};

/// Wall-clock figures suffer on a shared machine; samples per CPU-second
/// measures the work itself. Printed beside criterion's numbers.
fn report_cpu(name: &str, samples: usize, mut run: impl FnMut() -> bool) {
    let Some(before) = cpu::process_cpu_seconds() else {
        return;
    };
    let mut iters = 0u32;
    let wall = std::time::Instant::now();
    while wall.elapsed().as_secs_f64() < 2.0 || iters < 5 {
        if !run() {
            return;
        }
        iters += 1;
    }
    if let Some(after) = cpu::process_cpu_seconds() {
        let cpu = after - before;
        if cpu > 0.0 {
            eprintln!(
                "promql_eval/{name}: {:.1} M samples per CPU-second ({iters} runs, {:.1} ms CPU each)",
                samples as f64 * f64::from(iters) / cpu / 1e6,
                cpu * 1e3 / f64::from(iters),
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let storage = match data::build(dir.path()) {
        Ok(s) => s,
        Err(e) => panic!("building the dataset: {e}"),
    };
    let end = (POINTS - 1) * STEP_MS;
    let start = end - 3_600_000;
    // The whole day but the first 5 minutes, so every window is full.
    let day_start = 300_000;
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    // Default limits: the day-long query loads 57M samples in all, over
    // the 50M limit, but holds only one series' samples at a time per
    // worker (and its 200 × 5,760 result points).
    let engine = Engine::default();
    let queries = [
        ("sum_rate", "sum(rate(x[5m]))"),
        ("sum_by_instance_rate", "sum by (instance) (rate(x[5m]))"),
        (
            "histogram_quantile",
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
        ),
        ("topk", "topk(10, rate(x[5m]))"),
        ("regex_selector", "sum(rate(x{instance=~\"i-1.*\"}[5m]))"),
        ("avg_over_time", "avg_over_time(x[5m])"),
        (
            "sum_by_instance_rate_24h",
            "sum by (instance) (rate(x[5m]))",
        ),
    ];
    let mut group = c.benchmark_group("promql_eval");
    group.sample_size(10);
    // Baseline: what storage alone costs to hand the samples over.
    let name = match Matcher::new(MatchOp::Equal, "__name__", "x") {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let (mint, maxt) = (start - 300_000 + 1, end);
    // Decoded as the engine does: each series' samples into one reused
    // buffer.
    let decode = |name: &Matcher| -> usize {
        let mut buf = Vec::new();
        match q.select(std::slice::from_ref(name), mint, maxt) {
            Ok(set) => set
                .map(|mut s| {
                    buf.clear();
                    s.samples.read_into(&mut buf);
                    buf.len()
                })
                .sum(),
            Err(e) => panic!("select: {e}"),
        }
    };
    let decoded = decode(&name);
    report_cpu("storage_select_decode", decoded, || {
        black_box(decode(&name)) > 0
    });
    group.throughput(Throughput::Elements(decoded as u64));
    group.bench_function("storage_select_decode", |b| {
        b.iter(|| black_box(decode(&name)))
    });
    for (name, text) in queries {
        let start = if name.ends_with("_24h") {
            day_start
        } else {
            start
        };
        let expr = match parse(text) {
            Ok(e) => e,
            Err(e) => panic!("{text}: {e}"),
        };
        let stats =
            match engine.range_with(&q, &expr, start, end, STEP_MS, &QueryOptions::default()) {
                Ok(o) => o.stats,
                Err(e) => panic!("{text}: {e}"),
            };
        group.throughput(Throughput::Elements(stats.samples_loaded as u64));
        report_cpu(name, stats.samples_loaded, || {
            black_box(engine.range(&q, &expr, start, end, STEP_MS)).is_ok()
        });
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine.range(&q, &expr, start, end, STEP_MS)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
