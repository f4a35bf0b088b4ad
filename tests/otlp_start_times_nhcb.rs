//! OTLP start times and custom-bucket histograms: with
//! `--created-timestamp-zero-ingestion` a point's `start_time_unix_nano`
//! puts a zero at the start of a counter, histogram or summary series (not
//! of a gauge); with `--otlp-convert-histograms-to-nhcb` explicit-bucket
//! histograms are native histograms with custom buckets that answer the
//! same quantiles as their classic series.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::otlp::*;
use common::query::*;
use common::*;
use hourglass::ingest::protobuf::Writer;
use serde_json::json;

/// One point of every kind at `t`, each started at `start`.
fn every_kind(start: i64, t: i64) -> Vec<u8> {
    let at = |extra: serde_json::Value| {
        let mut p = json!({"startTimeUnixNano": ns(start), "timeUnixNano": ns(t)});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    json_request(json!([
        {"name": "jobs", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [at(json!({"asInt": "42"}))]}},
        {"name": "queue", "sum": {"aggregationTemporality": 2, "isMonotonic": false,
            "dataPoints": [at(json!({"asInt": "3"}))]}},
        {"name": "temp", "gauge": {"dataPoints": [at(json!({"asDouble": 21.5}))]}},
        {"name": "lat", "unit": "s", "histogram": {"aggregationTemporality": 2,
            "dataPoints": [at(json!({"count": "3", "sum": 2.5, "bucketCounts": ["1", "1", "0", "1"],
                "explicitBounds": [0.1, 0.5, 1.0]}))]}},
        {"name": "rpc", "unit": "s", "exponentialHistogram": {"aggregationTemporality": 2,
            "dataPoints": [at(json!({"count": "2", "sum": 3.0, "scale": 0,
                "positive": {"offset": 0, "bucketCounts": ["1", "1"]}}))]}},
        {"name": "size", "unit": "By", "summary": {
            "dataPoints": [at(json!({"count": "4", "sum": 40.0,
                "quantileValues": [{"quantile": 0.5, "value": 9}]}))]}}
    ]))
}

#[test]
fn otlp_start_times_add_zeros_to_counters_histograms_and_summaries_only_with_the_flag() {
    let (_tmp, with, without) = Server::with_and_without(&["--created-timestamp-zero-ingestion"]);
    let t = now_ms() - 10_000;
    let start = t - 60_000;
    for s in [&with, &without] {
        let r = post_json(s, &every_kind(start, t));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text(), "{}");
    }
    let just_after = Some((start + 1) as f64 / 1000.0);
    let zeros = [
        "jobs_total",
        "lat_seconds_bucket{le=\"+Inf\"}",
        "lat_seconds_bucket{le=\"0.1\"}",
        "lat_seconds_count",
        "lat_seconds_sum",
        "histogram_count(rpc_seconds)",
        "histogram_sum(rpc_seconds)",
        "size_bytes{quantile=\"0.5\"}",
        "size_bytes_count",
    ];
    for q in zeros {
        let got: Vec<f64> = query_at(&with, q, just_after)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, vec![0.0], "{q} just after its start");
        assert!(
            query_at(&without, q, just_after).is_empty(),
            "{q}: a zero without the flag"
        );
    }
    // Gauges (and non-monotonic sums) have no start.
    for q in ["temp", "queue"] {
        assert!(query_at(&with, q, just_after).is_empty(), "{q}");
    }
    // The points themselves are as sent, and rate() sees the whole count.
    let now = Some(t as f64 / 1000.0);
    assert_eq!(
        query_at(&with, "jobs_total", now).first().map(|(_, v)| *v),
        Some(42.0)
    );
    let inc = query_at(&with, "increase(jobs_total[5m])", now);
    assert!(
        inc.first().is_some_and(|(_, v)| *v >= 42.0),
        "increase from the zero: {inc:?}"
    );
    // Without the flag the start is kept as the sample's start timestamp:
    // one sample that started inside the window counts from zero there.
    let kept = query_at(&without, "increase(jobs_total[5m])", now);
    assert_eq!(kept.first().map(|(_, v)| *v), Some(42.0), "{kept:?}");

    // A later point of the same series with the same start adds no zero.
    let r = post_json(&with, &every_kind(start, t + 5_000));
    assert_eq!(r.status, 200, "{}", r.text());
    // The zero, the first point and this one.
    let stored = query_at(
        &with,
        "count_over_time(jobs_total[10m])",
        Some((t + 5_000) as f64 / 1000.0),
    );
    assert_eq!(stored.first().map(|(_, v)| *v), Some(3.0), "{stored:?}");
}

