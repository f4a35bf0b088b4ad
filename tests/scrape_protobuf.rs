//! The protobuf exposition format on Hourglass's own scraper
//! (`scrape_protocols: [PrometheusProto]`, `scrape_native_histograms`):
//! the decoder round-trips what the encoder writes; a real server scrapes
//! every kind of family as Prometheus would, asks for protobuf first,
//! keeps the text path's limits and staleness, and adds created-timestamp
//! zeros only behind `--created-timestamp-zero-ingestion`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::families::{
    self, body, classic, float_native, gauge, histogram, jobs_total, native, one, rpc_seconds,
};
use common::protobuf_target::PROTOBUF;
use common::query::{labels, query, query_at, results, value};
use common::target::serve_bytes;
use common::*;
use hourglass::ingest::metric_family::encode::encode;
use hourglass::ingest::metric_family::{
    Bucket, Counter, Family, FamilyType, HistogramMsg, Metric, Summary, decode,
};
use hourglass_storage::Span;
use proptest::prelude::*;
use std::time::Duration;

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn text() -> impl Strategy<Value = &'static str> {
    "\\PC{0,6}".prop_map(leak)
}

fn float() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::INFINITE
}

fn created() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(-1_000_000_000_000_000i64..1_000_000_000_000_000)
}

fn histogram_msg() -> impl Strategy<Value = HistogramMsg> {
    let spans = || proptest::collection::vec((any::<i32>(), any::<u32>()), 0..3);
    let buckets = proptest::collection::vec((any::<u64>(), float(), float()), 0..4);
    (
        (any::<u64>(), float(), float(), buckets, created()),
        (any::<i32>(), float(), any::<u64>(), float()),
        (spans(), proptest::collection::vec(any::<i64>(), 0..4)),
        (spans(), proptest::collection::vec(float(), 0..4)),
    )
        .prop_map(
            |((c, cf, sum, b, ct), (schema, zt, zc, zcf), (ns, nd), (ps, pc))| {
                let spans =
                    |v: Vec<(i32, u32)>| v.into_iter().map(|(o, l)| Span::new(o, l)).collect();
                HistogramMsg {
                    count: c,
                    count_float: cf,
                    sum,
                    buckets: b
                        .into_iter()
                        .map(|(cumulative, cumulative_float, upper)| Bucket {
                            cumulative,
                            cumulative_float,
                            upper,
                        })
                        .collect(),
                    created_ms: ct,
                    schema,
                    zero_threshold: zt,
                    zero_count: zc,
                    zero_count_float: zcf,
                    negative_spans: spans(ns),
                    negative_deltas: nd.clone(),
                    negative_counts: pc.clone(),
                    positive_spans: spans(ps),
                    positive_deltas: nd,
                    positive_counts: pc,
                }
            },
        )
}

fn metric() -> impl Strategy<Value = Metric<'static>> {
    (
        proptest::collection::vec((text(), text()), 0..3),
        proptest::option::of(float()),
        proptest::option::of((float(), created())),
        proptest::option::of((
            any::<u64>(),
            float(),
            proptest::collection::vec((float(), float()), 0..3),
            created(),
        )),
        proptest::option::of(float()),
        proptest::option::of(histogram_msg()),
        any::<i64>(),
    )
        .prop_map(
            |(labels, gauge, counter, summary, untyped, histogram, ts)| Metric {
                labels,
                gauge,
                counter: counter.map(|(value, created_ms)| Counter { value, created_ms }),
                summary: summary.map(|(count, sum, quantiles, created_ms)| Summary {
                    count,
                    sum,
                    quantiles,
                    created_ms,
                }),
                untyped,
                histogram,
                timestamp_ms: ts,
            },
        )
}

