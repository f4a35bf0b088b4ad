//! Pushgateway pushes in the delimited protobuf format (what Go's `push`
//! package sends): every kind of family, native histograms included, with
//! the text body's grouping, limits and staleness, and the same series and
//! answers as Debian's real Pushgateway given the same bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, pushgateway};
use common::families::{
    body, buckets, classic, float_native, gauge, histogram, jobs_total, one, rpc_seconds,
};
use common::protobuf_target;
use common::query::{query, value};
use common::*;
use hourglass::ingest::metric_family::{Family, FamilyType, HistogramMsg, Metric};
use hourglass::ingest::text::{self, Entry};
use hourglass_storage::Span;

const PROTOBUF: (&str, &str) = ("Content-Type", protobuf_target::PROTOBUF);

/// A client library's families: counter, gauge, summary, a classic
/// histogram, a native histogram that also has classic buckets (as
/// client_golang sends them), and a float gauge histogram.
fn families() -> Vec<Family<'static>> {
    let le = || buckets(&[(0.1, 1), (0.5, 3), (2.0, 4)]);
    let size = classic(5, 9.0, le());
    let lat = HistogramMsg {
        count: 4,
        sum: 1.25,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1,
        // (0.0625, 0.125]: 1, (0.25, 0.5]: 2.
        positive_spans: vec![Span::new(-3, 1), Span::new(1, 1)],
        positive_deltas: vec![1, 1],
        buckets: le(),
        ..HistogramMsg::default()
    };
    vec![
        jobs_total(vec![("queue", "a")], 3.0, None),
        Family {
            unit: "seconds",
            ..gauge("last_run_seconds", vec![], 1.7e9)
        },
        rpc_seconds(),
        histogram("size_bytes", FamilyType::Histogram, vec![], size),
        histogram(
            "lat_seconds",
            FamilyType::Histogram,
            vec![("path", "/")],
            lat,
        ),
        histogram(
            "queue_depth",
            FamilyType::GaugeHistogram,
            vec![],
            float_native(),
        ),
    ]
}

/// A gauge carrying a timestamp, which pushes may not.
fn stamped() -> Family<'static> {
    let m = Metric {
        gauge: Some(1.0),
        timestamp_ms: 1_700_000_000_000,
        ..Metric::default()
    };
    one("m", FamilyType::Gauge, m)
}

/// A family naming the same series twice.
fn twice() -> Family<'static> {
    Family {
        metrics: vec![Metric::default(), Metric::default()],
        ..gauge("twice", vec![], 1.0)
    }
}

