//! A protobuf exposition target of the tests' own: the native histogram
//! `rpc_duration_seconds` of two series (schema 3, 20 buckets in two
//! spans) growing unevenly, one of them resetting every 12th scrape, as a
//! client library exposes it (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`).

use crate::common::target;
use hourglass::ingest::protobuf::Writer;
use hourglass_storage::encoding::zigzag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The protobuf exposition format's Content-Type.
pub const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The cumulative counts of the 20 buckets of series `method` after `k`
/// scrapes: uneven growth, and the `put` series restarts (a counter
/// reset) at its 12th scrape.
pub fn counts(method: &str, k: u64) -> Vec<u64> {
    let (k, seed) = match method {
        "put" => (k % 12, 3),
        _ => (k, 0),
    };
    (0..20u64)
        .map(|b| k * (1 + (b + seed) % 5) * (10 - b.abs_diff(9).min(9)))
        .collect()
}

/// One `MetricFamily` (length-delimited) holding the native histogram
/// `rpc_duration_seconds` of two series (schema 3, buckets 20 wide,
/// two spans), as a client library exposes it after `k` scrapes.
pub fn exposition(k: u64) -> Vec<u8> {
    let mut family = Writer::default();
    family.bytes(1, b"rpc_duration_seconds");
    family.bytes(2, b"RPC latency.");
    family.uint(3, 4); // HISTOGRAM
    for method in ["get", "put"] {
        let c = counts(method, k);
        let zero = c[0] / 3;
        let count = c.iter().sum::<u64>() + zero;
        family.message(4, |m| {
            m.message(1, |l| {
                l.bytes(1, b"method");
                l.bytes(2, method.as_bytes());
            });
            m.message(7, |h| {
                h.uint(1, count);
                h.double(2, count as f64 * 0.0173);
                h.uint(5, zigzag(3));
                h.double(6, 2f64.powi(-128));
                h.uint(7, zero);
                for (offset, len) in [(-40i64, 12u64), (2, 8)] {
                    h.message(12, |s| {
                        s.uint(1, zigzag(offset));
                        s.uint(2, len);
                    });
                }
                let mut prev = 0i64;
                for v in &c {
                    h.uint(13, zigzag(*v as i64 - prev));
                    prev = *v as i64;
                }
            });
        });
    }
    let mut out = Writer::default();
    out.varint(family.buf.len() as u64);
    out.buf.extend_from_slice(&family.buf);
    out.buf
}

/// The target: each scrape of `/metrics` serves the next exposition of
/// its scraper (told apart by `User-Agent`), so Prometheus and Hourglass
/// scraping it side by side each see the sequence from its start.
pub fn serve_protobuf() -> std::net::SocketAddr {
    let scrapes: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    target::spawn(move |listener| async move {
        use axum::http::{HeaderMap, header};
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let agent = headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let k = {
                    let mut s = scrapes.lock().unwrap();
                    let k = s.entry(agent).or_insert(0);
                    *k += 1;
                    *k
                };
                async move { ([(header::CONTENT_TYPE, PROTOBUF)], exposition(k)) }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    })
}
