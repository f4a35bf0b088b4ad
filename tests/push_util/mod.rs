//! Reading pushed data back through the query API, for the push tests.
#![allow(dead_code)]

use crate::common::*;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

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

/// `{a="b",…}` as a map, for comparisons.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A labelled sample line's value in `/metrics`, e.g. `name{a="b"}`.
pub fn self_metric(server: &Server, series: &str) -> f64 {
    let text = server.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} not in /metrics:\n{text}"))
}
