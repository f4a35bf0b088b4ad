//! Issue #16's live-stream target, measured against the release binary:
//! `HOURGLASS_BIN=<target>/release/hourglass cargo test -p hourglass --test events_figures -- --ignored --nocapture`
//! (the binary serves, and its `bench ingest` makes the bulk of the load
//! from pre-encoded requests). Printed for the README; asserted only
//! against gross failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::events::Ws;
use hourglass_storage::Sample;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SERIES_PER_JOB: usize = 1_000;
/// Probe requests per second: 50 × 1,000 = 50,000 samples/s, the rest of
/// the 500,000 from `hourglass bench ingest`.
const HZ: u64 = 50;
const SECONDS: u64 = 10;
/// Samples/s `hourglass bench ingest` is asked for beside the probe.
const BENCH_RATE: u64 = 450_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The probe writes job j0's series, one sample per series per request;
/// returns when it has sent `HZ · SECONDS` requests, noting when each
/// timestamp was acknowledged.
fn sender(
    addr: std::net::SocketAddr,
    t0: i64,
    start: Instant,
    acks: &Mutex<HashMap<i64, Instant>>,
) -> u64 {
    let names: Vec<(String, Vec<String>)> = vec![(
        "j0".to_string(),
        (0..SERIES_PER_JOB).map(|i| i.to_string()).collect(),
    )];
    let mut sent = 0;
    for k in 0..HZ * SECONDS {
        let due = start + Duration::from_micros(k * 1_000_000 / HZ);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = t0 + (k * 1000 / HZ) as i64;
        let series: Vec<common::write::Series<'_>> = names
            .iter()
            .flat_map(|(job, ids)| {
                ids.iter().map(move |i| {
                    (
                        vec![("__name__", "live_bench"), ("job", job.as_str()), ("i", i)],
                        vec![Sample::new(t, k as f64)],
                    )
                })
            })
            .collect();
        let body = common::write::v1_body(&series);
        let r = common::http::request(
            addr,
            "POST",
            "/api/v1/write",
            &common::write::V1_HEADERS,
            &body,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        acks.lock().unwrap().insert(t, Instant::now());
        sent += series.len() as u64;
    }
    sent
}

#[test]
#[ignore = "a release-build figure; see the file's header"]
fn live_stream_ack_to_websocket_p99_at_500k_samples_per_second() {
    let (_dir, server) = Server::fresh();
    // Built before the subscriber connects: it takes a while, and the
    // reader stops at its first 3 s without a message.
    let mut bench = Bench::start(server.addr);
    let mut ws = Ws::connect(server.addr, "/api/v1/stream?match[]=%7Bjob%3D%22j0%22%7D");
    ws.set_read_timeout(Duration::from_secs(3));
    let reader = std::thread::spawn(move || {
        let mut got: Vec<(i64, Instant)> = Vec::new();
        let mut labels = 0usize;
        let mut missed = 0u64;
        while let Some(m) = ws.recv() {
            let at = Instant::now();
            if m["type"] == "overflow" {
                missed += m["missed_samples"].as_u64().unwrap_or(0);
                continue;
            }
            labels += m["series"].as_array().map_or(0, Vec::len);
            for d in m["data"].as_array().into_iter().flatten() {
                for v in d["values"].as_array().into_iter().flatten() {
                    let t = (v[0].as_f64().unwrap() * 1000.0).round() as i64;
                    got.push((t, at));
                }
            }
        }
        (got, labels, missed)
    });
    let acks = Arc::new(Mutex::new(HashMap::new()));
    let t0 = common::now_ms() - 60_000;
    let appended = || common::metric(&server, "hourglass_head_samples_appended_total");
    let before = appended();
    let start = Instant::now() + Duration::from_millis(100);
    let sent = sender(server.addr, t0, start, &acks);
    let took = start.elapsed().as_secs_f64();
    let stored = appended() - before;
    bench.stop();
    let (got, labels, missed) = reader.join().unwrap();
    let acks = acks.lock().unwrap();
    let mut early = 0;
    let mut lat: Vec<f64> = got
        .iter()
        .filter_map(|(t, at)| {
            let ack = acks.get(t)?;
            Some(match at.checked_duration_since(*ack) {
                Some(d) => d.as_secs_f64() * 1e3,
                None => {
                    // Pushed to the subscriber before the sender read the
                    // acknowledgement.
                    early += 1;
                    0.0
                }
            })
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "live stream: {stored} samples stored in {took:.2} s = {:.0} samples/s ingested (probe {sent}, the rest from bench ingest); subscriber to {labels} series got {} samples ({missed} reported missed, {early} before the sender saw the ack)",
        stored / took,
        got.len()
    );
    assert!(!lat.is_empty(), "the subscriber got nothing");
    println!(
        "remote-write ack -> WebSocket subscriber: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    assert_eq!(labels, SERIES_PER_JOB, "labels once per series");
}

/// `hourglass bench ingest` at [`BENCH_RATE`] against `addr`, from the
/// binary under test; killed when stopped or dropped.
struct Bench(std::process::Child);

impl Bench {
    fn start(addr: std::net::SocketAddr) -> Bench {
        use std::io::BufRead;
        let bin = std::env::var_os("HOURGLASS_BIN").unwrap_or_else(|| common::BIN.into());
        let mut child = std::process::Command::new(bin)
            .args(["bench", "ingest", "--url"])
            .arg(format!("http://{addr}/api/v1/write"))
            .args([
                "--series",
                "50000",
                "--scrapes",
                "100",
                "--concurrency",
                "4",
            ])
            .args(["--rate", &BENCH_RATE.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run hourglass bench ingest");
        // Its requests are built before it prints "built …" and sends.
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with("built ") {
                println!("bench ingest: {line}");
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Bench(child)
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pushes/s and push latency with 8 concurrent Pushgateway clients for
/// 3 s against a server started with `flags`.
fn push_figures(flags: &[&str]) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), flags);
    let addr = server.addr;
    let until = Instant::now() + Duration::from_secs(3);
    let mut lat: Vec<f64> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|c| {
                s.spawn(move || {
                    let body: String = (0..10).map(|i| format!("m{i} {c}\n")).collect();
                    let mut lat = Vec::new();
                    while Instant::now() < until {
                        let t = Instant::now();
                        let r = common::http::request(
                            addr,
                            "PUT",
                            &format!("/metrics/job/p{c}"),
                            &[],
                            body.as_bytes(),
                        );
                        assert_eq!(r.status, 200, "{}", r.text());
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    lat
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    lat.sort_by(f64::total_cmp);
    (
        lat.len() as f64 / 3.0,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
    )
}

#[test]
#[ignore = "a release-build figure; see the file's header"]
fn push_cost_of_waiting_for_the_event_fsync() {
    for (name, flags) in [
        ("events on", &[][..]),
        ("--no-events", &["--no-events"][..]),
    ] {
        let (rate, p50, p99) = push_figures(flags);
        println!("pushes, 8 clients, {name}: {rate:.0} pushes/s, p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
}
