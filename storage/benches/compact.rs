//! Compaction throughput and what it leaves on disk.
//!
//! * `compact/day-merge`: 2,000 node-exporter-like series × 6 hours at
//!   15 s (2.88M samples) in six hourly partitions merged into one day
//!   partition (decode, merge, re-encode, zstd index, write, fsync, swap).
//!   Throughput in samples/s. `compact/merge-encode` is its CPU part alone
//!   (no file written).
//! * Printed once (`footprint`): bytes per sample of a day partition after
//!   compaction for 10,000 series × 24 h (57.6M samples), timestamps
//!   scrape-aligned with most series idle, and ±3 ms jittered with every
//!   series moving; then the share of partition bytes freed by deleting
//!   10 % of the series and compacting, then the day's bytes before and
//!   after downsampling it to 5m. `HOURGLASS_FOOTPRINT_SERIES`
//!   scales it down; `HOURGLASS_FOOTPRINT_ONLY=1` runs only this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/node.rs"]
mod node;
mod support;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::internals::merge_and_encode;
use hourglass_storage::{
    DownsampleRule, Labels, MatchOp, Matcher, Options, Querier, Sample, Storage, WriteBatch,
};
use node::{Values, labels};
use std::path::Path;
use std::time::Instant;
use support::Rng;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z
const STEP: i64 = 15_000;

fn opts() -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 10 * 60_000;
    o.wal.sync = hourglass_wal::SyncPolicy::Never;
    o
}

/// Writes `hours` hours of `n` series from `T0` into `dir` (persisted
/// hour by hour), plus one marker sample a day later so the day is old.
fn build(dir: &Path, n: usize, hours: i64, jitter: bool) -> Storage {
    let st = Storage::open(dir, opts()).unwrap();
    let ls = labels(n);
    let mut vals = Values::new(n, jitter);
    let mut rng = Rng(42);
    for step in 0..hours * H / STEP {
        let t = T0 + step * STEP;
        let mut b = WriteBatch::new();
        for (i, l) in ls.iter().enumerate() {
            let j = if jitter {
                (rng.next() % 7) as i64 - 3
            } else {
                0
            };
            b.push(l.clone(), vec![Sample::new(t + j, vals.next(i))]);
        }
        st.append(&b).unwrap();
        if (t - T0) % H == H - STEP {
            st.persist().unwrap();
        }
    }
    let mut b = WriteBatch::new();
    b.push(
        Labels::from_pairs([("__name__", "marker")]),
        vec![Sample::new(T0 + 2 * DAY, 1.0)],
    );
    st.append(&b).unwrap();
    st.persist().unwrap();
    st
}

