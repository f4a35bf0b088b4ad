//! Prometheus's target endpoints on a real server scraping targets served
//! by the test: `/api/v1/targets` (shape, `state` and `scrapePool`
//! filters), `/api/v1/scrape_pools`, scraped metadata on
//! `/api/v1/metadata` and `/api/v1/targets/metadata`, `POST /-/reload`, and
//! self-scrape (job `hourglass`) with credentials required.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::auth::{CONFIG, READ, WRITE};
use common::query::try_metric;
use common::server::config_file;
use common::target::{closed_port, serve_fixed};
use common::{BIN, Response, Server, wait_for};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const BODY: &str = "# HELP demo_metric A demo gauge.\n# TYPE demo_metric gauge\ndemo_metric{k=\"v\"} 42\n# HELP demo_events_total Events seen.\n# TYPE demo_events_total counter\ndemo_events_total 7\n";

fn write_config(path: &Path, target: SocketAddr, down: SocketAddr, extra_job: bool) {
    let mut text = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{target}', '{down}']\n        labels: {{team: a}}\n  - job_name: filtered\n    static_configs:\n      - targets: ['{target}']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: '127\\.0\\.0\\.1:.*'\n        action: drop\n  - job_name: limited\n    sample_limit: 1\n    static_configs:\n      - targets: ['{target}']\n"
    );
    if extra_job {
        text.push_str(&format!(
            "  - job_name: added\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// A server with credentials required on reads and writes, the lifecycle
/// API on, and self-scrape every 200 ms.
fn start_server(dir: &Path, scrape_config: &Path) -> Server {
    let cfg = config_file(dir, CONFIG);
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&cfg)
        .arg("--scrape-config")
        .arg(scrape_config)
        .args(["--enable-lifecycle", "--self-scrape-interval", "200ms"]);
    Server::spawn(cmd)
}

/// A scrape configuration of [`write_config`] and the server scraping it.
struct Scraping {
    _dir: tempfile::TempDir,
    sc: PathBuf,
    target: SocketAddr,
    down: SocketAddr,
    server: Server,
}

/// A target serving [`BODY`], a closed port, and a server scraping both.
fn scraping() -> Scraping {
    let target = serve_fixed(BODY);
    let down = closed_port();
    let _dir = tempfile::tempdir().unwrap();
    let sc = _dir.path().join("prometheus.yml");
    write_config(&sc, target, down, false);
    let server = start_server(_dir.path(), &sc);
    Scraping {
        _dir,
        sc,
        target,
        down,
        server,
    }
}

fn get(server: &Server, path: &str) -> Response {
    server.get_with(path, &[("Authorization", READ)])
}

fn api(server: &Server, path: &str) -> Value {
    let r = get(server, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

fn active<'a>(data: &'a Value, pool: &str) -> Vec<&'a Value> {
    data["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == pool)
        .collect()
}

fn query(server: &Server, q: &str) -> Vec<Value> {
    let path = format!(
        "/api/v1/query?query={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    api(server, &path)["result"].as_array().cloned().unwrap()
}

#[test]
fn targets_api_answers_as_prometheus_with_health_filters_and_dropped_targets() {
    let Scraping {
        _dir,
        target,
        down,
        server,
        ..
    } = scraping();

    // Reads need the read credentials, as every other API route.
    assert_eq!(server.get("/api/v1/targets").status, 401);

    wait_for("demo targets scraped", || {
        let d = api(&server, "/api/v1/targets");
        let demo = active(&d, "demo");
        demo.len() == 2 && demo.iter().all(|t| t["health"] != "unknown")
    });
    let data = api(&server, "/api/v1/targets");
    println!("{}", serde_json::to_string_pretty(&data).unwrap());
    let demo = active(&data, "demo");
    let up = demo
        .iter()
        .find(|t| t["labels"]["instance"] == target.to_string())
        .unwrap();
    let keys: Vec<&str> = up.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "discoveredLabels",
        "globalUrl",
        "health",
        "labels",
        "lastError",
        "lastScrape",
        "lastScrapeDuration",
        "scrapeInterval",
        "scrapePool",
        "scrapeTimeout",
        "scrapeUrl",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    assert_eq!(up["health"], "up");
    assert_eq!(up["lastError"], "");
    assert_eq!(
        up["labels"],
        json!({"instance": target.to_string(), "job": "demo", "team": "a"})
    );
    assert_eq!(up["discoveredLabels"]["__address__"], target.to_string());
    assert_eq!(up["discoveredLabels"]["__metrics_path__"], "/metrics");
    assert_eq!(up["discoveredLabels"]["__scheme__"], "http");
    assert_eq!(up["discoveredLabels"]["__scrape_interval__"], "200ms");
    assert_eq!(up["discoveredLabels"]["team"], "a");
    assert_eq!(up["scrapeUrl"], format!("http://{target}/metrics"));
    assert!(
        up["globalUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}/metrics", target.port()))
    );
    assert_eq!(up["scrapeInterval"], "200ms");
    assert_eq!(up["scrapeTimeout"], "200ms");
    let last = up["lastScrape"].as_str().unwrap();
    assert!(last.ends_with('Z') && last.len() >= 20, "{last}");
    let last_ms = hourglass_storage::calendar::parse_rfc3339_ms(last).unwrap();
    assert!((last_ms - common::now_ms()).abs() < 60_000, "{last}");
    assert!(up["lastScrapeDuration"].as_f64().unwrap() > 0.0);

    let bad = demo
        .iter()
        .find(|t| t["labels"]["instance"] == down.to_string())
        .unwrap();
    assert_eq!(bad["health"], "down");
    assert!(
        bad["lastError"]
            .as_str()
            .unwrap()
            .contains(&down.to_string()),
        "{}",
        bad["lastError"]
    );

    // Dropped by relabelling: listed with its discovered labels and counted.
    let dropped = data["droppedTargets"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0]["scrapePool"], "filtered");
    assert_eq!(
        dropped[0]["discoveredLabels"]["__address__"],
        target.to_string()
    );
    assert_eq!(data["droppedTargetCounts"]["filtered"], 1);
    assert_eq!(data["droppedTargetCounts"]["demo"], 0);

    // Filters.
    let a = api(&server, "/api/v1/targets?state=active");
    assert_eq!(a["droppedTargets"], json!([]));
    assert_eq!(a["droppedTargetCounts"], Value::Null);
    assert!(active(&a, "demo").len() == 2);
    let d = api(&server, "/api/v1/targets?state=Dropped");
    assert_eq!(d["activeTargets"], json!([]));
    assert_eq!(d["droppedTargets"].as_array().unwrap().len(), 1);
    let none = api(&server, "/api/v1/targets?state=bogus");
    assert_eq!(none["activeTargets"], json!([]));
    assert_eq!(none["droppedTargets"], json!([]));
    let p = api(&server, "/api/v1/targets?scrapePool=demo");
    let pools: Vec<&Value> = p["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["scrapePool"])
        .collect();
    assert_eq!(pools, vec!["demo", "demo"]);
    assert_eq!(p["droppedTargets"], json!([]));
    assert_eq!(p["droppedTargetCounts"], json!({"demo": 0}));

    assert_eq!(
        api(&server, "/api/v1/scrape_pools"),
        json!({"scrapePools": ["demo", "filtered", "hourglass", "limited"]})
    );

    // Self-scrape: the server's own /metrics, with credentials required
    // everywhere else (/metrics is open, so the scrape is not refused).
    wait_for("up{job=hourglass} == 1", || {
        query(&server, "up{job=\"hourglass\"}")
            .first()
            .is_some_and(|s| s["value"][1] == "1")
    });
    let own = active(
        &api(&server, "/api/v1/targets?scrapePool=hourglass"),
        "hourglass",
    )
    .first()
    .map(|t| (*t).clone())
    .unwrap();
    assert_eq!(own["health"], "up");
    assert_eq!(own["scrapeUrl"], format!("http://{}/metrics", server.addr));
    assert!(!query(&server, "hourglass_http_requests_total{job=\"hourglass\"}").is_empty());
}

#[test]
fn scraped_metadata_is_served_per_family_and_per_target() {
    let Scraping {
        _dir,
        target,
        server,
        ..
    } = scraping();

    let demo_target = "/api/v1/targets/metadata?match_target=%7Bjob%3D%22demo%22%7D";
    wait_for("demo target's metadata", || {
        api(&server, demo_target)
            .as_array()
            .is_some_and(|a| !a.is_empty())
            && api(
                &server,
                "/api/v1/metadata?metric=hourglass_http_requests_total",
            )
            .get("hourglass_http_requests_total")
            .is_some()
    });
    let m = api(&server, "/api/v1/metadata?metric=demo_metric");
    assert_eq!(
        m,
        json!({"demo_metric": [{"type": "gauge", "help": "A demo gauge.", "unit": ""}]})
    );
    let all = api(&server, "/api/v1/metadata");
    assert_eq!(all["demo_events_total"][0]["type"], "counter", "{all}");
    assert_eq!(all["hourglass_http_requests_total"][0]["type"], "counter");
    assert_eq!(
        api(&server, "/api/v1/metadata?limit=1")
            .as_object()
            .unwrap()
            .len(),
        1
    );

    let t = api(
        &server,
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22demo%22%7D&metric=demo_metric",
    );
    assert_eq!(
        t,
        json!([{
            "target": {"instance": target.to_string(), "job": "demo", "team": "a"},
            "type": "gauge",
            "help": "A demo gauge.",
            "unit": ""
        }])
    );
    let t = api(
        &server,
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22demo%22%7D",
    );
    let metrics: std::collections::BTreeSet<&str> = t
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        ["demo_events_total", "demo_metric"].into_iter().collect()
    );
    let r = get(&server, "/api/v1/targets/metadata?match_target=%7B");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("match_target"), "{}", r.text());
}

#[test]
fn reload_endpoint_applies_a_good_file_and_refuses_a_bad_one_keeping_the_running_config() {
    let Scraping {
        _dir,
        sc,
        target,
        down,
        server,
        ..
    } = scraping();
    let reload = |auth: Option<&str>| {
        let h: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        server.post("/-/reload", &h, b"")
    };

    // A reload changes what is scraped: it needs the write credentials.
    assert_eq!(reload(None).status, 401);
    assert_eq!(reload(Some(READ)).status, 401);

    write_config(&sc, target, down, true);
    let r = reload(Some(WRITE));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        api(&server, "/api/v1/scrape_pools")["scrapePools"],
        json!(["added", "demo", "filtered", "hourglass", "limited"])
    );
    wait_for("job added scraped", || {
        active(&api(&server, "/api/v1/targets"), "added")
            .first()
            .is_some_and(|t| t["health"] == "up")
    });

    // PUT as well, as Prometheus.
    let r = server.request("PUT", "/-/reload", &[("Authorization", WRITE)], b"");
    assert_eq!(r.status, 200, "{}", r.text());

    // A broken file: 500 naming the line, and nothing changes.
    std::fs::write(
        &sc,
        "scrape_configs:\n  - job_name: x\n    scrape_interval: often\n",
    )
    .unwrap();
    let r = reload(Some(WRITE));
    assert_eq!(r.status, 500, "{}", r.text());
    println!("refused: {}", r.text());
    assert!(
        r.text().starts_with("failed to reload config: line 3"),
        "{}",
        r.text()
    );
    assert_eq!(
        api(&server, "/api/v1/scrape_pools")["scrapePools"],
        json!(["added", "demo", "filtered", "hourglass", "limited"])
    );
    let metric = |name: &str| common::metric(&server, name);
    assert_eq!(metric("prometheus_config_last_reload_successful"), 0.0);
    assert_eq!(
        metric("hourglass_scrape_config_reloads_total{result=\"success\"}"),
        2.0
    );
    assert_eq!(
        metric("hourglass_scrape_config_reloads_total{result=\"failure\"}"),
        1.0
    );
    assert!(metric("prometheus_config_last_reload_success_timestamp_seconds") > 1.7e9);
    let before = active(&api(&server, "/api/v1/targets"), "added")[0]["lastScrape"].clone();
    wait_for("job added still scraped", || {
        active(&api(&server, "/api/v1/targets"), "added")[0]["lastScrape"] != before
    });
}

