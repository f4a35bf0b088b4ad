//! What a data directory holds after a graceful stop, and what the persist
//! rounds and the stop cost in CPU.
//!
//! The stream of `hourglass bench ingest` (`benches/footprint_vs.sh`):
//! hosts of 100 node-exporter-like series of its `node` profile (64
//! two-decimal CPU counters moving by 0.01–10, memory and filesystem bytes
//! moving by ±32 pages, load gauges in a two-decimal random walk, network
//! counters moving by 1–100,000, five constants) at 15 s; `aligned` as scraped on the grid,
//! `jittered` ±3 ms with the constants moving like gauges. Hours are
//! persisted as `serve` does (its persist round after every hour of data
//! here), then `Storage::stop` (SIGTERM); the directory is measured by
//! part: partition chunks, partition indexes, the WAL (the stop's
//! checkpoint). Prints bytes/sample and CPU per sample.
//!
//! `SERIES` (default 2000) and `HOURS` (default 6) size it:
//!
//! ```text
//! SERIES=2000 HOURS=6 cargo bench -p hourglass-storage --bench stop_footprint
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hourglass_storage::chunk::{self, ColdEncoder};
use hourglass_storage::synthetic_host::{HostSeries, Profile, host_series};
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};
use std::path::Path;
use support::Rng;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z
const STEP: i64 = 15_000;

/// One series of a host, as `hourglass bench ingest` builds it, with its
/// labels made once.
struct Series {
    labels: Labels,
    spec: HostSeries,
}

fn host(h: usize, rng: &mut Rng, all_moving: bool) -> Vec<Series> {
    host_series(h, Profile::Node, rng)
        .into_iter()
        .map(|mut spec| {
            if all_moving {
                spec.move_always(Profile::Node);
            }
            Series {
                labels: Labels::from_pairs(spec.labels.iter().map(|(n, v)| (n, v))),
                spec,
            }
        })
        .collect()
}

/// CPU time of this thread so far, in ns (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Bytes under `dir` whose path (relative) satisfies `pick`.
fn bytes_where(dir: &Path, pick: &dyn Fn(&Path) -> bool) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if pick(p.strip_prefix(dir).unwrap()) {
                total += e.metadata().unwrap().len();
            }
        }
    }
    total
}

fn run(name: &str, n: usize, hours: i64, jitter: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::default();
    o.wal.sync = hourglass_wal::SyncPolicy::Never;
    o.source_label = Some("job".into());
    let st = Storage::open(dir.path(), o).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut series: Vec<Series> = (0..n.div_ceil(100))
        .flat_map(|h| host(h, &mut rng, jitter))
        .take(n)
        .collect();
    let (mut ingest_ns, mut persist_ns) = (0u64, 0u64);
    // The last hour of every series, for the encoders' A/B below.
    let mut last_hour: Vec<Vec<Sample>> = vec![Vec::new(); series.len()];
    let scrapes = hours * H / STEP;
    for k in 0..scrapes {
        let c0 = thread_cpu_ns();
        let mut b = WriteBatch::new();
        for s in &mut series {
            s.spec.advance(&mut rng);
            let j = if jitter {
                (rng.next() % 7) as i64 - 3
            } else {
                0
            };
            b.push(
                s.labels.clone(),
                vec![Sample::new(T0 + k * STEP + j, s.spec.value)],
            );
        }
        if k >= scrapes - H / STEP {
            for (s, h) in b.series.iter().zip(&mut last_hour) {
                h.extend_from_slice(&s.samples);
            }
        }
        st.append(&b).unwrap();
        let c1 = thread_cpu_ns();
        ingest_ns += c1 - c0;
        if k % (H / STEP) == H / STEP - 1 {
            st.persist().unwrap();
            persist_ns += thread_cpu_ns() - c1;
        }
    }
    // What one series-hour costs to encode for a partition: the head's
    // encodings (XOR, packed) against the cold ones (grid too), the same
    // runs, five rounds each, alternating.
    let (mut hot_ns, mut cold_ns, mut hot_b, mut cold_b) = (0u64, 0u64, 0usize, 0usize);
    for _ in 0..5 {
        let c0 = thread_cpu_ns();
        hot_b = last_hour
            .iter()
            .map(|h| chunk::encode(h).unwrap().as_bytes().len())
            .sum();
        let c1 = thread_cpu_ns();
        cold_b = last_hour
            .iter()
            .map(|h| ColdEncoder::default().encode(h).unwrap().as_bytes().len())
            .sum();
        hot_ns += c1 - c0;
        cold_ns += thread_cpu_ns() - c1;
    }
    let hour_samples = (5 * last_hour.iter().map(Vec::len).sum::<usize>()) as f64;
    let c0 = thread_cpu_ns();
    st.stop().unwrap();
    let stop_ns = thread_cpu_ns() - c0;
    let samples = (n as i64 * scrapes) as f64;
    let p = dir.path();
    let total = bytes_where(p, &|_| true);
    let wal = bytes_where(p, &|r| r.starts_with("wal"));
    let chunks = bytes_where(p, &|r| r.starts_with("parts") && r.ends_with("chunks"));
    let index = bytes_where(p, &|r| r.starts_with("parts") && r.ends_with("index"));
    let per = |b: u64| b as f64 / samples;
    println!(
        "stop footprint {n} series x {hours} h, {name}: {samples} samples; whole dir {:.3} B/sample \
         (partition chunks {:.3}, partition indexes {:.3}, WAL {:.3}, other {:.3})",
        per(total),
        per(chunks),
        per(index),
        per(wal),
        per(total - wal - chunks - index),
    );
    println!(
        "  CPU of this thread: ingest {:.3} µs/sample, persist rounds {:.1} ns/sample, stop {:.1} ms ({:.1} ns per sample stored)",
        ingest_ns as f64 / samples / 1e3,
        persist_ns as f64 / samples,
        stop_ns as f64 / 1e6,
        stop_ns as f64 / samples,
    );
    println!(
        "  encoding the last hour, one chunk per series: head encodings {:.1} ns/sample, {:.3} B/sample; \
         cold encodings {:.1} ns/sample, {:.3} B/sample",
        hot_ns as f64 / hour_samples,
        hot_b as f64 / (hour_samples / 5.0),
        cold_ns as f64 / hour_samples,
        cold_b as f64 / (hour_samples / 5.0),
    );
}

fn main() {
    let env = |k: &str, d: i64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (n, hours) = (env("SERIES", 2000) as usize, env("HOURS", 6));
    for (name, jitter) in [("aligned", false), ("jittered ±3 ms, all moving", true)] {
        run(name, n, hours, jitter);
    }
}
