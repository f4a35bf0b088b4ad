//! Head ingest and point-select throughput.
//!
//! * `head_append/no-wal`: batches of 2,000 samples (2,000 series × one
//!   scrape) into a bare head.
//! * `head_append/wal-group-Nthreads`: the same through `Storage` with the
//!   WAL on group commit, N writer threads sharing fsyncs.
//! * `head_select/1-of-1M`: one series by exact matchers out of 1M, with
//!   its samples decoded; also prints memory per series at 1M series.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass_storage::internals::Head;
use hourglass_storage::{
    HeadOptions, Labels, MatchOp, Matcher, Options, Querier, Sample, Storage, WriteBatch,
};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const BATCH: usize = 2_000;
const POOL: usize = 100_000;
const T0: i64 = 1_763_800_000_000;

fn series_labels(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            let inst = format!("host-{:05}:9100", i / 100);
            let name = format!("node_metric_{}", i % 100);
            Labels::from_pairs([
                ("__name__", name.as_str()),
                ("instance", &inst),
                ("job", "node"),
                ("env", "prod"),
            ])
        })
        .collect()
}

/// One scrape of `BATCH` consecutive series of the pool at round `round`.
fn batch(labels: &[Labels], round: i64, offset: usize) -> WriteBatch {
    let mut b = WriteBatch::new();
    for k in 0..BATCH {
        let i = (offset + k) % labels.len();
        let v = (round * 3 + (i as i64 % 7)) as f64;
        b.push(labels[i].clone(), vec![Sample::new(T0 + round * 15_000, v)]);
    }
    b
}

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn bench_append(c: &mut Criterion) {
    let labels = series_labels(POOL);
    let mut g = c.benchmark_group("head_append");
    g.throughput(Throughput::Elements(BATCH as u64));

    let head = Head::new(HeadOptions::default());
    let round = AtomicI64::new(0);
    g.bench_function("no-wal", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let r = round.fetch_add(1, Ordering::Relaxed);
                let off = (r as usize * BATCH) % POOL;
                let rr = r * BATCH as i64 / POOL as i64;
                let bt = batch(&labels, rr, off);
                let start = Instant::now();
                black_box(head.append(&bt, None).map(|s| s.appended).unwrap_or(0));
                total += start.elapsed();
            }
            total
        })
    });

    for threads in [1usize, 4, 16] {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let st = match Storage::open(dir.path(), Options::default()) {
            Ok(s) => s,
            Err(e) => panic!("open: {e}"),
        };
        let round = AtomicI64::new(0);
        g.bench_function(format!("wal-group-{threads}threads"), |b| {
            b.iter_custom(|iters| {
                // Batches are prepared outside the timed region.
                let per = (iters as usize).div_ceil(threads);
                let work: Vec<Vec<WriteBatch>> = (0..threads)
                    .map(|_| {
                        (0..per)
                            .map(|_| {
                                let r = round.fetch_add(1, Ordering::Relaxed);
                                let off = (r as usize * BATCH) % POOL;
                                batch(&labels, r * BATCH as i64 / POOL as i64, off)
                            })
                            .collect()
                    })
                    .collect();
                let start = Instant::now();
                std::thread::scope(|s| {
                    for w in &work {
                        let st = &st;
                        s.spawn(move || {
                            for bt in w {
                                black_box(st.append(bt).map(|s| s.appended).unwrap_or(0));
                            }
                        });
                    }
                });
                // Report per batch actually timed.
                start.elapsed() * iters as u32 / (per * threads) as u32
            })
        });
    }
    g.finish();
}

fn bench_select(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let before = rss_bytes().unwrap_or(0);
    let head = Head::new(HeadOptions::default());
    {
        let labels = series_labels(N);
        for (k, part) in labels.chunks(BATCH).enumerate() {
            let mut b = WriteBatch::new();
            for (j, l) in part.iter().enumerate() {
                b.push(l.clone(), vec![Sample::new(T0, (k * BATCH + j) as f64)]);
            }
            if head.append(&b, None).is_err() {
                panic!("append failed");
            }
        }
    }
    let after = rss_bytes().unwrap_or(0);
    println!(
        "head with {N} series: {:.0} bytes RSS per series (one sample each)",
        after.saturating_sub(before) as f64 / N as f64
    );
    let m = |n: &str, v: &str| match Matcher::new(MatchOp::Equal, n, v) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let ms = vec![
        m("__name__", "node_metric_42"),
        m("instance", "host-01234:9100"),
    ];
    let mut g = c.benchmark_group("head_select");
    g.bench_function("1-of-1M", |b| {
        b.iter(|| {
            let q = head.querier(i64::MIN, i64::MAX);
            let mut n = 0;
            if let Ok(set) = q.select(black_box(&ms), T0 - 1, T0 + 1) {
                for s in set {
                    n += s.samples.count();
                }
            }
            assert_eq!(n, 1);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench_append, bench_select);
criterion_main!(benches);
