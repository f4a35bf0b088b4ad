//! Remote read (`POST /api/v1/read`) and federation (`GET /federate`)
//! with Debian's Prometheus 2.42 as the client: a Prometheus with an empty
//! store and `remote_read` to Hourglass answers the same queries as
//! Hourglass (SAMPLES, the only type Prometheus 2.42's client asks for);
//! streamed XOR chunks are checked against Prometheus's own (its remote
//! read server, fed the same data), both decoded by the client-side
//! decoder in tests/common/remote_read.rs; Prometheus federates from
//! Hourglass; bad requests get clear 4xx and lose nothing. Skipped with a
//! message outside CI when Prometheus is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::compare::{assert_same, get_json};
use common::external::{have_all, prometheus_with, ready_prometheus, wait_ready};
use common::query::enc;
use common::remote_read::{self as rr, EQ, RE, SAMPLES, STREAMED};
use common::*;
use hourglass_storage::Sample;
use std::net::SocketAddr;
use std::time::Duration;

const PROTO: [(&str, &str); 2] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
];

/// `n` samples ending near now at an irregular spacing around `step_ms`
/// (repeated values, jitter, one long gap): counters climb, gauges wander.
fn samples(seed: u64, n: usize, step_ms: i64, counter: bool) -> Vec<Sample> {
    let mut r = fastrand::Rng::with_seed(seed);
    let mut t = now_ms() - (n as i64 + 40) * step_ms;
    let mut v = r.u64(..1000) as f64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        t += step_ms + r.u64(..7) as i64 - 3;
        if i == n / 2 {
            t += 20 * step_ms;
        }
        // Query grids here are whole seconds. Prometheus 2.42 closes range
        // windows on the left, `[t - range, t]`; Hourglass answers as
        // Prometheus 3 does, `(t - range, t]`. Off whole seconds no sample
        // sits on a window's start, where the two would differ.
        if t % 1000 == 0 {
            t += 1;
        }
        match r.u64(..4) {
            0 => {}
            1 => v += 1.0,
            _ if counter => v += r.u64(..1000) as f64 / 7.0,
            _ => v = r.u64(..100_000) as f64 / 3.0 - 10_000.0,
        }
        out.push(Sample { t, v });
    }
    out
}

fn post_read(addr: SocketAddr, body: &[u8]) -> Response {
    request(addr, "POST", "/api/v1/read", &PROTO, body)
}

/// Six series in one remote-write body: three counters, three gauges.
fn dataset() -> Vec<u8> {
    let inst: Vec<String> = (0..3).map(|i| format!("host-{i}")).collect();
    let mut series: Vec<Series<'_>> = Vec::new();
    for (i, inst) in (0u64..).zip(&inst) {
        series.push((
            vec![
                ("__name__", "rr_requests_total"),
                ("job", "api"),
                ("instance", inst.as_str()),
            ],
            samples(i, 400, 5000, true),
        ));
        series.push((
            vec![
                ("__name__", "rr_temperature"),
                ("job", "sensors"),
                ("instance", inst.as_str()),
            ],
            samples(100 + i, 400, 5000, false),
        ));
    }
    v1_body(&series)
}

#[test]
fn prometheus_with_remote_read_answers_like_hourglass() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let (_tmp, server) = Server::fresh();
    let r = post_write(&server, &V1_HEADERS, None, &dataset());
    assert_eq!(r.status, 204, "{}", r.text());
    let config = format!(
        "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        server.addr
    );
    let (_dir, _prom, paddr) = ready_prometheus(&config);
    let end = now_ms() / 1000 - 60;
    let start = end - 1800;
    let instant = [
        "rr_temperature",
        "rr_requests_total{instance=~\"host-[01]\"}",
        "sum by (job) (rate(rr_requests_total[5m]))",
        "max_over_time(rr_temperature[10m])",
        "count({__name__=~\"rr_.*\"})",
    ];
    for q in instant {
        let path = format!("/api/v1/query?query={}&time={end}", enc(q));
        assert_same(q, &get_json(paddr, &path), &get_json(server.addr, &path));
    }
    let range = [
        "rr_temperature{job=\"sensors\"}",
        "rate(rr_requests_total[2m])",
        "avg(rr_temperature) by (job)",
    ];
    for q in range {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=30",
            enc(q)
        );
        assert_same(q, &get_json(paddr, &path), &get_json(server.addr, &path));
    }
}

