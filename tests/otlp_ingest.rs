//! OTLP/HTTP metrics in: Python's OpenTelemetry SDK exports counters, an
//! up-down counter, a histogram and a gauge every second; the series,
//! names and values are those of Prometheus 3's translation. Hand-built
//! bodies cover JSON, summaries, gzip, and the refusals: delta
//! temporality, exponential histograms, unknown kinds, truncated
//! protobuf and JSON, wrong content types. The Python test is skipped
//! with a message outside CI when the SDK is missing (`.ci/run`
//! installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::otlp::*;
use common::query::*;
use common::*;
use hourglass::ingest::protobuf::Writer;
use serde_json::json;

const PROTO: (&str, &str) = ("Content-Type", "application/x-protobuf");

#[test]
fn opentelemetry_sdk_exports_are_translated_as_prometheus_does() {
    if !common::external::python_has("opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http") {
        return;
    }
    let (_tmp, server) = Server::fresh_with(&[
        "--otlp-promote-resource-attributes",
        "deployment.environment",
    ]);
    let url = format!("http://{}{PATH}", server.addr);
    let (_, stderr) = common::external::run_python("otlp_export.py", &[&url, "2.5"]);
    assert!(
        !stderr.contains("Failed to export"),
        "the exporter saw an error:\n{stderr}"
    );

    let res = [
        ("instance", "pod-1"),
        ("job", "shop/checkout"),
        ("deployment_environment", "test"),
    ];
    let with = |name: &str, extra: &[(&str, &str)]| {
        let mut l: Vec<(&str, &str)> = vec![("__name__", name)];
        l.extend_from_slice(&res);
        l.extend_from_slice(extra);
        labels(&l)
    };
    assert_eq!(
        query(&server, "orders_processed_total"),
        vec![(
            with("orders_processed_total", &[("payment_method", "card")]),
            5.0
        )]
    );
    assert_eq!(
        query(&server, "network_io_bytes_total"),
        vec![(
            with("network_io_bytes_total", &[("direction", "tx")]),
            1024.0
        )]
    );
    assert_eq!(
        query(&server, "queue_depth"),
        vec![(with("queue_depth", &[]), 5.0)]
    );
    assert_eq!(
        query(&server, "cpu_utilization_ratio"),
        vec![(with("cpu_utilization_ratio", &[("cpu", "0")]), 0.42)]
    );
    let route = [("http_route", "/pay")];
    for (le, n) in [("0.1", 1.0), ("0.5", 2.0), ("1", 2.0), ("+Inf", 3.0)] {
        let q = format!("http_server_duration_seconds_bucket{{le=\"{le}\"}}");
        let mut extra = route.to_vec();
        extra.push(("le", le));
        assert_eq!(
            query(&server, &q),
            vec![(with("http_server_duration_seconds_bucket", &extra), n)],
            "{q}"
        );
    }
    assert_eq!(
        value(&server, "http_server_duration_seconds_count"),
        Some(3.0)
    );
    assert!((value(&server, "http_server_duration_seconds_sum").unwrap() - 2.35).abs() < 1e-9);
    // Exponential histograms are native histograms: unit suffix, no
    // `_bucket` series; the SDK's scale 20 is reduced to schema 8.
    assert_values(
        &server,
        &[
            ("histogram_count(rpc_duration_milliseconds)", Some(4.0)),
            ("histogram_sum(rpc_duration_milliseconds)", Some(106.0)),
            ("count(rpc_duration_milliseconds_bucket)", None),
        ],
    );
    let q = value(
        &server,
        "histogram_quantile(0.5, rpc_duration_milliseconds)",
    )
    .unwrap();
    assert!((1.9..=3.1).contains(&q), "median {q}");
    // Other resource attributes on target_info, with job and instance.
    let info = query(&server, "target_info");
    assert_eq!(info.len(), 1, "{info:?}");
    let (l, v) = &info[0];
    assert_eq!(*v, 1.0);
    assert_eq!(l["job"], "shop/checkout");
    assert_eq!(l["host_name"], "h1");
    assert_eq!(l["deployment_environment"], "test");
    assert_eq!(l["telemetry_sdk_language"], "python");
    assert!(!l.contains_key("service_name"), "{l:?}");
    // Exported every second: more than one sample per series.
    assert!(value(&server, "count_over_time(queue_depth[1m])").unwrap() >= 2.0);
    let md = server
        .get("/api/v1/metadata?metric=orders_processed_total")
        .json();
    assert_eq!(
        md["data"]["orders_processed_total"][0]["type"], "counter",
        "{md}"
    );
    assert_eq!(
        md["data"]["orders_processed_total"][0]["help"], "Orders done.",
        "{md}"
    );
}

