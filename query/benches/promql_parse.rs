//! PromQL parsing speed on dashboard-shaped queries. The target is a
//! typical Grafana panel query (`grafana_panel`) under 10 µs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Named by shape: what a Grafana panel sends, and two stress shapes.
const QUERIES: &[(&str, &str)] = &[
    (
        "grafana_panel",
        r#"sum by (instance) (rate(node_cpu_seconds_total{job="node", mode!="idle"}[5m])) / on (instance) group_left count by (instance) (node_cpu_seconds_total{job="node", mode="idle"})"#,
    ),
    (
        "grafana_latency_p99",
        r#"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{service=~"api|web", code!~"5.."}[5m])))"#,
    ),
    ("simple_selector", r#"up{job="api"}"#),
    (
        "long_or_chain",
        "a or b or c or d or e or f or g or h or i or j or k or l or m or n or o or p or q or r or s or t",
    ),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("promql_parse");
    for (name, q) in QUERIES {
        group.throughput(Throughput::Bytes(q.len() as u64));
        group.bench_function(*name, |b| {
            // Returning the result makes criterion keep it (and time its drop).
            b.iter(|| hourglass_query::parse(black_box(q)))
        });
    }
    group.finish();
}

fn print(c: &mut Criterion) {
    let Ok(expr) = hourglass_query::parse(QUERIES[0].1) else {
        return;
    };
    c.bench_function("promql_print/grafana_panel", |b| {
        b.iter(|| black_box(&expr).to_string())
    });
}

criterion_group!(benches, parse, print);
criterion_main!(benches);
