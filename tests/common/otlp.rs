//! OTLP/HTTP metrics bodies in JSON and where they go.

use crate::common::http::{JSON, Response};
use crate::common::server::Server;
use serde_json::json;

pub const PATH: &str = "/api/v1/otlp/v1/metrics";

/// `ms` as the string of nanoseconds OTLP JSON carries.
pub fn ns(ms: i64) -> String {
    (ms * 1_000_000).to_string()
}

/// A request holding `metrics` (a JSON array of metrics) from one
/// resource (`service.name` "svc") and scope.
pub fn json_request(metrics: serde_json::Value) -> Vec<u8> {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeMetrics": [{"scope": {"name": "t"}, "metrics": metrics}]
    }]})
    .to_string()
    .into_bytes()
}

/// Posts `body` as OTLP JSON.
pub fn post_json(server: &Server, body: &[u8]) -> Response {
    server.post(PATH, &[JSON], body)
}
