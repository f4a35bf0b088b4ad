//! Remote write 1.0 end to end: a real server, real snappy + protobuf
//! bodies, every documented refusal, and a kill -9 under write load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::query_at;
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{compress, v1};
use hourglass_storage::Sample;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn write(server: &Server, body: &[u8]) -> Response {
    post_write(server, &V1_HEADERS, None, body)
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn valid_write_is_stored_and_answered_204() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let r = write(
        &server,
        &v1_body(&[
            (
                vec![("__name__", "up"), ("job", "node"), ("instance", "a:9100")],
                vec![Sample::new(T0, 1.0), Sample::new(T0 + 15_000, 1.0)],
            ),
            (
                vec![("__name__", "up"), ("job", "node"), ("instance", "b:9100")],
                vec![Sample::new(T0, 0.0)],
            ),
        ]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        3.0
    );
    assert_eq!(metric(&server, "hourglass_head_series"), 2.0);
    // A retry of the same request is accepted silently (idempotent).
    let again = write(
        &server,
        &v1_body(&[(
            vec![("__name__", "up"), ("job", "node"), ("instance", "b:9100")],
            vec![Sample::new(T0, 0.0)],
        )]),
    );
    assert_eq!(again.status, 204, "{}", again.text());
}

#[test]
fn malformed_bodies_get_400_and_stored_data_is_unchanged() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let good = v1_body(&[(
        vec![("__name__", "m"), ("job", "j")],
        vec![Sample::new(T0, 1.0)],
    )]);
    assert_eq!(write(&server, &good).status, 204);

    let not_snappy = write(&server, b"\xff\xff\xff\xff\xff not snappy");
    assert_eq!(not_snappy.status, 400, "{}", not_snappy.text());
    assert!(not_snappy.text().contains("snappy"));

    let not_protobuf = write(&server, &compress(b"\x0a\xff\xff\xff\xff\x0f garbage"));
    assert_eq!(not_protobuf.status, 400);
    assert!(
        not_protobuf.text().contains("cannot decode WriteRequest"),
        "{}",
        not_protobuf.text()
    );

    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        1.0
    );
}

/// A series sent before is stored without its labels being decoded; a
/// bad label in a new series of the same request still refuses the whole
/// request, the known series' sample included.
#[test]
fn a_bad_new_series_refuses_the_request_even_beside_known_ones() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let known = [("__name__", "m"), ("job", "j")];
    let first = v1_body(&[(known.to_vec(), vec![Sample::new(T0, 1.0)])]);
    assert_eq!(write(&server, &first).status, 204);

    let mut w = Writer::default();
    v1::encode_series(&mut w, known, &[Sample::new(T0 + 15_000, 2.0)]);
    v1::encode_series(
        &mut w,
        [("__name__", "m"), ("job", "bad!")],
        &[Sample::new(T0, 3.0)],
    );
    let at = w.buf.windows(4).position(|x| x == b"bad!").unwrap();
    w.buf[at + 3] = 0xff;
    let r = write(&server, &compress(&w.buf));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("UTF-8"), "{}", r.text());
    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        1.0
    );
    assert_eq!(metric(&server, "hourglass_head_series"), 1.0);

    // The known series alone, sent again, is found by its key.
    let again = v1_body(&[(known.to_vec(), vec![Sample::new(T0 + 15_000, 2.0)])]);
    assert_eq!(write(&server, &again).status, 204);
    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        2.0
    );
    assert_eq!(metric(&server, "hourglass_head_series"), 1.0);
}

