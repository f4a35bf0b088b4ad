//! Debian's Prometheus scrapes Debian's node exporter and remote-writes to
//! Hourglass; the same queries asked of both return the same series with
//! the same values. Skipped (with a message) outside CI when the packages
//! are missing; `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::compare::{assert_same, get_json, settled_time};
use common::external::{have_all, prometheus, small_node_exporter};
use common::query::enc;
use common::*;

use std::time::Duration;

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
    let ours = server.addr;

    // Wait until Hourglass holds several seconds of scrapes, then pick an
    // evaluation time both have certainly received.
    let t = settled_time(
        ours,
        "count_over_time(up[1m])",
        8.0,
        Duration::from_secs(60),
    );

    for q in [
        "up",
        "node_load1",
        "node_memory_MemTotal_bytes",
        "count by (mode) (node_cpu_seconds_total)",
        "sum by (cpu) (node_cpu_seconds_total)",
    ] {
        let path = format!("/api/v1/query?query={}&time={t}", enc(q));
        assert_same(q, &get_json(prom, &path), &get_json(ours, &path));
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
        assert_same(q, &get_json(prom, &path), &get_json(ours, &path));
    }
}
