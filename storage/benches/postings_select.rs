//! Matcher evaluation over the in-memory postings.
//!
//! 1M series: 100 metric names × 10,000 instances, `job` = one of 20; plus a
//! label `id` with 100,000 distinct values (one per series of `metric_0`'s
//! first 100k... spread over the first 100k series) for regex matchers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass_storage::internals::{HeadRef, MemPostings, PostingId};
use hourglass_storage::{Labels, MatchOp, Matcher};
use std::hint::black_box;

const METRICS: u32 = 100;
const INSTANCES: u32 = 10_000;
const IDS: u32 = 100_000;

fn build() -> MemPostings<HeadRef> {
    let mut p = MemPostings::new();
    for m in 0..METRICS {
        for i in 0..INSTANCES {
            let id = m * INSTANCES + i;
            let name = format!("metric_{m}");
            let inst = format!("host-{i:05}:9100");
            let job = format!("job-{}", i % 20);
            let l = if id < IDS {
                let idv = format!("id-{id:06}");
                Labels::from_pairs([
                    ("__name__", name.as_str()),
                    ("instance", &inst),
                    ("job", &job),
                    ("id", &idv),
                ])
            } else {
                Labels::from_pairs([
                    ("__name__", name.as_str()),
                    ("instance", &inst),
                    ("job", &job),
                ])
            };
            p.add(HeadRef::from_raw(id), &l);
        }
    }
    p
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    match Matcher::new(op, n, v) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn bench(c: &mut Criterion) {
    let p = build();
    let cases: Vec<(&str, Vec<Matcher>)> = vec![
        (
            "exact/1-of-1M",
            vec![
                m(MatchOp::Equal, "__name__", "metric_42"),
                m(MatchOp::Equal, "instance", "host-01234:9100"),
            ],
        ),
        (
            "exact/metric-10k",
            vec![m(MatchOp::Equal, "__name__", "metric_7")],
        ),
        (
            "neq/metric-and-not-job",
            vec![
                m(MatchOp::Equal, "__name__", "metric_7"),
                m(MatchOp::NotEqual, "job", "job-3"),
            ],
        ),
        (
            "regex-set/100k-values",
            vec![m(
                MatchOp::RegexMatch,
                "id",
                "id-000001|id-050000|id-099999",
            )],
        ),
        (
            "regex-prefix/100k-values",
            vec![m(MatchOp::RegexMatch, "id", "id-0123.*")],
        ),
        (
            "regex-opaque/100k-values",
            vec![m(MatchOp::RegexMatch, "id", ".*(12|34)5.*")],
        ),
        (
            "regex-narrowed/100k-values",
            vec![m(MatchOp::RegexMatch, "id", "id-01[0-9]5..")],
        ),
        (
            "regex-no-match/1M",
            vec![
                m(MatchOp::Equal, "__name__", "metric_3"),
                m(MatchOp::RegexNoMatch, "job", "job-1.*"),
            ],
        ),
    ];
    let mut g = c.benchmark_group("postings_select");
    g.throughput(Throughput::Elements(1));
    for (name, ms) in &cases {
        let n = p.select(ms).len();
        println!("{name:<30} selects {n} series");
        g.bench_function(*name, |b| b.iter(|| black_box(p.select(black_box(ms)))));
    }
    g.bench_function("label_values/id-100k", |b| {
        b.iter(|| black_box(p.label_values("id", None)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
