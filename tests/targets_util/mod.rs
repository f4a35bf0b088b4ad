//! Helpers of the targets API tests: scrape targets served by the test on
//! loopback, and JSON requests to the server.
#![allow(dead_code)]

use crate::common::{Response, Server, request};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a test target answers on each path: `/metrics` serves `body`,
/// `/fail` answers 500, `/garbage` serves bytes that are no exposition
/// format, `/slow` answers after 3 s.
pub fn start_target(body: Arc<Mutex<String>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use axum::http::{StatusCode, header};
            use axum::routing::get;
            let text = || [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
            let app = axum::Router::new()
                .route(
                    "/metrics",
                    get(move || {
                        let body = body.lock().unwrap().clone();
                        async move { (text(), body) }
                    }),
                )
                .route(
                    "/fail",
                    get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
                )
                .route(
                    "/garbage",
                    get(move || async move {
                        let junk: Vec<u8> = (0..4096u32)
                            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                            .collect();
                        (text(), junk)
                    }),
                )
                .route(
                    "/slow",
                    get(move || async move {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        (text(), "slow_metric 1\n")
                    }),
                );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
    });
    addr
}

/// A loopback port nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

pub const JSON: (&str, &str) = ("Content-Type", "application/json");

pub fn post_target(server: &Server, body: &serde_json::Value) -> Response {
    post_raw(server, body.to_string().as_bytes(), &[])
}

pub fn post_raw(server: &Server, body: &[u8], headers: &[(&str, &str)]) -> Response {
    let mut h = vec![JSON];
    h.extend_from_slice(headers);
    request(server.addr, "POST", "/api/v1/metrics/targets", &h, body)
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

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An instant query's result list.
pub fn query(server: &Server, q: &str) -> Vec<serde_json::Value> {
    let r = server.get(&format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn value(series: &serde_json::Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

/// Polls every 100 ms until `cond` holds; fails naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the target reports `status`, and returns it.
pub fn wait_health(server: &Server, id: &str, status: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    wait_until(
        &format!("target {id} {status}"),
        Duration::from_secs(30),
        || {
            let r = get_target(server, id);
            assert_eq!(r.status, 200, "{}", r.text());
            last = r.json();
            last["health_status"] == status
        },
    );
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
