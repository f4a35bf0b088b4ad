//! The store's notion of time and its cardinality limits, end to end: a
//! future-dated sample is refused per series on every write path and can
//! no longer make the store refuse or delete current data; remote write
//! 2.0 start timestamps insert a zero only where Prometheus would; series
//! caps refuse new series only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::{hourglass, input_file};
use common::query::*;
use common::*;
use hourglass_storage::Sample;
use serde_json::json;

use std::time::Duration;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn write_as(server: &Server, auth: Option<&str>, body: &[u8]) -> Response {
    post_write(server, &V1_HEADERS, auth, body)
}

fn write(server: &Server, body: &[u8]) -> Response {
    write_as(server, None, body)
}

fn up(job: &str) -> Vec<(&'static str, &str)> {
    vec![("__name__", "up"), ("job", job)]
}

/// Samples of `selector` over the last `range` before `at_ms`.
fn count_at(server: &Server, selector: &str, range: &str, at_ms: i64) -> f64 {
    let q = format!("count_over_time({selector}[{range}])");
    query_at(server, &q, Some(at_ms as f64 / 1000.0))
        .first()
        .map_or(0.0, |(_, v)| *v)
}

fn rejected(server: &Server, reason: &str) -> f64 {
    metric(
        server,
        &format!("hourglass_head_samples_rejected_total{{reason=\"{reason}\"}}"),
    )
}

/// Stops `server` cleanly and starts it again on `dir` persisting every
/// second; returns it after `settle`, for its first persist rounds.
fn restart_persisting(server: Server, dir: &std::path::Path, settle: Duration) -> Server {
    assert!(server.terminate().0, "clean stop");
    let server = Server::start(dir, &["--persist-interval", "1s"]);
    std::thread::sleep(settle);
    server
}

