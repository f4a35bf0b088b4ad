//! Scale-out with existing engines (README "Beyond one node"): Debian's
//! Prometheus 2.42 scrapes itself and remote-writes to two Hourglass
//! nodes, each keeping its `hashmod` share of the series
//! (`write_relabel_configs`), and to a third node that gets everything; a
//! second Prometheus with an empty store and `remote_read` to both shards
//! answers `count` and `sum` over all series as the single node does, and
//! each shard holds only its own series. Skipped with a message outside CI
//! when Prometheus is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, prometheus};
use common::query::enc;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

fn get(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn scalar(addr: SocketAddr, q: &str, t: i64) -> Option<f64> {
    let v = get(addr, &format!("/api/v1/query?query={}&time={t}", enc(q)));
    let r = v["data"]["result"].as_array().unwrap();
    assert!(r.len() <= 1, "{q} at {t} on {addr}: {v}");
    r.first()
        .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
}

fn series(addr: SocketAddr, t: i64) -> BTreeSet<String> {
    let path = format!(
        "/api/v1/series?match[]={}&start={}&end={t}",
        enc("{job=\"sender\"}"),
        t - 60
    );
    get(addr, &path)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect()
}

fn shard(url: &str, keep: u32) -> String {
    format!(
        "  - url: {url}\n    queue_config: {{batch_send_deadline: 1s}}\n    write_relabel_configs:\n      - source_labels: [__name__, instance, job, quantile, le, handler, code, role, slice, event, name, reason, type, dialer_name, listener_name, interval, scrape_job, config, remote_name, url, version, revision, branch, goversion, tags, goarch, goos]\n        modulus: 2\n        target_label: __tmp_shard\n        action: hashmod\n      - source_labels: [__tmp_shard]\n        regex: '{keep}'\n        action: keep\n      - regex: __tmp_shard\n        action: labeldrop\n"
    )
}

#[test]
fn two_shards_read_through_prometheus_equal_one_node() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let (_a_dir, node_a) = Server::fresh();
    let (_b_dir, node_b) = Server::fresh();
    let (_w_dir, whole) = Server::fresh();
    let sender_dir = tempfile::tempdir().unwrap();
    let sender_port = common::external::free_port();
    let url = |s: &Server| format!("http://{}/api/v1/write", s.addr);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sender\n    static_configs:\n      - targets: ['127.0.0.1:{sender_port}']\nremote_write:\n{}{}  - url: {}\n    queue_config: {{batch_send_deadline: 1s}}\n",
        shard(&url(&node_a), 0),
        shard(&url(&node_b), 1),
        url(&whole)
    );
    std::fs::write(sender_dir.path().join("prometheus.yml"), &config).unwrap();
    let sender = std::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            sender_dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            sender_dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{sender_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _sender = common::external::Proc(sender);

    // Wait until every node has a few scrapes' worth.
    let up = |s: &Server| {
        let v = s.get(&format!(
            "/api/v1/query?query={}",
            enc("count_over_time(up{job=\"sender\"}[1m])")
        ));
        v.status == 200
            && v.json()["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|x| x.parse::<f64>().ok())
                .unwrap_or(0.0)
                >= 5.0
    };
    wait_until(
        "the single node holds 5 scrapes",
        Duration::from_secs(90),
        || up(&whole),
    );
    // The sender's own series appear over its first seconds: wait until
    // their number holds still.
    let mut last = 0;
    wait_until(
        "the sender's series settle",
        Duration::from_secs(60),
        || {
            let n = series(whole.addr, now_ms() / 1000).len();
            let settled = n == last;
            last = n;
            std::thread::sleep(Duration::from_secs(2));
            settled
        },
    );
    // A time every node has fully received: a few seconds back, then give
    // the remote-write queues time to deliver it everywhere.
    let t = now_ms() / 1000 - 3;
    std::thread::sleep(Duration::from_secs(4));

    let (sa, sb, sw) = (
        series(node_a.addr, t),
        series(node_b.addr, t),
        series(whole.addr, t),
    );
    assert!(
        !sa.is_empty() && !sb.is_empty(),
        "both shards hold series: {} and {}",
        sa.len(),
        sb.len()
    );
    assert!(
        sa.is_disjoint(&sb),
        "a series on both shards: {:?}",
        sa.intersection(&sb).next()
    );
    let union: BTreeSet<_> = sa.union(&sb).cloned().collect();
    assert!(
        union == sw,
        "the shards together hold {} series, the single node {}; first difference {:?}",
        union.len(),
        sw.len(),
        union.symmetric_difference(&sw).next()
    );
    println!(
        "shards: {} + {} series = {} (whole node {})",
        sa.len(),
        sb.len(),
        sw.len(),
        whole.addr
    );

    let reader_dir = tempfile::tempdir().unwrap();
    let reader_config = format!(
        "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        node_a.addr, node_b.addr
    );
    let (_reader, raddr) = prometheus(reader_dir.path(), &reader_config);
    wait_for("reading Prometheus ready", || {
        try_request(raddr, "GET", "/-/ready", &[], b"").is_ok_and(|r| r.status == 200)
    });
    for q in [
        "count({job=\"sender\"})",
        "sum({job=\"sender\"} >= -Inf)",
        "count({job=\"sender\"} != 0)",
        "count(last_over_time({job=\"sender\"}[30s]))",
        "sum(rate(process_cpu_seconds_total[30s]))",
        "sum(scrape_samples_scraped)",
        "sum by (job) (up)",
    ] {
        let single = scalar(whole.addr, q, t);
        let global = scalar(raddr, q, t);
        let (Some(g), Some(w)) = (global, single) else {
            panic!("{q} at {t}: through the shards {global:?}, single node {single:?}");
        };
        assert!(!g.is_nan(), "{q}: NaN");
        let close = g == w || (g - w).abs() <= 1e-9 * w.abs();
        assert!(close, "{q}: through the shards {g}, single node {w}");
    }
}
