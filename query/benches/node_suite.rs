//! The query suite of `benches/footprint_vs.sh` over the same kind of
//! data (`benches/data/node.rs`: 10,000 node-exporter-like series, the
//! last hour in the head and the hours before in partitions), aligned and
//! jittered side by side: scrape jitter takes the timestamps off the grid
//! that the aligned fast paths (packed chunks, slid rate windows) rely on.
//! Each query is a range query over the data's last hour at a 15 s step.
//!
//! `cargo bench -p hourglass-query --bench node_suite` (`NODE_HOSTS` sets
//! the hosts, 100 series each, 100 by default; `NODE_DATASETS` the
//! datasets, `aligned jittered` by default; `NODE_QUERIES` the queries by
//! name, all by default).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass_query::{Engine, QueryOptions, parse};
use std::hint::black_box;

// The allocator the server runs with, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/cpu.rs"]
mod cpu;
#[path = "data/node.rs"]
mod data;

/// Wall-clock figures suffer on a shared machine; CPU time per run
/// measures the work itself. Printed beside criterion's numbers.
fn report_cpu(name: &str, mut run: impl FnMut()) {
    let Some(before) = cpu::process_cpu_seconds() else {
        return;
    };
    let mut iters = 0u32;
    let wall = std::time::Instant::now();
    while wall.elapsed().as_secs_f64() < 2.0 || iters < 5 {
        run();
        iters += 1;
    }
    if let Some(after) = cpu::process_cpu_seconds() {
        eprintln!(
            "node_suite/{name}: {:.2} ms CPU per run ({iters} runs)",
            (after - before) * 1e3 / f64::from(iters)
        );
    }
}

fn bench(c: &mut Criterion) {
    let hosts = std::env::var("NODE_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let end = data::end_ms();
    let start = end - 3_600_000;
    let engine = Engine::default();
    let mut group = c.benchmark_group("node_suite");
    group.sample_size(20);
    let datasets = std::env::var("NODE_DATASETS").unwrap_or_else(|_| "aligned jittered".into());
    let only = std::env::var("NODE_QUERIES").ok();
    for dataset in datasets.split_whitespace() {
        let jittered = dataset == "jittered";
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = data::build(dir.path(), hosts, jittered).expect("building the dataset");
        let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
        for (name, text) in data::QUERIES {
            if only
                .as_ref()
                .is_some_and(|o| !o.split_whitespace().any(|n| n == name))
            {
                continue;
            }
            let expr = parse(text).expect(text);
            let stats = engine
                .range_with(
                    &q,
                    &expr,
                    start,
                    end,
                    data::STEP_MS,
                    &QueryOptions::default(),
                )
                .expect(text)
                .stats;
            group.throughput(Throughput::Elements(stats.samples_loaded as u64));
            report_cpu(&format!("{dataset}/{name}"), || {
                black_box(engine.range(&q, &expr, start, end, data::STEP_MS)).expect(text);
            });
            group.bench_function(format!("{dataset}/{name}"), |b| {
                b.iter(|| black_box(engine.range(&q, &expr, start, end, data::STEP_MS)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