/// A protobuf request of one monotonic sum point, started at `start`.
fn proto_counter(start: i64, t: i64) -> Vec<u8> {
    let fixed = |p: &mut Writer, f: u32, v: u64| {
        p.varint(u64::from(f) << 3 | 1);
        p.buf.extend_from_slice(&v.to_le_bytes());
    };
    let mut w = Writer::default();
    w.message(1, |rm| {
        rm.message(2, |sm| {
            sm.message(2, |m| {
                m.bytes(1, b"pb.jobs");
                m.message(7, |sum| {
                    sum.message(1, |p| {
                        fixed(p, 2, (start * 1_000_000) as u64);
                        fixed(p, 3, (t * 1_000_000) as u64);
                        p.double(4, 5.0);
                    });
                    sum.uint(2, 2);
                    sum.uint(3, 1);
                });
            });
        });
    });
    w.buf
}

#[test]
fn otlp_protobuf_start_times_add_a_zero_with_the_flag() {
    let (_tmp, server) = Server::fresh_with(&["--created-timestamp-zero-ingestion"]);
    let t = now_ms() - 10_000;
    let r = server.post(
        PATH,
        &[("Content-Type", "application/x-protobuf")],
        &proto_counter(t - 30_000, t),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let at = |ms: i64| -> Vec<f64> {
        query_at(&server, "pb_jobs_total", Some(ms as f64 / 1000.0))
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(at(t - 29_999), vec![0.0]);
    assert_eq!(at(t), vec![5.0]);
}

#[test]
fn otlp_explicit_histograms_become_custom_bucket_native_histograms_with_the_flag() {
    let (_tmp, nhcb, classic) = Server::with_and_without(&["--otlp-convert-histograms-to-nhcb"]);
    let t = now_ms() - 10_000;
    for s in [&nhcb, &classic] {
        let r = post_json(s, &every_kind(t - 60_000, t));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(value(&nhcb, "histogram_count(lat_seconds)"), Some(3.0));
    assert_eq!(value(&nhcb, "histogram_sum(lat_seconds)"), Some(2.5));
    assert!(query(&nhcb, "{__name__=~\"lat_seconds_.+\"}").is_empty());
    assert_eq!(value(&classic, "histogram_count(lat_seconds)"), None);
    // The same quantiles and fractions either way.
    for (native, classic_q) in [
        (
            "histogram_quantile(0.5, lat_seconds)",
            "histogram_quantile(0.5, lat_seconds_bucket)",
        ),
        (
            "histogram_quantile(0.9, lat_seconds)",
            "histogram_quantile(0.9, lat_seconds_bucket)",
        ),
        (
            "histogram_fraction(0, 0.5, lat_seconds)",
            "histogram_fraction(0, 0.5, lat_seconds_bucket)",
        ),
    ] {
        let (a, b) = (value(&nhcb, native), value(&classic, classic_q));
        assert!(
            a.is_some() && a == b,
            "{native} = {a:?}, {classic_q} = {b:?}"
        );
    }
    // Summaries and exponential histograms are as without the flag.
    assert_eq!(value(&nhcb, "size_bytes_count"), Some(4.0));
    assert_eq!(value(&nhcb, "histogram_count(rpc_seconds)"), Some(2.0));

    // Buckets that do not add up to the count: refused, with the reason.
    let body = json_request(
        json!([{"name": "bad", "histogram": {"aggregationTemporality": 2,
        "dataPoints": [{"timeUnixNano": ns(t), "count": "5", "bucketCounts": ["1", "1"],
            "explicitBounds": [1.0]}]}}]),
    );
    let r = post_json(&nhcb, &body);
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert_mentions(&msg, &["\"bad\"", "count mismatch"]);
}
