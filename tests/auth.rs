//! Credentials per path class, rate limits with 429, and request limits,
//! from a real config file; every refusal counted on /metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{compress, v1};
use hourglass_storage::Sample;

const T0: i64 = 1_700_000_000_000;
const WRITE_TOKEN: &str = "writer-token-0123456789";

const CONFIG: &str = r#"
[limits]
max_series_per_request = 3
max_labels_per_series = 4

[[auth.write.tokens]]
name = "prometheus"
token = "writer-token-0123456789"
samples_per_second = 100

[[auth.read.basic]]
username = "grafana"
password = "s3cret"
"#;

fn body(series: usize, samples: usize, labels: usize) -> Vec<u8> {
    let mut w = Writer::default();
    let extra: Vec<(String, String)> = (0..labels.saturating_sub(2))
        .map(|i| (format!("l{i}"), "v".into()))
        .collect();
    for s in 0..series {
        let job = format!("j{s}");
        let mut l: Vec<(&str, &str)> = vec![("__name__", "m"), ("job", job.as_str())];
        l.extend(extra.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        let samples: Vec<Sample> = (0..samples as i64)
            .map(|i| Sample::new(T0 + i, 1.0))
            .collect();
        v1::encode_series(&mut w, l, &samples);
    }
    compress(&w.buf)
}

fn write(server: &Server, auth: Option<&str>, b: &[u8]) -> Response {
    post_write(server, &V1_HEADERS, auth, b)
}

fn start() -> (tempfile::TempDir, Server) {
    start_with_config(CONFIG, &KEEP_HISTORY)
}

#[test]
fn write_and_read_need_their_own_credentials() {
    let (_tmp, server) = start();
    let ok = format!("Bearer {WRITE_TOKEN}");
    assert_eq!(write(&server, None, &body(1, 1, 2)).status, 401);
    assert_eq!(
        write(&server, Some("Bearer nope-nope-nope-nope"), &body(1, 1, 2)).status,
        401
    );
    assert_eq!(
        write(&server, Some("Basic Z3JhZmFuYTpzM2NyZXQ="), &body(1, 1, 2)).status,
        401
    );
    let r = write(&server, Some(&ok), &body(1, 1, 2));
    assert_eq!(r.status, 204, "{}", r.text());

    assert_eq!(server.get("/api/v1/labels").status, 401);
    let r = server.get_with("/api/v1/labels", &[("Authorization", &ok)]);
    assert_eq!(r.status, 401, "the write token does not open reads");
    let r = server.get_with(
        "/api/v1/labels",
        &[("Authorization", "Basic Z3JhZmFuYTpzM2NyZXQ=")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/-/ready").status, 200);
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains(r#"hourglass_refusals_total{kind="auth",reason="write"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hourglass_refusals_total{kind="auth",reason="read"} 2"#),
        "{text}"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let (_tmp, server) = start();
    let ok = format!("Bearer {WRITE_TOKEN}");
    // 150 samples overdraw the 100/s budget once; the next request waits.
    assert_eq!(write(&server, Some(&ok), &body(3, 50, 2)).status, 204);
    let r = write(&server, Some(&ok), &body(1, 1, 2));
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait));
    assert!(
        server
            .get("/metrics")
            .text()
            .contains(r#"kind="rate_limit",reason="prometheus""#)
    );
}

#[test]
fn request_and_label_limits() {
    let (_tmp, server) = start();
    let ok = format!("Bearer {WRITE_TOKEN}");
    let r = write(&server, Some(&ok), &body(4, 1, 2));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("over the limit of 3"), "{}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = write(&server, Some(&ok), &body(1, 1, 5));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("invalid_series=1"), "{}", r.text());
}

#[test]
fn a_bad_config_file_stops_the_server_with_a_message() {
    let text = "[[auth.write.tokens]]\nname = 'x'\ntoken = 'short'\n";
    refused_naming(
        "--config",
        "bad.toml",
        text,
        &["bad.toml", "shorter than 16"],
    );
}

#[test]
fn pushes_draw_on_the_same_budget_as_remote_write() {
    // A push is a write request: room for its 150 series.
    let config = CONFIG.replace("max_series_per_request = 3", "max_series_per_request = 200");
    let (_tmp, server) = start_with_config(&config, &KEEP_HISTORY);
    let ok = format!("Bearer {WRITE_TOKEN}");
    let auth = [("Authorization", ok.as_str())];
    let push = |body: &str| server.request("PUT", "/metrics/job/batch", &auth, body.as_bytes());
    let text: String = (0..150)
        .map(|i| format!("pushed{{i=\"{i}\"}} 1\n"))
        .collect();
    // 151 samples (with push_time_seconds) overdraw the budget once.
    let r = push(&text);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = push("pushed{i=\"0\"} 2\n");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert!(
        r.text().contains("prometheus: samples/s limit reached"),
        "{}",
        r.text()
    );
    // Custom metrics: same caller, same budget, Prometheus's envelope.
    let r = server.post(
        "/api/v1/metrics/custom",
        &[
            ("Authorization", ok.as_str()),
            ("Content-Type", "application/json"),
        ],
        br#"[{"name":"c","metric_type":"GAUGE","value":1}]"#,
    );
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["errorType"], "too_many_requests");
    // The refused push left the group as the first push made it.
    let r = server.get_with(
        "/api/v1/query?query=count(pushed)",
        &[("Authorization", "Basic Z3JhZmFuYTpzM2NyZXQ=")],
    );
    assert_eq!(
        r.json()["data"]["result"][0]["value"][1],
        "150",
        "{}",
        r.text()
    );
}
