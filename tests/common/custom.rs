//! The custom metrics API (`/api/v1/metrics/custom`) and its answer.

use crate::common::http::{JSON, Response};
use crate::common::server::Server;
use serde_json::Value;

pub const PATH: &str = "/api/v1/metrics/custom";

/// Posts `body` as JSON.
pub fn post_custom(server: &Server, body: &[u8]) -> Response {
    server.post(PATH, &[JSON], body)
}

/// Asserts that the `n`th error of the answer `j` gives a reason
/// containing `needle`.
#[track_caller]
pub fn assert_reason(j: &Value, n: usize, needle: &str) {
    let reason = j["errors"][n]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(needle), "errors[{n}] not {needle:?}: {j}");
}
