//! Hostile input at the HTTP edge, against a real server on loopback:
//! every route's credentials, decode amplification and decompression
//! bombs against the in-flight body budget, slow and idle connections at
//! the connection cap, and protobuf varints that overflow. Bounded in
//! count and time; each server stops with its test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::auth::{CONFIG, READ, WRITE};
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{compress, v1};
use hourglass::routes::{Class, table};
use hourglass_storage::Sample;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A path the route's pattern matches; pushes take the base64 form of the
/// grouping key, which a path-prefix check once let through.
fn concrete(path: &str) -> String {
    path.replace("{*grouping}", "job@base64/aG9zdGlsZQ")
        .replace("{name}", "job")
        .replace("{asset}", "app.js")
}

fn call(server: &Server, method: &str, path: &str, auth: Option<&str>) -> Response {
    let mut headers = vec![("Content-Type", "text/plain; version=0.0.4")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let body: &[u8] = if method == "GET" || method == "DELETE" {
        b""
    } else {
        b"hostile_bypass_metric 1\n"
    };
    server.request(method, &concrete(path), &headers, body)
}

fn query_count(server: &Server, metric: &str) -> usize {
    let r = server.get_with(
        &format!("/api/v1/query?query={metric}"),
        &[("Authorization", READ)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["result"].as_array().map_or(0, Vec::len)
}

#[test]
fn every_route_refuses_callers_without_its_class_credentials() {
    let (_tmp, server) = start_with_config(CONFIG, &[]);
    let routes: Vec<_> = table().collect();
    assert!(routes.len() >= 25, "{routes:?}");
    for (m, p) in [
        ("PUT", "/metrics/{*grouping}"),
        ("POST", "/metrics/{*grouping}"),
        ("DELETE", "/metrics/{*grouping}"),
        ("POST", "/api/v1/write"),
        ("POST", "/api/v1/metrics/custom"),
    ] {
        assert!(
            routes
                .iter()
                .any(|r| r.method == m && r.path == p && r.class == Class::Write),
            "{m} {p} is a write route"
        );
    }
    for r in &routes {
        let own = match r.class {
            Class::Open => {
                let resp = call(&server, r.method, r.path, None);
                assert_ne!(resp.status, 401, "{r:?} is open");
                continue;
            }
            Class::Write => WRITE,
            Class::Read => READ,
        };
        let other = if own == WRITE { READ } else { WRITE };
        for auth in [None, Some("Bearer wrong-token-0123456789"), Some(other)] {
            let resp = call(&server, r.method, r.path, auth);
            assert_eq!(resp.status, 401, "{r:?} with {auth:?}: {}", resp.text());
        }
        assert_eq!(
            query_count(&server, "hostile_bypass_metric"),
            0,
            "{r:?} stored data without credentials"
        );
    }
    // With the right credentials every route is reached (no 401, and the
    // table's method is the one routed: no 405).
    for r in &routes {
        // Event and sample streams answer 200 and never end; they are
        // reached with credentials in tests/events.rs.
        if ["/api/v1/events", "/api/v1/stream"].contains(&r.path) {
            continue;
        }
        let own = match r.class {
            Class::Open => None,
            Class::Write => Some(WRITE),
            Class::Read => Some(READ),
        };
        let resp = call(&server, r.method, r.path, own);
        assert!(
            resp.status != 401 && resp.status != 405,
            "{r:?}: {} {}",
            resp.status,
            resp.text()
        );
    }
    // The authorised push through the base64 path did store: the check
    // above could have seen it.
    let resp = call(&server, "PUT", "/metrics/{*grouping}", Some(WRITE));
    assert!(resp.status < 300, "{}", resp.text());
    assert_eq!(query_count(&server, "hostile_bypass_metric"), 1);
}

/// Peak and current resident memory of a process, in bytes.
fn rss(server: &Server) -> (u64, u64) {
    let pid = server.child.as_ref().expect("running").id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Sends `n` copies of a request at once; their status codes.
fn at_once(
    server: &Server,
    n: usize,
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &[u8],
) -> Vec<Response> {
    let addr = server.addr;
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let body = body.to_vec();
            std::thread::spawn(move || request(addr, method, path, headers, &body))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn hostile_bodies_at_once_stay_within_the_inflight_budget() {
    eight_hostile_bodies_of_each_kind(96);
}

/// The same at the default budget (512 MiB), for the figure in the README:
/// `cargo test --test hostile_http -- --ignored --nocapture`.
#[test]
#[ignore = "measurement: holds up to 512 MiB"]
fn hostile_bodies_at_the_default_budget() {
    eight_hostile_bodies_of_each_kind(512);
}

fn eight_hostile_bodies_of_each_kind(budget_mib: u64) {
    let budget = format!("{budget_mib}");
    let (_tmp, server) = start_with_config("", &["--max-inflight-body-mib", &budget]);
    // Warm up: the steady state includes one ordinary write of each kind.
    let mut w = Writer::default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    v1::encode_series(&mut w, [("__name__", "warm")], &[Sample::new(now_ms, 1.0)]);
    assert_eq!(remote_write(&server, &w.buf).status, 204);
    let push = server.request(
        "PUT",
        "/metrics/job/warm",
        &[
            ("Content-Type", "text/plain; version=0.0.4"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(b"warm_push 1\n"),
    );
    assert_eq!(push.status, 200, "{}", push.text());
    std::thread::sleep(Duration::from_millis(300));
    let (_, steady) = rss(&server);

    // Bodies announced at the limit but not sent hold none of the budget:
    // an ordinary write still goes through beside eight of them.
    let announced: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(
                b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
                  Content-Encoding: snappy\r\nContent-Length: 33554432\r\n\r\nabc",
            )
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(remote_write(&server, &w.buf).status, 204);
    let held: f64 = server
        .get("/metrics")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("hourglass_inflight_body_bytes "))
        .and_then(|v| v.parse().ok())
        .expect("hourglass_inflight_body_bytes");
    assert!(held < 4096.0, "{held} bytes held for bodies not sent");
    drop(announced);

    // 16M empty TimeSeries: 32 MiB decompressed from ~1.5 MB of snappy.
    let empty = compress(&[0x0a, 0x00].repeat(16 << 20));
    assert!(empty.len() < 2 << 20, "{}", empty.len());
    const RW: &[(&str, &str)] = &[
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
    ];
    let answers = at_once(&server, 8, "POST", "/api/v1/write", RW, &empty);
    for r in &answers {
        assert!(matches!(r.status, 400 | 503), "{} {}", r.status, r.text());
        if r.status == 503 {
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        assert!(r.body.len() < 4096, "bounded error: {} bytes", r.body.len());
    }
    let (peak_rw, _) = rss(&server);

    // gzip bombs: 64 MiB of zeros in ~64 KB, to the custom-metrics and
    // Pushgateway endpoints.
    let bomb = gzip(&vec![b'0'; 64 << 20]);
    const CUSTOM: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
    ];
    const PUSH: &[(&str, &str)] = &[
        ("Content-Type", "text/plain; version=0.0.4"),
        ("Content-Encoding", "gzip"),
    ];
    for (path, headers) in [
        ("/api/v1/metrics/custom", CUSTOM),
        ("/metrics/job/bomb", PUSH),
    ] {
        for r in at_once(&server, 8, "POST", path, headers, &bomb) {
            assert!(
                matches!(r.status, 413 | 503),
                "{path}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    let (peak, _) = rss(&server);
    let budget_bytes = budget_mib << 20;
    eprintln!(
        "steady RSS {} MiB, peak after remote write {} MiB, peak after gzip bombs {} MiB, \
         budget {budget_mib} MiB",
        steady >> 20,
        peak_rw >> 20,
        peak >> 20
    );
    // Thread stacks and pages the allocator has not yet handed back sit
    // outside any request's reservation: 16 MiB for them.
    let slack = 16 << 20;
    assert!(
        peak <= steady + budget_bytes + slack,
        "peak {peak} over steady {steady} + budget {budget_bytes}"
    );
    // The server still takes ordinary writes, and the budget was given back.
    assert_eq!(remote_write(&server, &w.buf).status, 204);
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains("hourglass_inflight_body_bytes 0\n"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("inflight"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn overflowing_varint_in_a_remote_write_body_is_refused_with_400() {
    let (_tmp, server) = start_with_config("", &[]);
    let mut body = vec![0x78];
    body.extend([0xff; 9]);
    body.push(0x02);
    let r = remote_write(&server, &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("overflows 64 bits"), "{}", r.text());
}

/// Times one `/-/ready` request on a fresh connection.
fn ready_latency(server: &Server) -> Duration {
    let t0 = Instant::now();
    let r = try_request(server.addr, "GET", "/-/ready", &[], b"").expect("ready answers");
    assert_eq!(r.status, 200);
    t0.elapsed()
}

/// True when the server closed the connection within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slow_and_idle_connections_are_cut_and_ready_answers_at_the_fd_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--nofile=1024:1024", "--", BIN, "serve"])
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args([
            "--http-header-read-timeout",
            "2s",
            "--http-body-read-timeout",
            "2s",
        ]);
    let server = Server::spawn(cmd);

    // 1,030 idle sockets against 1,024 descriptors: the cap (768) keeps
    // descriptors free, and the oldest idle connections make room.
    let idle: Vec<TcpStream> = (0..1030)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    assert_eq!(idle.len(), 1030);
    // A slowloris: headers trickled a line at a time.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        worst = worst.max(ready_latency(&server));
    }
    eprintln!("/-/ready with 1,030 idle sockets at a 1,024 fd limit: worst {worst:?}");
    // The target is 100 ms (the figure is printed); the assertion allows a
    // loaded CI machine, and fails on a stall.
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    let _ = slow.write_all(b"X-Slow: 1\r\n");
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "slowloris headers cut by the header-read timeout"
    );

    // A request head larger than the read buffer is refused, not buffered.
    let mut big = TcpStream::connect(server.addr).unwrap();
    let mut head = b"GET /-/ready HTTP/1.1\r\nHost: x\r\n".to_vec();
    // 50 headers (under hyper's count limit) of 2,000 bytes: 100 KB.
    for i in 0..50 {
        head.extend(format!("X-Pad-{i}: {}\r\n", "p".repeat(2000)).as_bytes());
    }
    head.extend(b"\r\n");
    let _ = big.write_all(&head);
    let mut got = Vec::new();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = big.read_to_end(&mut got);
    let answer = String::from_utf8_lossy(&got);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // A body that stops arriving gets 408 after the body-read timeout.
    let mut body = TcpStream::connect(server.addr).unwrap();
    body.write_all(
        b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
          Content-Encoding: snappy\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .unwrap();
    body.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let t0 = Instant::now();
    let _ = body.read_to_end(&mut got);
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());

    // So does one dripped a byte at a time, never silent for long.
    let mut drip = TcpStream::connect(server.addr).unwrap();
    drip.write_all(
        b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
          Content-Encoding: snappy\r\nContent-Length: 100\r\n\r\n",
    )
    .unwrap();
    let t0 = Instant::now();
    for _ in 0..40 {
        if drip.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut got = Vec::new();
    drip.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = drip.read_to_end(&mut got);
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    // Cut at the 2 s deadline, well before the 4 s the drip would last.
    assert!(
        t0.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t0.elapsed()
    );

    // An idle keep-alive connection is closed after the same timeout.
    let mut keep = TcpStream::connect(server.addr).unwrap();
    keep.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(closed_within(&mut keep, Duration::from_secs(5)));

    // Every idle socket from the start has been closed by now.
    let mut open = 0;
    for mut s in idle {
        if !closed_within(&mut s, Duration::from_millis(50)) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "idle sockets still open");
    for _ in 0..5 {
        worst = worst.max(ready_latency(&server));
    }
    // The target is 100 ms (the figure is printed); the assertion allows a
    // loaded CI machine, and fails on a stall.
    assert!(worst < Duration::from_secs(1), "{worst:?}");
}

#[test]
fn sigterm_with_idle_connections_open_stops_cleanly_and_finishes_requests_in_flight() {
    let (_tmp, server) = start_with_config("", &[]);
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // A request whose body is still arriving when SIGTERM comes.
    let mut w = Writer::default();
    // Stamped now, as a live sender stamps.
    v1::encode_series(
        &mut w,
        [("__name__", "late")],
        &[Sample::new(now_ms(), 1.0)],
    );
    let payload = compress(&w.buf);
    let mut inflight = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    inflight.write_all(head.as_bytes()).unwrap();
    inflight.write_all(&payload[..1]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.as_ref().unwrap().id();
    let t0 = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(200));
    inflight.write_all(&payload[1..]).unwrap();
    let mut got = Vec::new();
    inflight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = inflight.read_to_end(&mut got);
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 204"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    drop(idle);
}

#[test]
fn custom_metrics_error_list_is_bounded_and_counts_the_rest() {
    let (_tmp, server) = start_with_config("", &[]);
    let items: Vec<serde_json::Value> = (0..1000)
        .map(|_| serde_json::json!({"name": "broken", "metric_type": "GAUGE"}))
        .collect();
    let body = serde_json::Value::Array(items).to_string();
    let r = server.post(
        "/api/v1/metrics/custom",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let j = r.json();
    assert_eq!(j["rejected"], 1000, "{j}");
    assert_eq!(j["errors"].as_array().map(Vec::len), Some(100));
    assert_eq!(j["errors_omitted"], 900);
    assert_eq!(j["errors"][99]["index"], 99);
    assert!(r.body.len() < 16 << 10, "{} bytes", r.body.len());
}

/// curl sends a query typed on its command line as it is: quotes, braces
/// and `>` unencoded. Prometheus (Go) takes those; so must we, on one
/// keep-alive connection with a body in between.
#[test]
fn unencoded_queries_as_curl_sends_them_are_answered() {
    let (_tmp, server) = Server::fresh();
    let t = now_ms();
    let series: Vec<Series> = vec![(
        vec![("__name__", "up"), ("job", "node")],
        vec![Sample { t, v: 1.0 }],
    )];
    assert_eq!(write_series(&server, &series).status, 204);
    let form = "query=count(up{job=\"node\"})";
    let wire = format!(
        "GET /api/v1/query?query=count(up{{job=\"node\"}}>0)&time={s} HTTP/1.1\r\nHost: h\r\n\r\n\
         POST /api/v1/query HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{form}\
         GET /api/v1/query?query=vector(1)<2&time={s} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        form.len(),
        s = t / 1000 + 1,
    );
    let mut conn = TcpStream::connect(server.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(wire.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 3, "{answer}");
    assert_eq!(answer.matches(r#""value":["#).count(), 3, "{answer}");
    assert!(!answer.contains("error"), "{answer}");
}