fn family() -> impl Strategy<Value = Family<'static>> {
    (
        text(),
        text(),
        0u64..6,
        proptest::collection::vec(metric(), 0..3),
        text(),
    )
        .prop_map(|(name, help, kind, metrics, unit)| Family {
            name,
            help,
            kind: FamilyType::from_wire(kind).unwrap(),
            metrics,
            unit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn families_round_trip_through_the_delimited_format(
        families in proptest::collection::vec(family(), 0..4)
    ) {
        let mut body = Vec::new();
        encode(&families, &mut body);
        prop_assert_eq!(decode(&body).unwrap(), families);
    }
}

/// One family of every kind; created timestamps at `created_ms`.
fn every_kind(created_ms: Option<i64>) -> Vec<u8> {
    let size = classic(5, 100.0, native(None).buckets);
    let plain = Metric {
        untyped: Some(1.0),
        // The family's type says which value counts.
        gauge: Some(9.0),
        ..Metric::default()
    };
    let path = || vec![("path", "/")];
    body(&[
        jobs_total(vec![], 7.0, created_ms),
        Family {
            unit: "celsius",
            ..gauge("temp_celsius", vec![("room", "a")], 21.5)
        },
        one("plain", FamilyType::Untyped, plain),
        rpc_seconds(),
        histogram("size_bytes", FamilyType::Histogram, path(), size),
        histogram(
            "lat_seconds",
            FamilyType::Histogram,
            path(),
            native(created_ms),
        ),
        histogram("flt", FamilyType::GaugeHistogram, path(), float_native()),
    ])
}

fn job(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "scrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    scrape_native_histograms: true\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
    )
}

fn up(server: &Server) -> Option<f64> {
    value(server, "up{job=\"app\"}")
}

#[test]
fn protobuf_scrape_stores_every_kind_of_family_as_prometheus_would() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, addr) = serve_bytes(PROTOBUF, every_kind(None));
    let (_cfg, server) = start_scraping(
        tmp.path(),
        &job(addr, "    always_scrape_classic_histograms: true\n"),
    );
    wait_for("a protobuf scrape", || up(&server) == Some(1.0));
    let accept = served.lock().unwrap().accept.clone();
    assert!(
        accept.starts_with(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0"
        ),
        "{accept}"
    );
    for (q, want) in [
        ("jobs_total", 7.0),
        ("temp_celsius{room=\"a\"}", 21.5),
        ("plain", 1.0),
        ("rpc_seconds{quantile=\"0.5\"}", 0.25),
        ("rpc_seconds{quantile=\"0.99\"}", 0.75),
        ("rpc_seconds_count", 4.0),
        ("size_bytes_bucket{le=\"2.0\"}", 3.0),
        ("size_bytes_bucket{le=\"+Inf\"}", 5.0),
        ("size_bytes_sum", 100.0),
        ("histogram_count(lat_seconds)", 3.0),
        ("histogram_sum(lat_seconds)", 1.5),
        // Classic buckets beside the native ones, as asked.
        ("lat_seconds_bucket{le=\"0.5\"}", 1.0),
        ("lat_seconds_count", 3.0),
        ("histogram_count(flt)", 2.5),
        // 1 + 1 + 1 + 4 + 5 + (1 + 2 + 3) + 1
        ("scrape_samples_scraped{job=\"app\"}", 19.0),
    ] {
        assert_eq!(value(&server, q), Some(want), "{q}");
    }
    let got = query(&server, "temp_celsius");
    assert_eq!(got[0].0["job"], "app");
    assert_eq!(got[0].0["instance"], addr.to_string());
    let md = server
        .get("/api/v1/targets/metadata?metric=temp_celsius")
        .json();
    assert_eq!(md["data"][0]["type"], "gauge", "{md}");
    assert_eq!(md["data"][0]["unit"], "celsius", "{md}");
    let md = server.get("/api/v1/targets/metadata?metric=flt").json();
    assert_eq!(md["data"][0]["type"], "gaugehistogram", "{md}");
}

