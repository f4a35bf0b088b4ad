//! Debian's Prometheus scrapes Debian's node exporter and remote-writes to
//! Hourglass; the same queries asked of both return the same series with
//! the same values. Skipped (with a message) outside CI when the packages
//! are missing; `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn have(cmd: &str) -> bool {
    let found = Command::new(cmd).arg("--version").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("{cmd} is not installed; .ci/run installs it");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills a helper process when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn query(addr: &str, path: &str) -> Value {
    let addr = addr.parse().unwrap();
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
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
    if !have("prometheus") || !have("prometheus-node-exporter") {
        eprintln!("skipped: prometheus / prometheus-node-exporter not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("hourglass"), &[]);
    let ne_port = free_port();
    let _ne = Proc(
        Command::new("prometheus-node-exporter")
            .args([
                &format!("--web.listen-address=127.0.0.1:{ne_port}"),
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.loadavg",
                "--collector.meminfo",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom_port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne_port}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n",
        server.addr
    );
    let config_path = tmp.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let _prom = Proc(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom = format!("127.0.0.1:{prom_port}");
    let ours = server.addr.to_string();

    // Wait until Hourglass holds several seconds of scrapes, then pick an
    // evaluation time both have certainly received.
    let deadline = Instant::now() + Duration::from_secs(60);
    let t = loop {
        assert!(Instant::now() < deadline, "no remote-written data arrived");
        std::thread::sleep(Duration::from_millis(500));
        let v = query(
            &ours,
            &format!("/api/v1/query?query={}", enc("max(timestamp(up))")),
        );
        let newest = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok());
        let v = query(
            &ours,
            &format!("/api/v1/query?query={}", enc("count_over_time(up[1m])")),
        );
        let count = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok());
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