/// CPU time this thread has run, from /proc/thread-self/schedstat (ns):
/// throughput per core on a machine shared with other work.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What reading the day costs: CPU ns per sample to scan every series over
/// the whole day, and CPU µs per one-hour range read of one metric (20
/// series), averaged over the 24 hours ten times (the thread's CPU clock
/// advances in scheduler ticks: short spans need repeating).
fn read_cost(st: &Storage) -> (f64, f64) {
    let q = st.querier(T0, T0 + DAY - 1);
    let c0 = thread_cpu_ns();
    let mut n = 0u64;
    for s in q.select(&[], T0, T0 + DAY - 1).unwrap() {
        n += s.samples.count() as u64;
    }
    let scan = (thread_cpu_ns() - c0) as f64 / n.max(1) as f64;
    let m = Matcher::new(MatchOp::Equal, "__name__", "node_metric_7").unwrap();
    let c1 = thread_cpu_ns();
    for h in (0..240).map(|k| k % 24) {
        let (lo, hi) = (T0 + h * H, T0 + (h + 1) * H - 1);
        let q = st.querier(lo, hi);
        let got: usize = q
            .select(std::slice::from_ref(&m), lo, hi)
            .unwrap()
            .map(|s| s.samples.count())
            .sum();
        assert!(got > 0);
    }
    let range = (thread_cpu_ns() - c1) as f64 / 240.0 / 1e3;
    (scan, range)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn day_opts() -> CompactOptions {
    CompactOptions {
        day_after_ms: Some(H),
    }
}

fn bench_compact(c: &mut Criterion) {
    let template = tempfile::tempdir().unwrap();
    let (n, hours) = (2_000, 6);
    build(template.path(), n, hours, true).close().unwrap();
    let samples = n as u64 * (hours * H / STEP) as u64;
    let mut g = c.benchmark_group("compact");
    g.sample_size(10);
    g.throughput(Throughput::Elements(samples));
    // The CPU part alone, on one core: decode, merge, re-encode, zstd
    // index, the files' bytes in memory.
    let st = Storage::open(template.path(), opts()).unwrap();
    let hours: Vec<_> = st
        .partitions()
        .into_iter()
        .filter(|p| p.meta().hour_start_ms < T0 + DAY)
        .collect();
    g.bench_function("merge-encode", |b| {
        b.iter(|| assert!(merge_and_encode(&hours) > 0));
    });
    drop(hours);
    st.close().unwrap();
    g.bench_function("day-merge", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                copy_dir(template.path(), dir.path());
                let st = Storage::open(dir.path(), opts()).unwrap();
                (dir, st)
            },
            |(dir, st)| {
                let s = st.compact(&day_opts(), &mut |_| {}).unwrap();
                assert_eq!(s.counts.samples_out, samples);
                (dir, st)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn footprint(_: &mut Criterion) {
    let n: usize = std::env::var("HOURGLASS_FOOTPRINT_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    for (name, jitter) in [
        ("aligned, most idle", false),
        ("±3 ms jitter, all moving", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let st = build(dir.path(), n, 24, jitter);
        let built = t0.elapsed();
        let hourly: u64 = st.partitions().iter().map(|p| p.bytes()).sum();
        let hours: Vec<_> = st
            .partitions()
            .into_iter()
            .filter(|p| p.meta().hour_start_ms < T0 + DAY)
            .collect();
        let (scan_h, range_h) = read_cost(&st);
        let c0 = thread_cpu_ns();
        merge_and_encode(&hours);
        let cpu_merge = thread_cpu_ns() - c0;
        drop(hours);
        let t1 = Instant::now();
        let c1 = thread_cpu_ns();
        let s = st.compact(&day_opts(), &mut |_| {}).unwrap();
        let cpu_compact = thread_cpu_ns() - c1;
        let took = t1.elapsed();
        // Jitter puts the first samples 1–3 ms before midnight: those are
        // a (tiny) day partition of their own; every day partition counts.
        let days: Vec<_> = st
            .partitions()
            .into_iter()
            .filter(|p| p.meta().span_ms == DAY)
            .collect();
        let samples: u64 = days.iter().map(|p| p.meta().samples).sum();
        let bytes: u64 = days.iter().map(|p| p.bytes()).sum();
        let hourly_samples = samples.max(1);
        println!(
            "footprint {n} series x 24 h, {name}: {samples} samples; hourly partitions {:.3} B/sample, \
             after compaction {:.3} B/sample ({} day partitions, {bytes} bytes: chunks+index+meta); \
             compaction {:.2?} ({:.1}M samples/s); ingest {built:.2?}",
            hourly as f64 / hourly_samples as f64,
            bytes as f64 / samples as f64,
            days.len(),
            took,
            s.counts.samples_in as f64 / took.as_secs_f64() / 1e6,
        );
        println!(
            "  per CPU-second of this thread: merge+encode {:.1}M samples/s, whole compaction (with writes, fsyncs, swap) {:.1}M samples/s",
            s.counts.samples_in as f64 / (cpu_merge.max(1) as f64 / 1e9) / 1e6,
            s.counts.samples_in as f64 / (cpu_compact.max(1) as f64 / 1e9) / 1e6,
        );
        let (scan_d, range_d) = read_cost(&st);
        println!(
            "  reading the day (CPU of this thread): full scan {scan_h:.2} ns/sample from hourly partitions, \
             {scan_d:.2} from the compacted day; one-hour range of one metric {range_h:.0} µs, {range_d:.0} µs"
        );
        // Would zstd on the chunks file win? (It is not applied: chunks
        // stay mmapped and decoded in place.)
        let big = days.iter().max_by_key(|p| p.meta().samples).unwrap();
        let chunks = std::fs::read(big.dir().join("chunks")).unwrap();
        let z = zstd::bulk::compress(&chunks, 3).unwrap();
        println!(
            "  largest day partition: chunks file {} bytes, zstd -3 {} bytes ({:.1} % smaller)",
            chunks.len(),
            z.len(),
            100.0 * (chunks.len() - z.len().min(chunks.len())) as f64 / chunks.len() as f64
        );
        // Delete 10 % of the series (host-0000 … host-0009 of 100 hosts)
        // and compact: the share of partition bytes freed.
        let before: u64 = st.partitions().iter().map(|p| p.bytes()).sum();
        let m = Matcher::new(MatchOp::RegexMatch, "instance", "host-000[0-9]:9100").unwrap();
        let hit = st.delete_series(&[vec![m]], i64::MIN, i64::MAX).unwrap();
        st.compact(&day_opts(), &mut |_| {}).unwrap();
        let after: u64 = st.partitions().iter().map(|p| p.bytes()).sum();
        println!(
            "delete {hit} of {n} series + compaction ({name}): partition bytes {before} -> {after}, {:.1} % freed",
            100.0 * (before - after) as f64 / before as f64
        );
        // Downsample the day (past a 1d tier: the marker is a day later)
        // to 5m: the bytes of that range before and after.
        let day_bytes = |st: &Storage| -> u64 {
            st.partitions()
                .iter()
                .filter(|p| p.meta().hour_start_ms < T0 + DAY)
                .map(|p| p.bytes())
                .sum()
        };
        let raw = day_bytes(&st);
        st.set_downsample_rules(vec![DownsampleRule {
            selector: "{job=\"node\"}".into(),
            matchers: vec![Matcher::new(MatchOp::Equal, "job", "node").unwrap()],
            after_ms: DAY,
            resolution_ms: 5 * 60_000,
        }]);
        let c2 = thread_cpu_ns();
        let s = st.compact(&day_opts(), &mut |_| {}).unwrap();
        let cpu = thread_cpu_ns() - c2;
        let down = day_bytes(&st);
        println!(
            "downsample to 5m ({name}): day bytes {raw} -> {down}, {:.1}x fewer; {:.1}M samples per CPU-second",
            raw as f64 / down.max(1) as f64,
            s.counts.samples_in as f64 / (cpu.max(1) as f64 / 1e9) / 1e6,
        );
        column_report(&st);
        st.close().unwrap();
    }
}

/// Where the downsampled day's bytes go: the `downsampled` files against
/// the partitions' other files, and per column of the version 3 body.
fn column_report(st: &Storage) {
    use hourglass_storage::downsample::{COLUMNS, downsampled_bits};
    let (mut file, mut body, mut heads, mut cols) = (0, 0, 0, [0u64; 9]);
    let mut other = 0;
    for p in st.partitions() {
        if p.meta().hour_start_ms >= T0 + DAY {
            continue;
        }
        other += p.bytes();
        let Ok(b) = std::fs::read(p.dir().join("downsampled")) else {
            continue;
        };
        other -= b.len() as u64;
        if let Some((f, bd, h, c)) = downsampled_bits(&b) {
            (file, body, heads) = (file + f, body + bd, heads + h);
            cols.iter_mut().zip(c).for_each(|(a, x)| *a += x);
        }
    }
    let per: Vec<String> = COLUMNS
        .iter()
        .zip(cols)
        .map(|(n, b)| format!("{n} {}", b.div_ceil(8)))
        .collect();
    println!(
        "  downsampled files {file} B (body {body} B before zstd: series headers {heads} B, columns {}); other partition files {other} B",
        per.join(", ")
    );
}

criterion_group!(benches, bench_compact, footprint);
criterion_group!(footprint_only, footprint);
fn main() {
    // `HOURGLASS_FOOTPRINT_ONLY=1` skips the timed groups.
    if std::env::var_os("HOURGLASS_FOOTPRINT_ONLY").is_some() {
        footprint_only();
    } else {
        benches();
    }
    Criterion::default().configure_from_args().final_summary();
}
