//! The requests Grafana's Prometheus data source sends, replayed against a
//! real server: data source health check, metric browser, a time-series
//! panel and a table panel, each checked for status and response shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::Sample;
use serde_json::Value;

/// 2024-06-01T00:00:00Z.
const T0: i64 = 1_717_200_000_000;

const GRAFANA: [(&str, &str); 5] = [
    ("Content-Type", "application/x-www-form-urlencoded"),
    ("User-Agent", "Grafana/11.3.0"),
    ("X-Grafana-Org-Id", "1"),
    ("X-Datasource-Uid", "hourglass"),
    ("Accept-Encoding", "gzip"),
];

fn seeded() -> (tempfile::TempDir, Server) {
    let (tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    for inst in ["10.0.0.1:9100", "10.0.0.2:9100"] {
        let samples: Vec<Sample> = (0..240)
            .map(|i| Sample::new(T0 + i * 15_000, (i * 1000) as f64))
            .collect();
        v1::encode_series(
            &mut w,
            [
                ("__name__", "node_network_receive_bytes_total"),
                ("device", "eth0"),
                ("instance", inst),
                ("job", "node"),
            ],
            &samples,
        );
    }
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204);
    (tmp, server)
}

/// Grafana's backend sends POST with a form body; the body may be gzipped
/// in the answer, which the helper client does not decode, so ask without.
fn post(server: &Server, path: &str, form: &str) -> Value {
    let headers: Vec<(&str, &str)> = GRAFANA[..4].to_vec();
    let r = server.post(path, &headers, form.as_bytes());
    assert_eq!(r.status, 200, "POST {path} {form}: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "success", "{v}");
    v
}

fn get(server: &Server, path: &str) -> Value {
    let headers: Vec<(&str, &str)> = GRAFANA[1..4].to_vec();
    let r = server.get_with(path, &headers);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "success", "{v}");
    v
}

#[test]
fn save_and_test() {
    let (_tmp, server) = seeded();
    let v = post(&server, "/api/v1/query", "query=1%2B1&time=4");
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"][1], "2");
    let b = get(&server, "/api/v1/status/buildinfo");
    assert!(b["data"]["version"].is_string());
    assert!(b["data"].get("features").is_none());
    // Data source init: rules, exemplars with ms times, metadata.
    get(&server, "/api/v1/rules");
    let ex = post(
        &server,
        "/api/v1/query_exemplars",
        "query=test&start=1717200000000&end=1717203600000",
    );
    assert_eq!(ex["data"], Value::Array(vec![]));
    get(&server, "/api/v1/metadata");
}

#[test]
fn metric_browser() {
    let (_tmp, server) = seeded();
    let (start, end) = (T0 / 1000, T0 / 1000 + 3600);
    let names = get(
        &server,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}&limit=40000"),
    );
    assert_eq!(names["data"][0], "node_network_receive_bytes_total");
    let labels = post(
        &server,
        "/api/v1/labels",
        &format!("start={start}&end={end}&limit=40000"),
    );
    assert!(
        labels["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "instance")
    );
    let m = "match%5B%5D=node_network_receive_bytes_total";
    let keys = post(
        &server,
        "/api/v1/labels",
        &format!("{m}&start={start}&end={end}"),
    );
    assert_eq!(keys["data"].as_array().unwrap().len(), 4);
    let vals = get(
        &server,
        &format!("/api/v1/label/instance/values?{m}&start={start}&end={end}&limit=40000"),
    );
    assert_eq!(vals["data"].as_array().unwrap().len(), 2);
    let series = post(
        &server,
        "/api/v1/series",
        &format!("match%5B%5D=%7B__name__%21%3D%22%22%7D&start={start}&end={end}"),
    );
    assert_eq!(series["data"].as_array().unwrap().len(), 2);
}

#[test]
fn time_series_panel_and_table() {
    let (_tmp, server) = seeded();
    // Grafana aligns start and end to the step and sends step in seconds.
    let step = 60;
    let start = T0 / 1000 + 600;
    let end = start + 1800;
    let q = "sum%20by%20(instance)%20(rate(node_network_receive_bytes_total%7Bjob%3D%22node%22%7D%5B5m%5D))";
    let v = post(
        &server,
        "/api/v1/query_range",
        &format!("query={q}&start={start}&end={end}&step={step}"),
    );
    assert_eq!(v["data"]["resultType"], "matrix");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    for s in result {
        assert!(s["metric"]["instance"].is_string());
        let values = s["values"].as_array().unwrap();
        assert_eq!(values.len(), 31);
        for (k, p) in values.iter().enumerate() {
            assert_eq!(p[0].as_i64(), Some(start + k as i64 * step));
            let rate: f64 = p[1].as_str().unwrap().parse().unwrap();
            assert!((rate - 1000.0 / 15.0).abs() < 1e-9, "{rate}");
        }
    }
    let t = start + 900;
    let table = post(
        &server,
        "/api/v1/query",
        &format!("query=node_network_receive_bytes_total&time={t}"),
    );
    assert_eq!(table["data"]["resultType"], "vector");
    assert_eq!(table["data"]["result"].as_array().unwrap().len(), 2);
    assert_eq!(table["data"]["result"][0]["value"][0].as_i64(), Some(t));
}