#[test]
fn future_sample_beyond_grace_is_refused_and_current_writes_still_land() {
    let tmp = tempfile::tempdir().unwrap();
    let now = now_ms();
    let server = Server::start(tmp.path(), &[]);
    let r = write(
        &server,
        &v1_body(&[
            (up("future"), vec![Sample::new(now + 16 * DAY, 1.0)]),
            (up("current"), vec![Sample::new(now, 1.0)]),
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_mentions(&r.text(), &["stored 1 samples", "too_far_in_future=1"]);
    let later = write(
        &server,
        &v1_body(&[(up("current"), vec![Sample::new(now + 1_000, 2.0)])]),
    );
    assert_eq!(later.status, 204, "{}", later.text());
    assert_eq!(rejected(&server, "too_far_in_future"), 1.0);
    let server = restart_persisting(server, tmp.path(), Duration::from_millis(2_500));
    assert_eq!(
        count_at(&server, "up{job=\"current\"}", "1m", now + 2_000),
        2.0
    );
    assert_eq!(
        count_at(&server, "up{job=\"future\"}", "1m", now + 16 * DAY),
        0.0
    );
}

#[test]
fn a_data_dir_holding_a_future_sample_heals_and_keeps_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let now = now_ms();
    // An older version accepted anything: stand in for it with a long
    // grace (and no retention: inside that grace the future sample is the
    // store's "now", and history 16 days before it would expire).
    let server = Server::start(tmp.path(), &["--future-grace", "30d", "--retention", "0"]);
    let history: Vec<Sample> = (1..=12)
        .rev()
        .map(|i| Sample::new(now - i * 15 * MIN, i as f64))
        .collect();
    let r = write(
        &server,
        &v1_body(&[
            (up("history"), history),
            (up("poisoned"), vec![Sample::new(now + 16 * DAY, 1.0)]),
        ]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(server.terminate().0);

    let server = Server::start(tmp.path(), &["--persist-interval", "1s"]);
    let r = write(
        &server,
        &v1_body(&[
            (up("history"), vec![Sample::new(now + 1_000, 0.0)]),
            (up("poisoned"), vec![Sample::new(now + 1_000, 0.0)]),
            (up("fresh"), vec![Sample::new(now + 1_000, 0.0)]),
        ]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // Persist rounds run (and apply retention) without deleting anything.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        count_at(&server, "up{job=\"history\"}", "4h", now + 2_000),
        13.0
    );
    let server = restart_persisting(server, tmp.path(), Duration::from_millis(1_500));
    assert_eq!(
        count_at(&server, "up{job=\"history\"}", "4h", now + 2_000),
        13.0
    );
    assert_eq!(
        count_at(&server, "up{job=\"fresh\"}", "1m", now + 2_000),
        1.0
    );
}

#[test]
fn custom_metric_far_in_the_future_is_refused_with_its_reason() {
    let (_tmp, server) = Server::fresh();
    let now = now_ms();
    let body = json!([
        {"name": "queue_depth", "metric_type": "GAUGE", "value": 7, "timestamp": 4_102_444_800_000i64},
        {"name": "queue_depth", "metric_type": "GAUGE", "value": 3, "labels": {"q": "b"}, "timestamp": now},
    ]);
    let r = server.post(
        "/api/v1/metrics/custom",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    let j = r.json();
    assert_eq!(
        (j["accepted"].as_u64(), j["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{j}"
    );
    assert_eq!(j["errors"][0]["index"], 0, "{j}");
    let reason = j["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("future"), "{j}");
    let next = json!([{"name": "queue_depth", "metric_type": "GAUGE", "value": 4, "timestamp": now + 1_000}]);
    let r = server.post(
        "/api/v1/metrics/custom",
        &[("Content-Type", "application/json")],
        next.to_string().as_bytes(),
    );
    assert!(r.status < 300, "{}", r.text());
}

#[test]
fn import_refuses_future_samples_with_their_reason_and_stores_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let now = now_ms();
    let input = input_file(
        tmp.path(),
        "in.prom",
        format!(
            "jobs_total{{queue=\"a\"}} 3 {}\njobs_total{{queue=\"a\"}} 5 4102444800000\njobs_total{{queue=\"b\"}} 1 {}\n",
            now - HOUR,
            now - HOUR
        ),
    );
    let dir = tmp.path().join("d");
    let (ok, _, err) = hourglass(&[
        "import",
        "--data-dir",
        dir.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(!ok, "a refused sample must fail the import");
    assert!(err.contains("too_far_in_future=1"), "{err}");
    assert!(err.contains("2 samples stored"), "{err}");
    let server = Server::start(&dir, &[]);
    let w = write(
        &server,
        &v1_body(&[(up("after"), vec![Sample::new(now, 1.0)])]),
    );
    assert_eq!(w.status, 204, "{}", w.text());
    assert_eq!(count_at(&server, "jobs_total", "2h", now), 1.0);
}

#[test]
fn start_timestamp_older_than_the_last_sample_inserts_no_zero() {
    let (_tmp, server) = Server::fresh_with(&["--created-timestamp-zero-ingestion"]);
    let t0 = now_ms() - 20 * MIN;
    let start = t0 - 30_000;
    // A counter at 1000 + 10/15 s for four minutes, started 30 s before.
    let first: Vec<(Sample, i64)> = (0..=16)
        .map(|i| {
            (
                Sample::new(t0 + i * 15_000, 1000.0 + 10.0 * i as f64),
                start,
            )
        })
        .collect();
    let r = write_counter_v2(&server, "jobs_total", "batch", &first);
    assert_eq!(r.status, 204, "{}", r.text());
    // The next sample carries a start inside what is stored (older than
    // the last sample): no zero may land between samples.
    let last = t0 + 17 * 15_000;
    let r = write_counter_v2(
        &server,
        "jobs_total",
        "batch",
        &[(Sample::new(last, 1170.0), t0 + 2 * MIN)],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r, "Samples"), Some("1"));
    let inc = query_at(
        &server,
        "increase(jobs_total[5m])",
        Some(last as f64 / 1000.0),
    );
    let inc = inc.first().map(|(_, v)| *v).unwrap_or(f64::NAN);
    // From the zero at the start to 1170, extrapolated a little: ~1170;
    // a zero in the middle would add another ~1000.
    assert!((1100.0..1400.0).contains(&inc), "increase {inc}");
    let zeros = query_at(
        &server,
        "count_over_time((jobs_total == 0)[10m:15s])",
        Some(last as f64 / 1000.0),
    );
    assert!(zeros.len() <= 1, "{zeros:?}");
}

#[test]
fn start_timestamps_insert_no_zero_without_created_timestamp_zero_ingestion() {
    let (_tmp, server) = Server::fresh();
    let t0 = now_ms() - 20 * MIN;
    let samples: Vec<(Sample, i64)> = (0..4)
        .map(|i| (Sample::new(t0 + i * 15_000, 100.0 + i as f64), t0 - 30_000))
        .collect();
    let r = write_counter_v2(&server, "jobs_total", "batch", &samples);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r, "Samples"), Some("4"));
    // Off by default, as in Prometheus: the four samples and nothing else.
    let n = query_at(
        &server,
        "count_over_time(jobs_total[10m])",
        Some((t0 + 4 * 15_000) as f64 / 1000.0),
    );
    assert_eq!(n.first().map(|(_, v)| *v), Some(4.0), "{n:?}");
}

fn series(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn body_for(jobs: &[String], t: i64) -> Vec<u8> {
    let s: Vec<Series<'_>> = jobs
        .iter()
        .map(|j| (up(j), vec![Sample::new(t, 1.0)]))
        .collect();
    v1_body(&s)
}

#[test]
fn new_series_over_the_active_cap_are_refused_and_existing_series_keep_writing() {
    let (_tmp, server) = start_with_config("[limits]\nmax_active_series = 5\n", &[]);
    let now = now_ms();
    let old = series("s", 3);
    assert_eq!(write(&server, &body_for(&old, now - MIN)).status, 204);
    let mut all = old.clone();
    all.extend(series("new", 4));
    let r = write(&server, &body_for(&all, now));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("stored 5 samples"), "{}", r.text());
    assert!(r.text().contains("active_series_limit=2"), "{}", r.text());
    let r = write(&server, &body_for(&old, now + 1_000));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(rejected(&server, "active_series_limit"), 2.0);
    assert_eq!(value(&server, "count(up)"), Some(5.0));
}

const TOKEN_A: &str = "token-a-0123456789";
const TOKEN_B: &str = "token-b-0123456789";

#[test]
fn a_write_token_over_its_series_limits_is_refused_new_series_only() {
    let (_tmp, server) = start_with_config(
        &format!(
            "[[auth.write.tokens]]\nname = \"a\"\ntoken = \"{TOKEN_A}\"\nmax_active_series = 2\n\
             [[auth.write.tokens]]\nname = \"b\"\ntoken = \"{TOKEN_B}\"\nmax_new_series_per_minute = 2\n"
        ),
        &[],
    );
    let now = now_ms();
    let a = format!("Bearer {TOKEN_A}");
    let b = format!("Bearer {TOKEN_B}");
    let r = write_as(&server, Some(&a), &body_for(&series("a", 3), now));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("active_series_limit=1"), "{}", r.text());
    // Its existing series keep writing.
    let r = write_as(&server, Some(&a), &body_for(&series("a", 2), now + 1_000));
    assert_eq!(r.status, 204, "{}", r.text());
    // Only the per-minute budget refused: 429, retry later stores the rest.
    let r = write_as(&server, Some(&b), &body_for(&series("b", 3), now));
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("new_series_rate_limit=1"), "{}", r.text());
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(value(&server, "count(up)"), Some(4.0));
    assert_eq!(rejected(&server, "new_series_rate_limit"), 1.0);
}
