//! `POST /api/v1/metrics/custom` end to end: item-by-item results, and the
//! stored series read back through PromQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::custom::{assert_reason, post_custom};
use common::query::*;
use common::*;
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn push(server: &Server, body: &Value) -> Response {
    post_custom(server, body.to_string().as_bytes())
}

fn at(server: &Server, promql: &str, t_ms: i64) -> Vec<(Labels, f64)> {
    query_at(server, promql, Some(t_ms as f64 / 1000.0))
}

#[test]
fn mixed_push_keeps_good_items_and_names_bad_ones() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let body = json!([
        {"name": "queue_depth", "metric_type": "GAUGE", "value": 7, "labels": {"queue": "q1"},
         "timestamp": "2023-11-14T22:13:20Z", "source": "APPLICATION", "help_text": "Items waiting."},
        {"name": "orders_total", "metric_type": "COUNTER", "value": 10, "timestamp": T0 - 60_000,
         "source": "infrastructure"},
        {"name": "orders_total", "metric_type": "COUNTER", "value": 4, "timestamp": T0,
         "source": "INFRASTRUCTURE"},
        {"name": "broken", "metric_type": "GAUGE"},
        {"name": "req_seconds", "metric_type": "HISTOGRAM", "timestamp": T0,
         "buckets": {"0.1": 2, "1": 6, "+Inf": 8}, "sum": 9.5, "count": 8},
        {"name": "rpc_seconds", "metric_type": "SUMMARY", "timestamp": T0,
         "quantiles": {"0.5": 0.2, "0.99": 1.5}, "sum": 12, "count": 40},
        "not an object",
    ]);
    let r = push(&server, &body);
    assert_eq!(r.status, 207, "{}", r.text());
    let j = r.json();
    assert_eq!(j["accepted"], 4, "{j}");
    assert_eq!(j["rejected"], 3, "{j}");
    assert_eq!(
        j["errors"][0],
        json!({"index": 2, "field": "value", "reason": j["errors"][0]["reason"]})
    );
    assert_reason(&j, 0, "counter went backwards");
    assert_eq!(
        j["errors"][1],
        json!({"index": 3, "field": "value", "reason": "required"})
    );
    assert_eq!(j["errors"][2]["index"], 6);

    assert_eq!(
        at(&server, "queue_depth", T0),
        vec![(
            labels(&[
                ("__name__", "queue_depth"),
                ("queue", "q1"),
                ("source", "APPLICATION")
            ]),
            7.0
        )]
    );
    assert_eq!(
        at(&server, "orders_total", T0),
        vec![(
            labels(&[("__name__", "orders_total"), ("source", "INFRASTRUCTURE")]),
            10.0
        )]
    );
    let one = |q: &str| {
        let r = at(&server, q, T0);
        assert_eq!(r.len(), 1, "{q}: {r:?}");
        r[0].1
    };
    assert_eq!(one("req_seconds_bucket{le=\"1.0\"}"), 6.0);
    assert_eq!(one("req_seconds_count"), 8.0);
    assert_eq!(
        one("histogram_quantile(0.5, req_seconds_bucket)"),
        0.1 + 0.9 * (2.0 / 4.0)
    );
    assert_eq!(one("rpc_seconds{quantile=\"0.99\"}"), 1.5);
    assert_eq!(one("rpc_seconds_sum / rpc_seconds_count"), 0.3);

    let md = server.get("/api/v1/metadata?metric=queue_depth").json();
    assert_eq!(
        md["data"]["queue_depth"][0],
        json!({"type": "gauge", "help": "Items waiting.", "unit": ""})
    );
    assert_eq!(push_samples(&server, "custom", "rejected"), 3.0);
    assert_eq!(push_samples(&server, "custom", "accepted"), 11.0);
}

#[test]
fn default_timestamp_is_now_and_all_good_is_200() {
    let (_tmp, server) = Server::fresh();
    let r = push(
        &server,
        &json!({"metrics": [{"name": "up_now", "metric_type": "custom", "value": "+Inf"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"accepted": 1, "rejected": 0, "errors": []})
    );
    assert_eq!(value(&server, "up_now"), Some(f64::INFINITY));
}

#[test]
fn storage_refusals_are_attributed_to_their_item() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let r = push(
        &server,
        &json!([{"name": "g", "metric_type": "GAUGE", "value": 1, "timestamp": T0}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = push(
        &server,
        &json!([
            {"name": "g", "metric_type": "GAUGE", "value": 2, "timestamp": T0},
            {"name": "g", "metric_type": "GAUGE", "value": 3, "timestamp": T0 + 1000},
            {"name": "g", "metric_type": "GAUGE", "value": 3, "timestamp": T0 - 7_200_000},
        ]),
    );
    assert_eq!(r.status, 207, "{}", r.text());
    let j = r.json();
    assert_eq!(j["accepted"], 1, "{j}");
    assert_eq!(j["errors"][0]["index"], 0, "{j}");
    assert_reason(&j, 0, "different value");
    assert_eq!(j["errors"][1]["index"], 2, "{j}");
    assert_reason(&j, 1, "too old");
    assert_eq!(at(&server, "g", T0 + 1000)[0].1, 3.0);
}

#[test]
fn bad_bodies_answer_json_400() {
    let (_tmp, server) = Server::fresh();
    for body in [&b"{not json"[..], b"{\"name\": \"x\"}", b"42"] {
        let r = post_custom(&server, body);
        assert_eq!(r.status, 400, "{}", r.text());
        let j = r.json();
        assert_eq!(j["status"], "error");
        assert_eq!(j["errorType"], "bad_data");
    }
    let r = push(&server, &json!([{"name": "x"}]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["rejected"], 1);
}
