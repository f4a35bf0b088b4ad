//! Native histograms through the query API of a real server: histograms
//! written to the store (and replayed from its WAL at startup) come back
//! as Prometheus writes them, `histogram` in vectors and `histograms` in
//! matrices, and the histogram functions answer over them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::enc;
use common::server::Server;
use hourglass_storage::{
    CounterResetHint, FloatHistogram, Labels, Options, Sample, Span, Storage, WriteBatch,
};

/// A counter histogram of schema 0 after `n` scrapes: every scrape adds one
/// observation to (0.5, 1] and two to (1, 2].
fn counter(n: f64) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 0.0,
        count: 3.0 * n,
        sum: 4.5 * n,
        positive_spans: vec![Span::new(0, 2)],
        negative_spans: Vec::new(),
        positive_buckets: vec![n, 2.0 * n],
        negative_buckets: Vec::new(),
        custom_values: Vec::new(),
    }
}

/// Writes 20 scrapes 15 s apart, the last at `end_ms`, and one float
/// series, then closes the store (the server replays its WAL).
fn write_store(dir: &std::path::Path, end_ms: i64) {
    let storage = Storage::open(dir, Options::default()).expect("open store");
    let labels = Labels::from_pairs([("__name__", "latency_seconds"), ("job", "api")]);
    let samples: Vec<(i64, FloatHistogram)> = (0..20)
        .map(|i| (end_ms - (19 - i) * 15_000, counter((i + 1) as f64)))
        .collect();
    storage
        .append_histograms(&labels, &samples)
        .expect("append histograms");
    let mut batch = WriteBatch::new();
    batch.push(
        Labels::from_pairs([("__name__", "plain"), ("job", "api")]),
        vec![Sample::new(end_ms, 7.0)],
    );
    storage.append(&batch).expect("append floats");
    storage.close().expect("close store");
}

/// A server with `flags` on a store holding [`write_store`]'s data, the
/// last scrape a minute ago on a whole second (so the API's timestamps
/// print without fractions); returns that second too.
fn serve_store(flags: &[&str]) -> (tempfile::TempDir, Server, i64) {
    let end_ms = common::now_ms() / 1000 * 1000 - 60_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    write_store(tmp.path(), end_ms);
    let server = Server::start(tmp.path(), flags);
    (tmp, server, end_ms / 1000)
}

#[test]
fn histograms_written_to_the_store_come_back_in_prometheus_json() {
    let (_tmp, server, t) = serve_store(&[]);

    // An instant vector: `histogram` instead of `value`, buckets with their
    // boundary rule, bounds and count as strings.
    let r = server.get(&format!("/api/v1/query?query=latency_seconds&time={t}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let result = &body["data"]["result"][0];
    assert_eq!(result["metric"]["__name__"], "latency_seconds", "{body}");
    assert!(result.get("value").is_none(), "{body}");
    let h = &result["histogram"];
    assert_eq!(h[0].as_i64(), Some(t), "{body}");
    assert_eq!(h[1]["count"], "60", "{body}");
    assert_eq!(h[1]["sum"], "90", "{body}");
    assert_eq!(
        h[1]["buckets"],
        serde_json::json!([[0, "0.5", "1", "20"], [0, "1", "2", "40"]]),
        "{body}"
    );

    // A range query of a histogram function: floats again.
    let q = enc("histogram_count(rate(latency_seconds[1m]))");
    let r = server.get(&format!(
        "/api/v1/query_range?query={q}&start={}&end={t}&step=60",
        t - 120
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let values = body["data"]["result"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(values.len(), 3, "{body}");
    for v in &values {
        // Three observations every 15 s.
        let rate: f64 = v[1].as_str().and_then(|s| s.parse().ok()).expect("a rate");
        assert!((rate - 0.2).abs() < 1e-9, "{body}");
    }

    // A matrix of histograms: `histograms` instead of `values`.
    let r = server.get(&format!(
        "/api/v1/query_range?query=latency_seconds&start={}&end={t}&step=60",
        t - 60
    ));
    let body = r.json();
    let series = &body["data"]["result"][0];
    assert!(series.get("values").is_none(), "{body}");
    let points = series["histograms"].as_array().cloned().unwrap_or_default();
    assert_eq!(points.len(), 2, "{body}");
    assert_eq!(points[1][1]["count"], "60", "{body}");

    // The median of the last minute's rate lies in (1, 2].
    let q = enc("histogram_quantile(0.5, sum(rate(latency_seconds[1m])))");
    let r = server.get(&format!("/api/v1/query?query={q}&time={t}"));
    let body = r.json();
    let v: f64 = body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a quantile");
    assert!(v > 1.0 && v <= 2.0, "{body}");

    // No value, and a note (under `key`) saying why.
    let empty_saying = |q: &str, key: &str, why: &str| {
        let path = format!("/api/v1/query?query={}&time={t}", enc(q));
        let body = server.get(&path).json();
        assert_eq!(body["data"]["result"], serde_json::json!([]), "{q}: {body}");
        let note = body[key][0].as_str();
        assert!(note.is_some_and(|n| n.contains(why)), "{q}: {body}");
    };
    // Adding a float to a histogram has no answer.
    empty_saying("latency_seconds + 1", "infos", "incompatible sample types");
    // Floats and histograms in one aggregation: a warning, no value.
    empty_saying(
        "sum({job=\"api\"})",
        "warnings",
        "mix of histograms and floats",
    );
    let (clean, log) = server.terminate();
    assert!(clean, "{log:?}");
}

/// Each histogram counts against `--query-max-samples` as Prometheus
/// counts it, `(168 + 8·(spans + buckets) + 8) / 16` samples: 12 for the
/// two-bucket histograms here, so 20 of them (240) are over a limit of
/// 150 while 4 (48) are not.
#[test]
fn histograms_count_against_the_query_sample_limit_as_prometheus_counts_them() {
    let (_tmp, server, t) = serve_store(&["--query-max-samples", "150"]);
    let get = |q: &str| server.get(&format!("/api/v1/query?query={}&time={t}", enc(q)));

    let r = get("count_over_time(latency_seconds[1m])");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"]["result"][0]["value"][1],
        "4",
        "{}",
        r.text()
    );

    let r = get("latency_seconds[10m]");
    assert_eq!(r.status, 422, "{}", r.text());
    let body = r.json();
    assert_eq!(body["errorType"], "execution", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("samples")),
        "{body}"
    );
    let r = get("histogram_count(rate(latency_seconds[10m]))");
    assert_eq!(r.status, 422, "{}", r.text());
    // The same number of float samples fits.
    let r = get("plain[10m]");
    assert_eq!(r.status, 200, "{}", r.text());
    let (clean, log) = server.terminate();
    assert!(clean, "{log:?}");
}
