//! Reading data back: instant queries through the API and sample values
//! from `/metrics`.

use crate::common::server::Server;
use serde_json::Value;
use std::collections::BTreeMap;

/// A query-string component, percent-encoded.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A label set, name to value.
pub type Labels = BTreeMap<String, String>;

/// Instant query at the server's now (or at `time`, Unix seconds):
/// `(labels, value)` sorted by labels.
pub fn query_at(server: &Server, promql: &str, time: Option<f64>) -> Vec<(Labels, f64)> {
    let mut path = format!("/api/v1/query?query={}", enc(promql));
    if let Some(t) = time {
        path.push_str(&format!("&time={t}"));
    }
    let r = server.get(&path);
    assert_eq!(r.status, 200, "{promql}: {}", r.text());
    let j = r.json();
    let mut out: Vec<(Labels, f64)> = j["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{promql}: not a vector: {j}"))
        .iter()
        .map(|s| {
            let labels = s["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let v: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
            (labels, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn query(server: &Server, promql: &str) -> Vec<(Labels, f64)> {
    query_at(server, promql, None)
}

/// The single value of `promql`, or `None` when the result is empty.
pub fn value(server: &Server, promql: &str) -> Option<f64> {
    let r = query(server, promql);
    assert!(r.len() <= 1, "{promql}: {r:?}");
    r.first().map(|(_, v)| *v)
}

/// Each query's single value (see [`value`]) is the one its row gives.
#[track_caller]
pub fn assert_values(server: &Server, rows: &[(&str, Option<f64>)]) {
    for (promql, want) in rows {
        assert_eq!(value(server, promql), *want, "{promql}");
    }
}

/// `{a="b",…}` as a map, for comparisons.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An instant query's result list as the API gives it; any answer other
/// than 200 fails the test.
pub fn results(server: &Server, q: &str) -> Vec<Value> {
    let r = server.get(&format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(r.status, 200, "{q}: {}", r.text());
    r.json()["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of one instant-vector element of [`results`].
pub fn sample_value(series: &Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

/// Asserts that `body` is the API's error envelope with `error_type` and
/// an `error` message containing `needle`.
#[track_caller]
pub fn assert_api_error(body: &Value, error_type: &str, needle: &str) {
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["errorType"], error_type, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "{needle:?} not in {body}");
}

/// The value of the sample line in `/metrics` that starts with
/// `line_start` (a name, with labels if it has any) and a space.
pub fn metric(server: &Server, line_start: &str) -> f64 {
    try_metric(server, line_start).unwrap_or_else(|| {
        panic!(
            "{line_start} not in /metrics:\n{}",
            server.get("/metrics").text()
        )
    })
}

/// `hourglass_push_samples_total` of a push `path` (`custom`,
/// `pushgateway`) and `result` (`accepted`, `rejected`).
pub fn push_samples(server: &Server, path: &str, result: &str) -> f64 {
    metric(
        server,
        &format!("hourglass_push_samples_total{{path=\"{path}\",result=\"{result}\"}}"),
    )
}

/// Like [`metric`], but `None` when no line starts so.
pub fn try_metric(server: &Server, line_start: &str) -> Option<f64> {
    server
        .get("/metrics")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(line_start).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
}

/// The `warnings` of an instant query at `time` (s), as JSON text; the
/// query must answer 200.
pub fn warnings_at(server: &Server, promql: &str, time: f64) -> String {
    let r = server.get(&format!("/api/v1/query?query={}&time={time}", enc(promql)));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["warnings"].to_string()
}
