//! The platform's collection API on a real server: a target served by the
//! test on 127.0.0.1 is registered over REST, scraped (`up` 1,
//! queryable, listed healthy), filtered, still there and still scraped
//! after a restart, and stale once deleted; collection stats count
//! scrapes, pushes and remote write; `/api/v1/metrics/query` pages over
//! series.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{results, sample_value};
use common::target::{closed_port, serve_text};
use common::targets::*;
use common::wait_until;
use common::{Server, now_ms, remote_write, write_series};
use hourglass_storage::Sample;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BODY: &str = "# TYPE test_metric gauge\n\
test_metric{a=\"1\"} 42\n\
test_metric{a=\"2\"} 7\n\
# TYPE drop_me_total counter\n\
drop_me_total 3\n\
node_cpu_seconds_total{mode=\"idle\"} 10\n\
node_cpu_seconds_total{mode=\"user\"} 5\n";

#[test]
fn registered_target_is_scraped_survives_restart_and_goes_stale_on_delete() {
    let dir = tempfile::tempdir().unwrap();
    let body = Arc::new(Mutex::new(BODY.to_string()));
    let target = serve_text(body);
    let server = Server::start(dir.path(), &[]);
    let url = format!("http://{target}/metrics");
    let r = post_target(
        &server,
        &json!({
            "target_id": "billing-1",
            "source_id": "billing",
            "collection_method": "PULL_SCRAPING",
            "scrape_config": {
                "target_url": url,
                "scrape_interval": "200ms",
                "scrape_timeout": "150ms",
            },
            "filters": [
                {"type": "exclude", "name_pattern": "drop_me.*"},
                {"type": "exclude", "name_pattern": "node_cpu_seconds_total",
                 "label_matchers": [{"name": "mode", "op": "=", "value": "idle"}]},
            ],
            "retention_policy": {"duration": "30d"},
            "labels": {"team": "core"},
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some("/api/v1/metrics/targets/billing-1")
    );
    let created = r.json();
    assert_eq!(created["target_id"], "billing-1");
    assert_eq!(created["target_url"], url);
    assert_eq!(created["labels"]["job"], "billing");
    assert_eq!(created["labels"]["team"], "core");
    assert_eq!(created["retention_policy"]["duration"], "30d");
    assert_eq!(created["scrape_interval"], "200ms");

    let t = wait_health(&server, "billing-1", "HEALTHY");
    assert!(t["last_error"].is_null(), "{t}");
    assert!(t["samples_scraped"].as_u64().unwrap() == 5, "{t}");
    assert!(t["last_scrape"].is_string(), "{t}");
    assert_eq!(t["labels"]["instance"], target.to_string());

    wait_until("up{job=billing} = 1", Duration::from_secs(10), || {
        results(&server, "up{job=\"billing\"}")
            .first()
            .is_some_and(|s| sample_value(s) == 1.0)
    });
    let series = results(&server, "test_metric{job=\"billing\",team=\"core\"}");
    assert_eq!(series.len(), 2, "{series:?}");
    let a1 = series.iter().find(|s| s["metric"]["a"] == "1").unwrap();
    assert_eq!(sample_value(a1), 42.0);
    assert!(
        results(&server, "drop_me_total").is_empty(),
        "excluded by name"
    );
    let cpu = results(&server, "node_cpu_seconds_total");
    assert_eq!(cpu.len(), 1, "idle excluded by label: {cpu:?}");
    assert_eq!(cpu[0]["metric"]["mode"], "user");

    let list = server.get("/api/v1/metrics/targets?health=healthy&source_id=billing");
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["targets"][0]["target_id"], "billing-1");
    let none = server
        .get("/api/v1/metrics/targets?health=unhealthy")
        .json();
    assert_eq!(none["total"], 0, "{none}");

    let stats = server.get("/api/v1/metrics/stats");
    assert_eq!(stats.status, 200, "{}", stats.text());
    let stats = stats.json();
    println!("stats: {stats}");
    // At least: other sources (self-scrape) may add targets.
    assert!(stats["total_targets"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["healthy_targets"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["registered_targets"], 1, "{stats}");
    assert!(
        stats["total_metrics_collected"].as_u64().unwrap() > 0,
        "{stats}"
    );
    wait_until("a collection rate", Duration::from_secs(10), || {
        server.get("/api/v1/metrics/stats").json()["collection_rate_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    });

    // Restart on the same data directory: still registered, still scraped.
    let (ok, _) = server.terminate();
    assert!(ok, "clean stop");
    let restarted_ms = now_ms();
    let server = Server::start(dir.path(), &[]);
    let r = get_target(&server, "billing-1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["retention_policy"]["duration"], "30d");
    wait_until("scrapes after the restart", Duration::from_secs(15), || {
        let t = get_target(&server, "billing-1").json();
        t["health_status"] == "HEALTHY" && t["scrapes"].as_u64().unwrap_or(0) >= 2
    });
    let fresh = results(&server, "timestamp(up{job=\"billing\"})");
    assert!(
        sample_value(&fresh[0]) * 1000.0 >= (restarted_ms - 1000) as f64,
        "up scraped after the restart: {fresh:?}"
    );

    // Delete: 204, then gone, and its series stale.
    let r = delete_target(&server, "billing-1");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get_target(&server, "billing-1").status, 404);
    assert_eq!(delete_target(&server, "billing-1").status, 404);
    wait_until("stale series after delete", Duration::from_secs(10), || {
        results(&server, "test_metric{job=\"billing\"}").is_empty()
            && results(&server, "up{job=\"billing\"}").is_empty()
    });
    let list = server.get("/api/v1/metrics/targets").json();
    assert_eq!(list["total"], 0, "{list}");
    drop(server);
    // Still deleted after another restart.
    let server = Server::start(dir.path(), &[]);
    assert_eq!(get_target(&server, "billing-1").status, 404);
}

#[test]
fn list_filters_sorts_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let target = serve_text(Arc::new(Mutex::new("m 1\n".into())));
    let dead = closed_port();
    let server = Server::start(dir.path(), &[]);
    for i in 0..5 {
        let (source, url) = if i < 3 {
            ("ok", format!("http://{target}/metrics?i={i}"))
        } else {
            ("dead", format!("http://{dead}/metrics?i={i}"))
        };
        let mut b = registration(source, &url, "200ms");
        b["target_id"] = json!(format!("t{i}"));
        let r = post_target(&server, &b);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    for i in 0..3 {
        wait_health(&server, &format!("t{i}"), "HEALTHY");
    }
    for i in 3..5 {
        wait_health(&server, &format!("t{i}"), "UNHEALTHY");
    }
    let ids = |path: &str| -> Vec<String> {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["target_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids("/api/v1/metrics/targets?health=unhealthy"),
        ["t3", "t4"]
    );
    assert_eq!(
        ids("/api/v1/metrics/targets?source_id=ok&sort=-target_id"),
        ["t2", "t1", "t0"]
    );
    assert_eq!(
        ids("/api/v1/metrics/targets?limit=2&offset=1"),
        ["t1", "t2"]
    );
    assert_eq!(ids("/api/v1/metrics/targets?page=3&page_size=2"), ["t4"]);
    assert_eq!(
        ids("/api/v1/metrics/targets?sort=health_status&order=desc&limit=2"),
        ["t4", "t3"]
    );
    let page = server
        .get("/api/v1/metrics/targets?page=1&page_size=2")
        .json();
    assert_eq!(page["total"], 5);
    assert_eq!(
        (page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(0), Some(2))
    );
    let stats = server.get("/api/v1/metrics/stats").json();
    println!("stats: {stats}");
    // At least: other sources (self-scrape) may add healthy targets.
    assert_eq!(stats["registered_targets"], 5, "{stats}");
    assert!(stats["total_targets"].as_u64().unwrap() >= 5, "{stats}");
    assert!(stats["healthy_targets"].as_u64().unwrap() >= 3, "{stats}");
    wait_until("an error rate", Duration::from_secs(10), || {
        let e = server.get("/api/v1/metrics/stats").json()["error_rate"]
            .as_f64()
            .unwrap();
        e > 0.0 && e < 1.0
    });
}

#[test]
fn stats_count_pushes_and_remote_write() {
    let (_dir, server) = Server::fresh();
    let now = now_ms();
    let samples: Vec<Sample> = (0..10)
        .map(|i| Sample::new(now - 10_000 + i, 1.0))
        .collect();
    let series: Vec<common::Series<'_>> = (0..3)
        .map(|i| {
            let inst = ["a", "b", "c"][i];
            (
                vec![("__name__", "rw_metric"), ("instance", inst)],
                samples.clone(),
            )
        })
        .collect();
    let r = write_series(&server, &series);
    assert_eq!(r.status, 204, "{}", r.text());
    let r = server.post(
        "/metrics/job/pushed",
        &[],
        b"pushed_metric 1\npushed_other 2\n",
    );
    assert!(r.status < 300, "{} {}", r.status, r.text());
    // A remote write that fails counts as an error.
    let bad = remote_write(&server, b"\xff\xff\xff");
    assert_eq!(bad.status, 400, "{}", bad.text());
    let stats = server.get("/api/v1/metrics/stats").json();
    println!("stats: {stats}");
    assert_eq!(
        stats["by_path"]["remote_write"]["samples_total"], 30,
        "{stats}"
    );
    // The two pushed samples and the Pushgateway's own push_time_seconds.
    assert!(
        stats["by_path"]["push"]["samples_total"].as_u64().unwrap() >= 2,
        "{stats}"
    );
    assert!(
        stats["total_metrics_collected"].as_u64().unwrap() >= 32,
        "{stats}"
    );
    wait_until("rates over the window", Duration::from_secs(10), || {
        let s = server.get("/api/v1/metrics/stats").json();
        let rw = &s["by_path"]["remote_write"];
        let push = &s["by_path"]["push"];
        // One failure in three requests; scrapes of other sources
        // (self-scrape) can only add successful attempts.
        let e = s["error_rate"].as_f64().unwrap();
        rw["attempts"] == 2
            && rw["failures"] == 1
            && push["attempts"] == 1
            && push["failures"] == 0
            && s["collection_rate_per_second"].as_f64().unwrap() > 0.0
            && e > 0.0
            && e <= 1.0 / 3.0 + 1e-9
    });
    let line = common::metric(&server, "hourglass_remote_write_samples_total");
    assert_eq!(line, 30.0);
}

#[test]
fn metrics_query_pages_over_series_instant_and_range() {
    let (_dir, server) = Server::fresh();
    let now = now_ms();
    let samples: Vec<Sample> = (0..5)
        .map(|i| Sample::new(now - 60_000 + i * 15_000, i as f64))
        .collect();
    let names = ["a", "b", "c", "d", "e"];
    let series: Vec<common::Series<'_>> = names
        .iter()
        .map(|i| (vec![("__name__", "paged"), ("i", *i)], samples.clone()))
        .collect();
    let r = write_series(&server, &series);
    assert_eq!(r.status, 204, "{}", r.text());
    let get = |params: &str| {
        let r = server.get(&format!("/api/v1/metrics/query?query=paged&{params}"));
        (r.status, r.json())
    };
    let (status, all) = get("");
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["status"], "success");
    assert_eq!(all["data"]["resultType"], "vector");
    assert_eq!(all["data"]["totalSeries"], 5);
    assert_eq!(all["data"]["result"].as_array().unwrap().len(), 5);
    let labels = |v: &serde_json::Value| -> Vec<String> {
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["metric"]["i"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, p) = get("limit=2&offset=1");
    assert_eq!(labels(&p), ["b", "c"]);
    assert_eq!(
        (p["data"]["offset"].as_u64(), p["data"]["limit"].as_u64()),
        (Some(1), Some(2))
    );
    let (_, p) = get("page=3&page_size=2");
    assert_eq!(labels(&p), ["e"]);
    assert_eq!(p["data"]["totalSeries"], 5);
    let (_, p) = get("offset=9");
    assert!(labels(&p).is_empty());
    let start = (now - 60_000) / 1000;
    let end = now / 1000;
    let (status, r) = get(&format!("start={start}&end={end}&step=15&limit=2"));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["data"]["resultType"], "matrix");
    assert_eq!(labels(&r), ["a", "b"]);
    assert!(r["data"]["result"][0]["values"].as_array().unwrap().len() >= 4);
    for (bad, param) in [
        ("limit=0", "limit"),
        ("page=0", "page"),
        ("limit=1&page=1", "page"),
        ("start=1&end=2", "step"),
        ("time=1&start=1&end=2&step=1", "time"),
    ] {
        let (status, body) = get(bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["errorType"], "bad_data", "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(param),
            "{bad}: {body}"
        );
    }
    let r = server.get("/api/v1/metrics/query?query=sum(");
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Registers 1,000 targets (unreachable, 1m interval) and prints what
/// registering, listing and the stats cost. Run with `cargo test --test
/// targets_api many_registered -- --ignored --nocapture`.
#[test]
#[ignore]
fn many_registered_targets_cost() {
    let (dir, server) = Server::fresh();
    let dead = closed_port();
    let n = 1000;
    let t0 = std::time::Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let t = std::time::Instant::now();
        let r = post_target(
            &server,
            &registration("many", &format!("http://{dead}/metrics?i={i}"), "1m"),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        slowest = slowest.max(t.elapsed());
    }
    let took = t0.elapsed();
    println!(
        "{n} registrations: {:.1} s, {:.1} ms each on average, slowest {:.1} ms",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / n as f64,
        slowest.as_secs_f64() * 1000.0
    );
    let t = std::time::Instant::now();
    let r = server.get("/api/v1/metrics/targets?limit=1000");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], n);
    println!(
        "list of {n}: {:.1} ms, {} bytes",
        t.elapsed().as_secs_f64() * 1000.0,
        r.body.len()
    );
    let t = std::time::Instant::now();
    let r = server.get("/api/v1/metrics/stats");
    assert_eq!(r.status, 200);
    println!(
        "stats over {n}: {:.1} ms: {}",
        t.elapsed().as_secs_f64() * 1000.0,
        r.text()
    );
    let t = std::time::Instant::now();
    let (ok, _) = server.terminate();
    assert!(ok);
    let server = Server::start(dir.path(), &[]);
    println!(
        "restart with {n} registered: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(server.get("/api/v1/metrics/targets").json()["total"], n);
    let size = std::fs::metadata(dir.path().join("targets.registry"))
        .unwrap()
        .len();
    println!(
        "targets.registry: {size} bytes ({} per target)",
        size / n as u64
    );
}