#[test]
fn protobuf_scrape_keeps_the_text_paths_limits_and_staleness() {
    let tmp = tempfile::tempdir().unwrap();
    let body = |n: usize| {
        let mut families: Vec<Family<'static>> = (0..n)
            .map(|i| gauge(leak(format!("g{i}")), vec![], i as f64))
            .collect();
        if n == 3 {
            families.push(histogram(
                "hist",
                FamilyType::Histogram,
                vec![],
                native(None),
            ));
        }
        families::body(&families)
    };
    let (served, addr) = serve_bytes(PROTOBUF, body(3));
    let (_cfg, server) = start_scraping(tmp.path(), &job(addr, "    sample_limit: 5\n"));
    wait_for("three series", || {
        value(&server, "count({__name__=~\"g.\"})") == Some(3.0)
    });
    assert_eq!(value(&server, "histogram_count(hist)"), Some(3.0));
    // A series that goes away goes stale.
    served.lock().unwrap().body = body(2);
    wait_for("g2 stale", || value(&server, "g2").is_none());
    // So does a native histogram series.
    assert_eq!(value(&server, "histogram_count(hist)"), None);
    assert_eq!(value(&server, "g1"), Some(1.0));
    // Over the sample limit, the whole scrape fails.
    served.lock().unwrap().body = body(6);
    wait_for("sample limit", || up(&server) == Some(0.0));
    assert_eq!(
        value(&server, "scrape_samples_scraped{job=\"app\"}"),
        Some(6.0)
    );
    assert_eq!(value(&server, "g5"), None);
    // Bytes that are no protobuf fail the scrape, and the server stays.
    {
        let mut s = served.lock().unwrap();
        s.body = vec![0x05, 0x0a, 0xff];
    }
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(up(&server), Some(0.0));
    let targets = server.get("/api/v1/targets").json();
    let err = targets["data"]["activeTargets"][0]["lastError"].to_string();
    assert!(err.contains("protobuf"), "{err}");
    served.lock().unwrap().body = body(1);
    wait_for("recovered", || up(&server) == Some(1.0));
}

/// `jobs_total`'s samples of the last 5 minutes, and how many are zeros.
fn zeros_in_window(server: &Server) -> (usize, usize) {
    let rows = results(server, "jobs_total[5m]");
    let values = rows[0]["values"].as_array().unwrap();
    let zeros = values.iter().filter(|p| p[1] == "0").count();
    println!("jobs_total[5m]: {values:?}");
    (values.len(), zeros)
}

#[test]
fn created_timestamps_add_zeros_on_protobuf_scrapes_only_with_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let created = now_ms() - 30_000;
    let (served, addr) = serve_bytes(PROTOBUF, every_kind(Some(created)));
    for d in ["with", "without"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let (_c1, with) = start_scraping_with(
        &tmp.path().join("with"),
        &job(addr, ""),
        &["--created-timestamp-zero-ingestion"],
    );
    let (_c2, without) = start_scraping(&tmp.path().join("without"), &job(addr, ""));
    for s in [&with, &without] {
        wait_for("scraped", || value(s, "jobs_total") == Some(7.0));
    }
    let at = Some((created + 1) as f64 / 1000.0);
    // The counter began at its created timestamp: a zero there.
    assert_eq!(
        query_at(&with, "jobs_total", at),
        vec![(
            labels(&[
                ("__name__", "jobs_total"),
                ("instance", &addr.to_string()),
                ("job", "app")
            ]),
            0.0
        )]
    );
    assert_eq!(
        query_at(&with, "histogram_count(lat_seconds)", at)
            .first()
            .map(|(_, v)| *v),
        Some(0.0)
    );
    // Scrapes after the first add no other zero (created is older than the
    // last sample).
    std::thread::sleep(Duration::from_millis(2_500));
    let (values, zeros) = zeros_in_window(&with);
    assert!(values >= 3, "{values} samples");
    assert_eq!(zeros, 1);
    // Nor after a restart, when the scraper knows nothing of the series
    // and only storage knows that a created timestamp between stored
    // samples is stale (a zero there would land inside the out-of-order
    // window).
    let last = value(&with, "timestamp(jobs_total)").unwrap();
    let inside = (last * 1000.0) as i64 - 500;
    served.lock().unwrap().body = every_kind(Some(inside));
    assert!(with.terminate().0);
    let (_c1, with) = start_scraping_with(
        &tmp.path().join("with"),
        &job(addr, ""),
        &["--created-timestamp-zero-ingestion"],
    );
    let scraped = value(&with, "count_over_time(up[5m])").unwrap_or(0.0);
    wait_for("a scrape after the restart", || {
        value(&with, "count_over_time(up[5m])").unwrap_or(0.0) > scraped + 1.0
    });
    assert_eq!(zeros_in_window(&with).1, 1);
    // Off by default, as in Prometheus.
    assert!(query_at(&without, "jobs_total", at).is_empty());
    assert!(query_at(&without, "histogram_count(lat_seconds)", at).is_empty());
}
