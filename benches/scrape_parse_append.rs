//! The scraper's hot path on one target's page of 5,000 series (the page
//! `benches/scrape_vs.sh` serves: 50 counter families × 100 series, four
//! labels each, HELP and TYPE lines), through the target's series cache:
//!
//! * `scrape_parse_append/parse`: parse the page into a batch, every
//!   series known to the cache (the steady state).
//! * `scrape_parse_append/parse-cold`: the same with a fresh cache, so
//!   every series' labels are read, merged and built (a new target).
//! * `scrape_parse_append/parse+append`: parse, then append the batch
//!   through `Storage` (WAL on group commit), as a scrape does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::scrape::cache::SeriesCache;
use hourglass::scrape::negotiate::Format;
use hourglass_storage::{Options, Storage};
use std::hint::black_box;

const SERIES: usize = 5_000;

/// One target's page, as the side-by-side bench generates it.
fn page() -> Vec<u8> {
    let mut out = String::new();
    let mut x: u64 = 13;
    for f in 0..SERIES / 100 {
        let name = format!("bench_requests_{f}_total");
        out.push_str(&format!("# HELP {name} Requests handled by handler {f}.\n"));
        out.push_str(&format!("# TYPE {name} counter\n"));
        for i in 0..100 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let method = ["GET", "POST", "PUT", "DELETE"][i % 4];
            out.push_str(&format!(
                "{name}{{handler=\"/api/v1/h{f}\",method=\"{method}\",code=\"{}\",shard=\"{i}\"}} {}\n",
                200 + i % 5,
                (x >> 34) % 1_000_000_000
            ));
        }
    }
    out.into_bytes()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let body = page();
    let target_labels = support::target_labels();
    let ctx = support::context(&target_labels);
    let mut g = c.benchmark_group("scrape_parse_append");
    g.throughput(Throughput::Elements(SERIES as u64));

    // An hour back, one millisecond further per scrape: always accepted.
    let mut ts = now_ms() - 3_600_000;
    let mut cache = SeriesCache::default();
    g.bench_function("parse", |b| {
        b.iter(|| {
            cache.begin();
            ts += 1;
            let p = cache.process(&ctx, &body, Format::Text, ts);
            assert_eq!(p.batch.series.len(), SERIES);
            black_box(p)
        })
    });

    g.bench_function("parse-cold", |b| {
        b.iter(|| {
            let mut cache = SeriesCache::default();
            cache.begin();
            black_box(cache.process(&ctx, &body, Format::Text, ts))
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), Options::default()).unwrap();
    let mut cache = SeriesCache::default();
    let mut ts = now_ms() - 3_600_000;
    g.bench_function("parse+append", |b| {
        b.iter(|| {
            cache.begin();
            ts += 1;
            let mut p = cache.process(&ctx, &body, Format::Text, ts);
            let stats = storage.append_handles(&mut p.batch).unwrap();
            cache.keep_handles(p.batch, &p.slots);
            assert_eq!(stats.appended as usize, SERIES);
            black_box(stats)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
