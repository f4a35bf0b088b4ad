//! What a maintainer sees of a running server: query statistics in the
//! response (`stats=…`, as Prometheus answers it), the slow-query log,
//! and latency histograms on `/metrics`, read back with the text parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::*;
use hourglass::ingest::text::{Entry, MetricKind, parse_strict};
use hourglass_storage::Sample;
use serde_json::Value;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

/// `series` series of `m`, one sample every 15 s for 10 minutes.
fn seed(server: &Server, series: usize) {
    let names: Vec<String> = (0..series).map(|i| format!("i{i}")).collect();
    let data: Vec<Series<'_>> = names
        .iter()
        .map(|inst| {
            let samples = (0..40)
                .map(|k| Sample::new(T0 + k * 15_000, k as f64))
                .collect();
            (
                vec![("__name__", "m"), ("instance", inst.as_str())],
                samples,
            )
        })
        .collect();
    let r = write_series(server, &data);
    assert_eq!(r.status, 204, "{}", r.text());
}

fn query(server: &Server, path: &str) -> Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

#[track_caller]
fn assert_timings(stats: &Value) {
    let t = &stats["timings"];
    for key in [
        "evalTotalTime",
        "resultSortTime",
        "queryPreparationTime",
        "innerEvalTime",
        "execQueueTime",
        "execTotalTime",
    ] {
        let v = t[key].as_f64().unwrap_or_else(|| panic!("{key} in {t}"));
        assert!((0.0..60.0).contains(&v), "{key} = {v}");
    }
    assert_eq!(t.as_object().unwrap().len(), 6, "{t}");
    let eval = t["evalTotalTime"].as_f64().unwrap();
    let total = t["execTotalTime"].as_f64().unwrap();
    assert!(total >= eval, "{t}");
}

#[test]
fn stats_parameter_answers_with_prometheus_timings_and_samples() {
    let (_tmp, server) = Server::fresh_keeping_history();
    seed(&server, 3);
    let at = (T0 + 300_000) / 1000;

    // No `stats`: no `data.stats`.
    let plain = query(&server, &format!("/api/v1/query?query=m&time={at}"));
    assert!(plain["data"].get("stats").is_none(), "{plain}");

    // Any value: timings and totals. The instant selector reads every
    // sample in its 5-minute lookback window: 20 per series.
    let v = query(&server, &format!("/api/v1/query?query=m&time={at}&stats=1"));
    let stats = &v["data"]["stats"];
    assert_timings(stats);
    assert_eq!(stats["samples"]["totalQueryableSamples"], 3 * 20, "{stats}");
    assert!(
        stats["samples"]["peakSamples"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(
        stats["samples"]
            .get("totalQueryableSamplesPerStep")
            .is_none()
    );
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 3);

    // `stats=all` on a range query: one `[time, samples]` pair per step,
    // adding up to the total.
    let (start, end) = (T0 / 1000, (T0 + 540_000) / 1000);
    let v = query(
        &server,
        &format!("/api/v1/query_range?query=sum(m)&start={start}&end={end}&step=60&stats=all"),
    );
    let samples = &v["data"]["stats"]["samples"];
    assert_timings(&v["data"]["stats"]);
    let steps = samples["totalQueryableSamplesPerStep"].as_array().unwrap();
    assert_eq!(steps.len(), 10, "{samples}");
    assert_eq!(steps[0][0].as_f64().unwrap(), start as f64);
    assert_eq!(steps[9][0].as_f64().unwrap(), end as f64);
    let per_step: u64 = steps.iter().map(|s| s[1].as_u64().unwrap()).sum();
    assert_eq!(samples["totalQueryableSamples"], per_step, "{samples}");
    assert_eq!(per_step, 3 * 37, "samples from the first to the last step");
    // Four samples per series a minute apart between steps.
    assert_eq!(steps[5][1], 3 * 4, "{samples}");
    assert!(samples["peakSamples"].as_u64().unwrap() >= 10, "{samples}");

    // `stats=all` on an instant query: its one step.
    let v = query(
        &server,
        &format!("/api/v1/query?query=m&time={at}&stats=all"),
    );
    let steps = &v["data"]["stats"]["samples"]["totalQueryableSamplesPerStep"];
    assert_eq!(steps, &serde_json::json!([[at, 60]]), "{v}");
}

const READ_AUTH: &str = r#"
[[auth.read.basic]]
username = "grafana"
password = "s3cret"
"#;

#[test]
fn slow_query_log_names_the_query_its_cost_and_caller() {
    let (_tmp, server) = start_with_config(
        READ_AUTH,
        &keeping_history(&["--query-slow-log-threshold", "1ms"]),
    );
    seed(&server, 50);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("grafana:s3cret")
    );
    // 50 series over 10 000 steps: well over a millisecond.
    let (start, end) = (T0 / 1000, T0 / 1000 + 9_999);
    let path = format!(
        "/api/v1/query_range?query=sum(count_over_time(m%5B5m%5D))&start={start}&end={end}&step=1"
    );
    let r = server.get_with(&path, &[("Authorization", &basic)]);
    assert_eq!(r.status, 200, "{}", r.text());

    let line = next_slow_line(&server);
    println!("{line}");
    assert_mentions(
        &line,
        &[
            "WARN",
            "kind=\"range\"",
            "query=\"sum(count_over_time(m[5m]))\"",
            &format!("params=\"start={start} end={end} step=1\""),
            "samples=",
            "series=50",
            "caller=\"grafana\"",
            "remote=\"127.0.0.1:",
            "duration_seconds=",
        ],
    );
    assert_eq!(
        metric(&server, "hourglass_slow_queries_total"),
        1.0,
        "one slow query logged and counted"
    );

    // A query that runs out of time is logged too, with its errorType.
    let timed_out = format!("{path}&timeout=1ms");
    let r = server.get_with(&timed_out, &[("Authorization", &basic)]);
    assert_eq!(r.status, 503, "{}", r.text());
    let line = next_slow_line(&server);
    println!("{line}");
    assert!(line.contains("error=\"timeout\""), "{line}");
    assert!(line.contains("caller=\"grafana\""), "{line}");
    assert_eq!(metric(&server, "hourglass_slow_queries_total"), 2.0);
}

