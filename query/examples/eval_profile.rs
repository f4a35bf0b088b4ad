//! Runs one PromQL range query over the `promql_eval` bench's dataset in a
//! loop, for profilers (`perf record`) and quick before/after checks.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p hourglass-query --example eval_profile -- 'sum(rate(x[5m]))' 5`
//! (query, seconds to run, optionally at most this many runs, and the
//! range in hours, 1 by default).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_query::{Engine, QueryOptions, parse};
use std::hint::black_box;
use std::time::Instant;

// The allocator the server runs with, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/data/promql.rs"]
mod data;

use data::{POINTS, STEP_MS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let text = args.next().unwrap_or_else(|| "sum(rate(x[5m]))".into());
    let secs: f64 = args.next().map_or(Ok(5.0), |s| s.parse())?;
    let max_runs: u32 = args.next().map_or(Ok(u32::MAX), |s| s.parse())?;
    let hours: i64 = args.next().map_or(Ok(1), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let storage = data::build(dir.path())?;
    let end = (POINTS - 1) * STEP_MS;
    // Every window full: the day-long range starts 5 minutes in.
    let start = (end - hours * 3_600_000).max(300_000);
    let q = storage.querier(i64::MIN / 4, i64::MAX / 4);
    let engine = Engine::default();
    let expr = parse(&text)?;
    let loaded = engine
        .range_with(&q, &expr, start, end, STEP_MS, &QueryOptions::default())?
        .stats
        .samples_loaded;
    let wall = Instant::now();
    let cpu0 = process_cpu_seconds();
    let mut runs = 0u32;
    // The fastest run is the figure least disturbed by other processes.
    let mut times = Vec::new();
    while wall.elapsed().as_secs_f64() < secs && runs < max_runs {
        let t = Instant::now();
        black_box(engine.range(&q, &expr, start, end, STEP_MS)?);
        times.push(t.elapsed().as_secs_f64());
        runs += 1;
    }
    times.sort_by(f64::total_cmp);
    let best = times.first().copied().unwrap_or(f64::NAN);
    let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    let each = wall.elapsed().as_secs_f64() / f64::from(runs);
    let cpu = process_cpu_seconds() - cpu0;
    println!(
        "{text}: {runs} runs, {:.2} ms wall (best {:.2}, median {:.2}) / {:.2} ms CPU each, {loaded} samples, {:.1} M samples per CPU-second",
        each * 1e3,
        best * 1e3,
        median * 1e3,
        cpu * 1e3 / f64::from(runs),
        loaded as f64 * f64::from(runs) / cpu / 1e6
    );
    Ok(())
}

/// CPU time of this process (all threads) from /proc, in seconds.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