#[test]
fn streamed_xor_chunks_decode_like_prometheus_own() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let (_tmp, server) = Server::fresh();
    let dir = tempfile::tempdir().unwrap();
    let (_prom, paddr) = prometheus_with(
        dir.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    wait_ready(paddr);
    // 300 series × 500 samples of wandering floats: many 120-sample chunks
    // per series and more than one 1 MiB frame.
    let ids: Vec<String> = (0..300).map(|i| format!("{i:03}")).collect();
    let series: Vec<Series<'_>> = (0u64..)
        .zip(&ids)
        .map(|(i, id)| {
            let labels = vec![
                ("__name__", "rr_stream"),
                ("job", "stream"),
                ("series", id.as_str()),
            ];
            (labels, samples(7 + i, 500, 1000, i % 2 == 0))
        })
        .collect();
    let body = v1_body(&series);
    for addr in [server.addr, paddr] {
        let r = request(addr, "POST", "/api/v1/write", &V1_HEADERS, &body);
        assert!(r.status / 100 == 2, "{addr}: {} {}", r.status, r.text());
    }
    let (start, end) = (now_ms() - 3_600_000, now_ms());
    let m: &[(u64, &str, &str)] = &[(EQ, "job", "stream"), (RE, "series", "0.*|1[0-4].")];
    let m2: &[(u64, &str, &str)] = &[(EQ, "__name__", "rr_stream"), (EQ, "series", "299")];
    let req = rr::request(&[(start, end, m), (start, end, m2)], &[STREAMED, SAMPLES]);

    let theirs = post_read(paddr, &req);
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    let (theirs, _) = rr::streamed_response(&theirs.body);
    let ours = post_read(server.addr, &req);
    assert_eq!(ours.status, 200, "{}", ours.text());
    assert_eq!(
        ours.header("Content-Type"),
        Some("application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse")
    );
    let (ours, frames) = rr::streamed_response(&ours.body);
    println!("streamed: {frames} frames");
    assert!(
        frames >= 2,
        "expected the answer split over frames, got {frames}"
    );
    assert_eq!(ours.len(), 2, "both queries answered");
    assert_eq!(ours[&0].len(), 150);
    assert_eq!(ours[&1].len(), 1);
    assert_eq!(
        theirs, ours,
        "Hourglass's chunks decode to Prometheus's samples"
    );

    // SAMPLES for the same queries: the same series and samples.
    let sreq = rr::request(&[(start, end, m), (start, end, m2)], &[SAMPLES]);
    let r = post_read(server.addr, &sreq);
    assert_eq!(r.status, 200, "{}", r.text());
    let samples = rr::samples_response(&r.body);
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0], ours[&0]);
    assert_eq!(samples[1], ours[&1]);
}