#[test]
fn json_bodies_summaries_and_partial_success() {
    let (_tmp, server) = Server::fresh();
    let t = now_ms() - 5_000;
    let body = json_request(json!([
        {"name": "rpc.latency", "unit": "ms", "summary": {"dataPoints": [{
            "timeUnixNano": ns(t), "count": "10", "sum": 55.5,
            "quantileValues": [{"quantile": 0.5, "value": 4}, {"quantile": 0.99, "value": 9}]}]}},
        {"name": "jobs", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "isMonotonic": true,
            "dataPoints": [{"timeUnixNano": ns(t), "asInt": "42", "attributes": [
                {"key": "queue.name", "value": {"stringValue": "a"}},
                {"key": "queue/name", "value": {"stringValue": "b"}},
                {"key": "retry", "value": {"boolValue": true}}]}]}},
        {"name": "temp", "gauge": {"dataPoints": [{"timeUnixNano": ns(t), "asDouble": "NaN", "flags": 1}]}}
    ]));
    let r = post_json(&server, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "{}");
    assert_eq!(
        value(&server, "rpc_latency_milliseconds{quantile=\"0.99\"}"),
        Some(9.0)
    );
    assert_eq!(value(&server, "rpc_latency_milliseconds_count"), Some(10.0));
    assert_eq!(value(&server, "rpc_latency_milliseconds_sum"), Some(55.5));
    // Keys that translate alike: values joined in key order.
    assert_eq!(
        query(&server, "jobs_total"),
        vec![(
            labels(&[
                ("__name__", "jobs_total"),
                ("job", "svc"),
                ("queue_name", "a;b"),
                ("retry", "true")
            ]),
            42.0
        )]
    );
    // "No recorded value": a staleness marker, so the series is gone.
    assert_eq!(value(&server, "temp"), None);

    // Delta, exponential and unknown kinds refused; the gauge beside them stored.
    let body = json_request(json!([
        {"name": "d", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
            "dataPoints": [{"timeUnixNano": ns(t), "asInt": 1}, {"timeUnixNano": ns(t), "asInt": 2}]}},
        {"name": "e", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
            {"timeUnixNano": ns(t), "count": 1, "scale": -5, "positive": {"bucketCounts": [1]}},
            {"timeUnixNano": ns(t), "count": 1, "scale": 0, "positive": {"offset": 1, "bucketCounts": [1, 5]}}]}},
        {"name": "x", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
            {"timeUnixNano": ns(t), "count": "7", "sum": 20.5, "scale": 1, "zeroCount": 1,
             "positive": {"offset": -1, "bucketCounts": [2, "0", 3]}, "negative": {"bucketCounts": [1]}}]}},
        {"name": "u"},
        {"name": "ok", "gauge": {"dataPoints": [{"timeUnixNano": ns(t), "asDouble": 1.5}]}}
    ]));
    let r = post_json(&server, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["partialSuccess"]["rejectedDataPoints"], "5", "{j}");
    let msg = j["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert_mentions(
        msg,
        &[
            "\"d\": delta temporality is not supported",
            "\"e\": scale -5 is below the lowest native histogram schema -4",
            "\"u\": no data of a known kind",
        ],
    );
    // e's second point holds more in its buckets than its count.
    assert_eq!(msg.matches("\"e\": ").count(), 2, "{msg}");
    assert_eq!(value(&server, "ok"), Some(1.5));
    assert_eq!(value(&server, "d_total"), None);
    assert_eq!(value(&server, "histogram_count(x)"), Some(7.0));
    assert_eq!(value(&server, "histogram_sum(x)"), Some(20.5));
    // Below 0.5: the zero bucket and the negative one, (-2^0.5, -1]; the
    // positive buckets start at OTLP index -1, (2^-0.5, 1].
    let below = value(&server, "histogram_fraction(-10, 0.5, x)").unwrap();
    assert!((below - 2.0 / 7.0).abs() < 1e-12, "{below}");

    // Only delta: nothing stored, 400 with a Status.
    let body = json_request(
        json!([{"name": "d", "histogram": {"aggregationTemporality": 1,
        "dataPoints": [{"timeUnixNano": ns(t), "count": 1, "bucketCounts": [1], "explicitBounds": []}]}}]),
    );
    let r = post_json(&server, &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["code"], 3);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("delta temporality"),
        "{}",
        r.text()
    );
}

