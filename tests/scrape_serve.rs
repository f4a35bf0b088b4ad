//! `hourglass serve --scrape-config`: a target served by the test on
//! 127.0.0.1 is scraped, queryable with `up` 1, its vanished series go
//! stale, SIGHUP reloads (a bad file keeps the running configuration), and
//! Debian's node exporter is scraped when installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{have_all, node_exporter};
use common::query::{results, sample_value};
use common::target::serve_text;
use common::{signal, start_scraping, wait_until};

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A scrape configuration of one static target per job, every 200 ms.
fn config(jobs: &[(&str, String)]) -> String {
    let mut text =
        String::from("global:\n  scrape_interval: 200ms\nrule_files: []\nscrape_configs:\n");
    for (name, target) in jobs {
        text.push_str(&format!(
            "  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    text
}

#[test]
fn serve_scrapes_a_target_series_go_stale_and_sighup_reloads_keeping_config_on_error() {
    let body = Arc::new(Mutex::new(
        "# TYPE demo_metric gauge\ndemo_metric{k=\"v\"} 42\ngone_metric 1\n".to_string(),
    ));
    let target = serve_text(Arc::clone(&body));
    let dir = tempfile::tempdir().unwrap();
    let (cfg, server) = start_scraping(dir.path(), &config(&[("demo", target.to_string())]));

    wait_until("up{job=demo} == 1", Duration::from_secs(20), || {
        results(&server, "up{job=\"demo\"}")
            .first()
            .is_some_and(|s| sample_value(s) == 1.0)
    });
    let demo = results(&server, "demo_metric");
    assert_eq!(demo.len(), 1);
    assert_eq!(demo[0]["metric"]["job"], "demo");
    assert_eq!(demo[0]["metric"]["instance"], target.to_string());
    assert_eq!(demo[0]["metric"]["k"], "v");
    assert_eq!(sample_value(&demo[0]), 42.0);
    assert_eq!(results(&server, "gone_metric").len(), 1);
    for name in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert_eq!(results(&server, name).len(), 1, "{name}");
    }
    assert_eq!(
        sample_value(&results(&server, "scrape_samples_scraped")[0]),
        2.0
    );
    // As Prometheus, the extra report series only with the flag.
    assert!(results(&server, "scrape_timeout_seconds").is_empty());

    // The series disappears from the target: a stale marker hides it at once.
    *body.lock().unwrap() = "demo_metric{k=\"v\"} 43\n".into();
    wait_until("gone_metric stale", Duration::from_secs(10), || {
        results(&server, "gone_metric").is_empty()
    });
    assert_eq!(sample_value(&results(&server, "demo_metric")[0]), 43.0);

    // A broken file on SIGHUP is refused; scraping goes on unchanged.
    let child = server.child.as_ref().unwrap();
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: [\n").unwrap();
    signal(child, "HUP");
    std::thread::sleep(Duration::from_millis(600));
    *body.lock().unwrap() = "demo_metric{k=\"v\"} 44\n".into();
    wait_until(
        "demo_metric 44 after a refused reload",
        Duration::from_secs(10),
        || {
            results(&server, "demo_metric")
                .first()
                .is_some_and(|s| sample_value(s) == 44.0)
        },
    );

    // A good file on SIGHUP adds a job; the kept job keeps scraping.
    let both = [("demo", target.to_string()), ("again", target.to_string())];
    std::fs::write(&cfg, config(&both)).unwrap();
    signal(child, "HUP");
    wait_until("up{job=again} == 1", Duration::from_secs(10), || {
        results(&server, "up{job=\"again\"}")
            .first()
            .is_some_and(|s| sample_value(s) == 1.0)
    });
    assert_eq!(sample_value(&results(&server, "up{job=\"demo\"}")[0]), 1.0);

    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    let log = log.join("\n");
    assert!(log.contains("reload refused"), "{log}");
}

#[test]
fn extra_scrape_metrics_write_timeout_sample_limit_and_body_size() {
    let text = "# TYPE demo_metric gauge\ndemo_metric 1\n";
    let target = serve_text(Arc::new(Mutex::new(text.to_string())));
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: demo\n    sample_limit: 50\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, yaml).unwrap();
    let server = common::Server::start(
        &dir.path().join("data"),
        &[
            "--scrape-config",
            cfg.to_str().unwrap(),
            "--extra-scrape-metrics",
        ],
    );
    wait_until("scrape_body_size_bytes", Duration::from_secs(20), || {
        !results(&server, "scrape_body_size_bytes{job=\"demo\"}").is_empty()
    });
    let value = |q: &str| sample_value(&results(&server, q)[0]);
    assert_eq!(value("scrape_timeout_seconds{job=\"demo\"}"), 0.15);
    assert_eq!(value("scrape_sample_limit{job=\"demo\"}"), 50.0);
    assert_eq!(
        value("scrape_body_size_bytes{job=\"demo\"}"),
        text.len() as f64
    );
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
}

#[test]
fn serve_refuses_an_invalid_scrape_config_at_start_with_line_and_reason() {
    let text = "global:\n  scrape_interval: 10q\n";
    let why = ["line 2", "not a valid duration string"];
    common::refused_naming("--scrape-config", "prometheus.yml", text, &why);
}

#[test]
fn serve_scrapes_debian_node_exporter_when_installed() {
    if !have_all(&["prometheus-node-exporter"]) {
        return;
    }
    let (_exporter, port) = node_exporter(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (_, server) = start_scraping(
        dir.path(),
        &config(&[("node", format!("127.0.0.1:{port}"))]),
    );
    wait_until("node exporter up", Duration::from_secs(30), || {
        results(&server, "up{job=\"node\"}")
            .first()
            .is_some_and(|s| sample_value(s) == 1.0)
    });
    let cpu = results(&server, "node_cpu_seconds_total{job=\"node\"}");
    assert!(!cpu.is_empty());
    let scraped = sample_value(&results(&server, "scrape_samples_scraped{job=\"node\"}")[0]);
    assert!(scraped > 100.0, "{scraped}");
}
