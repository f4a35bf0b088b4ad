//! Start timestamps over remote write 2.0: kept as such (without
//! `--created-timestamp-zero-ingestion`), read by `rate`/`resets`, hidden
//! from every listing; the reserved label is refused from writers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{enc, query_at};
use common::{Server, now_ms, remote_write, remote_write_v2};
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{v1, v2};
use hourglass_storage::Sample;

/// A minute-aligned time a few minutes back, so every sample is recent.
fn t0() -> i64 {
    (now_ms() / 60_000 - 4) * 60_000
}

/// `jobs_total{case}`: 10, 20, 25 a minute apart; `restart` says (by its
/// start timestamp only) that the counter restarted before the third.
fn write_counters(server: &Server, t0: i64) {
    let mut e = v2::Encoder::new();
    let values = [10.0, 20.0, 25.0];
    let with = |sts: [i64; 3]| -> Vec<(Sample, i64)> {
        (0..3)
            .map(|i| (Sample::new(t0 + i as i64 * 60_000, values[i]), sts[i]))
            .collect()
    };
    let c = t0 - 30_000;
    e.series(
        [("__name__", "jobs_total"), ("case", "restart")],
        &with([c, c, t0 + 119_000]),
        Some(v1::MetricType::Counter),
    );
    e.series(
        [("__name__", "jobs_total"), ("case", "steady")],
        &with([c, c, c]),
        Some(v1::MetricType::Counter),
    );
    // Start timestamps after their samples say nothing.
    e.series(
        [("__name__", "jobs_total"), ("case", "future")],
        &with([t0 + 1, t0 + 120_000, t0 + 600_000]),
        Some(v1::MetricType::Counter),
    );
    let r = remote_write_v2(server, &e.finish());
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(common::write::written(&r, "Samples"), Some("9"));
}

fn by_case(v: Vec<(common::query::Labels, f64)>) -> Vec<(String, f64)> {
    v.into_iter()
        .map(|(l, x)| (l.get("case").cloned().unwrap_or_default(), x))
        .collect()
}

#[test]
fn remote_write_2_start_timestamps_reach_rate_and_resets() {
    let (_tmp, server) = Server::fresh();
    let t0 = t0();
    write_counters(&server, t0);
    let at = Some((t0 + 120_000) as f64 / 1000.0);
    assert_eq!(
        by_case(query_at(&server, "resets(jobs_total[3m])", at)),
        vec![
            ("future".into(), 0.0),
            ("restart".into(), 1.0),
            ("steady".into(), 0.0)
        ]
    );
    // Across the restart the last value is the increase: 25 over 60 s.
    assert_eq!(
        by_case(query_at(&server, "irate(jobs_total[3m])", at)),
        vec![
            ("future".into(), 5.0 / 60.0),
            ("restart".into(), 25.0 / 60.0),
            ("steady".into(), 5.0 / 60.0)
        ]
    );
    // (t0 - 1m, t0 + 2m]: the first sample counts from t0 - 30 s, inside
    // the window, so the increase starts at zero there: 25 (steady) and
    // 25 - 10 + 20 + 10 = 45 (restart), nothing to extrapolate.
    let inc = by_case(query_at(&server, "increase(jobs_total[3m])", at));
    assert_eq!(inc[1], ("restart".into(), 45.0));
    assert_eq!(inc[2], ("steady".into(), 25.0));
    // Summed, as the folded aggregation would.
    let sum = query_at(
        &server,
        "sum(increase(jobs_total{case!=\"future\"}[3m]))",
        at,
    );
    assert_eq!(sum[0].1, 70.0);
}

#[test]
fn companions_show_in_no_listing() {
    let (_tmp, server) = Server::fresh();
    let t0 = t0();
    write_counters(&server, t0);
    let span = format!("start={}&end={}", t0 / 1000 - 60, t0 / 1000 + 600);
    let series = server
        .get(&format!("/api/v1/series?match[]=jobs_total&{span}"))
        .json();
    assert_eq!(series["data"].as_array().unwrap().len(), 3, "{series}");
    let labels = server.get(&format!("/api/v1/labels?{span}")).text();
    assert!(!labels.contains("__start_timestamp__"), "{labels}");
    let values = server
        .get(&format!("/api/v1/label/__start_timestamp__/values?{span}"))
        .json();
    assert_eq!(values["data"].as_array().unwrap().len(), 0, "{values}");
    let all = server
        .get(&format!(
            "/api/v1/query?query={}&time={}",
            enc("{__name__=~\".+\"}"),
            t0 / 1000 + 120
        ))
        .text();
    assert!(!all.contains("__start_timestamp__"), "{all}");
    let fed = server
        .get(&format!(
            "/federate?match[]={}",
            enc("{__name__=~\"jobs.*\"}")
        ))
        .text();
    assert!(fed.contains("jobs_total"), "{fed}");
    assert!(!fed.contains("__start_timestamp__"), "{fed}");
    let status = server.get("/api/v1/status/tsdb").text();
    assert!(!status.contains("__start_timestamp__"), "{status}");
}

#[test]
fn the_reserved_label_is_refused_from_writers() {
    let (_tmp, server) = Server::fresh();
    let mut w = Writer::default();
    v1::encode_series(
        &mut w,
        [("__name__", "jobs_total"), ("__start_timestamp__", "1")],
        &[Sample::new(t0(), 1.0)],
    );
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("reserved"), "{}", r.text());
}

#[test]
fn with_zero_ingestion_start_timestamps_become_zero_samples_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--created-timestamp-zero-ingestion"]);
    let t0 = t0();
    write_counters(&server, t0);
    // The zero at t0 - 30 s is a sample of its own: counted by
    // count_over_time, and no companion resets anything (the restart's
    // zero lands between the second and third samples instead).
    let at = Some((t0 + 120_000) as f64 / 1000.0);
    let n = by_case(query_at(&server, "count_over_time(jobs_total[3m])", at));
    assert_eq!(n[1], ("restart".into(), 5.0));
    assert_eq!(n[2], ("steady".into(), 4.0));
}

#[test]
fn otlp_cumulative_sums_keep_their_start_time() {
    use common::otlp::{json_request, ns, post_json};
    use serde_json::json;
    let (_tmp, server) = Server::fresh();
    let t0 = t0();
    // Points a minute apart; the process restarted between the second and
    // third, which only the start time shows (the value kept rising).
    let point = |t: i64, start: i64, v: i64| json!({"timeUnixNano": ns(t), "startTimeUnixNano": ns(start), "asInt": v.to_string()});
    let body = json_request(json!([
        {"name": "jobs", "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
            point(t0, t0 - 30_000, 10)]}},
    ]));
    assert_eq!(post_json(&server, &body).status, 200);
    for (t, start, v) in [
        (t0 + 60_000, t0 - 30_000, 20),
        (t0 + 120_000, t0 + 119_000, 25),
    ] {
        let body = json_request(json!([
            {"name": "jobs", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                "dataPoints": [point(t, start, v)]}},
        ]));
        let r = post_json(&server, &body);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let at = Some((t0 + 120_000) as f64 / 1000.0);
    let resets = query_at(&server, "resets(jobs_total[3m])", at);
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].1, 1.0);
    // Only the three samples: no zero was written at a start time.
    let n = query_at(&server, "count_over_time(jobs_total[3m])", at);
    assert_eq!(n[0].1, 3.0);
}
