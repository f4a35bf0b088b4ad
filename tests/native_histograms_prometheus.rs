//! Proof against Debian's Prometheus 2.42: a target of the test's own
//! exposes native histograms over the protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`); Prometheus, started with
//! `--enable-feature=native-histograms`, scrapes it and remote-writes the
//! histograms (`send_native_histograms: true`) into Hourglass. The raw
//! histograms and the histogram queries (`histogram_count`,
//! `histogram_sum`, `histogram_quantile`, `histogram_fraction`,
//! `sum(rate(…))`) asked of both must agree. Hourglass's own scraper
//! (`scrape_native_histograms: true`) scrapes the same target and stores
//! the same histograms Prometheus stored. Skipped (with a message) when
//! Prometheus is missing outside CI; in CI a missing binary fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::compare::{
    assert_same, assert_same_histograms, assert_same_within, get_json, settled_time,
};
use common::external::{have_all, prometheus_with};
use common::protobuf_target::serve_protobuf;
use common::query::enc;
use common::{Server, start_scraping};
use std::time::Duration;

#[test]
fn prometheus_scrapes_protobuf_native_histograms_remote_writes_them_and_both_answer_alike() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("hourglass"), &[]);
    let app = serve_protobuf();
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{app}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n",
        server.addr
    );
    let (_prom, prom) =
        prometheus_with(tmp.path(), &config, &["--enable-feature=native-histograms"]);
    let ours = server.addr;

    // Wait for 20 s of histograms (a counter reset of `put` among them),
    // then evaluate at a time both certainly hold.
    let t = settled_time(
        ours,
        "min(count_over_time(rpc_duration_seconds[1m]))",
        20.0,
        Duration::from_secs(90),
    );

    let instant = |q: &str| format!("/api/v1/query?query={}&time={t}", enc(q));
    let range = |q: &str| {
        format!(
            "/api/v1/query_range?query={}&start={}&end={t}&step=1",
            enc(q),
            t - 5.0
        )
    };
    // The same request of both servers: (Prometheus's answer, ours).
    let both = |path: String| (get_json(prom, &path), get_json(ours, &path));
    for q in [
        "histogram_count(rpc_duration_seconds)",
        "histogram_sum(rpc_duration_seconds)",
        "histogram_count(rate(rpc_duration_seconds[1m]))",
        "histogram_sum(sum(rate(rpc_duration_seconds[1m])))",
    ] {
        for (theirs, ours) in [both(instant(q)), both(range(q))] {
            assert_same(q, &theirs, &ours);
        }
    }
    // Inside a bucket, Prometheus 2.42 interpolates linearly; Prometheus 3
    // (which Hourglass follows) exponentially for exponential buckets. Both
    // must pick the same bucket: at schema 3 a bucket spans a factor of
    // 2^(1/8), so the answers are within 9% of each other.
    for q in [
        "histogram_quantile(0.9, rate(rpc_duration_seconds[1m]))",
        "histogram_quantile(0.5, sum(rate(rpc_duration_seconds[1m])))",
        "histogram_quantile(0.99, rpc_duration_seconds)",
        "histogram_fraction(0, 0.1, rate(rpc_duration_seconds[1m]))",
        "histogram_fraction(0.01, 0.1, rpc_duration_seconds)",
    ] {
        let rel = 2f64.powf(1.0 / 8.0) - 1.0;
        for (theirs, ours) in [both(instant(q)), both(range(q))] {
            assert_same_within(q, &theirs, &ours, rel);
        }
    }
    for q in [
        "rpc_duration_seconds[15s]",
        "rpc_duration_seconds",
        "sum(rate(rpc_duration_seconds[1m]))",
        "rate(rpc_duration_seconds[1m])",
        "increase(rpc_duration_seconds[20s])",
    ] {
        let (theirs, ours) = both(instant(q));
        assert_same_histograms(q, &theirs, &ours);
    }
    for q in [
        "sum(rate(rpc_duration_seconds[1m]))",
        "rpc_duration_seconds",
    ] {
        let (theirs, ours) = both(range(q));
        assert_same_histograms(q, &theirs, &ours);
    }
}

/// The histograms of every series of a range query, oldest first, by
/// their labels without `instance`.
fn sequences(v: &serde_json::Value) -> std::collections::BTreeMap<String, Vec<serde_json::Value>> {
    let mut out = std::collections::BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let mut metric = s["metric"].clone();
        metric.as_object_mut().unwrap().remove("instance");
        let hs = s["histograms"].as_array().cloned().unwrap_or_default();
        out.insert(
            metric.to_string(),
            hs.into_iter().map(|p| p[1].clone()).collect(),
        );
    }
    out
}

#[test]
fn hourglass_scrapes_the_protobuf_target_as_prometheus_does() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = serve_protobuf();
    // Both scrape the same target every second; each sees its own
    // sequence of expositions from the first (the target tells them apart
    // by User-Agent), so their n-th histograms must be equal.
    let job = format!(
        "scrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{app}']\n"
    );
    let (_cfg, server) = start_scraping(
        tmp.path(),
        &format!("{job}    scrape_native_histograms: true\n"),
    );
    std::fs::create_dir(tmp.path().join("p")).unwrap();
    let (_prom, prom) = prometheus_with(
        &tmp.path().join("p"),
        &format!("global:\n  scrape_interval: 1s\n{job}"),
        &["--enable-feature=native-histograms"],
    );
    let ours = server.addr;
    let count = |addr| {
        let v = get_json(
            addr,
            &format!(
                "/api/v1/query?query={}",
                enc("min(count_over_time(rpc_duration_seconds[10m]))")
            ),
        );
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while count(ours) < 15.0 || count(prom) < 15.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "15 scrapes each not reached: Hourglass {}, Prometheus {}",
            count(ours),
            count(prom)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let q = format!("/api/v1/query?query={}", enc("rpc_duration_seconds[10m]"));
    let (theirs, mine) = (
        sequences(&get_json(prom, &q)),
        sequences(&get_json(ours, &q)),
    );
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        mine.keys().collect::<Vec<_>>(),
        "series differ"
    );
    for (k, a) in &theirs {
        let b = &mine[k];
        let n = a.len().min(b.len());
        println!(
            "{k}: Prometheus {} histograms, Hourglass {}; compared {n}",
            a.len(),
            b.len()
        );
        assert!(n >= 15, "{k}: {n}");
        for (i, (ha, hb)) in a.iter().zip(b).take(n).enumerate() {
            let wrap = |h: &serde_json::Value| {
                serde_json::json!({"data": {"resultType": "vector", "result": [
                    {"metric": {}, "histogram": [0, h]}
                ]}})
            };
            assert_same_histograms(&format!("{k} #{i}"), &wrap(ha), &wrap(hb));
        }
    }
}
