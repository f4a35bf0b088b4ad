//! `--type-and-unit-labels` (Prometheus's type-and-unit-labels feature):
//! remote write 2.0 series carry their family's type and unit as
//! `__type__`/`__unit__`, PromQL selects by them, drops them with the
//! metric name and matches through them; off, nothing changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{labels, query_at};
use common::*;
use hourglass::ingest::remote_write::{v1, v2::Encoder};
use hourglass_storage::Sample;

/// Two families with metadata and one without, at `t` (ms).
fn body(t: i64) -> Vec<u8> {
    let mut e = Encoder::new();
    let families = [
        ("disk_capacity_bytes", 100.0, v1::MetricType::Gauge, "bytes"),
        ("disk_free_bytes", 40.0, v1::MetricType::Gauge, "bytes"),
        ("io_ops_total", 7.0, v1::MetricType::Counter, ""),
    ];
    for (name, v, kind, unit) in families {
        e.series_with_unit(
            [("__name__", name), ("job", "node")],
            &[(Sample::new(t, v), 0)],
            Some(kind),
            unit,
        );
    }
    e.series(
        [("__name__", "plain"), ("job", "node")],
        &[(Sample::new(t, 1.0), 0)],
        None,
    );
    e.finish()
}

/// Writes [`body`] now; the query time of its samples.
fn write_families(server: &Server) -> Option<f64> {
    let t = now_ms();
    let r = remote_write_v2(server, &body(t));
    assert_eq!(r.status, 204, "{}", r.text());
    Some(t as f64 / 1000.0)
}

#[test]
fn remote_write_2_metadata_becomes_type_and_unit_labels_when_enabled() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--type-and-unit-labels"]);
    let at = write_families(&server);

    let got = query_at(&server, "disk_free_bytes", at);
    assert_eq!(
        got,
        vec![(
            labels(&[
                ("__name__", "disk_free_bytes"),
                ("__type__", "gauge"),
                ("__unit__", "bytes"),
                ("job", "node"),
            ]),
            40.0
        )]
    );
    // An unknown unit adds no `__unit__`; no metadata adds nothing.
    let got = query_at(&server, r#"{__type__="counter"}"#, at);
    assert_eq!(
        got,
        vec![(
            labels(&[
                ("__name__", "io_ops_total"),
                ("__type__", "counter"),
                ("job", "node"),
            ]),
            7.0
        )]
    );
    let got = query_at(&server, "plain", at);
    assert_eq!(got[0].0, labels(&[("__name__", "plain"), ("job", "node")]));
    // Selecting by unit, and arithmetic dropping type and unit with the
    // name; matching looks through them.
    assert_eq!(
        query_at(&server, r#"count({__unit__="bytes"})"#, at)[0].1,
        2.0
    );
    let got = query_at(
        &server,
        "(disk_capacity_bytes - disk_free_bytes) / disk_capacity_bytes",
        at,
    );
    assert_eq!(got, vec![(labels(&[("job", "node")]), 0.6)]);
    let got = query_at(&server, "plain + on(job) io_ops_total", at);
    assert_eq!(got, vec![(labels(&[("job", "node")]), 8.0)]);
}

#[test]
fn without_the_flag_series_keep_the_labels_they_were_sent_with() {
    let (_tmp, server) = Server::fresh();
    let at = write_families(&server);
    let got = query_at(&server, "disk_free_bytes", at);
    assert_eq!(
        got,
        vec![(
            labels(&[("__name__", "disk_free_bytes"), ("job", "node")]),
            40.0
        )]
    );
    assert!(query_at(&server, r#"{__type__="gauge"}"#, at).is_empty());
}
