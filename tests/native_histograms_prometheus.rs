//! Proof against Debian's Prometheus 2.42: a target of the test's own
//! exposes native histograms over the protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`); Prometheus, started with
//! `--enable-feature=native-histograms`, scrapes it and remote-writes the
//! histograms (`send_native_histograms: true`) into Hourglass. The raw
//! histograms and the histogram queries (`histogram_count`,
//! `histogram_sum`, `histogram_quantile`, `histogram_fraction`,
//! `sum(rate(…))`) asked of both must agree. Skipped (with a message) when
//! Prometheus is missing outside CI; in CI a missing binary fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::compare::{
    Both, assert_same, assert_same_histograms, assert_same_within, settled_time,
};
use common::external::{have_all, prometheus_writing_to};
use common::{Server, target};
use hourglass::ingest::protobuf::Writer;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The cumulative counts of the 20 buckets of series `method` after `k`
/// scrapes: uneven growth, and the `put` series restarts (a counter
/// reset) at its 12th scrape.
fn counts(method: &str, k: u64) -> Vec<u64> {
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
fn exposition(k: u64) -> Vec<u8> {
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

/// The target: each scrape of `/metrics` serves the next exposition.
fn serve_protobuf() -> std::net::SocketAddr {
    let scrapes = Arc::new(AtomicU64::new(1));
    target::spawn(move |listener| async move {
        use axum::http::header;
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/metrics",
            get(move || {
                let k = scrapes.fetch_add(1, Ordering::Relaxed);
                async move { ([(header::CONTENT_TYPE, PROTOBUF)], exposition(k)) }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    })
}

#[test]
fn prometheus_scrapes_protobuf_native_histograms_remote_writes_them_and_both_answer_alike() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("hourglass"), &[]);
    let app = serve_protobuf();
    let (_prom, prom) =
        prometheus_writing_to(tmp.path(), server.addr, "app", &app.to_string(), true);

    // Wait for 20 s of histograms (a counter reset of `put` among them),
    // then evaluate at a time both certainly hold.
    let count = "min(count_over_time(rpc_duration_seconds[1m]))";
    let t = settled_time(server.addr, count, 20.0, Duration::from_secs(90));
    let both = Both {
        prom,
        ours: server.addr,
        t,
    };

    for q in [
        "histogram_count(rpc_duration_seconds)",
        "histogram_sum(rpc_duration_seconds)",
        "histogram_count(rate(rpc_duration_seconds[1m]))",
        "histogram_sum(sum(rate(rpc_duration_seconds[1m])))",
    ] {
        for (a, b) in [both.instant(q), both.range(q, 5.0)] {
            assert_same(q, &a, &b);
        }
    }
    // Inside a bucket, Prometheus 2.42 interpolates linearly; Prometheus 3
    // (which Hourglass follows) exponentially for exponential buckets. Both
    // must pick the same bucket: at schema 3 a bucket spans a factor of
    // 2^(1/8), so the answers are within 9% of each other.
    let rel = 2f64.powf(1.0 / 8.0) - 1.0;
    for q in [
        "histogram_quantile(0.9, rate(rpc_duration_seconds[1m]))",
        "histogram_quantile(0.5, sum(rate(rpc_duration_seconds[1m])))",
        "histogram_quantile(0.99, rpc_duration_seconds)",
        "histogram_fraction(0, 0.1, rate(rpc_duration_seconds[1m]))",
        "histogram_fraction(0.01, 0.1, rpc_duration_seconds)",
    ] {
        for (a, b) in [both.instant(q), both.range(q, 5.0)] {
            assert_same_within(q, &a, &b, rel);
        }
    }
    for q in [
        "rpc_duration_seconds[15s]",
        "rpc_duration_seconds",
        "sum(rate(rpc_duration_seconds[1m]))",
        "rate(rpc_duration_seconds[1m])",
        "increase(rpc_duration_seconds[20s])",
    ] {
        let (a, b) = both.instant(q);
        assert_same_histograms(q, &a, &b);
    }
    for q in [
        "sum(rate(rpc_duration_seconds[1m]))",
        "rpc_duration_seconds",
    ] {
        let (a, b) = both.range(q, 5.0);
        assert_same_histograms(q, &a, &b);
    }
}
