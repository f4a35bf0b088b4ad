//! Protobuf exposition families the tests share: the integration tests
//! reach them as `common::families`, the unit tests of
//! `ingest::metric_family` mount this same file (`#[path]`), so the
//! module that mounts it names the family types in scope.

use super::{Bucket, Counter, Family, FamilyType, HistogramMsg, Metric, Summary, encode};
use hourglass_storage::Span;

/// The delimited body of `families`.
pub fn body(families: &[Family<'_>]) -> Vec<u8> {
    let mut b = Vec::new();
    encode::encode(families, &mut b);
    b
}

/// A family of one metric.
pub fn one(name: &'static str, kind: FamilyType, m: Metric<'static>) -> Family<'static> {
    Family {
        name,
        kind,
        metrics: vec![m],
        ..Family::default()
    }
}

/// A family of one series of `labels`, no value set yet.
pub fn labelled(
    name: &'static str,
    kind: FamilyType,
    labels: Vec<(&'static str, &'static str)>,
) -> Family<'static> {
    one(
        name,
        kind,
        Metric {
            labels,
            ..Metric::default()
        },
    )
}

/// A gauge family of one series.
pub fn gauge(
    name: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    v: f64,
) -> Family<'static> {
    let mut f = labelled(name, FamilyType::Gauge, labels);
    f.metrics[0].gauge = Some(v);
    f
}

/// `jobs_total`, a counter of one series with its help text.
pub fn jobs_total(
    labels: Vec<(&'static str, &'static str)>,
    value: f64,
    created_ms: Option<i64>,
) -> Family<'static> {
    let mut f = labelled("jobs_total", FamilyType::Counter, labels);
    f.metrics[0].counter = Some(Counter { value, created_ms });
    f.help = "Jobs done.";
    f
}

/// `rpc_seconds`, a summary of 4 observations summing to 2 (quantiles
/// 0.5 and 0.99).
pub fn rpc_seconds() -> Family<'static> {
    let summary = Summary {
        count: 4,
        sum: 2.0,
        quantiles: vec![(0.5, 0.25), (0.99, 0.75)],
        created_ms: None,
    };
    let m = Metric {
        summary: Some(summary),
        ..Metric::default()
    };
    one("rpc_seconds", FamilyType::Summary, m)
}

/// Classic buckets from `(upper bound, cumulative count)` pairs.
pub fn buckets(pairs: &[(f64, u64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper, cumulative)| Bucket {
            cumulative,
            upper,
            ..Bucket::default()
        })
        .collect()
}

/// A family of one histogram series.
pub fn histogram(
    name: &'static str,
    kind: FamilyType,
    labels: Vec<(&'static str, &'static str)>,
    h: HistogramMsg,
) -> Family<'static> {
    let mut f = labelled(name, kind, labels);
    f.metrics[0].histogram = Some(h);
    f
}

/// A classic histogram of `count` observations summing to `sum`.
pub fn classic(count: u64, sum: f64, buckets: Vec<Bucket>) -> HistogramMsg {
    HistogramMsg {
        count,
        sum,
        buckets,
        ..HistogramMsg::default()
    }
}

/// An integer native histogram of 3 observations summing to 1.5 (schema
/// 1, buckets (0.5, 0.71] and (1.41, 2]: one each, one in the zero
/// bucket), with the classic buckets `le` 0.5: 1 and 2: 3 beside.
pub fn native(created_ms: Option<i64>) -> HistogramMsg {
    HistogramMsg {
        count: 3,
        sum: 1.5,
        created_ms,
        schema: 1,
        zero_threshold: 0.01,
        zero_count: 1,
        positive_spans: vec![Span::new(-1, 1), Span::new(2, 1)],
        positive_deltas: vec![1, 0],
        buckets: buckets(&[(0.5, 1), (2.0, 3)]),
        ..HistogramMsg::default()
    }
}

/// A float native histogram (as a gauge histogram carries it): 2.5
/// observations summing to 3, 0.5 in the zero bucket, 2 in (1, 2].
pub fn float_native() -> HistogramMsg {
    HistogramMsg {
        count_float: 2.5,
        sum: 3.0,
        zero_threshold: 0.001,
        zero_count_float: 0.5,
        positive_spans: vec![Span::new(1, 1)],
        positive_counts: vec![2.0],
        ..HistogramMsg::default()
    }
}