#[test]
fn protobuf_push_stores_every_kind_of_family_with_its_grouping_labels() {
    let (_tmp, server) = Server::fresh();
    let r = server.request(
        "PUT",
        "/metrics/job/batch/instance/x",
        &[PROTOBUF],
        &body(&families()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for (q, want) in [
        ("jobs_total{job=\"batch\",instance=\"x\",queue=\"a\"}", 3.0),
        ("last_run_seconds", 1.7e9),
        ("rpc_seconds{quantile=\"0.99\"}", 0.75),
        ("rpc_seconds_count", 4.0),
        ("size_bytes_bucket{le=\"0.5\"}", 3.0),
        ("size_bytes_bucket{le=\"+Inf\"}", 5.0),
        ("size_bytes_sum", 9.0),
        ("histogram_count(lat_seconds{path=\"/\"})", 4.0),
        ("histogram_sum(lat_seconds)", 1.25),
        // The classic buckets the client sent beside the native ones.
        ("lat_seconds_bucket{le=\"2.0\"}", 4.0),
        ("histogram_count(queue_depth)", 2.5),
        (
            "count(push_time_seconds{job=\"batch\",instance=\"x\"})",
            1.0,
        ),
    ] {
        assert_eq!(value(&server, q), Some(want), "{q}");
    }
    // The native histogram's buckets as pushed: 1 in the zero bucket, 1
    // in (0.0625, 0.125], 2 in (0.25, 0.5].
    assert_eq!(
        value(&server, "histogram_fraction(0, 0.125, lat_seconds)"),
        Some(0.5)
    );
    let md = server.get("/api/v1/metadata?metric=jobs_total").json();
    assert_eq!(md["data"]["jobs_total"][0]["type"], "counter", "{md}");
    assert_eq!(md["data"]["jobs_total"][0]["help"], "Jobs done.", "{md}");
    let md = server
        .get("/api/v1/metadata?metric=last_run_seconds")
        .json();
    assert_eq!(md["data"]["last_run_seconds"][0]["unit"], "seconds", "{md}");
    let md = server.get("/api/v1/metadata?metric=queue_depth").json();
    assert_eq!(
        md["data"]["queue_depth"][0]["type"], "gaugehistogram",
        "{md}"
    );

    // gzip, POST: replaces only the families it carries.
    let fresh = jobs_total(vec![("queue", "b")], 8.0, None);
    let r = server.request(
        "POST",
        "/metrics/job/batch/instance/x",
        &[PROTOBUF, ("Content-Encoding", "gzip")],
        &gzip(&body(&[fresh])),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(value(&server, "jobs_total{queue=\"b\"}"), Some(8.0));
    assert_eq!(value(&server, "jobs_total{queue=\"a\"}"), None);
    assert_eq!(value(&server, "histogram_count(lat_seconds)"), Some(4.0));
    // PUT with the gauge only: the group's native histograms go stale too.
    let r = server.request(
        "PUT",
        "/metrics/job/batch/instance/x",
        &[PROTOBUF],
        &body(&families()[1..2]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(value(&server, "histogram_count(lat_seconds)"), None);
    assert_eq!(value(&server, "histogram_count(queue_depth)"), None);
    assert_eq!(value(&server, "size_bytes_sum"), None);
    assert_eq!(value(&server, "last_run_seconds"), Some(1.7e9));
}

#[test]
fn protobuf_push_refusals_name_the_family_and_leave_the_group() {
    let (_tmp, server) = start_with_config("[limits]\nmax_series_per_request = 20\n", &[]);
    let g = "/metrics/job/j";
    let gauge = |name, labels| gauge(name, labels, 1.0);
    let r = server.request("PUT", g, &[PROTOBUF], &body(&[gauge("kept", vec![])]));
    assert_eq!(r.status, 200, "{}", r.text());
    let wrong_count = HistogramMsg {
        count: 9,
        positive_spans: vec![Span::new(0, 1)],
        positive_deltas: vec![1],
        ..HistogramMsg::default()
    };
    let bad_native = histogram("h", FamilyType::Histogram, vec![], wrong_count);
    let many = Family {
        metrics: vec![Metric::default(); 21],
        ..gauge("many", vec![])
    };
    for (families, reason) in [
        (vec![stamped()], "sample m has a timestamp"),
        (
            vec![gauge("push_time_seconds", vec![])],
            "written by the server",
        ),
        (vec![twice()], "appears twice"),
        (vec![bad_native], "family \"h\": invalid native histogram"),
        (
            vec![gauge("x", vec![("", "v")])],
            "empty, reserved or repeated",
        ),
        (vec![many], "more than 20 series"),
    ] {
        let r = server.request("PUT", g, &[PROTOBUF], &body(&families));
        assert_eq!(r.status, 400, "{reason}: {}", r.text());
        assert!(r.text().contains(reason), "{reason}: {}", r.text());
    }
    // A truncated message.
    let mut cut = body(&[gauge("cut", vec![])]);
    cut.pop();
    let r = server.request("PUT", g, &[PROTOBUF], &cut);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("protobuf parsing error"), "{}", r.text());
    // Protobuf that is not delimited MetricFamily messages.
    let r = server.request(
        "PUT",
        g,
        &[(
            "Content-Type",
            "application/vnd.google.protobuf; encoding=text",
        )],
        &body(&[gauge("other", vec![])]),
    );
    assert_eq!(r.status, 415, "{}", r.text());
    // The group kept its series through every refusal.
    assert_eq!(value(&server, "kept"), Some(1.0));
    // A family named twice: the later one wins, as in the Pushgateway.
    let r = server.request(
        "PUT",
        g,
        &[PROTOBUF],
        &body(&[
            gauge("dup", vec![("v", "1")]),
            gauge("dup", vec![("v", "2")]),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(query(&server, "dup").len(), 1);
    assert_eq!(value(&server, "dup{v=\"2\"}"), Some(1.0));
    assert_eq!(value(&server, "kept"), None);
}

/// `name{labels}` selectors with their values, from an exposition.
fn exposed(page: &str, families: &[&str]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for entry in text::parse(page) {
        let Ok(Entry::Sample(s)) = entry else {
            continue;
        };
        if !families.iter().any(|f| s.name.starts_with(f)) {
            continue;
        }
        let labels: Vec<String> = s
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| format!("{n}={v:?}"))
            .collect();
        out.push((format!("{}{{{}}}", s.name, labels.join(",")), s.value));
    }
    out
}

#[test]
fn protobuf_pushes_give_the_series_and_answers_of_the_real_pushgateway() {
    if !have_all(&["prometheus-pushgateway"]) {
        return;
    }
    let (_pg, pg) = pushgateway();
    let (_tmp, server) = Server::fresh();
    let path = "/metrics/job/batch/instance/x";
    // Without the gauge histogram: Pushgateway 1.5.1's text page stops at
    // a GAUGE_HISTOGRAM family ("unknown metric type").
    let families = families();
    let b = body(&families[..5]);
    let theirs = request(pg, "PUT", path, &[PROTOBUF], &b);
    let ours = server.request("PUT", path, &[PROTOBUF], &b);
    assert_eq!(
        (theirs.status, ours.status),
        (200, 200),
        "{}",
        theirs.text()
    );
    let page = request(pg, "GET", "/metrics", &[("Accept", "text/plain")], b"").text();
    let names = [
        "jobs_total",
        "last_run_seconds",
        "rpc_seconds",
        "size_bytes",
        "lat_seconds",
    ];
    let want = exposed(&page, &names);
    assert!(want.len() >= 15, "{page}");
    for (selector, v) in &want {
        assert_eq!(value(&server, selector), Some(*v), "{selector}\n{page}");
    }
    // Hourglass keeps the native histogram the Pushgateway exposes only
    // as its classic buckets in text.
    let count = want
        .iter()
        .find(|(s, _)| s.starts_with("lat_seconds_count"))
        .map(|(_, v)| *v);
    assert_eq!(value(&server, "histogram_count(lat_seconds)"), count);
    // Bodies the Pushgateway refuses, we refuse too.
    for families in [vec![stamped()], vec![twice()]] {
        let b = body(&families);
        let theirs = request(pg, "PUT", "/metrics/job/bad", &[PROTOBUF], &b);
        let ours = server.request("PUT", "/metrics/job/bad", &[PROTOBUF], &b);
        assert_eq!(theirs.status, 400, "{}", theirs.text());
        assert_eq!(ours.status, 400, "{}", ours.text());
    }
}
