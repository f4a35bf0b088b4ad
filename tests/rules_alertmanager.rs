//! Alerts from Hourglass's rules into Debian's `prometheus-alertmanager`,
//! started by the test on loopback ports, with a webhook receiver that is
//! a small HTTP server in the test: the alert fires, appears in
//! Alertmanager's API with its labels and annotations, reaches the
//! webhook, then resolves. `.ci/run` installs Alertmanager.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::input_file;
use common::external::{Proc, free_port, have_all, wait_ready};
use common::query::try_metric;
use common::*;
use hourglass_storage::Sample;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most requests one webhook connection serves.
const MAX_REQUESTS_PER_CONN: usize = 1000;

/// A webhook receiver on a free port: every POST body, parsed, goes to
/// the returned channel.
fn webhook() -> (u16, mpsc::Receiver<Value>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming().take(100).flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve_hook(stream, &tx));
        }
    });
    (port, rx)
}

fn serve_hook(stream: TcpStream, tx: &mpsc::Sender<Value>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    for _ in 0..MAX_REQUESTS_PER_CONN {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len.min(1 << 20)];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(v) = serde_json::from_slice(&body) {
            let _ = tx.send(v);
        }
        let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
}

fn am_alerts(am: SocketAddr) -> Vec<Value> {
    match try_request(am, "GET", "/api/v2/alerts", &[], b"") {
        Ok(r) if r.status == 200 => r.json().as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn hook_until(rx: &mpsc::Receiver<Value>, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {status} webhook in time"));
        if v["status"] == status {
            return v;
        }
    }
}

#[test]
fn alert_reaches_alertmanager_and_its_webhook_then_resolves() {
    if !have_all(&["prometheus-alertmanager"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (hook_port, hook) = webhook();
    let am_port = free_port();
    let am_yml = input_file(
        tmp.path(),
        "alertmanager.yml",
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{hook_port}/hook\n    send_resolved: true\n"
        ),
    );
    let _am = Proc(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", am_yml.display()))
            .arg(format!(
                "--storage.path={}",
                tmp.path().join("am").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let am: SocketAddr = format!("127.0.0.1:{am_port}").parse().unwrap();
    wait_ready(am);

    input_file(
        tmp.path(),
        "rules.yml",
        r#"groups:
- name: heat
  rules:
  - alert: Hot
    expr: temp > 30
    for: 1s
    labels:
      severity: page
    annotations:
      summary: '{{ $labels.room }} is at {{ $value }} degrees'
"#,
    );
    let cfg = input_file(
        tmp.path(),
        "prometheus.yml",
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels: {{site: lab}}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{am_port}']\n"
        ),
    );
    let server = Server::start(
        &tmp.path().join("data"),
        &[
            "--scrape-config",
            cfg.to_str().unwrap(),
            "--rules-alert-resend-delay",
            "2s",
        ],
    );
    let write = |v: f64| {
        let r = write_series(
            &server,
            &[(
                vec![("__name__", "temp"), ("room", "kitchen")],
                vec![Sample { t: now_ms(), v }],
            )],
        );
        assert_eq!(r.status, 204, "{}", r.text());
    };
    write(35.0);
    wait_for("alert in Alertmanager", || {
        am_alerts(am)
            .iter()
            .any(|a| a["labels"]["alertname"] == "Hot")
    });
    let a = am_alerts(am)
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "Hot")
        .unwrap();
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["labels"]["room"], "kitchen");
    assert_eq!(a["labels"]["site"], "lab", "external label added: {a}");
    assert_eq!(a["annotations"]["summary"], "kitchen is at 35 degrees");
    assert_eq!(a["status"]["state"], "active");
    assert!(
        a["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/graph?g0.expr=temp"),
        "{a}"
    );

    let fired = hook_until(&hook, "firing");
    assert_eq!(fired["alerts"][0]["labels"]["alertname"], "Hot");
    assert_eq!(
        fired["alerts"][0]["annotations"]["summary"],
        "kitchen is at 35 degrees"
    );

    let latency_max = try_metric(&server, "hourglass_notification_latency_max_seconds").unwrap();
    let count = try_metric(&server, "hourglass_notification_latency_seconds_count").unwrap();
    let sum = try_metric(&server, "hourglass_notification_latency_seconds_sum").unwrap();
    eprintln!(
        "figure: notification latency, evaluation to Alertmanager 2xx: mean {:.1} ms over {count} POSTs, max {:.1} ms",
        sum / count * 1000.0,
        latency_max * 1000.0
    );
    assert!(latency_max < 10.0, "gross stall: {latency_max} s");

    write(20.0);
    let resolved = hook_until(&hook, "resolved");
    assert_eq!(resolved["alerts"][0]["labels"]["alertname"], "Hot");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    wait_for("gone from Alertmanager's active alerts", || {
        !am_alerts(am)
            .iter()
            .any(|a| a["labels"]["alertname"] == "Hot")
    });
    assert!(try_metric(&server, "prometheus_notifications_sent_total").unwrap() >= 2.0);
    assert_eq!(
        try_metric(&server, "prometheus_notifications_errors_total"),
        Some(0.0)
    );
}
