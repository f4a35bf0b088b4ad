//! Debian's Prometheus scrapes Debian's node exporter and remote-writes to
//! Hourglass; the same queries asked of both return the same series with
//! the same values. Skipped (with a message) outside CI when the packages
//! are missing; `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::compare::{Both, assert_same, settled_time};
use common::external::{have_all, prometheus_writing_to, small_node_exporter};
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
    let target = format!("127.0.0.1:{ne_port}");
    let (_prom, prom) = prometheus_writing_to(tmp.path(), server.addr, "node", &target, false);

    // Wait until Hourglass holds several seconds of scrapes, then pick an
    // evaluation time both have certainly received.
    let t = settled_time(
        server.addr,
        "count_over_time(up[1m])",
        8.0,
        Duration::from_secs(60),
    );
    let both = Both {
        prom,
        ours: server.addr,
        t,
    };

    for q in [
        "up",
        "node_load1",
        "node_memory_MemTotal_bytes",
        "count by (mode) (node_cpu_seconds_total)",
        "sum by (cpu) (node_cpu_seconds_total)",
    ] {
        let (a, b) = both.instant(q);
        assert_same(q, &a, &b);
    }
    for q in [
        "rate(node_cpu_seconds_total{mode=\"idle\"}[4s])",
        "node_load1",
        "avg_over_time(node_memory_MemFree_bytes[3s])",
    ] {
        let (a, b) = both.range(q, 3.0);
        assert_same(q, &a, &b);
    }
}
