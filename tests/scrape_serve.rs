//! `hourglass serve --scrape-config`: a target served by the test on
//! 127.0.0.1 is scraped, queryable with `up` 1, its vanished series go
//! stale, SIGHUP reloads (a bad file keeps the running configuration), and
//! Debian's node exporter is scraped when installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, signal};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A target on a loopback port serving whatever text `body` holds.
fn start_target(body: Arc<Mutex<String>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let body = body.lock().unwrap().clone();
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            body,
                        )
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
    });
    addr
}

fn query(server: &Server, q: &str) -> Vec<serde_json::Value> {
    let path = format!(
        "/api/v1/query?query={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let r = server.get(&path);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn value(series: &serde_json::Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write_config(path: &Path, jobs: &[(&str, String)]) {
    let mut text =
        String::from("global:\n  scrape_interval: 200ms\nrule_files: []\nscrape_configs:\n");
    for (name, target) in jobs {
        text.push_str(&format!(
            "  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn serve_scrapes_a_target_series_go_stale_and_sighup_reloads_keeping_config_on_error() {
    let body = Arc::new(Mutex::new(
        "# TYPE demo_metric gauge\ndemo_metric{k=\"v\"} 42\ngone_metric 1\n".to_string(),
    ));
    let target = start_target(Arc::clone(&body));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    write_config(&cfg, &[("demo", target.to_string())]);
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--scrape-config", cfg.to_str().unwrap()]);

    wait_until("up{job=demo} == 1", Duration::from_secs(20), || {
        query(&server, "up{job=\"demo\"}")
            .first()
            .is_some_and(|s| value(s) == 1.0)
    });
    let demo = query(&server, "demo_metric");
    assert_eq!(demo.len(), 1);
    assert_eq!(demo[0]["metric"]["job"], "demo");
    assert_eq!(demo[0]["metric"]["instance"], target.to_string());
    assert_eq!(demo[0]["metric"]["k"], "v");
    assert_eq!(value(&demo[0]), 42.0);
    assert_eq!(query(&server, "gone_metric").len(), 1);
    for name in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert_eq!(query(&server, name).len(), 1, "{name}");
    }
    assert_eq!(value(&query(&server, "scrape_samples_scraped")[0]), 2.0);

    // The series disappears from the target: a stale marker hides it at once.
    *body.lock().unwrap() = "demo_metric{k=\"v\"} 43\n".into();
    wait_until("gone_metric stale", Duration::from_secs(10), || {
        query(&server, "gone_metric").is_empty()
    });
    assert_eq!(value(&query(&server, "demo_metric")[0]), 43.0);

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
            query(&server, "demo_metric")
                .first()
                .is_some_and(|s| value(s) == 44.0)
        },
    );

    // A good file on SIGHUP adds a job; the kept job keeps scraping.
    write_config(
        &cfg,
        &[("demo", target.to_string()), ("again", target.to_string())],
    );
    signal(child, "HUP");
    wait_until("up{job=again} == 1", Duration::from_secs(10), || {
        query(&server, "up{job=\"again\"}")
            .first()
            .is_some_and(|s| value(s) == 1.0)
    });
    assert_eq!(value(&query(&server, "up{job=\"demo\"}")[0]), 1.0);

    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    let log = log.join("\n");
    assert!(log.contains("reload refused"), "{log}");
}

#[test]
fn serve_refuses_an_invalid_scrape_config_at_start_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 10q\n").unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--scrape-config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("not a valid duration string"), "{err}");
}

#[test]
fn serve_scrapes_debian_node_exporter_when_installed() {
    let Some(bin) = [
        "/usr/bin/prometheus-node-exporter",
        "/usr/sbin/prometheus-node-exporter",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        eprintln!("prometheus-node-exporter not installed; skipped");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut exporter = std::process::Command::new(bin)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    write_config(&cfg, &[("node", format!("127.0.0.1:{port}"))]);
    let server = Server::start(
        &dir.path().join("data"),
        &["--scrape-config", cfg.to_str().unwrap()],
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("node exporter up", Duration::from_secs(30), || {
            query(&server, "up{job=\"node\"}")
                .first()
                .is_some_and(|s| value(s) == 1.0)
        });
        let cpu = query(&server, "node_cpu_seconds_total{job=\"node\"}");
        assert!(!cpu.is_empty());
        let scraped = value(&query(&server, "scrape_samples_scraped{job=\"node\"}")[0]);
        assert!(scraped > 100.0, "{scraped}");
    }));
    let _ = exporter.kill();
    let _ = exporter.wait();
    drop(server);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
