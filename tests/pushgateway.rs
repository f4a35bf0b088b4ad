//! The Pushgateway-compatible endpoint end to end: pushes in text format
//! 0.0.4, read back through the query API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::*;
use common::*;

const TEXT: (&str, &str) = ("Content-Type", "text/plain; version=0.0.4; charset=utf-8");

fn send(server: &Server, method: &str, path: &str, body: &str) -> Response {
    server.request(method, path, &[TEXT], body.as_bytes())
}

const BODY: &str = "\
# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total{queue=\"a\"} 3
jobs_total{queue=\"b\"} 5
# TYPE last_run gauge
last_run 1.7e9
# TYPE dur histogram
dur_bucket{le=\"1\"} 1
dur_bucket{le=\"+Inf\"} 2
dur_sum 3.5
dur_count 2
";

#[test]
fn put_stores_with_grouping_labels_and_answers_200() {
    let (_tmp, server) = Server::fresh();
    // instance "a/b" in URL-safe base64, zone with a percent-escape.
    let r = send(
        &server,
        "PUT",
        "/metrics/job/batch/instance@base64/YS9i/zone/eu%2B1",
        BODY,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = query(&server, "jobs_total");
    assert_eq!(
        got,
        vec![
            (
                labels(&[
                    ("__name__", "jobs_total"),
                    ("instance", "a/b"),
                    ("job", "batch"),
                    ("queue", "a"),
                    ("zone", "eu+1")
                ]),
                3.0
            ),
            (
                labels(&[
                    ("__name__", "jobs_total"),
                    ("instance", "a/b"),
                    ("job", "batch"),
                    ("queue", "b"),
                    ("zone", "eu+1")
                ]),
                5.0
            ),
        ]
    );
    assert_eq!(value(&server, "last_run"), Some(1.7e9));
    // `le` normalised like Prometheus 3, so histogram_quantile works.
    assert_eq!(value(&server, "dur_bucket{le=\"1.0\"}"), Some(1.0));
    assert_eq!(
        value(&server, "histogram_quantile(0.5, dur_bucket)"),
        Some(1.0)
    );
    assert_eq!(value(&server, "dur_sum / dur_count"), Some(1.75));
    let pushed = value(&server, "push_time_seconds{job=\"batch\"}").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - pushed).abs() < 60.0, "{pushed} vs {now}");

    let md = server.get("/api/v1/metadata?metric=jobs_total").json();
    assert_eq!(md["data"]["jobs_total"][0]["type"], "counter");
    assert_eq!(md["data"]["jobs_total"][0]["help"], "Jobs done.");
    assert_eq!(push_samples(&server, "pushgateway", "accepted"), 8.0);
}

#[test]
fn grouping_labels_override_body_labels() {
    let (_tmp, server) = Server::fresh();
    let r = send(
        &server,
        "PUT",
        "/metrics/job/real",
        "m{job=\"fake\",x=\"1\"} 1\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        query(&server, "m"),
        vec![(
            labels(&[("__name__", "m"), ("job", "real"), ("x", "1")]),
            1.0
        )]
    );
    // Two body series that collapse into one are refused.
    let r = send(
        &server,
        "PUT",
        "/metrics/job/real",
        "m{job=\"a\"} 1\nm{job=\"b\"} 2\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("appears twice"), "{}", r.text());
}

#[test]
fn put_replaces_group_post_replaces_families_delete_drops_group() {
    let (_tmp, server) = Server::fresh();
    let g1 = "/metrics/job/j/instance/one";
    let g2 = "/metrics/job/j/instance/two";
    assert_eq!(
        send(&server, "PUT", g1, "a{k=\"x\"} 1\na{k=\"y\"} 2\nb 3\n").status,
        200
    );
    assert_eq!(send(&server, "PUT", g2, "a{k=\"x\"} 10\n").status, 200);

    // POST: family `a` replaced (k="y" ends), `b` untouched, `c` added.
    assert_eq!(send(&server, "POST", g1, "a{k=\"x\"} 4\nc 5\n").status, 200);
    assert_eq!(value(&server, "a{instance=\"one\",k=\"x\"}"), Some(4.0));
    assert_eq!(value(&server, "a{instance=\"one\",k=\"y\"}"), None);
    assert_eq!(value(&server, "b{instance=\"one\"}"), Some(3.0));
    assert_eq!(value(&server, "c{instance=\"one\"}"), Some(5.0));

    // PUT: everything not in the new body ends.
    assert_eq!(send(&server, "PUT", g1, "b 6\n").status, 200);
    assert_eq!(value(&server, "a{instance=\"one\"}"), None);
    assert_eq!(value(&server, "c{instance=\"one\"}"), None);
    assert_eq!(value(&server, "b{instance=\"one\"}"), Some(6.0));
    // The other group is its own.
    assert_eq!(value(&server, "a{instance=\"two\"}"), Some(10.0));

    // DELETE: 202, all series of the group end, push_time_seconds too.
    let r = send(&server, "DELETE", g1, "");
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(query(&server, "{instance=\"one\"}"), vec![]);
    assert_eq!(value(&server, "a{instance=\"two\"}"), Some(10.0));
    // Deleting an unknown group is fine too.
    assert_eq!(
        send(&server, "DELETE", "/metrics/job/nobody", "").status,
        202
    );
    // A push after a delete stores again.
    assert_eq!(send(&server, "PUT", g1, "b 7\n").status, 200);
    assert_eq!(value(&server, "b{instance=\"one\"}"), Some(7.0));
}

#[test]
fn refusals() {
    let (_tmp, server) = Server::fresh();
    let g = "/metrics/job/j";
    for (body, reason) in [
        (
            "ok 1\nm 1 1700000000000\n",
            "line 2: sample m has a timestamp",
        ),
        (
            "ok 1\nm{a=\"1\" 2\n",
            "line 2, column 9: expected ',' or '}'",
        ),
        ("push_time_seconds 1\n", "written by the server"),
    ] {
        let r = send(&server, "PUT", g, body);
        assert_eq!(r.status, 400, "{body:?}");
        assert!(r.text().contains(reason), "{body:?}: {}", r.text());
    }
    // Nothing of a refused push was stored.
    assert_eq!(query(&server, "ok"), vec![]);

    for path in [
        "/metrics/instance/x",
        "/metrics/job/",
        "/metrics/job/j/zone",
        "/metrics/job/j/x@base64/!!",
    ] {
        let r = send(&server, "PUT", path, "m 1\n");
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
    // Protobuf that is not delimited `MetricFamily` messages (those are
    // read: tests/pushgateway_protobuf.rs).
    let protobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.Metric; \
                    encoding=delimited";
    let r = server.request("PUT", g, &[("Content-Type", protobuf)], b"\x00");
    assert_eq!(r.status, 415, "{}", r.text());
    let r = server.request("PUT", g, &[TEXT, ("Content-Encoding", "br")], b"m 1\n");
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(
        metric(
            &server,
            "hourglass_push_requests_refused_total{path=\"pushgateway\"}"
        ),
        9.0
    );
    // GET /metrics is still our own metrics page.
    assert_eq!(server.get("/metrics").status, 200);
}

#[test]
fn utf8_names_and_escapes() {
    let (_tmp, server) = Server::fresh();
    let body = "{\"my.metric\", \"a.b\"=\"q\\\"\\\\\"} 2\n";
    let r = send(&server, "PUT", "/metrics/job/u", body);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = query(&server, "{\"my.metric\"}");
    assert_eq!(
        got,
        vec![(
            labels(&[("__name__", "my.metric"), ("a.b", "q\"\\"), ("job", "u")]),
            2.0
        )]
    );
}

#[test]
fn compressed_bodies() {
    use std::io::Write;
    let (_tmp, server) = Server::fresh();
    let mut sn = snap::write::FrameEncoder::new(Vec::new());
    sn.write_all(b"snapped 2\n").unwrap();
    for (group, encoding, body) in [
        ("gz", "gzip", gzip(b"zipped 1\n")),
        ("sn", "snappy", sn.into_inner().unwrap()),
    ] {
        let path = format!("/metrics/job/{group}");
        let r = server.request("PUT", &path, &[TEXT, ("Content-Encoding", encoding)], &body);
        assert_eq!(r.status, 200, "{encoding}: {}", r.text());
    }
    assert_eq!(value(&server, "zipped"), Some(1.0));
    assert_eq!(value(&server, "snapped"), Some(2.0));
    let r = server.request(
        "PUT",
        "/metrics/job/gz",
        &[TEXT, ("Content-Encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn concurrent_puts_to_one_group_leave_only_the_last_push_live() {
    let (_tmp, server) = Server::fresh();
    let addr = server.addr;
    let threads: Vec<_> = (0..6)
        .map(|th| {
            std::thread::spawn(move || {
                for i in 0..15 {
                    let body = format!("v{{t=\"{th}\"}} {i}\n");
                    let r = request(addr, "PUT", "/metrics/job/race", &[TEXT], body.as_bytes());
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Pushes in the same millisecond get increasing timestamps, which may
    // run slightly ahead of the clock: look a little later.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let live = query_at(&server, "v", Some(now + 5.0));
    assert_eq!(live.len(), 1, "{live:?}");
}

#[test]
fn groups_survive_a_restart_so_a_put_still_ends_old_series() {
    let tmp = tempfile::tempdir().unwrap();
    let g = "/metrics/job/j/instance/one";
    let server = Server::start(tmp.path(), &[]);
    assert_eq!(send(&server, "PUT", g, "a 1\nb 2\n").status, 200);
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    assert!(tmp.path().join("pushgateway.groups").exists());

    let server = Server::start(tmp.path(), &[]);
    assert_eq!(value(&server, "b{instance=\"one\"}"), Some(2.0));
    // The group remembered `b`: this PUT ends it at once.
    assert_eq!(send(&server, "PUT", g, "a 3\n").status, 200);
    assert_eq!(value(&server, "a{instance=\"one\"}"), Some(3.0));
    assert_eq!(value(&server, "b{instance=\"one\"}"), None);
    let (ok, _) = server.terminate();
    assert!(ok);

    // A damaged file is set aside and the server starts without it.
    let path = tmp.path().join("pushgateway.groups");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let server = Server::start(tmp.path(), &[]);
    assert_eq!(server.get("/-/ready").status, 200);
    assert!(tmp.path().join("pushgateway.corrupt").exists());
    assert_eq!(value(&server, "a{instance=\"one\"}"), Some(3.0));
}

/// The Pushgateway README's own example: curl sends
/// `application/x-www-form-urlencoded`, which the Pushgateway reads as
/// text, and so do we; only its protobuf type is read otherwise.
#[test]
fn curl_form_content_type_push_is_read_as_text() {
    let (_tmp, server) = Server::fresh();
    for (method, ct) in [
        ("PUT", "application/x-www-form-urlencoded"),
        ("POST", "application/octet-stream"),
        ("POST", "text/plain"),
    ] {
        let body = format!("some_metric{{via=\"{ct}\"}} 3.25\n");
        let r = server.request(
            method,
            "/metrics/job/some_job",
            &[("Content-Type", ct)],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{ct}: {}", r.text());
        assert_eq!(
            value(&server, &format!("some_metric{{via=\"{ct}\"}}")),
            Some(3.25),
            "{ct}"
        );
    }
    // No Content-Type at all is text too.
    let r = server.request("PUT", "/metrics/job/none", &[], b"bare 1\n");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(value(&server, "bare"), Some(1.0));
}

/// A push that storage refuses (here a label value over the configured
/// limit) is a 400 that leaves the group as it was: its old series are not
/// ended, and the next valid push is accepted and ends them.
#[test]
fn push_refused_by_storage_leaves_the_group_and_the_next_valid_push_is_accepted() {
    let (_tmp, server) = start_with_config("[limits]\nmax_label_value_bytes = 24\n", &[]);
    let g = "/metrics/job/j";
    let r = send(&server, "PUT", g, "keep 1\n");
    assert_eq!(r.status, 200, "{}", r.text());
    let long = "x".repeat(64);
    let r = send(&server, "PUT", g, &format!("a 1\nb{{v=\"{long}\"}} 2\n"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("left as it was"), "{}", r.text());
    // The refused push did not end the group's series.
    assert_eq!(value(&server, "keep"), Some(1.0));
    let r = send(&server, "PUT", g, "c 1\n");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(value(&server, "c"), Some(1.0));
    assert_eq!(value(&server, "keep"), None, "the valid push ended keep");
    // The group ends cleanly too.
    let r = send(&server, "DELETE", g, "");
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(value(&server, "c"), None);
}

/// What the Pushgateway (Prometheus's expfmt parser) answers 400 to, we
/// answer 400 to, naming the line and the reason; nothing of such a push
/// is stored and the group keeps what it had.
#[test]
fn pushgateway_refuses_what_expfmt_refuses_naming_line_and_reason() {
    let (_tmp, server) = Server::fresh();
    let g = "/metrics/job/strict";
    assert_eq!(send(&server, "PUT", g, "before 1\n").status, 200);
    for (body, want) in [
        (
            "# TYPE m counter\nm 1\n# TYPE m gauge\n",
            "line 3, column 1: second TYPE line for metric name \"m\", or TYPE reported after samples",
        ),
        (
            "m 1\n# TYPE m counter\n",
            "line 2, column 1: second TYPE line for metric name \"m\", or TYPE reported after samples",
        ),
        (
            "# HELP m one\n# HELP m two\nm 1\n",
            "line 2, column 1: second HELP line for metric name \"m\"",
        ),
        (
            "m{a=\"x\\qy\"} 1\n",
            "line 1, column 8: invalid escape sequence '\\q'",
        ),
        (
            "# HELP m a \\q b\nm 1\n",
            "line 1: invalid escape sequence '\\q'",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            "line 2, column 1: expected float as value for 'le' label, got \"x\"",
        ),
        (
            "# TYPE s summary\ns{quantile=\"x\"} 1\n",
            "line 2, column 1: expected float as value for 'quantile' label, got \"x\"",
        ),
    ] {
        let r = send(&server, "PUT", g, body);
        assert_eq!(r.status, 400, "{body:?}: {}", r.text());
        let text = r.text();
        let (line_col, reason) = want.split_once(": ").unwrap();
        let line = line_col.split(',').next().unwrap();
        assert!(
            text.contains(line) && text.contains(reason),
            "{body:?}: want {want:?}, got {text}"
        );
    }
    assert_eq!(query(&server, "m"), vec![]);
    assert_eq!(value(&server, "before"), Some(1.0));
    // What expfmt accepts still works: HELP after TYPE, TYPE before the
    // family's samples, le/quantile floats in any form, known escapes.
    let ok = "# TYPE h histogram\n# HELP h x \\\\ \\n y\nh_bucket{le=\"1e0\"} 1\nh_bucket{le=\"+inf\"} 2\nh_sum 1\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\",p=\"a\\\"b\\\\c\\nd\"} 3\ns_sum 1\ns_count 1\n";
    let r = send(&server, "PUT", g, ok);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(value(&server, "h_bucket{le=\"1.0\"}"), Some(1.0));
    assert_eq!(value(&server, "h_bucket{le=\"+Inf\"}"), Some(2.0));
    assert_eq!(value(&server, "s{quantile=\"0.5\"}"), Some(3.0));
}