/// A protobuf request of one cumulative histogram with `n` points.
fn proto_histogram(t: i64) -> Vec<u8> {
    let mut w = Writer::default();
    w.message(1, |rm| {
        rm.message(1, |r| {
            r.message(1, |kv| {
                kv.bytes(1, b"service.name");
                kv.message(2, |v| v.bytes(1, b"pb"));
            });
        });
        rm.message(2, |sm| {
            sm.message(2, |m| {
                m.bytes(1, b"req.size");
                m.bytes(3, b"By");
                m.message(9, |h| {
                    h.message(1, |p| {
                        let fixed = |p: &mut Writer, f: u32, v: u64| {
                            p.varint(u64::from(f) << 3 | 1);
                            p.buf.extend_from_slice(&v.to_le_bytes());
                        };
                        fixed(p, 3, (t * 1_000_000) as u64);
                        fixed(p, 4, 6);
                        p.double(5, 600.0);
                        let counts: Vec<u8> =
                            [1u64, 2, 3].iter().flat_map(|c| c.to_le_bytes()).collect();
                        p.bytes(6, &counts);
                        let bounds: Vec<u8> = [10.0f64, 100.0]
                            .iter()
                            .flat_map(|b| b.to_bits().to_le_bytes())
                            .collect();
                        p.bytes(7, &bounds);
                    });
                    h.uint(2, 2);
                });
            });
        });
    });
    w.buf
}

#[test]
fn protobuf_gzip_and_bad_bodies() {
    let (_tmp, server) = Server::fresh();
    let t = now_ms() - 5_000;
    let body = proto_histogram(t);
    let gz = gzip(&body);
    let r = server.post(
        "/opentelemetry/v1/metrics",
        &[PROTO, ("Content-Encoding", "gzip")],
        &gz,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "an empty ExportMetricsServiceResponse");
    assert_values(
        &server,
        &[
            ("req_size_bytes_bucket{le=\"100\"}", Some(3.0)),
            ("req_size_bytes_bucket{le=\"+Inf\"}", Some(6.0)),
            ("req_size_bytes_sum", Some(600.0)),
        ],
    );

    let check = |headers: &[(&str, &str)], body: &[u8], code: u16, says: &str| {
        let r = server.post(PATH, headers, body);
        assert_eq!(r.status, code, "{}", r.text());
        assert!(
            String::from_utf8_lossy(&r.body).contains(says),
            "{:?} lacks {says:?}",
            r.text()
        );
    };
    check(
        &[PROTO],
        &body[..body.len() - 7],
        400,
        "cannot decode ExportMetricsServiceRequest",
    );
    check(
        &[JSON],
        br#"{"resourceMetrics": [{"scopeMetrics": ["#,
        400,
        "invalid JSON",
    );
    check(
        &[JSON],
        br#"{"resourceMetrics": {"x": 1}}"#,
        400,
        "resourceMetrics must be an array",
    );
    check(&[JSON], br#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "g", "gauge": {"dataPoints": [{"asInt": "x"}]}}]}]}]}"#, 400, "asInt must be an integer");
    check(
        &[("Content-Type", "text/plain")],
        &body,
        415,
        "unsupported Content-Type",
    );
    check(&[], &body, 415, "unsupported Content-Type");
    check(
        &[PROTO, ("Content-Encoding", "zstd")],
        &body,
        415,
        "Content-Encoding",
    );
    check(
        &[PROTO, ("Content-Encoding", "gzip")],
        &body,
        400,
        "invalid gzip",
    );
    // 100,000 empty metrics in 200 KB: refused, not allocated.
    let mut w = Writer::default();
    w.message(1, |rm| {
        rm.message(2, |sm| {
            for _ in 0..100_000 {
                sm.bytes(2, b"");
            }
        })
    });
    check(&[PROTO], &w.buf, 400, "more items than its size allows");
    // Nothing stored was lost.
    assert_eq!(value(&server, "req_size_bytes_count"), Some(6.0));
}
