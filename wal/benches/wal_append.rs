//! WAL append throughput: records/s for 100-byte and 16 KiB records under
//! each sync policy (MB/s = records/s × record size), and group commit with
//! 1, 8 and 64 concurrent appenders against `always`.
//!
//! Writes to a temporary directory on the disk holding `$HOURGLASS_BENCH_DIR`
//! (default: the system temp dir), since fsync cost is the point.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hourglass_wal::{Options, SyncPolicy, Wal};
use std::time::{Duration, Instant};

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("HOURGLASS_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("bench dir"),
        None => tempfile::tempdir().expect("temp dir"),
    }
}

fn open(dir: &tempfile::TempDir, sync: SyncPolicy) -> Wal {
    let opts = Options {
        segment_size: 64 << 20,
        sync,
        ..Options::default()
    };
    Wal::open(dir.path(), opts).expect("open WAL")
}

const POLICIES: [(&str, SyncPolicy); 4] = [
    ("always", SyncPolicy::Always),
    ("group", SyncPolicy::Group),
    (
        "interval_10ms",
        SyncPolicy::Interval(Duration::from_millis(10)),
    ),
    ("never", SyncPolicy::Never),
];

/// Appends `iters` records of `size` bytes from `appenders` threads and
/// returns the time per `iters` records.
fn run(wal: &Wal, size: usize, appenders: usize, iters: u64) -> Duration {
    let per = (iters as usize).div_ceil(appenders);
    let record = vec![0xa5u8; size];
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..appenders {
            s.spawn(|| {
                for _ in 0..per {
                    wal.append(&record).expect("append");
                }
            });
        }
    });
    let elapsed = t0.elapsed();
    // Keep the disk from filling up; not timed.
    wal.truncate_before(wal.next_lsn()).expect("truncate");
    elapsed.mul_f64(iters as f64 / (per * appenders) as f64)
}

fn single_appender(c: &mut Criterion) {
    for (label, size) in [("100B", 100usize), ("16KiB", 16 << 10)] {
        let mut g = c.benchmark_group(format!("wal_append_{label}"));
        g.throughput(Throughput::Elements(1))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (name, policy) in POLICIES {
            let dir = bench_dir();
            let wal = open(&dir, policy);
            g.bench_function(name, |b| b.iter_custom(|iters| run(&wal, size, 1, iters)));
        }
        g.finish();
    }
}

fn group_commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_concurrent_100B");
    g.throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let dir = bench_dir();
    let always = open(&dir, SyncPolicy::Always);
    g.bench_function("always/1", |b| {
        b.iter_custom(|iters| run(&always, 100, 1, iters))
    });
    drop(always);
    let dir = bench_dir();
    let wal = open(&dir, SyncPolicy::Group);
    for n in [1usize, 8, 64] {
        g.bench_with_input(BenchmarkId::new("group", n), &n, |b, &n| {
            b.iter_custom(|iters| run(&wal, 100, n, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, single_appender, group_commit);
criterion_main!(benches);
