//! `--type-and-unit-labels` (Prometheus's type-and-unit-labels feature):
//! remote write 2.0 series carry their family's type and unit as
//! `__type__`/`__unit__`, PromQL selects by them, drops them with the
//! metric name and matches through them; off, nothing changes. Scraped
//! series (text, OpenMetrics and protobuf expositions) and OTLP series
//! get them from their family's type and unit too.

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
    let (_tmp, server) = Server::fresh_with(&["--type-and-unit-labels"]);
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

#[test]
fn scraped_text_openmetrics_and_protobuf_families_get_type_and_unit_labels() {
    use common::families::{body, gauge};
    use common::protobuf_target::PROTOBUF;
    use common::target::{serve_bytes, serve_fixed};
    use hourglass::ingest::metric_family::Family;
    let text = serve_fixed(
        "# TYPE req_total counter\nreq_total 3\n# TYPE temp gauge\ntemp{__type__=\"x\"} 2\nloose 1\n",
    );
    let (_om, om) = serve_bytes(
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        b"# TYPE disk_bytes gauge\n# UNIT disk_bytes bytes\ndisk_bytes 5\n# TYPE om_requests counter\nom_requests_total 4\n# EOF\n".to_vec(),
    );
    let wait = Family {
        unit: "seconds",
        ..gauge("wait_seconds", vec![], 0.5)
    };
    let (_proto, proto) = serve_bytes(PROTOBUF, body(&[wait]));
    let mut yaml = String::from("scrape_configs:\n");
    for (name, addr) in [("text", text), ("om", om), ("proto", proto)] {
        yaml.push_str(&format!(
            "  - job_name: {name}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_cfg, server) = start_scraping_with(tmp.path(), &yaml, &["--type-and-unit-labels"]);
    wait_for("three targets scraped", || {
        query_at(&server, "sum(up)", None).first().map(|(_, v)| *v) == Some(3.0)
    });
    let labels_of = |q: &str| {
        let got = query_at(&server, q, None);
        assert_eq!(got.len(), 1, "{q}: {got:?}");
        let mut l = got[0].0.clone();
        l.remove("instance");
        l
    };
    let want = |name: &str, job: &str, kind: Option<&str>, unit: Option<&str>| {
        let mut pairs = vec![("__name__", name), ("job", job)];
        pairs.extend(kind.map(|k| ("__type__", k)));
        pairs.extend(unit.map(|u| ("__unit__", u)));
        labels(&pairs)
    };
    for (q, name, job, kind, unit) in [
        ("req_total", "req_total", "text", Some("counter"), None),
        // The family's type replaces a `__type__` the target exposed.
        ("temp", "temp", "text", Some("gauge"), None),
        // Untyped: no `__type__`.
        ("loose", "loose", "text", None, None),
        (
            "disk_bytes",
            "disk_bytes",
            "om",
            Some("gauge"),
            Some("bytes"),
        ),
        (
            "om_requests_total",
            "om_requests_total",
            "om",
            Some("counter"),
            None,
        ),
        (
            "wait_seconds",
            "wait_seconds",
            "proto",
            Some("gauge"),
            Some("seconds"),
        ),
    ] {
        assert_eq!(labels_of(q), want(name, job, kind, unit), "{q}");
    }
    // The report series are the server's own: no type, no unit.
    assert_eq!(
        labels_of("up{job=\"proto\"}"),
        want("up", "proto", None, None)
    );
}

#[test]
fn otlp_metrics_get_type_and_unit_labels_when_enabled() {
    let body = |t: i64| {
        let ns = (t * 1_000_000).to_string();
        serde_json::json!({"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeMetrics": [{"scope": {"name": "t"}, "metrics": [
                {"name": "heap", "unit": "By", "gauge": {"dataPoints": [{"timeUnixNano": ns, "asDouble": 5.0}]}},
                {"name": "busy", "unit": "s", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                    "dataPoints": [{"timeUnixNano": ns, "asDouble": 2.0}]}},
                {"name": "used", "unit": "1", "gauge": {"dataPoints": [{"timeUnixNano": ns, "asDouble": 0.5}]}}
            ]}]
        }]})
        .to_string()
        .into_bytes()
    };
    for on in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let flags: &[&str] = if on { &["--type-and-unit-labels"] } else { &[] };
        let server = Server::start(tmp.path(), flags);
        let t = now_ms();
        let r = common::otlp::post_json(&server, &body(t));
        assert_eq!(r.status, 200, "{}", r.text());
        let at = Some(t as f64 / 1000.0);
        let typed = |name: &str, kind: &str, unit: &str| {
            let mut pairs = vec![("__name__", name), ("job", "svc")];
            if on {
                pairs.push(("__type__", kind));
                if !unit.is_empty() {
                    pairs.push(("__unit__", unit));
                }
            }
            labels(&pairs)
        };
        for (q, kind, unit) in [
            ("heap_bytes", "gauge", "bytes"),
            ("busy_seconds_total", "counter", "seconds"),
            // Unit `1` names a ratio and has no unit word.
            ("used_ratio", "gauge", ""),
        ] {
            let got = query_at(&server, q, at);
            assert_eq!(got.len(), 1, "{q}: {got:?}");
            assert_eq!(got[0].0, typed(q, kind, unit), "{q} (flag {on})");
        }
    }
}