/// The next slow-query line of the server's log, within 10 s.
fn next_slow_line(server: &Server) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(l) = server.log.recv_timeout(Duration::from_millis(200))
            && l.contains("slow query")
        {
            return l;
        }
    }
    panic!("no slow-query line in the log");
}

/// Buckets, sum and count of the histogram `family` whose labels include
/// all of `want`, from `/metrics`.
fn histogram(text: &str, family: &str, want: &[(&str, &str)]) -> (Vec<(f64, f64)>, f64, f64) {
    let (mut buckets, mut sum, mut count) = (Vec::new(), None, None);
    for e in parse_strict(text) {
        let Entry::Sample(s) = e.unwrap() else {
            continue;
        };
        if s.family != family {
            continue;
        }
        assert_eq!(s.kind, MetricKind::Histogram, "{family}");
        let has = |k: &str, v: &str| s.labels.iter().any(|(a, b)| a == k && b == v);
        if !want.iter().all(|(k, v)| has(k, v)) {
            continue;
        }
        match s.name.strip_prefix(family) {
            Some("_bucket") => {
                let le = s.labels.iter().find(|(k, _)| k == "le").unwrap().1.clone();
                buckets.push((le.parse::<f64>().unwrap(), s.value));
            }
            Some("_sum") => sum = Some(s.value),
            Some("_count") => count = Some(s.value),
            other => panic!("{other:?}"),
        }
    }
    let (sum, count) = (
        sum.unwrap_or_else(|| panic!("{family} {want:?}: no _sum in\n{text}")),
        count.unwrap(),
    );
    (buckets, sum, count)
}

#[test]
fn metrics_show_latency_histograms_of_requests_queries_and_fsyncs() {
    let (_tmp, server) = Server::fresh_with(&keeping_history(&["--wal-sync", "always"]));
    seed(&server, 2);
    let at = (T0 + 300_000) / 1000;
    for _ in 0..3 {
        query(&server, &format!("/api/v1/query?query=m&time={at}"));
    }
    let r = server.get("/api/v1/query?query=m(");
    assert_eq!(r.status, 400);
    let text = server.get("/metrics").text();

    let family = "hourglass_http_request_duration_seconds";
    let ok = [
        ("handler", "/api/v1/query"),
        ("method", "GET"),
        ("code", "2xx"),
    ];
    let (buckets, sum, count) = histogram(&text, family, &ok);
    assert_eq!(count, 3.0);
    assert!(sum > 0.0);
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 3.0));
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
    );
    let bad = [("handler", "/api/v1/query"), ("code", "4xx")];
    assert_eq!(histogram(&text, family, &bad).2, 1.0);
    let write = [("handler", "/api/v1/write"), ("method", "POST")];
    assert_eq!(histogram(&text, family, &write).2, 1.0);
    assert!(
        !text.contains("m(") && !text.contains("query=m"),
        "raw paths never become labels"
    );

    let family = "hourglass_query_duration_seconds";
    for slice in [
        "queue_time",
        "prepare_time",
        "inner_eval",
        "result_sort",
        "encode_time",
        "total",
    ] {
        let (_, _, count) = histogram(&text, family, &[("kind", "instant"), ("slice", slice)]);
        assert_eq!(count, 3.0, "{slice}");
    }

    let (_, sum, count) = histogram(&text, "hourglass_wal_fsync_duration_seconds", &[]);
    assert!(count >= 1.0, "the write was fsynced");
    assert!(sum > 0.0);
    assert_eq!(
        count,
        metric(&server, "hourglass_wal_fsyncs_total"),
        "one observation per fsync"
    );
    histogram(&text, "hourglass_persist_duration_seconds", &[]);
    assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
}
