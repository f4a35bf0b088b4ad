//! The Prometheus API's metadata endpoints against a real server, as
//! Grafana's data source and `promtool` call them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::Sample;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

fn seeded() -> (tempfile::TempDir, Server) {
    let (tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    for (name, job, inst) in [
        ("up", "node", "a:9100"),
        ("up", "node", "b:9100"),
        ("up", "api", "c:8080"),
        ("http_requests_total", "api", "c:8080"),
    ] {
        v1::encode_series(
            &mut w,
            [("__name__", name), ("job", job), ("instance", inst)],
            &[Sample::new(T0, 1.0)],
        );
    }
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204, "{}", r.text());
    (tmp, server)
}

#[test]
fn labels_and_values_with_and_without_match() {
    let (_tmp, server) = seeded();
    let v = server.get("/api/v1/labels").json();
    assert_eq!(
        v,
        json!({"status": "success", "data": ["__name__", "instance", "job"]})
    );
    let v = server.get("/api/v1/label/__name__/values").json();
    assert_eq!(v["data"], json!(["http_requests_total", "up"]));
    let v = server
        .get("/api/v1/label/instance/values?match[]=up{job=%22node%22}")
        .json();
    assert_eq!(v["data"], json!(["a:9100", "b:9100"]));
    // Grafana's metric browser: time-bounded, limit=40000.
    let v = server
        .get("/api/v1/label/job/values?start=1699999000&end=1700001000&limit=40000")
        .json();
    assert_eq!(v["data"], json!(["api", "node"]));
    // Outside the data's time range nothing matches.
    let v = server.get("/api/v1/label/job/values?start=1&end=2").json();
    assert_eq!(v["data"], json!([]));
    let v = server.get("/api/v1/labels?start=1800000000").json();
    assert_eq!(v["data"], json!([]));
    let limited = server.get("/api/v1/label/instance/values?limit=1").json();
    assert_eq!(limited["data"].as_array().unwrap().len(), 1);
    assert_eq!(limited["warnings"][0], "results truncated due to limit");
}

#[test]
fn series_accepts_repeated_match_in_a_form_post() {
    let (_tmp, server) = seeded();
    let body = b"match%5B%5D=up%7Bjob%3D%22api%22%7D&match%5B%5D=http_requests_total";
    let r = server.post("/api/v1/series", &[FORM], body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"],
        json!([
            {"__name__": "http_requests_total", "instance": "c:8080", "job": "api"},
            {"__name__": "up", "instance": "c:8080", "job": "api"},
        ])
    );
    let none = server.get("/api/v1/series");
    assert_eq!(none.status, 400);
    assert_eq!(none.json()["errorType"], "bad_data");
    let empty_matcher = server.get("/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D");
    assert_eq!(empty_matcher.status, 400, "{}", empty_matcher.text());
}

#[test]
fn bad_parameters_are_400_bad_data_naming_the_parameter() {
    let (_tmp, server) = seeded();
    for (path, param) in [
        ("/api/v1/labels?start=yesterday", "start"),
        ("/api/v1/labels?start=10&end=5", "end"),
        ("/api/v1/series?match[]=up&limit=-3", "limit"),
        ("/api/v1/labels?match[]=up%7B", "match[]"),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let v = r.json();
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(&format!("\"{param}\"")), "{path}: {msg}");
    }
}

#[test]
fn tsdb_status_has_prometheus_shape() {
    let (_tmp, server) = seeded();
    let v = server.get("/api/v1/status/tsdb?limit=1").json();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["headStats"]["numSeries"], 4);
    assert_eq!(
        v["data"]["seriesCountByMetricName"],
        json!([{"name": "up", "value": 3}])
    );
    assert_eq!(
        v["data"]["seriesCountByLabelValuePair"][0]["name"],
        "__name__=up"
    );
    let api = server
        .get("/api/v1/status/tsdb?match[]=%7Bjob%3D%22api%22%7D")
        .json();
    assert_eq!(api["data"]["headStats"]["numSeries"], 2);
}

#[test]
fn grafana_probes_get_what_grafana_expects() {
    let (_tmp, server) = seeded();
    // Exemplars: success with [] even for millisecond timestamps.
    let r = server.get("/api/v1/query_exemplars?query=test&start=1700000000000&end=1700000600000");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"status": "success", "data": []}));
    let r = server.post("/api/v1/query_exemplars", &[FORM], b"query=test");
    assert_eq!(r.status, 200);
    assert_eq!(
        server.get("/api/v1/rules").json()["data"],
        json!({"groups": []})
    );
    assert_eq!(
        server.get("/api/v1/alerts").json()["data"],
        json!({"alerts": []})
    );
    // A 200 here would make Grafana's alerting take us for Thanos.
    assert_eq!(server.get("/api/v1/status/flags").status, 404);
    // The flags are served under our own path instead.
    let flags = server.get("/api/v1/status/hourglass/flags").json();
    // Effective values: the fixture runs with `--retention 0`.
    assert_eq!(flags["data"]["retention"], "0", "{flags}");
    assert_eq!(flags["data"]["wal-sync"], "group", "{flags}");
    let rt = server.get("/api/v1/status/runtimeinfo").json();
    // The fixture keeps its 2023 samples: `--retention 0`.
    assert_eq!(rt["data"]["storageRetention"], "0 (keep everything)");
    assert!(rt["data"]["startTime"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn format_query_prints_the_canonical_form() {
    let (_tmp, server) = seeded();
    let r = server.get("/api/v1/format_query?query=sum%20by(job)(rate(up%5B5m%5D))");
    assert_eq!(r.json()["data"], "sum by (job) (rate(up[5m]))");
    let r = server.post("/api/v1/format_query", &[FORM], b"query=foo%7B");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("parse error"),
        "{}",
        r.text()
    );
}

#[test]
fn responses_are_gzipped_when_the_client_asks() {
    let (_tmp, server) = seeded();
    let r = server.get_with("/api/v1/labels", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(&r.body[..2], &[0x1f, 0x8b]);
}

#[test]
fn parse_query_returns_the_ast() {
    let (_tmp, server) = seeded();
    let r = server.post("/api/v1/parse_query", &[FORM], b"query=rate(up%5B5m%5D)");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["type"], "call");
    assert_eq!(v["data"]["args"][0]["range"], 300_000);
    assert_eq!(server.get("/api/v1/parse_query?query=rate(up)").status, 400);
}

#[test]
fn hourglass_flags_show_effective_values_with_url_passwords_redacted() {
    let (_tmp, server) = Server::fresh_with(&[
        "--retention",
        "2d",
        "--web-external-url",
        "https://ops:hunter2@example.org/hg",
    ]);
    let r = server.get("/api/v1/status/hourglass/flags");
    assert_eq!(r.status, 200, "{}", r.text());
    let flags = r.json();
    assert_eq!(flags["data"]["retention"], "2d", "{flags}");
    assert_eq!(flags["data"]["query-max-concurrency"], "20", "{flags}");
    assert_eq!(
        flags["data"]["web-external-url"],
        "https://ops:<redacted>@example.org/hg"
    );
    assert!(!r.text().contains("hunter2"), "{}", r.text());
}