#[test]
fn reload_endpoint_is_off_without_enable_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let (_, server) = common::start_scraping(dir.path(), "scrape_configs: []\n");
    let r = server.post("/-/reload", &[], b"");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.text(), "Lifecycle API is not enabled.");
    // Without self-scrape (the test helper turns it off) there are no pools.
    let r = server.get("/api/v1/scrape_pools").json();
    assert_eq!(r["data"], json!({"scrapePools": []}));
}

#[test]
fn metrics_count_targets_by_health_failures_by_reason_and_interval_lengths_per_pool() {
    let Scraping {
        _dir,
        target,
        server,
        ..
    } = scraping();

    wait_for("a few scrapes of every pool", || {
        try_metric(
            &server,
            "prometheus_target_interval_length_seconds_count{interval=\"200ms\"}",
        )
        .is_some_and(|n| n >= 10.0)
            && try_metric(
                &server,
                "prometheus_target_scrapes_exceeded_sample_limit_total",
            )
            .is_some_and(|n| n >= 1.0)
            && try_metric(
                &server,
                "hourglass_scrape_failures_total{scrape_job=\"demo\",reason=\"connection\"}",
            )
            .is_some_and(|n| n >= 1.0)
    });
    let text = server.get("/metrics").text();
    for l in text
        .lines()
        .filter(|l| l.contains("scrape") || l.contains("interval_length"))
    {
        println!("{l}");
    }
    let m = |s: &str| try_metric(&server, s).unwrap_or_else(|| panic!("{s} missing"));
    assert_eq!(
        m("prometheus_target_scrape_pool_targets{scrape_job=\"demo\"}"),
        2.0
    );
    assert_eq!(
        m("prometheus_target_scrape_pool_targets{scrape_job=\"filtered\"}"),
        0.0
    );
    assert_eq!(
        m("hourglass_scrape_pool_targets{scrape_job=\"demo\",health=\"up\"}"),
        1.0
    );
    assert_eq!(
        m("hourglass_scrape_pool_targets{scrape_job=\"demo\",health=\"down\"}"),
        1.0
    );
    assert_eq!(
        m("hourglass_scrape_pool_targets{scrape_job=\"limited\",health=\"down\"}"),
        1.0
    );
    assert!(m("hourglass_scrapes_total{scrape_job=\"demo\"}") >= 2.0);
    assert!(
        m("hourglass_scrape_failures_total{scrape_job=\"limited\",reason=\"sample_limit\"}") >= 1.0
    );
    assert_eq!(
        m("prometheus_target_scrapes_exceeded_body_size_limit_total"),
        0.0
    );
    // Every interval observed is near 200 ms; only gross stalls fail.
    let median =
        m("prometheus_target_interval_length_seconds{interval=\"200ms\",quantile=\"0.5\"}");
    assert!((0.05..5.0).contains(&median), "median interval {median}");
    // No series per target: the target's address appears in no label.
    assert!(!text.contains(&target.to_string()));
    assert_eq!(
        m("hourglass_scrape_config_reloads_total{result=\"success\"}"),
        0.0
    );
    assert_eq!(m("prometheus_config_last_reload_successful"), 1.0);
}
