//! `hourglass serve` end to end: a real server on a loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn ready_within_two_seconds_on_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh");
    let t0 = Instant::now();
    let server = Server::start(&dir, &[]);
    let ready = loop {
        let r = server.get("/-/ready");
        if r.status == 200 || t0.elapsed() > Duration::from_secs(5) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = t0.elapsed();
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert!(took < Duration::from_secs(2), "ready after {took:?}");
    assert!(dir.join("LOCK").exists() && dir.join("wal").is_dir());
    assert_eq!(server.get("/-/healthy").status, 200);
}

#[test]
fn a_second_server_on_the_same_directory_fails_naming_it() {
    let (tmp, _first) = Server::fresh();
    let err = refused_start(tmp.path(), &[]);
    assert!(
        err.contains(&tmp.path().display().to_string()) && err.contains("in use"),
        "{err}"
    );
}

#[test]
fn buildinfo_has_prometheus_shape_and_no_features() {
    let (_tmp, server) = Server::fresh();
    let r = server.get("/api/v1/status/buildinfo");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let v = r.json();
    assert_eq!(v["status"], "success");
    for field in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(v["data"][field].is_string(), "missing {field}: {v}");
    }
    assert!(v["data"].get("features").is_none());
    // Grafana wants a Prometheus version of at least 2.50.
    let version = v["data"]["version"].as_str().unwrap();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    assert!((major, minor) >= (2, 50), "{version}");
}

#[test]
fn metrics_are_valid_text_exposition_with_our_own_figures() {
    let (_tmp, server) = Server::fresh();
    assert_eq!(server.get("/-/ready").status, 200);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    for name in [
        "hourglass_build_info",
        "hourglass_wal_appends_total",
        "hourglass_wal_fsyncs_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("\n{name}")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains(r#"hourglass_http_requests_total{handler="/-/ready",code="200"} 1"#),
        "{text}"
    );
    // Every sample line is `name[{labels}] value` with a parseable value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        let ok = value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value);
        assert!(ok, "bad sample line: {line}");
    }
}

#[test]
fn unknown_api_path_is_a_404_in_prometheus_envelope() {
    let (_tmp, server) = Server::fresh();
    let r = server.get("/api/v1/no_such_thing");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["status"], "error");
    assert_eq!(r.json()["errorType"], "not_found");
    assert_eq!(server.get("/nowhere").status, 404);
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let (tmp, server) = Server::fresh();
    assert_eq!(server.get("/-/ready").status, 200);
    let (ok, log) = server.terminate();
    assert!(ok, "non-zero exit; log: {log:?}");
    assert!(log.iter().any(|l| l.contains("SIGTERM")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
    // The lock went with the process: a new server starts.
    let again = Server::start(tmp.path(), &[]);
    assert_eq!(again.get("/-/ready").status, 200);
}

#[test]
fn defaults_come_from_the_environment_and_dot_data() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(tmp.path())
        .env("HOURGLASS_LISTEN", "127.0.0.1:0");
    let server = Server::spawn(cmd);
    assert_eq!(server.get("/-/ready").status, 200);
    assert!(tmp.path().join("data/LOCK").exists());
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = Command::new(BIN)
        .args(["serve", "--wal-sync", "sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--wal-sync"));
}
