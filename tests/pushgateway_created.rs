//! Created timestamps on Pushgateway protobuf pushes: with
//! `--created-timestamp-zero-ingestion` a counter's, summary's or
//! histogram's `created_timestamp` puts a zero at that time (an empty
//! histogram for a native one), once per series, as Prometheus scraping
//! the Pushgateway does; without the flag, or for a gauge, none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::query_at;
use common::*;
use hourglass::ingest::metric_family::encode::encode;
use hourglass::ingest::metric_family::{
    Counter, Family, FamilyType, HistogramMsg, Metric, Summary,
};
use hourglass_storage::Span;

const PROTOBUF: (&str, &str) = (
    "Content-Type",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
);

fn one(name: &'static str, kind: FamilyType, m: Metric<'static>) -> Family<'static> {
    Family {
        name,
        kind,
        metrics: vec![m],
        ..Family::default()
    }
}

/// A counter, a summary, a native histogram and a gauge, created at
/// `created` (ms).
fn body(created: i64, jobs: f64) -> Vec<u8> {
    let created_ms = Some(created);
    let families = [
        one(
            "jobs_total",
            FamilyType::Counter,
            Metric {
                counter: Some(Counter {
                    value: jobs,
                    created_ms,
                }),
                ..Metric::default()
            },
        ),
        one(
            "rpc_seconds",
            FamilyType::Summary,
            Metric {
                summary: Some(Summary {
                    count: 4,
                    sum: 2.0,
                    quantiles: vec![(0.5, 0.25)],
                    created_ms,
                }),
                ..Metric::default()
            },
        ),
        one(
            "lat_seconds",
            FamilyType::Histogram,
            Metric {
                histogram: Some(HistogramMsg {
                    count: 3,
                    sum: 1.25,
                    zero_threshold: 0.001,
                    zero_count: 1,
                    positive_spans: vec![Span::new(-3, 1)],
                    positive_deltas: vec![2],
                    created_ms,
                    ..HistogramMsg::default()
                }),
                ..Metric::default()
            },
        ),
        one(
            "temp",
            FamilyType::Gauge,
            Metric {
                gauge: Some(21.5),
                ..Metric::default()
            },
        ),
    ];
    let mut b = Vec::new();
    encode(&families, &mut b);
    b
}

/// Pushes [`body`] to job `batch` and asserts it is accepted.
fn push(server: &Server, created: i64, jobs: f64) {
    let r = server.request(
        "PUT",
        "/metrics/job/batch",
        &[PROTOBUF],
        &body(created, jobs),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

fn values(server: &Server, q: &str, at_ms: i64) -> Vec<f64> {
    query_at(server, q, Some(at_ms as f64 / 1000.0))
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn protobuf_pushes_put_a_zero_at_the_created_timestamp_only_with_the_flag() {
    let (_tmp, with, without) = Server::with_and_without(&["--created-timestamp-zero-ingestion"]);
    let created = now_ms() - 60_000;
    for s in [&with, &without] {
        push(s, created, 7.0);
    }
    let just_after = created + 1;
    for q in [
        "jobs_total",
        "rpc_seconds{quantile=\"0.5\"}",
        "rpc_seconds_count",
        "histogram_count(lat_seconds)",
    ] {
        assert_eq!(values(&with, q, just_after), vec![0.0], "{q}");
        assert!(
            values(&without, q, just_after).is_empty(),
            "{q} without the flag"
        );
    }
    assert!(values(&with, "temp", just_after).is_empty());
    // The pushed values themselves, at receive time.
    let now = now_ms();
    assert_eq!(values(&with, "jobs_total", now), vec![7.0]);
    assert_eq!(
        values(&with, "histogram_count(lat_seconds)", now),
        vec![3.0]
    );

    // Another push of the same series and created timestamp: no second
    // zero (the created timestamp is older than the stored sample).
    push(&with, created, 9.0);
    let stored = values(&with, "count_over_time(jobs_total[5m])", now_ms());
    assert_eq!(stored, vec![3.0], "the zero and two pushes");
}
