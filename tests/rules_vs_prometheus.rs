//! One rule file, one `prometheus.yml`, loaded by Debian's Prometheus 2.42
//! and by Hourglass, fed the same samples over remote write: the same
//! recorded values, the same alert states, labels and annotations at the
//! same moments. Checks are taken mid-phase, away from the transitions,
//! since each server evaluates at its own phase within the interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, prometheus_with, wait_ready};
use common::query::enc;
use common::*;
use hourglass_storage::Sample;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const RULES: &str = r#"groups:
- name: side-by-side
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - record: job:x:max_ratio
    expr: max by (job) (x) / on (job) job:x:sum
  - alert: XHigh
    expr: x > 3
    for: 3s
    labels:
      severity: '{{ if gt $value 4.0 }}page{{ else }}ticket{{ end }}'
    annotations:
      summary: '{{ $labels.i }} at {{ $value | humanize }} ({{ printf "%.1f" $value }})'
      pct: '{{ humanizePercentage 0.1234 }}'
  - alert: SumLow
    expr: job:x:sum < 5
    labels:
      severity: info
"#;

fn get(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn vector(addr: SocketAddr, q: &str) -> BTreeMap<String, String> {
    get(addr, &format!("/api/v1/query?query={}", enc(q)))["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Per rule: its state and health, and its alerts' labels, annotations,
/// state and value (activeAt is each server's own slot time).
fn rule_view(addr: SocketAddr) -> Vec<Value> {
    let body = get(addr, "/api/v1/rules");
    let mut out = Vec::new();
    for g in body["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            let mut alerts: Vec<Value> = r["alerts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|a| {
                            serde_json::json!({
                                "labels": a["labels"], "annotations": a["annotations"],
                                "state": a["state"], "value": a["value"],
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            alerts.sort_by_key(|a| a["labels"].to_string());
            out.push(serde_json::json!({
                "name": r["name"], "query": r["query"], "type": r["type"],
                "health": r["health"], "state": r["state"], "alerts": alerts,
            }));
        }
    }
    out
}

/// Writes `values` of `x` to both; returns when it started.
fn write_both(prom: SocketAddr, ours: &Server, values: &[(&str, f64)]) -> Instant {
    let started = Instant::now();
    let t = now_ms();
    let series: Vec<Series<'_>> = values
        .iter()
        .map(|(i, v)| {
            (
                vec![("__name__", "x"), ("job", "a"), ("i", *i)],
                vec![Sample { t, v: *v }],
            )
        })
        .collect();
    let body = v1_body(&series);
    let r = request(prom, "POST", "/api/v1/write", &V1_HEADERS, &body);
    assert_eq!(r.status, 204, "prometheus: {}", r.text());
    let r = post_write(ours, &V1_HEADERS, None, &body);
    assert_eq!(r.status, 204, "hourglass: {}", r.text());
    started
}

/// Waits until `after_ms` past `start`, asks both the same, and returns
/// our rules view.
fn compare_at(
    prom: SocketAddr,
    ours: &Server,
    start: Instant,
    after_ms: u64,
    when: &str,
) -> Vec<Value> {
    let at = start + Duration::from_millis(after_ms);
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
    for q in [
        "job:x:sum",
        "job:x:max_ratio",
        "ALERTS",
        "count by (alertname) (ALERTS_FOR_STATE)",
    ] {
        assert_eq!(vector(prom, q), vector(ours.addr, q), "{when}: {q}");
    }
    let view = rule_view(ours.addr);
    assert_eq!(rule_view(prom), view, "{when}: /api/v1/rules");
    view
}

#[test]
fn prometheus_and_hourglass_record_and_alert_alike_on_the_same_rule_file() {
    if !have_all(&["prometheus"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("rules.yml"), RULES).unwrap();
    let config =
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs: []\n";
    let (_p, prom) = prometheus_with(tmp.path(), config, &["--web.enable-remote-write-receiver"]);
    let ours = Server::start(
        &tmp.path().join("data"),
        &[
            "--scrape-config",
            tmp.path().join("prometheus.yml").to_str().unwrap(),
        ],
    );
    wait_ready(prom);
    // Both have evaluated twice, so alerting rules count as restored and
    // write ALERTS from now on.
    std::thread::sleep(Duration::from_secs(3));

    // Phase 1: one series above 3: pending, then firing after 3 s.
    let t0 = write_both(prom, &ours, &[("1", 1.0), ("2", 4.5)]);
    let view = compare_at(prom, &ours, t0, 2000, "phase 1, pending");
    assert_eq!(view[2]["state"], "pending", "{view:?}");
    assert_eq!(
        view[2]["alerts"][0]["annotations"]["summary"], "2 at 4.5 (4.5)",
        "{view:?}"
    );
    let view = compare_at(prom, &ours, t0, 6000, "phase 1, firing");
    assert_eq!(view[2]["state"], "firing");
    assert_eq!(vector(ours.addr, "ALERTS").len(), 1);

    // Phase 2: the sum drops below 5 and x stays under 3: XHigh resolves,
    // SumLow fires at once.
    let t1 = write_both(prom, &ours, &[("1", 1.0), ("2", 2.0)]);
    let view = compare_at(prom, &ours, t1, 2500, "phase 2, resolved");
    assert_eq!(view[2]["state"], "inactive", "{view:?}");
    assert_eq!(view[3]["state"], "firing", "{view:?}");
    assert_eq!(
        vector(ours.addr, "job:x:sum")
            .values()
            .next()
            .map(String::as_str),
        Some("3")
    );
}