#[test]
fn unsupported_formats_get_415_and_oversized_bodies_413() {
    let (_tmp, server) = Server::fresh_with(&["--max-body-mib", "1"]);
    let b = v1_body(&[(vec![("__name__", "m")], vec![Sample::new(T0, 1.0)])]);
    let unknown = server.post(
        "/api/v1/write",
        &[
            (
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v9.Request",
            ),
            ("Content-Encoding", "snappy"),
        ],
        &b,
    );
    assert_eq!(unknown.status, 415, "{}", unknown.text());
    let gzip = server.post(
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &b,
    );
    assert_eq!(gzip.status, 415);
    let json = server.post(
        "/api/v1/write",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(json.status, 415);

    let huge = vec![0u8; 2 << 20];
    assert_eq!(write(&server, &huge).status, 413);
    // A small body that decompresses past the limit is refused too.
    let bomb = compress(&vec![0u8; 3 << 20]);
    assert!(bomb.len() < 1 << 20);
    let r = write(&server, &bomb);
    assert_eq!(r.status, 413, "{}", r.text());
}

#[test]
fn refused_samples_get_400_with_reasons_and_the_rest_is_stored() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let a = vec![("__name__", "temp"), ("job", "a")];
    assert_eq!(
        write(
            &server,
            &v1_body(&[(a.clone(), vec![Sample::new(T0, 20.0)])])
        )
        .status,
        204
    );

    let r = write(
        &server,
        &v1_body(&[
            // Two hours older than this series' newest: past the window.
            (a.clone(), vec![Sample::new(T0 - 7_200_000, 1.0)]),
            // Same timestamp, different value.
            (a.clone(), vec![Sample::new(T0, 21.0)]),
            // Duplicate label name.
            (
                vec![("__name__", "temp"), ("job", "x"), ("job", "y")],
                vec![Sample::new(T0, 1.0)],
            ),
            // A good series in the same request.
            (
                vec![("__name__", "temp"), ("job", "b")],
                vec![Sample::new(T0, 5.0)],
            ),
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.text();
    assert_mentions(
        &msg,
        &[
            "stored 1 samples",
            "out_of_window=1",
            "duplicate_timestamp_different_value=1",
            "invalid_series=1",
            "first invalid series",
        ],
    );
    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        2.0
    );
    // A sample behind its series' newest but inside the out-of-order window
    // is fine.
    let ooo = write(
        &server,
        &v1_body(&[(a, vec![Sample::new(T0 - 60_000, 19.0)])]),
    );
    assert_eq!(ooo.status, 204, "{}", ooo.text());
}

#[test]
fn metadata_is_kept_for_the_metadata_api() {
    let (_tmp, server) = Server::fresh_keeping_history();
    let mut w = Writer::default();
    v1::encode_series(
        &mut w,
        [("__name__", "http_requests_total")],
        &[Sample::new(T0, 1.0)],
    );
    v1::encode_metadata(
        &mut w,
        &v1::Metadata {
            kind: v1::MetricType::Counter,
            family: "http_requests_total",
            help: "Requests served.",
            unit: "",
        },
    );
    assert_eq!(write(&server, &compress(&w.buf)).status, 204);
    let v = server.get("/api/v1/metadata").json();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["http_requests_total"][0]["type"], "counter");
    assert_eq!(
        v["data"]["http_requests_total"][0]["help"],
        "Requests served."
    );
    let one = server.get("/api/v1/metadata?metric=nope").json();
    assert_eq!(one["data"], serde_json::json!({}));
}

/// Writers send acknowledged requests until the server is killed with
/// SIGKILL; after a restart every acknowledged sample is there.
#[test]
fn kill_9_under_write_load_loses_no_acknowledged_sample() {
    let (tmp, server) = Server::fresh_keeping_history();
    let addr = server.addr;
    let acked = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_millis(1500);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                let mut n = 0i64;
                while Instant::now() < deadline {
                    let job = format!("w{w}");
                    let samples: Vec<Sample> = (0..50)
                        .map(|i| Sample::new(T0 + (n * 50 + i) * 1000, i as f64))
                        .collect();
                    let b =
                        v1_body(&[(vec![("__name__", "load"), ("job", job.as_str())], samples)]);
                    match try_request(addr, "POST", "/api/v1/write", &V1_HEADERS, &b) {
                        Ok(r) if r.status == 204 => {
                            acked.fetch_add(50, Ordering::SeqCst);
                        }
                        // The server died mid-request: not acknowledged.
                        _ => return,
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let mut server = server;
    let mut child = server.child.take().unwrap();
    child.kill().unwrap(); // SIGKILL, mid-load
    child.wait().unwrap();
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.load(Ordering::SeqCst);
    assert!(acked > 0, "no write was acknowledged before the kill");

    let restarted = Server::start(tmp.path(), &KEEP_HISTORY);
    let replayed = metric(&restarted, "hourglass_wal_replayed_samples");
    assert!(
        replayed >= acked as f64,
        "acknowledged {acked} samples, only {replayed} came back"
    );
}

#[test]
fn remote_write_2_with_symbols_headers_and_created_timestamps() {
    use hourglass::ingest::remote_write::v2::Encoder;
    let (_tmp, server) =
        Server::fresh_with(&keeping_history(&["--created-timestamp-zero-ingestion"]));
    let mut e = Encoder::new();
    // A counter that started 30 s before its first sample.
    e.series(
        [("__name__", "jobs_total"), ("job", "batch")],
        &[
            (Sample::new(T0, 6.0), T0 - 30_000),
            (Sample::new(T0 + 15_000, 9.0), T0 - 30_000),
        ],
        Some(v1::MetricType::Counter),
    );
    e.series(
        [("__name__", "queue_depth"), ("job", "batch")],
        &[(Sample::new(T0, 3.0), 0)],
        None,
    );
    let r = server.post("/api/v1/write", &V2_HEADERS, &compress(&e.finish()));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r, "Samples"), Some("3"));
    assert_eq!(written(&r, "Histograms"), Some("0"));
    assert_eq!(written(&r, "Exemplars"), Some("0"));
    // The injected zero at the start timestamp makes the first increase
    // visible: 9 over the 45 s from start to the last sample.
    let q: String = form_urlencoded::byte_serialize(b"increase(jobs_total[1m])").collect();
    let v = server
        .get(&format!(
            "/api/v1/query?query={q}&time={}",
            (T0 + 15_000) / 1000
        ))
        .json();
    let inc: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(inc >= 9.0, "increase {inc} misses the start");
    let md = server.get("/api/v1/metadata?metric=jobs_total").json();
    assert_eq!(md["data"]["jobs_total"][0]["type"], "counter");

    // Damage: still the headers, and a 400.
    let bad = server.post("/api/v1/write", &V2_HEADERS, &compress(b"\x22\x01x"));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(written(&bad, "Samples"), Some("0"));
}

#[test]
fn a_default_server_keeps_history_stamped_in_1970_as_prometheus_does() {
    // Prometheus's PromQL test data starts at t = 0: a fresh store takes
    // it, since retention counts back from the newest sample stored.
    let (tmp, server) = Server::fresh();
    let samples: Vec<Sample> = (0..=300_000)
        .step_by(15_000)
        .map(|t| Sample::new(t, (t / 1000) as f64))
        .collect();
    let n = samples.len();
    let r = write(
        &server,
        &v1_body(&[(vec![("__name__", "epoch_load"), ("job", "old")], samples)]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let check = |server: &Server| {
        let got = query_at(server, "epoch_load", Some(300.0));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, 300.0);
        let count = query_at(server, "count_over_time(epoch_load[5m])", Some(300.0));
        assert_eq!(count.first().map(|x| x.1), Some(20.0), "{count:?}");
    };
    check(&server);
    assert_eq!(
        metric(&server, "hourglass_head_samples_appended_total"),
        n as f64
    );
    drop(server);
    // Restarted with the defaults again: still all there.
    let server = Server::start(tmp.path(), &[]);
    check(&server);
}
