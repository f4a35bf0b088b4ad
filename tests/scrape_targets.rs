//! Targets from static_configs and file_sd_configs, through relabelling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass::scrape::config::ScrapeConfig;
use hourglass::scrape::discovery::JobDiscovery;
use hourglass::scrape::target::{self, JobTargets, Target};
use std::time::Duration;

/// The `__address__` of each active target, sorted.
fn addresses(t: &JobTargets) -> Vec<String> {
    let mut addrs: Vec<String> = t
        .active
        .iter()
        .map(|t| t.labels["__address__"].clone())
        .collect();
    addrs.sort();
    addrs
}

/// The active target at `addr`.
fn by_address<'a>(t: &'a JobTargets, addr: &str) -> &'a Target {
    t.active
        .iter()
        .find(|t| t.labels["__address__"] == addr)
        .unwrap_or_else(|| panic!("no target at {addr}"))
}

async fn targets(yaml: &str) -> JobTargets {
    let c = ScrapeConfig::parse(yaml).unwrap_or_else(|e| panic!("{e}"));
    let job = &c.jobs[0];
    let mut d = JobDiscovery::new(job);
    assert!(d.poll().await);
    target::build_all(job, d.groups())
}

#[tokio::test]
async fn static_target_gets_prometheus_defaults_and_url() {
    let t = targets(
        "scrape_configs:\n  - job_name: node\n    scrape_interval: 5s\n    params:\n      module: [a, b]\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:9100']\n        labels: {env: prod}\n",
    )
    .await;
    assert_eq!(t.active.len(), 1);
    let a = &t.active[0];
    assert_eq!(a.url, "http://127.0.0.1:9100/metrics?module=a&module=b");
    assert_eq!(a.interval, Duration::from_secs(5));
    let public: Vec<_> = a.public_labels().collect();
    assert_eq!(
        public,
        vec![
            ("env", "prod"),
            ("instance", "127.0.0.1:9100"),
            ("job", "node")
        ]
    );
    assert_eq!(a.discovered["__scrape_interval__"], "5s");
    assert_eq!(a.discovered["__scrape_timeout__"], "5s");
    assert_eq!(a.discovered["__metrics_path__"], "/metrics");
    assert_eq!(a.discovered["__scheme__"], "http");
    assert_eq!(a.discovered["__param_module"], "a");
}

#[tokio::test]
async fn relabelling_sets_address_params_interval_and_drops_targets() {
    let t = targets(
        "scrape_configs:\n  - job_name: probe\n    scrape_interval: 10s\n\
         \x20   static_configs:\n      - targets: ['a.example', 'drop.example', 'b.example']\n\
         \x20   relabel_configs:\n\
         \x20     - source_labels: [__address__]\n        regex: drop.*\n        action: drop\n\
         \x20     - source_labels: [__address__]\n        target_label: __param_target\n\
         \x20     - source_labels: [__address__]\n        target_label: instance\n\
         \x20     - target_label: __address__\n        replacement: 127.0.0.1:9115\n\
         \x20     - target_label: __metrics_path__\n        replacement: /probe\n\
         \x20     - target_label: __scrape_interval__\n        replacement: 100ms\n\
         \x20     - target_label: __scrape_timeout__\n        replacement: 50ms\n",
    )
    .await;
    assert_eq!(t.active.len(), 2);
    assert_eq!(t.dropped.len(), 1);
    assert_eq!(t.dropped[0]["__address__"], "drop.example");
    let a = &t.active[0];
    assert_eq!(a.url, "http://127.0.0.1:9115/probe?target=a.example");
    assert_eq!(a.labels["instance"], "a.example");
    assert_eq!(a.interval, Duration::from_millis(100));
    assert_eq!(a.timeout, Duration::from_millis(50));
}

