//! Issue #16's live-stream target, measured against the release binary,
//! one command:
//! `HOURGLASS_BIN=<target>/release/hourglass cargo test -p hourglass --test events_figures live_stream -- --ignored --nocapture`
//! (the binary serves, and its `bench ingest` makes the bulk of the load
//! from pre-encoded requests over 4 connections; the probe's requests are
//! encoded before the clock starts too). Phases without and with a
//! subscriber alternate, so the server's CPU per stored sample compares
//! side by side. Printed for the README; asserted only against gross
//! failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::events::Ws;
use hourglass_storage::Sample;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SERIES_PER_JOB: usize = 1_000;
/// Probe requests per second: 50 × 1,000 = 50,000 samples/s, the rest of
/// the 500,000 from `hourglass bench ingest`.
const HZ: u64 = 50;
/// Seconds per phase.
const SECONDS: u64 = 5;
/// Whether each phase has the subscriber (alternating, A/B).
const PHASES: [bool; 4] = [false, true, false, true];
/// Samples/s `hourglass bench ingest` is asked for beside the probe.
const BENCH_RATE: u64 = 450_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The 1-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

/// User + system CPU seconds of process `pid`.
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit(')').next().unwrap();
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 here.
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

/// The probe's requests, encoded before the clock starts: request `k`
/// writes job j0's series at `t0 + k · 1000/HZ` ms, value `k`.
fn probe_bodies(t0: i64, n: u64) -> Vec<(i64, Vec<u8>)> {
    let ids: Vec<String> = (0..SERIES_PER_JOB).map(|i| i.to_string()).collect();
    (0..n)
        .map(|k| {
            let t = t0 + (k * 1000 / HZ) as i64;
            let series: Vec<common::write::Series<'_>> = ids
                .iter()
                .map(|i| {
                    (
                        vec![("__name__", "live_bench"), ("job", "j0"), ("i", i.as_str())],
                        vec![Sample::new(t, k as f64)],
                    )
                })
                .collect();
            (t, common::write::v1_body(&series))
        })
        .collect()
}

/// Sends `bodies` at `HZ` from `start`, noting when each timestamp was
/// acknowledged; returns the samples sent.
fn sender(
    addr: std::net::SocketAddr,
    bodies: &[(i64, Vec<u8>)],
    start: Instant,
) -> (u64, HashMap<i64, Instant>) {
    let mut acks = HashMap::new();
    for (k, (t, body)) in bodies.iter().enumerate() {
        let due = start + Duration::from_micros(k as u64 * 1_000_000 / HZ);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let r = common::http::request(
            addr,
            "POST",
            "/api/v1/write",
            &common::write::V1_HEADERS,
            body,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        acks.insert(*t, Instant::now());
    }
    (bodies.len() as u64 * SERIES_PER_JOB as u64, acks)
}

/// What the subscriber got: each sample's timestamp and arrival, the
/// labels announced, the samples reported missed.
type Got = (Vec<(i64, Instant)>, usize, u64);

/// Reads stream messages until the sample at `last_t` arrived (or 3 s
/// pass without a message).
fn read_until(mut ws: Ws, last_t: i64) -> Got {
    let (mut got, mut labels, mut missed) = (Vec::new(), 0, 0);
    while let Some(m) = ws.recv() {
        let at = Instant::now();
        if m["type"] == "overflow" {
            missed += m["missed_samples"].as_u64().unwrap_or(0);
            continue;
        }
        labels += m["series"].as_array().map_or(0, Vec::len);
        let mut done = false;
        for d in m["data"].as_array().into_iter().flatten() {
            for v in d["values"].as_array().into_iter().flatten() {
                let t = (v[0].as_f64().unwrap() * 1000.0).round() as i64;
                done |= t >= last_t;
                got.push((t, at));
            }
        }
        if done {
            break;
        }
    }
    (got, labels, missed)
}

#[test]
#[ignore = "a release-build figure; see the file's header"]
fn live_stream_ack_to_websocket_p99_at_500k_samples_per_second() {
    let (_dir, server) = Server::fresh();
    let pid = server.child.as_ref().unwrap().id();
    let per_phase = HZ * SECONDS;
    let t0 = common::now_ms() - 60_000;
    let bodies = probe_bodies(t0, per_phase * PHASES.len() as u64);
    let mut bench = Bench::start(server.addr);
    let appended = || common::metric(&server, "hourglass_head_samples_appended_total");
    let mut cpu_per_sample: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut p99s = Vec::new();
    for (phase, &subscribed) in PHASES.iter().enumerate() {
        let mine = &bodies[phase * per_phase as usize..(phase + 1) * per_phase as usize];
        let last_t = mine.last().unwrap().0;
        let reader = subscribed.then(|| {
            // Subscribed once the upgrade is answered.
            let ws = Ws::connect(server.addr, "/api/v1/stream?match[]=%7Bjob%3D%22j0%22%7D");
            ws.set_read_timeout(Duration::from_secs(3));
            std::thread::spawn(move || read_until(ws, last_t))
        });
        let (stored0, cpu0) = (appended(), cpu_seconds_of(pid));
        let start = Instant::now() + Duration::from_millis(50);
        let (sent, acks) = sender(server.addr, mine, start);
        let took = start.elapsed().as_secs_f64();
        let stored = appended() - stored0;
        let cpu = cpu_seconds_of(pid) - cpu0;
        let name = if subscribed {
            "subscriber"
        } else {
            "no subscriber"
        };
        println!(
            "phase {phase} ({name}): {stored} samples stored in {took:.2} s = {:.0} samples/s (probe {sent}); server CPU {cpu:.2} s = {:.3} µs/sample; load {}",
            stored / took,
            cpu / stored * 1e6,
            load()
        );
        cpu_per_sample[usize::from(subscribed)].push(cpu / stored * 1e6);
        let Some(reader) = reader else { continue };
        let (got, labels, missed) = reader.join().unwrap();
        let mut early = 0;
        let mut lat: Vec<f64> = got
            .iter()
            .filter_map(|(t, at)| {
                let ack = acks.get(t)?;
                Some(match at.checked_duration_since(*ack) {
                    Some(d) => d.as_secs_f64() * 1e3,
                    None => {
                        // Pushed to the subscriber before the sender read
                        // the acknowledgement.
                        early += 1;
                        0.0
                    }
                })
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        assert!(!lat.is_empty(), "the subscriber got nothing");
        println!(
            "  subscriber to {labels} series got {} samples ({missed} reported missed, {early} before the sender saw the ack); remote-write ack -> WebSocket subscriber: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            got.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1]
        );
        p99s.push(percentile(&lat, 0.99));
        assert_eq!(labels, SERIES_PER_JOB, "labels once per series");
    }
    bench.stop();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "server CPU per stored sample: {:.3} µs without a subscriber, {:.3} µs with one ({:+.1}%); p99 by subscribed phase {p99s:.1?} ms",
        mean(&cpu_per_sample[0]),
        mean(&cpu_per_sample[1]),
        (mean(&cpu_per_sample[1]) / mean(&cpu_per_sample[0]) - 1.0) * 100.0
    );
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
                "20000",
                "--scrapes",
                "500",
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
