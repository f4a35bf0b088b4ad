//! Hostile suite, store time and cardinality: timestamps at every edge of
//! i64 and of the future bound, start timestamps that lie, and floods of
//! new series (one huge request, and racing writers) against the caps.
//! Bounded in count and time; loopback only; each server stops itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::*;
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{compress, v1};
use hourglass_storage::Sample;
use std::time::{Duration, Instant};

const MIN: i64 = 60_000;
const GRACE: i64 = 10 * MIN;

fn assert_ready_fast(server: &Server) {
    let t = Instant::now();
    let r = server.get("/-/ready");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn hostile_timestamps_never_move_the_store_nor_refuse_current_data() {
    let (tmp, server) = Server::fresh_with(&[
        "--persist-interval",
        "1s",
        "--created-timestamp-zero-ingestion",
    ]);
    let now = now_ms();
    let edges = [
        i64::MAX,
        i64::MAX - 1,
        now + 365 * 24 * 60 * MIN,
        now + 16 * 24 * 60 * MIN,
        now + GRACE + 60_000,
        i64::MIN,
        i64::MIN + 1,
        -1,
        0,
    ];
    let jobs: Vec<String> = (0..edges.len()).map(|i| format!("edge{i}")).collect();
    let mut series: Vec<Series<'_>> = jobs
        .iter()
        .zip(edges)
        .map(|(j, t)| {
            (
                vec![("__name__", "h"), ("job", j.as_str())],
                vec![Sample::new(t, f64::INFINITY)],
            )
        })
        .collect();
    series.push((
        vec![("__name__", "h"), ("job", "good")],
        vec![Sample::new(now, 1.0)],
    ));
    let r = write_series(&server, &series);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("too_far_in_future=5"), "{}", r.text());
    assert!(r.text().len() < 4096);
    assert_ready_fast(&server);
    // Lying start timestamps: never a 5xx, never a zero past the sample.
    for (i, st) in [i64::MAX, i64::MIN, -5, now + 1, now, now - 1]
        .into_iter()
        .enumerate()
    {
        let r = write_counter_v2(
            &server,
            "c_total",
            "st",
            &[(Sample::new(now + i as i64, 5.0 + i as f64), st)],
        );
        assert!(r.status == 204 || r.status == 400, "{st}: {}", r.text());
    }
    let max_t = metric(&server, "hourglass_head_max_time_seconds") * 1000.0;
    assert!(
        max_t <= (now_ms() + GRACE) as f64,
        "max time moved to {max_t}"
    );
    // Current data keeps landing and survives persist rounds and a restart.
    let r = write_series(
        &server,
        &[(
            vec![("__name__", "h"), ("job", "good")],
            vec![Sample::new(now + 1_000, 2.0)],
        )],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(server.terminate().0);
    let server = Server::start(tmp.path(), &[]);
    let at = Some((now + 2_000) as f64 / 1000.0);
    let good = query_at(&server, "count_over_time(h{job=\"good\"}[1m])", at);
    assert_eq!(good.first().map(|x| x.1), Some(2.0));
    let st = query_at(&server, "count_over_time(c_total[1m])", at);
    assert_eq!(st.first().map(|x| x.1), Some(6.0), "{st:?}");
    assert_ready_fast(&server);
}

fn flood(server: &Server, prefix: &str, n: usize, t: i64) -> Response {
    let jobs: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let series: Vec<Series<'_>> = jobs
        .iter()
        .map(|j| {
            (
                vec![("__name__", "f"), ("job", j.as_str())],
                vec![Sample::new(t, 1.0)],
            )
        })
        .collect();
    write_series(server, &series)
}

#[test]
fn a_flood_of_new_series_stops_at_the_cap_and_existing_series_keep_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[limits]\nmax_active_series = 1000\n").unwrap();
    let dir = tmp.path().join("d");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start(&dir, &args);
    let now = now_ms();
    assert_eq!(flood(&server, "old", 100, now - MIN).status, 204);
    // One request with 20,000 new series.
    let r = flood(&server, "new", 20_000, now);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("active_series_limit=19100"),
        "{}",
        r.text()
    );
    assert!(r.text().len() < 4096);
    // Racing writers cannot overshoot the cap.
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let jobs: Vec<String> = (0..500).map(|i| format!("race{k}-{i}")).collect();
                let mut w = Writer::default();
                for j in &jobs {
                    v1::encode_series(
                        &mut w,
                        [("__name__", "f"), ("job", j.as_str())],
                        &[Sample::new(now, 1.0)],
                    );
                }
                request(
                    addr,
                    "POST",
                    "/api/v1/write",
                    &[
                        ("Content-Type", "application/x-protobuf"),
                        ("Content-Encoding", "snappy"),
                    ],
                    &compress(&w.buf),
                )
                .status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 400);
    }
    assert_eq!(value(&server, "count(f)"), Some(1000.0));
    let r = flood(&server, "old", 100, now + 1_000);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_ready_fast(&server);
    // After a restart, replayed series still count against the cap.
    assert!(server.terminate().0);
    let server = Server::start(&dir, &args);
    assert_eq!(flood(&server, "later", 10, now + 2_000).status, 400);
    assert_eq!(flood(&server, "old", 100, now + 3_000).status, 204);
}
