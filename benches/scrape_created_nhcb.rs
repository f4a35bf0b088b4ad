//! What OpenMetrics `_created` lines and classic-histogram conversion cost
//! the scraper's hot path, each page through one target's warm series
//! cache (every series known), A/B in one run:
//!
//! * `scrape_created_nhcb/om-created-off`: an OpenMetrics page of 5,000
//!   counter series, each followed by its `_created` line (10,000 lines),
//!   without `--created-timestamp-zero-ingestion`: 10,000 series.
//! * `…/om-created-on`: the same page with it: 5,000 series, each with its
//!   created timestamp found by the look ahead.
//! * `…/text-classic`: a text page of 250 classic histograms of 12
//!   buckets, `_sum` and `_count` (3,500 lines), stored as classic series.
//! * `…/text-nhcb`: the same page with `convert_classic_histograms_to_nhcb`:
//!   250 native histograms with custom buckets.
//!
//! Throughput is per line of the page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::scrape::cache::{Context, SeriesCache};
use hourglass::scrape::config::HistogramOptions;
use hourglass::scrape::negotiate::Format;
use std::hint::black_box;

const COUNTERS: usize = 5_000;
const HISTOGRAMS: usize = 250;
const BOUNDS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
];

/// `families` families of `per_family` series (labels `handler` and
/// `shard`), each opened by its `# TYPE name kind` line; `series` writes
/// one series' lines given the family's name, the labels, the family's
/// and the series' numbers.
fn page(
    families: usize,
    per_family: usize,
    kind: &str,
    name: impl Fn(usize) -> String,
    mut series: impl FnMut(&mut String, &str, &str, usize, usize),
) -> String {
    let mut out = String::new();
    for f in 0..families {
        let name = name(f);
        out.push_str(&format!("# TYPE {name} {kind}\n"));
        for i in 0..per_family {
            let labels = format!("handler=\"/api/v1/h{f}\",shard=\"{i}\"");
            series(&mut out, &name, &labels, f, i);
        }
    }
    out
}

fn openmetrics_page() -> Vec<u8> {
    let name = |f| format!("bench_requests_{f}");
    let mut out = page(
        COUNTERS / 100,
        100,
        "counter",
        name,
        |out, name, labels, f, i| {
            out.push_str(&format!("{name}_total{{{labels}}} {}\n", i * 7 + f));
            out.push_str(&format!("{name}_created{{{labels}}} 1700000000.{i:03}\n"));
        },
    );
    out.push_str("# EOF\n");
    out.into_bytes()
}

fn histogram_page() -> Vec<u8> {
    let name = |f| format!("bench_latency_{f}_seconds");
    let out = page(
        HISTOGRAMS / 50,
        50,
        "histogram",
        name,
        |out, name, labels, _, i| {
            let mut n = 0;
            for le in BOUNDS.iter().chain(["+Inf"].iter()) {
                n += i + 3;
                out.push_str(&format!("{name}_bucket{{{labels},le=\"{le}\"}} {n}\n"));
            }
            out.push_str(&format!("{name}_sum{{{labels}}} {}.5\n", n * 2));
            out.push_str(&format!("{name}_count{{{labels}}} {n}\n"));
        },
    );
    out.into_bytes()
}

fn lines(page: &[u8]) -> u64 {
    page.iter().filter(|&&b| b == b'\n').count() as u64
}

fn bench(c: &mut Criterion) {
    let target_labels = support::target_labels();
    let base = support::context(&target_labels);
    let om = openmetrics_page();
    let text = histogram_page();
    let nhcb = HistogramOptions {
        convert_nhcb: true,
        ..HistogramOptions::default()
    };
    let cases = [
        (
            "om-created-off",
            &om,
            Format::OpenMetrics,
            base,
            2 * COUNTERS,
            0,
        ),
        (
            "om-created-on",
            &om,
            Format::OpenMetrics,
            Context {
                created_timestamp_zero: true,
                ..base
            },
            COUNTERS,
            0,
        ),
        (
            "text-classic",
            &text,
            Format::Text,
            base,
            HISTOGRAMS * 14,
            0,
        ),
        (
            "text-nhcb",
            &text,
            Format::Text,
            Context {
                histograms: nhcb,
                ..base
            },
            0,
            HISTOGRAMS,
        ),
    ];
    let mut g = c.benchmark_group("scrape_created_nhcb");
    for (name, page, format, ctx, floats, histograms) in cases {
        g.throughput(Throughput::Elements(lines(page)));
        // An hour back, one millisecond further per scrape: always new.
        let mut ts = 1_700_000_000_000 + 3_600_000;
        let mut cache = SeriesCache::default();
        g.bench_function(name, |b| {
            b.iter(|| {
                cache.begin();
                ts += 1;
                let p = cache.process(&ctx, page, format, ts);
                assert_eq!(p.error, None);
                assert_eq!(p.batch.series.len(), floats);
                assert_eq!(p.histograms.len(), histograms);
                black_box(p)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
