//! Requests to the targets API (`/api/v1/metrics/targets`).

use crate::common::http::{JSON, Response, request};
use crate::common::server::Server;
use crate::common::wait::wait_for;

pub fn post_target(server: &Server, body: &serde_json::Value) -> Response {
    post_raw(server, body.to_string().as_bytes(), &[])
}

pub fn post_raw(server: &Server, body: &[u8], headers: &[(&str, &str)]) -> Response {
    let mut h = vec![JSON];
    h.extend_from_slice(headers);
    server.post("/api/v1/metrics/targets", &h, body)
}

pub fn delete_target(server: &Server, id: &str) -> Response {
    request(
        server.addr,
        "DELETE",
        &format!("/api/v1/metrics/targets/{id}"),
        &[],
        b"",
    )
}

pub fn get_target(server: &Server, id: &str) -> Response {
    server.get(&format!("/api/v1/metrics/targets/{id}"))
}

/// Waits until the target reports `status`, and returns it.
pub fn wait_health(server: &Server, id: &str, status: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    wait_for(&format!("target {id} {status}"), || {
        let r = get_target(server, id);
        assert_eq!(r.status, 200, "{}", r.text());
        last = r.json();
        last["health_status"] == status
    });
    last
}

/// A minimal registration of `url` for `source`.
pub fn registration(source: &str, url: &str, interval: &str) -> serde_json::Value {
    serde_json::json!({
        "source_id": source,
        "collection_method": "PULL_SCRAPING",
        "scrape_config": {"target_url": url, "scrape_interval": interval},
    })
}