#[tokio::test]
async fn target_with_timeout_over_interval_after_relabel_is_invalid_not_scraped() {
    let t = targets(
        "scrape_configs:\n  - job_name: j\n    static_configs:\n      - targets: ['h:1']\n\
         \x20   relabel_configs:\n      - target_label: __scrape_timeout__\n        replacement: 2m\n",
    )
    .await;
    assert!(t.active.is_empty());
    assert!(
        t.invalid[0].1.contains("greater than scrape interval"),
        "{:?}",
        t.invalid
    );
}

#[tokio::test]
async fn duplicate_targets_in_a_job_collapse_into_one() {
    let t = targets(
        "scrape_configs:\n  - job_name: j\n    static_configs:\n      - targets: ['h:1', 'h:1']\n      - targets: ['h:1']\n",
    )
    .await;
    assert_eq!(t.active.len(), 1);
}

#[tokio::test]
async fn file_sd_reads_json_and_yaml_sets_filepath_and_follows_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("a.json");
    let yaml = dir.path().join("b.yml");
    std::fs::write(
        &json,
        r#"[{"targets": ["127.0.0.1:1", "127.0.0.1:2"], "labels": {"team": "x"}}]"#,
    )
    .unwrap();
    std::fs::write(&yaml, "- targets: ['127.0.0.1:3']\n").unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: f\n    file_sd_configs:\n      - files: ['{}/*.json', '{}']\n        refresh_interval: 1h\n\
         \x20   relabel_configs:\n      - source_labels: [__meta_filepath]\n        target_label: file\n",
        dir.path().display(),
        yaml.display()
    );
    let c = ScrapeConfig::parse(&cfg).unwrap();
    let job = &c.jobs[0];
    let mut d = JobDiscovery::new(job);
    assert!(d.poll().await);
    let t = target::build_all(job, d.groups());
    let addrs = addresses(&t);
    assert_eq!(addrs, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
    let one = by_address(&t, "127.0.0.1:1");
    assert_eq!(one.labels["team"], "x");
    assert_eq!(one.labels["file"], json.display().to_string());
    assert!(
        !one.labels.contains_key("__meta_filepath"),
        "meta labels removed"
    );
    assert!(!d.poll().await, "nothing changed");

    // A rewrite (different length, so seen even within one mtime tick).
    std::fs::write(&json, r#"[{"targets": ["127.0.0.1:10"]}]"#).unwrap();
    assert!(d.poll().await);
    let t = target::build_all(job, d.groups());
    let addrs = addresses(&t);
    assert_eq!(addrs, ["127.0.0.1:10", "127.0.0.1:3"]);

    // A broken file keeps its previous targets; a removed file loses them.
    std::fs::write(&json, "[{\"targets\": [").unwrap();
    d.poll().await;
    assert_eq!(target::build_all(job, d.groups()).active.len(), 2);
    std::fs::remove_file(&yaml).unwrap();
    assert!(d.poll().await);
    let t = target::build_all(job, d.groups());
    assert_eq!(t.active.len(), 1);
    assert_eq!(t.active[0].labels["__address__"], "127.0.0.1:10");
}

#[test]
fn file_sd_refuses_unknown_keys_and_null_groups() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.json");
    std::fs::write(&p, r#"[{"targets": ["a:1"], "lables": {}}]"#).unwrap();
    assert!(hourglass::scrape::discovery::file::read(&p).is_err());
    std::fs::write(&p, r#"[null]"#).unwrap();
    assert!(hourglass::scrape::discovery::file::read(&p).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sd_fetches_groups_sets_meta_url_and_keeps_them_when_a_refresh_fails() {
    use std::sync::{Arc, Mutex};
    let answer = Arc::new(Mutex::new((
        200u16,
        "application/json".to_string(),
        r#"[{"targets": ["127.0.0.1:1", "127.0.0.1:2"], "labels": {"zone": "a"}}]"#.to_string(),
    )));
    let seen = Arc::clone(&answer);
    let app = axum::Router::new().route(
        "/sd",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let (status, ct, body) = seen.lock().unwrap().clone();
            let refresh = headers
                .get("x-prometheus-refresh-interval-seconds")
                .map(|v| v.to_str().unwrap().to_string());
            async move {
                assert_eq!(refresh.as_deref(), Some("0.1"));
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, ct)],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/sd");
    let cfg = format!(
        "scrape_configs:\n  - job_name: h\n    http_sd_configs:\n      - url: {url}\n        refresh_interval: 100ms\n\
         \x20   relabel_configs:\n      - source_labels: [__meta_url]\n        target_label: sd\n"
    );
    let c = ScrapeConfig::parse(&cfg).unwrap();
    let job = &c.jobs[0];
    let mut d = JobDiscovery::new(job);
    assert!(d.poll().await);
    let t = target::build_all(job, d.groups());
    assert_eq!(t.active.len(), 2);
    assert_eq!(t.active[0].labels["zone"], "a");
    assert_eq!(t.active[0].labels["sd"], url);

    let discovered = |d: &JobDiscovery| addresses(&target::build_all(job, d.groups()));
    for (status, ct, body) in [
        (500, "application/json", "[]"),
        (200, "text/plain", "[]"),
        (200, "application/json", "[null]"),
        (200, "application/json", "{not json"),
    ] {
        *answer.lock().unwrap() = (status, ct.into(), body.into());
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        assert!(!d.poll().await, "{status} {ct} {body}");
        assert_eq!(discovered(&d).len(), 2, "{status} {ct} {body}");
    }
    *answer.lock().unwrap() = (
        200,
        "application/json; charset=utf-8".into(),
        r#"[{"targets": ["127.0.0.1:3"]}]"#.into(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert!(d.poll().await);
    assert_eq!(discovered(&d), ["127.0.0.1:3"]);
}

#[test]
fn http_sd_https_and_bad_urls_are_refused_with_their_line() {
    let e = ScrapeConfig::parse(
        "scrape_configs:\n  - job_name: h\n    http_sd_configs:\n      - url: ftp://x/sd\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 4") && e.contains("scheme"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_sd_resolves_srv_a_and_aaaa_from_dnsmasq_on_a_loopback_port() {
    let Some(bin) = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("dnsmasq not installed; skipped");
        return;
    };
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dnsmasq = std::process::Command::new(bin)
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
            &format!("--port={port}"),
            "--srv-host=_node._tcp.sd.test,web1.sd.test,9100",
            "--srv-host=_node._tcp.sd.test,web2.sd.test,9101",
            "--host-record=web1.sd.test,127.0.0.1,::1",
            "--local=/sd.test/",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cfg = "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n\
               \x20     - names: ['_node._tcp.sd.test']\n\
               \x20     - names: ['web1.sd.test']\n        type: A\n        port: 9200\n\
               \x20     - names: ['web1.sd.test']\n        type: AAAA\n        port: 9300\n\
               \x20     - names: ['missing.sd.test']\n        type: A\n        port: 1\n\
               \x20   relabel_configs:\n      - source_labels: [__meta_dns_srv_record_target]\n        target_label: srv_target\n";
    let c = ScrapeConfig::parse(cfg).unwrap();
    let job = &c.jobs[0];
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut d = JobDiscovery::new(job).with_dns_server(job, Some(server));
    assert!(d.poll().await);
    let t = target::build_all(job, d.groups());
    let _ = dnsmasq.kill();
    let _ = dnsmasq.wait();
    let addrs = addresses(&t);
    assert_eq!(
        addrs,
        [
            "127.0.0.1:9200",
            "[::1]:9300",
            "web1.sd.test:9100",
            "web2.sd.test:9101"
        ]
    );
    let srv = by_address(&t, "web1.sd.test:9100");
    assert_eq!(srv.labels["srv_target"], "web1.sd.test.");
    assert_eq!(srv.discovered["__meta_dns_name"], "_node._tcp.sd.test");
    assert_eq!(srv.discovered["__meta_dns_srv_record_port"], "9100");
}

#[test]
fn dns_sd_without_port_for_a_records_is_refused() {
    let e = ScrapeConfig::parse(
        "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [x]\n        type: A\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("port is required"), "{e}");
}
