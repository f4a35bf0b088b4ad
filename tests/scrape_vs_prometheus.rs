//! Side by side: Debian's Prometheus and Hourglass scrape the same Debian
//! node exporter with the same scrape configuration (1 s interval). Both
//! must hold the same series (names and label sets, `up` and `scrape_*`
//! included), constant gauges with equal values, and counters and load
//! averages with each sample of ours between Prometheus's samples on
//! either side of it (widened by the largest change between two of its
//! scrapes); their `/api/v1/targets` and `/api/v1/targets/metadata`
//! answers must agree too. Skipped (with a message) when a binary is
//! missing outside CI; in CI (`CI` set) a missing binary fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, now_s, prometheus, small_node_exporter};
use common::query::enc;
use common::{Server, request};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn api(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{addr}{path}: {}", r.text());
    r.json()["data"].clone()
}

/// `le` and `quantile` values as Prometheus 3 writes them (`1` → `1.0`),
/// which Hourglass follows (Prometheus 3.0's migration notes). Debian's
/// Prometheus is 2.42, which keeps the text as exposed; both sides are
/// put in the 3.x form before comparing.
fn bucket_bound(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(f) if f.is_infinite() => if f > 0.0 { "+Inf" } else { "-Inf" }.to_string(),
        Ok(f) => {
            let s = f.to_string();
            if s.contains(['.', 'e', 'E']) || s.contains("NaN") {
                s
            } else {
                format!("{s}.0")
            }
        }
        Err(_) => v.to_string(),
    }
}

/// A label set as sorted `name=value` text, for comparison.
fn key(labels: &Value) -> String {
    let m: BTreeMap<&str, String> = labels
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap();
            let v = match k.as_str() {
                "le" | "quantile" => bucket_bound(v),
                _ => v.to_string(),
            };
            (k.as_str(), v)
        })
        .collect();
    format!("{m:?}")
}

fn series(addr: SocketAddr, start: f64, end: f64) -> BTreeSet<String> {
    let path = format!(
        "/api/v1/series?match[]={}&start={start}&end={end}",
        enc("{job=\"node\"}")
    );
    api(addr, &path)
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect()
}

/// Every raw sample `(t, v)` of the job's series in `(t - range, t]`, by
/// series.
fn samples(addr: SocketAddr, range_s: u32, t: f64) -> BTreeMap<String, Vec<(f64, f64)>> {
    let q = format!("{{job=\"node\"}}[{range_s}s]");
    let data = api(addr, &format!("/api/v1/query?query={}&time={t}", enc(&q)));
    assert_eq!(data["resultType"], "matrix");
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap(),
                        p[1].as_str().unwrap().parse::<f64>().unwrap(),
                    )
                })
                .collect();
            (key(&s["metric"]), values)
        })
        .collect()
}

