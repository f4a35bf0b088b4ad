//! Debian's `promtool query …` against a real server: the Prometheus HTTP
//! API as a real Prometheus client reads it. `.ci/run` installs promtool;
//! elsewhere the test says it is skipped when promtool is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::Sample;
use std::process::{Command, Output};

/// 2024-06-01T00:00:00Z.
const T0: i64 = 1_717_200_000_000;

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("promtool is not installed; .ci/run installs Debian's prometheus package");
    }
    if !found {
        eprintln!("skipped: promtool not installed (apt-get install prometheus)");
    }
    found.then_some("promtool")
}

fn run(args: &[&str]) -> (bool, String) {
    let out: Output = Command::new("promtool").args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn seeded() -> (tempfile::TempDir, Server, String) {
    let (tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    for (inst, up) in [("a:9100", 1.0), ("b:9100", 0.0)] {
        let samples: Vec<Sample> = (0..40).map(|i| Sample::new(T0 + i * 15_000, up)).collect();
        v1::encode_series(
            &mut w,
            [("__name__", "up"), ("instance", inst), ("job", "node")],
            &samples,
        );
    }
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204);
    let url = format!("http://{}", server.addr);
    (tmp, server, url)
}

#[test]
fn promtool_query_instant_range_series_and_labels() {
    if promtool().is_none() {
        return;
    }
    let (_tmp, _server, url) = seeded();
    let t = (T0 / 1000 + 300).to_string();

    let (ok, out) = run(&["query", "instant", "--time", &t, &url, "up"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "up{{instance=\"a:9100\", job=\"node\"}} => 1 @[{t}]"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "up{{instance=\"b:9100\", job=\"node\"}} => 0 @[{t}]"
        )),
        "{out}"
    );

    let (ok, out) = run(&["query", "instant", "--time", &t, &url, "sum by (job) (up)"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("{{job=\"node\"}} => 1 @[{t}]")),
        "{out}"
    );

    let start = (T0 / 1000 + 60).to_string();
    let end = (T0 / 1000 + 180).to_string();
    let (ok, out) = run(&[
        "query",
        "range",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "60s",
        &url,
        "up{instance=\"a:9100\"}",
    ]);
    assert!(ok, "{out}");
    for ts in [&start, &(T0 / 1000 + 120).to_string(), &end] {
        assert!(out.contains(&format!("1 @[{ts}]")), "{ts} missing:\n{out}");
    }

    // promtool looks back 9999 h by default; our data is from 2024.
    let (ok, out) = run(&[
        "query",
        "series",
        "--match",
        "up{instance=\"b:9100\"}",
        "--start",
        &start,
        "--end",
        &end,
        &url,
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        "{__name__=\"up\", instance=\"b:9100\", job=\"node\"}"
    );

    let (ok, out) = run(&[
        "query", "labels", "--start", &start, "--end", &end, &url, "instance",
    ]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["a:9100", "b:9100"]);

    let (ok, out) = run(&["query", "instant", &url, "sum("]);
    assert!(!ok);
    assert!(
        out.contains("bad_data") && out.contains("parse error"),
        "{out}"
    );
}
