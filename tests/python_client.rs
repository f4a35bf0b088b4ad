//! Python's `prometheus_client` pushes to us as to a Pushgateway
//! (`push_to_gateway`, `pushadd_to_gateway`, `delete_from_gateway`);
//! the values are then read back through PromQL.
//!
//! Needs `python3` with `prometheus_client`; without it the test says
//! "skipped", except under CI (`CI` set), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::*;
use common::*;
use std::process::Command;

fn python_client_available() -> bool {
    Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn prometheus_client_pushes_work_unchanged() {
    if !python_client_available() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "python3 with prometheus_client is required under CI (pip install prometheus_client)"
            );
        }
        println!("skipped: python3 with prometheus_client not installed");
        return;
    }
    let (_tmp, server) = Server::fresh();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/push.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.addr.to_string())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "push.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let grp = "job=\"pybatch\",instance=\"host/1\"";
    assert_eq!(
        query(&server, &format!("jobs_processed_total{{{grp}}}")),
        vec![(
            labels(&[
                ("__name__", "jobs_processed_total"),
                ("instance", "host/1"),
                ("job", "pybatch"),
                ("queue", "a\"b"),
            ]),
            3.0
        )]
    );
    for (q, want) in [
        ("last_success_unixtime{GRP}", Some(17.0)),
        ("batch_duration_seconds_bucket{GRP,le=\"1.0\"}", Some(1.0)),
        ("batch_duration_seconds_bucket{GRP,le=\"+Inf\"}", Some(2.0)),
        ("batch_duration_seconds_count{GRP}", Some(2.0)),
        ("batch_duration_seconds_sum{GRP}", Some(3.5)),
        (
            "histogram_quantile(0.5, batch_duration_seconds_bucket{GRP})",
            Some(1.0),
        ),
        ("batch_items_count{GRP}", Some(1.0)),
        ("batch_items_sum{GRP}", Some(2.0)),
    ] {
        let q = q.replace("GRP", grp);
        assert_eq!(value(&server, &q), want, "{q}");
    }
    assert!(value(&server, &format!("jobs_processed_created{{{grp}}}")).is_some());
    // pushadd (POST) added a family and kept the others.
    assert_eq!(value(&server, &format!("extra_gauge{{{grp}}}")), Some(42.0));
    assert_eq!(value(&server, "zipped_gauge{job=\"pyzip\"}"), Some(5.0));
    // delete_from_gateway ended the other group's series.
    assert_eq!(value(&server, "doomed_gauge"), None);
    assert_eq!(value(&server, "push_time_seconds{job=\"pydelete\"}"), None);
    assert!(value(&server, "push_time_seconds{job=\"pybatch\"}").is_some());

    let md = server
        .get("/api/v1/metadata?metric=jobs_processed_total")
        .json();
    assert_eq!(md["data"]["jobs_processed_total"][0]["type"], "counter");
    assert_eq!(
        md["data"]["jobs_processed_total"][0]["help"],
        "Jobs done \\ with\nnewline"
    );
}