fn count_up_samples(addr: SocketAddr) -> usize {
    let q = "count_over_time(up{job=\"node\"}[1m])";
    let data = api(addr, &format!("/api/v1/query?query={}", enc(q)));
    data["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as usize)
}

/// Series whose value cannot change while the test runs: equal exactly.
fn constant(name: &str) -> bool {
    matches!(
        name,
        "up" | "scrape_samples_scraped"
            | "scrape_samples_post_metric_relabeling"
            | "scrape_series_added"
            | "node_memory_MemTotal_bytes"
            | "node_memory_SwapTotal_bytes"
            | "node_exporter_build_info"
            | "node_scrape_collector_success"
            | "process_start_time_seconds"
            | "process_max_fds"
            | "go_info"
    )
}

/// Series that only grow (counters), or move smoothly (the load
/// averages, recomputed by the kernel every 5 s): a sample of ours must lie
/// between Prometheus's samples on either side of it. Other gauges (memory
/// figures on a machine that compiles, the exporter's allocator and GC,
/// its request counters, which count both scrapers, each scraper's own
/// timings) can move arbitrarily between two scrapes a fraction of a
/// second apart: they are compared by name and labels only.
fn bracketed(name: &str) -> bool {
    let noisy = name.starts_with("go_")
        || name.starts_with("process_")
        || name.starts_with("promhttp_")
        || name.starts_with("node_scrape_collector_duration");
    !noisy && (name.ends_with("_total") || name.starts_with("node_load"))
}

fn name_of(key: &str) -> String {
    key.split("\"__name__\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string()
}

/// Prints both sizes, then fails naming what only one side has.
fn assert_same_set(what: &str, theirs: &BTreeSet<String>, mine: &BTreeSet<String>) {
    println!(
        "{what}: Prometheus {}, Hourglass {}",
        theirs.len(),
        mine.len()
    );
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    assert_eq!(
        only(theirs, mine),
        Vec::<String>::new(),
        "{what} only Prometheus has"
    );
    assert_eq!(
        only(mine, theirs),
        Vec::<String>::new(),
        "{what} only Hourglass has"
    );
}

#[test]
fn node_exporter_scraped_by_prometheus_and_hourglass_gives_the_same_series_and_values() {
    if !have_all(&["prometheus", "prometheus-node-exporter"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_ne, ne_port) = small_node_exporter();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne_port}']\n"
    );
    let (_prom, prom) = prometheus(tmp.path(), &config);
    let config_path = tmp.path().join("prometheus.yml");
    let server = Server::start(
        &tmp.path().join("hourglass"),
        &["--scrape-config", config_path.to_str().unwrap()],
    );
    let ours = server.addr;

    // Both have scraped for 10 s: the windows below are covered.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "scrapes did not arrive in time");
        std::thread::sleep(Duration::from_millis(500));
        let ready = request(prom, "GET", "/-/ready", &[], b"");
        if ready.status == 200 && count_up_samples(prom) >= 10 && count_up_samples(ours) >= 10 {
            break;
        }
    }
    let t = now_s();

    // The same series: names and label sets, `up` and `scrape_*` included.
    let theirs = series(prom, t - 60.0, t);
    let mine = series(ours, t - 60.0, t);
    assert_same_set("series", &theirs, &mine);
    for name in [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "node_memory_MemTotal_bytes",
        "node_cpu_seconds_total",
    ] {
        assert!(
            mine.iter().any(|k| name_of(k) == name),
            "{name} missing from both"
        );
    }

    // `/api/v1/targets` and `/api/v1/targets/metadata` alike (the fields
    // Prometheus 2.42 has; the times differ by nature).
    let their_targets = api(prom, "/api/v1/targets?state=active");
    let our_targets = api(ours, "/api/v1/targets?state=active");
    let (a, b) = (
        &their_targets["activeTargets"][0],
        &our_targets["activeTargets"][0],
    );
    let fields = |v: &Value| -> Vec<String> {
        let mut f: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        f.sort();
        f
    };
    assert_eq!(fields(a), fields(b), "activeTargets fields");
    for f in [
        "discoveredLabels",
        "labels",
        "scrapePool",
        "scrapeUrl",
        "globalUrl",
        "lastError",
        "health",
        "scrapeInterval",
        "scrapeTimeout",
    ] {
        assert_eq!(a[f], b[f], "activeTargets {f}");
    }
    assert_eq!(
        their_targets["droppedTargets"],
        our_targets["droppedTargets"]
    );
    let md = |addr| -> BTreeSet<String> {
        api(
            addr,
            "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect()
    };
    let (ma, mb) = (md(prom), md(ours));
    assert_same_set("targets/metadata", &ma, &mb);

    // The values. Ours over 4 s ending 2 s ago; Prometheus's over 8 s
    // ending now, so each sample of ours has one of Prometheus's (1 s
    // apart) on either side of it.
    let pa = samples(prom, 8, t);
    let pb = samples(ours, 4, t - 2.0);
    let (mut exact, mut bounded, mut noisy_seen) = (0, 0, 0);
    for (k, b) in &pb {
        let name = name_of(k);
        let Some(a) = pa.get(k) else {
            panic!("{k}: no samples from Prometheus in the last 8 s");
        };
        assert!(!a.is_empty() && !b.is_empty(), "{k}");
        if constant(&name) {
            for (tb, vb) in b {
                for (ta, va) in a {
                    assert_eq!(
                        va, vb,
                        "{k}: Prometheus {va} at {ta}, Hourglass {vb} at {tb}"
                    );
                }
            }
            exact += 1;
            continue;
        }
        if !bracketed(&name) {
            noisy_seen += 1;
            assert!(b.iter().all(|(_, v)| v.is_finite()), "{k}: {b:?}");
            continue;
        }
        // What changed between two of Prometheus's scrapes, at most.
        let step = a
            .windows(2)
            .map(|w| (w[1].1 - w[0].1).abs())
            .fold(0.0, f64::max);
        for &(tb, vb) in b {
            let before = a.iter().rev().find(|(ta, _)| *ta <= tb);
            let after = a.iter().find(|(ta, _)| *ta >= tb);
            let (Some(&(_, x)), Some(&(_, y))) = (before, after) else {
                panic!("{k}: no Prometheus samples around {tb}: {a:?}");
            };
            let slack = step + 1e-9 * x.abs().max(y.abs()).max(1.0);
            assert!(
                vb >= x.min(y) - slack && vb <= x.max(y) + slack,
                "{k}: Hourglass {vb} at {tb} outside Prometheus's {x} .. {y} around it (step {step}; all {a:?})"
            );
        }
        bounded += 1;
    }
    println!(
        "values: {exact} series equal, {bounded} counters and load averages between Prometheus's neighbouring samples, {noisy_seen} moving gauges compared by name and labels"
    );
    assert!(exact >= 10, "{exact}");
    assert!(bounded >= 10, "{bounded}");
}
