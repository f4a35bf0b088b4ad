//! `/api/v1/query` and `/api/v1/query_range` against a real server, fed by
//! remote write, checked value by value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::enc;
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::Sample;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

/// A counter per instance rising 10 per 15 s scrape for 10 minutes, and a
/// gauge.
fn seeded() -> (tempfile::TempDir, Server) {
    let (tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    for (inst, rate) in [("a", 10.0), ("b", 20.0)] {
        let samples: Vec<Sample> = (0..=40)
            .map(|i| Sample::new(T0 + i * 15_000, rate * i as f64))
            .collect();
        v1::encode_series(
            &mut w,
            [
                ("__name__", "requests_total"),
                ("job", "api"),
                ("instance", inst),
            ],
            &samples,
        );
    }
    v1::encode_series(
        &mut w,
        [("__name__", "temperature"), ("job", "api")],
        &[Sample::new(T0, 21.5), Sample::new(T0 + 60_000, f64::NAN)],
    );
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204, "{}", r.text());
    (tmp, server)
}

fn get(server: &Server, path: &str) -> serde_json::Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// `/api/v1/query` of `q` at `t` (Unix seconds), as JSON.
fn instant(server: &Server, q: &str, t: i64) -> serde_json::Value {
    get(server, &format!("/api/v1/query?query={}&time={t}", enc(q)))
}

#[test]
fn grafana_health_check_one_plus_one_at_time_four() {
    let (_tmp, server) = seeded();
    let v = get(&server, "/api/v1/query?query=1%2B1&time=4");
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}})
    );
    let r = server.post("/api/v1/query", &[FORM], b"query=1%2B1&time=4");
    assert_eq!(r.json()["data"]["result"], json!([4, "2"]));
}

#[test]
fn instant_vector_with_lookback_and_aggregation() {
    let (_tmp, server) = seeded();
    let t = (T0 + 600_000) / 1000;
    let v = instant(&server, "requests_total{instance=\"a\"}", t);
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(
        v["data"]["result"],
        json!([{"metric": {"__name__": "requests_total", "instance": "a", "job": "api"}, "value": [t, "400"]}])
    );
    let v = instant(&server, "sum by (job) (rate(requests_total[1m]))", t);
    assert_eq!(
        v["data"]["result"],
        json!([{"metric": {"job": "api"}, "value": [t, "2"]}])
    );
    // 5 minutes after the last sample the lookback window has passed it.
    let late = (T0 + 600_000 + 301_000) / 1000;
    let v = get(
        &server,
        &format!("/api/v1/query?query=requests_total&time={late}"),
    );
    assert_eq!(v["data"]["result"], json!([]));
    // NaN is data, printed as "NaN".
    let v = get(
        &server,
        &format!(
            "/api/v1/query?query=temperature&time={}",
            (T0 + 60_000) / 1000
        ),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "NaN");
}

#[test]
fn instant_query_of_a_range_selector_is_a_matrix() {
    let (_tmp, server) = seeded();
    let t = (T0 + 60_000) / 1000;
    let v = instant(&server, "requests_total{instance=\"b\"}[1m]", t);
    assert_eq!(v["data"]["resultType"], "matrix");
    let values = v["data"]["result"][0]["values"].as_array().unwrap();
    // Left-open window (t-1m, t]: the samples at +15s, +30s, +45s, +60s.
    assert_eq!(values.len(), 4);
    assert_eq!(values[3], json!([t, "80"]));
}

#[test]
fn range_query_on_the_step_grid_as_a_form_post() {
    let (_tmp, server) = seeded();
    let start = (T0 + 120_000) / 1000;
    let end = (T0 + 240_000) / 1000;
    let body = format!(
        "query={}&start={start}&end={end}&step=60",
        enc("rate(requests_total{instance=\"a\"}[2m])")
    );
    let r = server.post("/api/v1/query_range", &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["resultType"], "matrix");
    let series = &v["data"]["result"][0];
    assert_eq!(series["metric"], json!({"instance": "a", "job": "api"}));
    let want: Vec<serde_json::Value> = [start, start + 60, end]
        .iter()
        .map(|&t| json!([t, "0.6666666666666666"]))
        .collect();
    assert_eq!(series["values"], json!(want));
}

#[test]
fn errors_carry_prometheus_types_and_codes() {
    let (_tmp, server) = seeded();
    for (path, code, kind) in [
        ("/api/v1/query?query=sum(", 400, "bad_data"),
        ("/api/v1/query", 400, "bad_data"),
        ("/api/v1/query?query=up&time=later", 400, "bad_data"),
        (
            "/api/v1/query_range?query=up&start=10&end=20&step=0",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=20&end=10&step=1",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up%5B5m%5D&start=0&end=100&step=1",
            400,
            "bad_data",
        ),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, code, "{path}: {}", r.text());
        assert_eq!(r.json()["errorType"], kind, "{path}");
        assert_eq!(r.json()["status"], "error");
    }
    let r = server.get("/api/v1/query_range?query=up&start=0&end=100000&step=1");
    assert!(
        r.json()["error"].as_str().unwrap().contains("11000")
            || r.text().contains("maximum resolution")
    );
    // Duplicate series on the "one" side: an execution error, 422.
    let t = (T0 + 60_000) / 1000;
    let q = enc("requests_total * on(job) group_left requests_total");
    let r = server.get(&format!("/api/v1/query?query={q}&time={t}"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["errorType"], "execution");
}

#[test]
fn limit_truncates_with_a_warning() {
    let (_tmp, server) = seeded();
    let t = (T0 + 60_000) / 1000;
    let v = get(
        &server,
        &format!("/api/v1/query?query=requests_total&time={t}&limit=1"),
    );
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"][0], "results truncated due to limit");
}

#[test]
fn engine_annotations_reach_the_client() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    // Buckets that are not monotonic: histogram_quantile repairs them and
    // says so in an annotation.
    for (le, v) in [("0.1", 10.0), ("1", 5.0), ("+Inf", 12.0)] {
        v1::encode_series(
            &mut w,
            [("__name__", "lat_bucket"), ("job", "api"), ("le", le)],
            &[Sample::new(T0, v)],
        );
    }
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204);
    let v = get(
        &server,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("histogram_quantile(0.5, lat_bucket)"),
            T0 / 1000
        ),
    );
    let notes: Vec<&serde_json::Value> = ["warnings", "infos"]
        .iter()
        .filter_map(|k| v.get(*k))
        .flat_map(|l| l.as_array().unwrap())
        .collect();
    assert!(!notes.is_empty(), "no annotation: {v}");
}