#[test]
fn remote_read_refuses_bad_requests_and_loses_nothing() {
    let (_tmp, server) = Server::fresh_with(&["--query-max-samples", "1000"]);
    let r = post_write(&server, &V1_HEADERS, None, &dataset());
    assert_eq!(r.status, 204, "{}", r.text());
    let (start, end) = (now_ms() - 3_600_000, now_ms());
    let check = |body: &[u8], headers: &[(&str, &str)], code: u16, says: &str| {
        let r = server.post("/api/v1/read", headers, body);
        assert_eq!(r.status, code, "{}", r.text());
        assert!(r.text().contains(says), "{:?} lacks {says:?}", r.text());
    };
    let api: &[(u64, &str, &str)] = &[(EQ, "job", "api")];
    let refused: [(rr::Q<'_>, &str); 5] = [
        (
            (start, end, &[(RE, "job", "(")]),
            "invalid regular expression",
        ),
        ((start, end, &[(RE, "job", ".*")]), "empty string"),
        ((end, start, api), "before start"),
        ((start, end, &[(9, "job", "api")]), "unknown matcher type 9"),
        // 1,200 samples selected, over --query-max-samples 1000.
        ((start, end, api), "exceeded sample limit (1000)"),
    ];
    for (query, says) in refused {
        check(&rr::request(&[query], &[SAMPLES]), &PROTO, 400, says);
    }
    let body = rr::request(&[(start, end, api)], &[SAMPLES]);
    let mut truncated = body.clone();
    truncated.truncate(truncated.len() - 3);
    check(&truncated, &PROTO, 400, "");
    let garbage = hourglass::ingest::remote_write::compress(b"\x0a\xff\xff\xff\x0f");
    check(&garbage, &PROTO, 400, "cannot decode ReadRequest");
    check(
        &body,
        &[("Content-Type", "application/json")],
        415,
        "Content-Type",
    );
    check(
        &body,
        &[("Content-Encoding", "gzip")],
        415,
        "Content-Encoding",
    );
    // A narrower range fits the limit; streaming has no total limit.
    let r = post_read(server.addr, &rr::request(&[(start, end, api)], &[STREAMED]));
    assert_eq!(r.status, 200);
    let (got, _) = rr::streamed_response(&r.body);
    assert_eq!(
        got[&0].values().map(Vec::len).sum::<usize>(),
        1200,
        "nothing lost"
    );
}

#[test]
fn prometheus_federates_the_latest_samples_from_hourglass() {
    let (_tmp, server) = Server::fresh();
    let now = now_ms();
    let mut series = Vec::new();
    for i in 0..4 {
        let pts: Vec<Sample> = (0..5)
            .map(|k| Sample {
                t: now - 50_000 + k * 10_000,
                v: (i * 10 + k) as f64 + 0.5,
            })
            .collect();
        series.push((i, pts));
    }
    let inst: Vec<String> = (0..4).map(|i| format!("node-{i}")).collect();
    let body: Vec<Series<'_>> = series
        .iter()
        .map(|(i, pts)| {
            (
                vec![
                    ("__name__", "fed_load"),
                    ("job", "node"),
                    ("instance", inst[*i as usize].as_str()),
                ],
                pts.clone(),
            )
        })
        .collect();
    assert_eq!(write_series(&server, &body).status, 204);
    let other: Vec<Series<'_>> = vec![(
        vec![("__name__", "fed_other"), ("job", "x")],
        vec![Sample {
            t: now - 1000,
            v: 1.0,
        }],
    )];
    assert_eq!(write_series(&server, &other).status, 204);

    let r = server.get(&format!("/federate?match[]={}", enc("{job=\"node\"}")));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    assert!(text.starts_with("# TYPE fed_load untyped\n"), "{text}");
    let want = format!(
        "fed_load{{instance=\"node-2\",job=\"node\"}} 24.5 {}\n",
        now - 10_000
    );
    assert!(text.contains(&want), "{text} lacks {want}");
    assert!(!text.contains("fed_other"), "{text}");
    assert_eq!(
        server.get("/federate").text(),
        "",
        "no match[] selects nothing"
    );
    let bad = server.get(&format!("/federate?match[]={}", enc("{job=~\".*\"}")));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("match[]"), "{}", bad.text());

    if !have_all(&["prometheus"]) {
        return;
    }
    let config = format!(
        "scrape_configs:\n  - job_name: federate\n    honor_labels: true\n    scrape_interval: 1s\n    metrics_path: /federate\n    params:\n      'match[]': ['{{job=\"node\"}}']\n    static_configs:\n      - targets: ['{}']\n",
        server.addr
    );
    let (_dir, _prom, paddr) = ready_prometheus(&config);
    let path = format!("/api/v1/query?query={}", enc("fed_load"));
    wait_until(
        "Prometheus holds the federated series",
        Duration::from_secs(60),
        || {
            let v = get_json(paddr, &path);
            v["data"]["result"].as_array().is_some_and(|a| a.len() == 4)
        },
    );
    let v = get_json(paddr, &path);
    for s in v["data"]["result"].as_array().unwrap() {
        assert_eq!(
            s["metric"]["job"], "node",
            "honor_labels keeps our job: {s}"
        );
        let i: i64 = s["metric"]["instance"].as_str().unwrap()["node-".len()..]
            .parse()
            .unwrap();
        assert_eq!(s["value"][1], format!("{}.5", i * 10 + 4), "{s}");
    }
}
