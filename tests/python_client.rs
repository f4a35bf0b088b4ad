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

#[test]
fn prometheus_client_pushes_work_unchanged() {
    if !common::external::python_has("prometheus_client") {
        return;
    }
    let (_tmp, server) = Server::fresh();
    common::external::run_python("push.py", &[&server.addr.to_string()]);

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
