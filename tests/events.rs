//! Issue #16 end to end: collection batches become `metrics_collected`
//! events in the durable outbox, served over Server-Sent Events and
//! WebSocket with filters, resumable, surviving SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::events::{Sse, Ws};
use common::{Server, wait_for};
use serde_json::Value;

fn push(server: &Server, job: &str, body: &str) {
    let r = server.request("PUT", &format!("/metrics/job/{job}"), &[], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

fn check_shape(e: &Value) {
    let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["event_id", "metrics_collected", "timestamp"], "{e}");
    assert_eq!(e["event_id"].as_str().unwrap().len(), 36, "{e}");
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'), "{e}");
    let mc = e["metrics_collected"].as_object().unwrap();
    for k in [
        "collection_batch_id",
        "source_id",
        "metrics_count",
        "collection_duration_ms",
        "collection_method",
        "target_health",
        "metrics_summary",
        "error_count",
        "samples_per_second",
    ] {
        assert!(mc.contains_key(k), "{k} missing in {e}");
    }
    assert_eq!(mc.len(), 9, "{e}");
}

#[test]
fn pushes_become_events_in_order_on_sse_with_filters() {
    let (_dir, server) = Server::fresh();
    let mut all = Sse::connect(server.addr, "/api/v1/events?since=1", &[]);
    assert_eq!(all.status, 200);
    let mut only_b = Sse::connect(server.addr, "/api/v1/events?source_id=b", &[]);
    assert_eq!(only_b.status, 200);
    push(&server, "a", "# TYPE m counter\nm 1\n# TYPE g gauge\ng 2\n");
    push(&server, "b", "m 1\n");
    push(&server, "a", "m 2\n");
    let got = all.take(3);
    let ids: Vec<u64> = got.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
    let sources: Vec<String> = got
        .iter()
        .map(|e| {
            e.json()["metrics_collected"]["source_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sources, ["a", "b", "a"]);
    for e in &got {
        assert_eq!(e.event, "metrics_collected");
        check_shape(&e.json());
        let mc = &e.json()["metrics_collected"];
        assert_eq!(mc["collection_method"], "PUSH_GATEWAY");
        assert_eq!(mc["target_health"], "healthy");
    }
    assert_eq!(got[0].json()["metrics_collected"]["metrics_count"], 2);
    let b = only_b.next().unwrap();
    assert_eq!(b.id, Some(2));
    // The list shows both consumers with their positions.
    let subs = server.get("/api/v1/events/subscriptions").json();
    assert_eq!(subs["data"]["head"], 4);
    let consumers = subs["data"]["consumers"].as_array().unwrap();
    assert_eq!(consumers.len(), 2, "{subs}");
    assert!(consumers.iter().all(|c| c["kind"] == "sse"), "{subs}");
}

#[test]
fn sse_client_resumes_with_last_event_id_missing_nothing() {
    let (_dir, server) = Server::fresh();
    for i in 0..5 {
        push(&server, "r", &format!("m {i}\n"));
    }
    let mut first = Sse::connect(server.addr, "/api/v1/events?since=1", &[]);
    let seen = first.take(2);
    let last = seen[1].id.unwrap();
    drop(first);
    for i in 5..10 {
        push(&server, "r", &format!("m {i}\n"));
    }
    let mut again = Sse::connect(
        server.addr,
        "/api/v1/events",
        &[("Last-Event-ID", &last.to_string())],
    );
    let rest: Vec<u64> = again.take(8).iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(rest, (3..=10).collect::<Vec<_>>());
}

#[test]
fn bad_filters_and_positions_get_clear_errors_and_others_are_unaffected() {
    let (_dir, server) = Server::fresh();
    let mut good = Sse::connect(server.addr, "/api/v1/events", &[]);
    for (path, headers, status, says) in [
        ("/api/v1/events?colour=red", vec![], 400, "colour"),
        ("/api/v1/events?collection_method=FAX", vec![], 400, "FAX"),
        (
            "/api/v1/events?target_health=sick",
            vec![],
            400,
            "target_health",
        ),
        ("/api/v1/events?since=x", vec![], 400, "since"),
        ("/api/v1/events?since=99", vec![], 400, "does not exist yet"),
        (
            "/api/v1/events",
            vec![("Last-Event-ID", "abc")],
            400,
            "Last-Event-ID",
        ),
    ] {
        let r = Sse::connect(server.addr, path, &headers);
        assert_eq!(r.status, status, "{path}");
        let body = r.error_body();
        assert!(body.contains(says), "{path}: {body}");
    }
    push(&server, "ok", "m 1\n");
    assert_eq!(good.next().unwrap().id, Some(1));
}

#[test]
fn events_survive_sigkill_and_numbering_continues() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for i in 0..3 {
        push(&server, "k", &format!("m {i}\n"));
    }
    let before: Vec<Value> = Sse::connect(server.addr, "/api/v1/events?since=1", &[])
        .take(3)
        .iter()
        .map(|e| e.json())
        .collect();
    common::signal(server.child.as_ref().unwrap(), "KILL");
    drop(server);
    let server = Server::start(dir.path(), &[]);
    push(&server, "k", "m 9\n");
    let after = Sse::connect(server.addr, "/api/v1/events?since=1", &[]).take(4);
    let ids: Vec<u64> = after.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, &a.json(), "an event changed across the restart");
    }
}

#[test]
fn remote_write_is_one_event_per_sender_per_second() {
    let (_dir, server) = Server::fresh();
    let mut sse = Sse::connect(
        server.addr,
        "/api/v1/events?collection_method=STREAMING",
        &[],
    );
    let now = common::now_ms();
    let mut sent = 0;
    for i in 0..5 {
        let i = i.to_string();
        let r = common::write_series(
            &server,
            &[(
                vec![("__name__", "rw"), ("i", i.as_str())],
                vec![
                    hourglass_storage::Sample::new(now, 1.0),
                    hourglass_storage::Sample::new(now + 1, 2.0),
                ],
            )],
        );
        assert_eq!(r.status, 204);
        sent += 2;
    }
    let mut counted = 0;
    let mut events = 0;
    while counted < sent {
        let e = sse.next().expect("a STREAMING event").json();
        check_shape(&e);
        let mc = &e["metrics_collected"];
        assert_eq!(mc["source_id"], "127.0.0.1");
        counted += mc["metrics_count"].as_u64().unwrap();
        events += 1;
    }
    assert_eq!(counted, sent);
    // Five requests within a second or two: one event per second.
    assert!(events <= 3, "{events} events for 5 requests");
}

#[test]
fn websocket_subscribes_filters_and_survives_bad_messages() {
    let (_dir, server) = Server::fresh();
    let mut ws = Ws::connect(server.addr, "/api/v1/events/ws");
    ws.send("not json");
    assert!(
        ws.recv_type("error")["error"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    ws.send(r#"{"type":"subscribe","filter":{"colour":"red"}}"#);
    assert!(
        ws.recv_type("error")["error"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    ws.send(r#"{"type":"subscribe","since":500}"#);
    assert!(
        ws.recv_type("error")["error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    ws.send(r#"{"type":"subscribe","filter":{"source_id":["w"]},"since":1}"#);
    assert_eq!(ws.recv_type("subscribed")["position"], 1);
    push(&server, "other", "m 1\n");
    push(&server, "w", "m 1\n");
    let e = ws.recv_type("event");
    assert_eq!(e["id"], 2);
    check_shape(&e["event"]);
    assert_eq!(e["event"]["metrics_collected"]["source_id"], "w");
    ws.send(r#"{"type":"unsubscribe"}"#);
    ws.recv_type("unsubscribed");
    wait_for("the websocket consumer to be listed", || {
        let subs = server.get("/api/v1/events/subscriptions").json();
        subs["data"]["consumers"].as_array().unwrap().is_empty()
    });
}

/// A plain `GET /-/ready` on a fresh connection: its status, or `None`
/// when the server closed the connection without an answer.
fn ready_status(addr: std::net::SocketAddr) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn websockets_count_toward_max_connections_until_they_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-connections", "2"]);
    let first = Ws::connect(server.addr, "/api/v1/events/ws");
    let _second = Ws::connect(server.addr, "/api/v1/events/ws");
    // Both slots hold open WebSockets (never idle, so never evicted): a
    // third connection is closed unanswered.
    assert_eq!(ready_status(server.addr), None);
    drop(first);
    wait_for("the closed websocket's slot to be freed", || {
        ready_status(server.addr) == Some(200)
    });
}

#[test]
fn a_stalled_websocket_consumer_slows_neither_ingest_nor_others() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--events-consumer-buffer", "20"]);
    let mut ws = Ws::connect_with(server.addr, "/api/v1/events/ws", Some(4096)).unwrap();
    ws.send(r#"{"type":"subscribe"}"#);
    ws.recv_type("subscribed");
    // The consumer reads nothing while the batches arrive (its socket
    // buffers fill and the server's sends to it stall); it reads again
    // only after.
    let mut fast = Ws::connect(server.addr, "/api/v1/events/ws");
    fast.send(r#"{"type":"subscribe"}"#);
    fast.recv_type("subscribed");
    const N: u64 = 3000;
    // A consumer that keeps reading, beside the stalled one.
    let reader = std::thread::spawn(move || {
        let (mut seen, mut missed) = (0, 0);
        while seen + missed < N {
            let m = fast.recv().expect("fast consumer message");
            match m["type"].as_str() {
                Some("event") => seen += 1,
                Some("overflow") => missed += m["missed"].as_u64().unwrap(),
                _ => {}
            }
        }
        (seen, missed)
    });
    let t0 = std::time::Instant::now();
    for i in 0..N {
        push(&server, "slow", &format!("m {i}\n"));
    }
    println!("{N} pushes with a stalled consumer: {:?}", t0.elapsed());
    let (seen, missed) = reader.join().unwrap();
    println!("reading consumer: {seen} events, {missed} missed");
    assert_eq!(seen + missed, N);
    // The stalled consumer, reading again, accounts for every event:
    // delivered in order, or reported missed with where to resume.
    let (mut next, mut missed) = (1u64, 0u64);
    while next <= N {
        let m = ws.recv().expect("stalled consumer message");
        match m["type"].as_str() {
            Some("event") => {
                assert_eq!(m["id"], next, "out of order");
                next += 1;
            }
            Some("overflow") => {
                assert_eq!(m["resume_from"], next, "{m}");
                let n = m["missed"].as_u64().unwrap();
                missed += n;
                next += n;
            }
            _ => {}
        }
    }
    println!(
        "stalled consumer: {} delivered, {missed} missed",
        N - missed
    );
}

#[test]
fn an_import_is_one_batch_upload_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = common::now_ms();
    let input = common::cli::input_file(
        dir.path(),
        "backfill.jsonl",
        format!(
            "{{\"metric\":{{\"__name__\":\"old\"}},\"values\":[1,2],\"timestamps\":[{},{}]}}\n",
            t - 60_000,
            t - 30_000
        ),
    );
    let (ok, _, err) = common::cli::import(&data, &input, &[]);
    assert!(ok, "{err}");
    let server = Server::start(&data, &[]);
    let e = Sse::connect(server.addr, "/api/v1/events?since=1", &[]).take(1)[0].json();
    check_shape(&e);
    let mc = &e["metrics_collected"];
    assert_eq!(mc["collection_method"], "BATCH_UPLOAD");
    assert_eq!(mc["source_id"], "backfill.jsonl");
    assert_eq!(mc["metrics_count"], 2);
}

#[test]
fn live_samples_reach_a_websocket_subscriber_labels_once() {
    let (_dir, server) = Server::fresh();
    let r = server.get("/api/v1/stream?match[]=rate(x[5m])");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = server.get("/api/v1/stream?match[]=live&colour=red");
    assert!(r.text().contains("colour"), "{}", r.text());
    let mut ws = Ws::connect(
        server.addr,
        "/api/v1/stream?match[]=%7B__name__%3D%22live%22%7D",
    );
    // The subscription is registered once the upgrade is answered.
    let now = common::now_ms();
    let write = |t: i64, v: f64| {
        let r = common::write_series(
            &server,
            &[
                (
                    vec![("__name__", "live"), ("k", "a")],
                    vec![hourglass_storage::Sample::new(t, v)],
                ),
                (
                    vec![("__name__", "other")],
                    vec![hourglass_storage::Sample::new(t, v)],
                ),
            ],
        );
        assert_eq!(r.status, 204);
    };
    write(now, 1.5);
    let first = ws.recv_type("samples");
    assert_eq!(first["series"][0]["labels"]["k"], "a");
    assert_eq!(first["data"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["data"][0]["values"][0][1], "1.5");
    // p99 from the write's acknowledgement to the subscriber, over 200
    // writes one at a time (printed, not asserted: a loaded machine).
    let mut took = Vec::new();
    for i in 1..=200 {
        write(now + i, i as f64);
        let acked = std::time::Instant::now();
        let m = ws.recv_type("samples");
        took.push(acked.elapsed());
        assert!(
            m["series"].as_array().unwrap().is_empty(),
            "labels once: {m}"
        );
        assert_eq!(m["data"][0]["values"][0][1], i.to_string());
    }
    took.sort();
    println!(
        "live stream, write ack to subscriber: p50 {:?} p99 {:?} (200 writes)",
        took[99], took[197]
    );
}

/// Batch end (the event's timestamp) to an SSE client, over 300 pushes one
/// at a time; printed for the README, asserted only against a stall.
#[test]
fn sse_latency_figure() {
    let (_dir, server) = Server::fresh();
    let mut sse = Sse::connect(server.addr, "/api/v1/events", &[]);
    let reader = std::thread::spawn(move || {
        let mut lat = Vec::new();
        for _ in 0..300 {
            let e = sse.next().expect("event");
            let now = common::now_ms();
            let ts = hourglass_storage::calendar::parse_rfc3339_ms(
                e.json()["timestamp"].as_str().unwrap(),
            )
            .unwrap();
            lat.push(now - ts);
        }
        lat
    });
    for i in 0..300 {
        push(&server, "lat", &format!("m {i}\n"));
    }
    let mut lat = reader.join().unwrap();
    lat.sort_unstable();
    println!(
        "SSE, batch end to client: p50 {} ms, p99 {} ms, max {} ms (300 pushes)",
        lat[150], lat[296], lat[299]
    );
    assert!(lat[299] < 30_000, "stalled");
}
