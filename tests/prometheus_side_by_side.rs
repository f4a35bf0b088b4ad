//! Debian's Prometheus scrapes Debian's node exporter and remote-writes to
//! Hourglass; the same queries asked of both return the same series with
//! the same values. Skipped (with a message) outside CI when the packages
//! are missing; `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, now_s, prometheus, small_node_exporter};
use common::query::enc;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

use std::time::{Duration, Instant};

fn query(addr: &str, path: &str) -> Value {
    let addr = addr.parse().unwrap();
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// Result as labels (JSON text) → values, for comparison.
fn by_series(v: &Value) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let points: Vec<&Value> = match s.get("values") {
            Some(vs) => vs.as_array().unwrap().iter().collect(),
            None => vec![&s["value"]],
        };
        let parsed = points
            .iter()
            .map(|p| {
                (
                    p[0].as_f64().unwrap(),
                    p[1].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        out.insert(s["metric"].to_string(), parsed);
    }
    out
}

fn assert_same(what: &str, theirs: &Value, ours: &Value) {
    assert_eq!(
        theirs["data"]["resultType"], ours["data"]["resultType"],
        "{what}"
    );
    let (a, b) = (by_series(theirs), by_series(ours));
    assert!(!a.is_empty(), "{what}: Prometheus returned nothing");
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: series differ"
    );
    for (k, pa) in &a {
        let pb = &b[k];
        assert_eq!(pa.len(), pb.len(), "{what} {k}: point counts differ");
        for ((ta, va), (tb, vb)) in pa.iter().zip(pb) {
            assert_eq!(ta, tb, "{what} {k}");
            let close = va == vb
                || (va.is_nan() && vb.is_nan())
                || ((va - vb) / va.abs().max(1e-300)).abs() < 1e-9;
            assert!(close, "{what} {k} at {ta}: Prometheus {va}, Hourglass {vb}");
        }
    }
}

#[test]
fn prometheus_remote_writes_and_both_answer_alike() {
    if !have_all(&["prometheus", "prometheus-node-exporter"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("hourglass"), &[]);
    let (_ne, ne_port) = small_node_exporter();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne_port}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n",
        server.addr
    );
    let (_prom, prom) = prometheus(tmp.path(), &config);
    let prom = prom.to_string();
    let ours = server.addr.to_string();

    // Wait until Hourglass holds several seconds of scrapes, then pick an
    // evaluation time both have certainly received.
    let deadline = Instant::now() + Duration::from_secs(60);
    let t = loop {
        assert!(Instant::now() < deadline, "no remote-written data arrived");
        std::thread::sleep(Duration::from_millis(500));
        let first = |q: &str| {
            let v = query(&ours, &format!("/api/v1/query?query={}", enc(q)));
            v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
        };
        let newest = first("max(timestamp(up))");
        let count = first("count_over_time(up[1m])");
        if let (Some(newest), Some(count)) = (newest, count)
            && count >= 8.0
            && newest < now_s()
        {
            break (newest - 1.0).floor();
        }
    };

    for q in [
        "up",
        "node_load1",
        "node_memory_MemTotal_bytes",
        "count by (mode) (node_cpu_seconds_total)",
        "sum by (cpu) (node_cpu_seconds_total)",
    ] {
        let path = format!("/api/v1/query?query={}&time={t}", enc(q));
        assert_same(q, &query(&prom, &path), &query(&ours, &path));
    }
    for q in [
        "rate(node_cpu_seconds_total{mode=\"idle\"}[4s])",
        "node_load1",
        "avg_over_time(node_memory_MemFree_bytes[3s])",
    ] {
        let path = format!(
            "/api/v1/query_range?query={}&start={}&end={t}&step=1",
            enc(q),
            t - 3.0
        );
        assert_same(q, &query(&prom, &path), &query(&ours, &path));
    }
}
