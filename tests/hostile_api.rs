//! Query API parameters at and past their edges: every refusal is a 400 in
//! Prometheus's error envelope naming the parameter, and the server keeps
//! answering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn get(server: &Server, path: &str) -> Response {
    server.get_with(path, &[])
}

fn assert_bad_param(r: &Response, param: &str, path: &str) {
    assert_eq!(r.status, 400, "{path}: {}", r.text());
    let j = r.json();
    assert_eq!(j["status"], "error", "{path}: {j}");
    assert_eq!(j["errorType"], "bad_data", "{path}: {j}");
    let msg = j["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&format!("\"{param}\"")),
        "{path}: error does not name {param}: {msg}"
    );
}

#[test]
fn query_parameters_past_their_edges_are_400_naming_the_parameter() {
    let (_tmp, server) = Server::fresh();
    let cases = [
        ("/api/v1/query?query=1&time=1e300", "time"),
        ("/api/v1/query?query=1&time=NaN", "time"),
        ("/api/v1/query?query=1&time=9223372036854775807", "time"),
        ("/api/v1/query?query=1&timeout=-1s", "timeout"),
        ("/api/v1/query?query=1&lookback_delta=-5m", "lookback_delta"),
        ("/api/v1/query?query=1&limit=-5", "limit"),
        ("/api/v1/query?query=x%5B1000y%5D", "query"),
        ("/api/v1/query?query=sum(", "query"),
        (
            "/api/v1/query_range?query=1&start=-1e18&end=1e18&step=1e17",
            "start",
        ),
        ("/api/v1/query_range?query=1&start=0&end=100&step=0", "step"),
        (
            "/api/v1/query_range?query=1&start=0&end=100&step=-1",
            "step",
        ),
        ("/api/v1/query_range?query=1&start=100&end=0&step=1", "end"),
        (
            "/api/v1/query_range?query=1&start=-9e15&end=9e15&step=0.001",
            "step",
        ),
        (
            "/api/v1/series?match[]=x&limit=99999999999999999999999",
            "limit",
        ),
        ("/api/v1/labels?start=abc", "start"),
        ("/api/v1/label/%ff%fe/values", "name"),
        ("/api/v1/status/tsdb?limit=-1", "limit"),
    ];
    for (path, param) in cases {
        assert_bad_param(&get(&server, path), param, path);
    }
    let r = get(&server, "/-/ready");
    assert_eq!(r.status, 200, "{}", r.text());
}
