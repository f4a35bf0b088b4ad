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
    assert_same, assert_same_histograms, assert_same_within, get_json, settled_time,
};
use common::external::{have_all, prometheus_with};
use common::query::enc;
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
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{app}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n",
        server.addr
    );
    let (_prom, prom) =
        prometheus_with(tmp.path(), &config, &["--enable-feature=native-histograms"]);
    let ours = server.addr;

    // Wait for 20 s of histograms (a counter reset of `put` among them),
    // then evaluate at a time both certainly hold.
    let t = settled_time(
        ours,
        "min(count_over_time(rpc_duration_seconds[1m]))",
        20.0,
        Duration::from_secs(90),
    );

    let instant = |q: &str| format!("/api/v1/query?query={}&time={t}", enc(q));
    let range = |q: &str| {
        format!(
            "/api/v1/query_range?query={}&start={}&end={t}&step=1",
            enc(q),
            t - 5.0
        )
    };
    for q in [
        "histogram_count(rpc_duration_seconds)",
        "histogram_sum(rpc_duration_seconds)",
        "histogram_count(rate(rpc_duration_seconds[1m]))",
        "histogram_sum(sum(rate(rpc_duration_seconds[1m])))",
    ] {
        assert_same(
            q,
            &get_json(prom, &instant(q)),
            &get_json(ours, &instant(q)),
        );
        assert_same(q, &get_json(prom, &range(q)), &get_json(ours, &range(q)));
    }
    // Inside a bucket, Prometheus 2.42 interpolates linearly; Prometheus 3
    // (which Hourglass follows) exponentially for exponential buckets. Both
    // must pick the same bucket: at schema 3 a bucket spans a factor of
    // 2^(1/8), so the answers are within 9% of each other.
    for q in [
        "histogram_quantile(0.9, rate(rpc_duration_seconds[1m]))",
        "histogram_quantile(0.5, sum(rate(rpc_duration_seconds[1m])))",
        "histogram_quantile(0.99, rpc_duration_seconds)",
        "histogram_fraction(0, 0.1, rate(rpc_duration_seconds[1m]))",
        "histogram_fraction(0.01, 0.1, rpc_duration_seconds)",
    ] {
        let rel = 2f64.powf(1.0 / 8.0) - 1.0;
        assert_same_within(
            q,
            &get_json(prom, &instant(q)),
            &get_json(ours, &instant(q)),
            rel,
        );
        assert_same_within(
            q,
            &get_json(prom, &range(q)),
            &get_json(ours, &range(q)),
            rel,
        );
    }
    for q in [
        "rpc_duration_seconds[15s]",
        "rpc_duration_seconds",
        "sum(rate(rpc_duration_seconds[1m]))",
        "rate(rpc_duration_seconds[1m])",
        "increase(rpc_duration_seconds[20s])",
    ] {
        assert_same_histograms(
            q,
            &get_json(prom, &instant(q)),
            &get_json(ours, &instant(q)),
        );
    }
    for q in [
        "sum(rate(rpc_duration_seconds[1m]))",
        "rpc_duration_seconds",
    ] {
        assert_same_histograms(q, &get_json(prom, &range(q)), &get_json(ours, &range(q)));
    }
}
