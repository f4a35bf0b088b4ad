//! Recording and alerting rules on a real server: rule files named by the
//! Prometheus configuration, recorded series read back through PromQL,
//! alerts through their lifecycle in `/api/v1/alerts` and the `ALERTS`
//! series, `/api/v1/rules` in Prometheus's shape, reloads that refuse bad
//! files and keep the running rules, and rules that fail at evaluation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::external::{free_port, have_all};
use common::query::{query, try_metric, value};
use common::*;
use hourglass_storage::Sample;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes `rules` as `<dir>/rules.yml` and a Prometheus configuration
/// naming it with a 1 s evaluation interval, `extra` appended.
fn prometheus_yml(dir: &Path, rules: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let path = dir.join("prometheus.yml");
    std::fs::write(
        &path,
        format!("global:\n  evaluation_interval: 1s\n  external_labels: {{dc: test}}\nrule_files: [rules.yml]\nscrape_configs: []\n{extra}"),
    )
    .unwrap();
    path
}

/// A server in a fresh directory evaluating `rules` (no extra settings).
fn serve_rules(rules: &str) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = prometheus_yml(tmp.path(), rules, "");
    let server = start(tmp.path(), &cfg, &[]);
    (tmp, server)
}

fn start(dir: &Path, config: &Path, flags: &[&str]) -> Server {
    let mut args = vec!["--scrape-config", config.to_str().unwrap()];
    args.extend_from_slice(flags);
    Server::start(&dir.join("data"), &args)
}

fn write_now(server: &Server, name: &str, labels: &[(&str, &str)], v: f64) {
    let mut l = vec![("__name__", name)];
    l.extend_from_slice(labels);
    let r = write_series(server, &[(l, vec![Sample { t: now_ms(), v }])]);
    assert_eq!(r.status, 204, "{}", r.text());
}

fn rules_api(server: &Server, query: &str) -> serde_json::Value {
    let r = server.get(&format!("/api/v1/rules{query}"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn alerts(server: &Server) -> Vec<serde_json::Value> {
    let r = server.get("/api/v1/alerts");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["alerts"].as_array().cloned().unwrap()
}

#[test]
fn recording_rule_writes_its_series_and_the_rules_api_shows_it() {
    let (_tmp, server) = serve_rules(
        "groups:\n- name: rollup\n  rules:\n  - record: job:x:sum\n    expr: sum by (job) (x)\n  - record: job:x:double\n    expr: job:x:sum * 2\n    labels: {kind: derived}\n",
    );
    write_now(&server, "x", &[("job", "a"), ("i", "1")], 1.0);
    write_now(&server, "x", &[("job", "a"), ("i", "2")], 2.0);
    wait_for("recorded series", || {
        value(&server, "job:x:sum") == Some(3.0)
    });
    // A later rule sees the earlier rule's output of the same evaluation.
    wait_for("chained rule", || {
        value(&server, "job:x:double") == Some(6.0)
    });
    let got = query(&server, "job:x:double");
    assert_eq!(got[0].0.get("kind").map(String::as_str), Some("derived"));
    assert_eq!(got[0].0.get("job").map(String::as_str), Some("a"));

    let body = rules_api(&server, "");
    assert_eq!(body["status"], "success");
    let g = &body["data"]["groups"][0];
    assert_eq!(g["name"], "rollup");
    assert!(g["file"].as_str().unwrap().ends_with("rules.yml"), "{g}");
    assert_eq!(g["interval"], 1.0);
    assert_eq!(g["limit"], 0);
    assert!(g["evaluationTime"].is_number());
    assert!(
        !g["lastEvaluation"].as_str().unwrap().starts_with("0001"),
        "{g}"
    );
    let r = &g["rules"][0];
    assert_eq!(r["name"], "job:x:sum");
    assert_eq!(r["query"], "sum by (job) (x)");
    assert_eq!(r["type"], "recording");
    assert_eq!(r["health"], "ok");
    assert_eq!(r["labels"], serde_json::json!({}));
    assert!(r.get("lastError").is_none(), "{r}");
    assert_eq!(g["rules"][1]["labels"]["kind"], "derived");

    // Filters.
    let body = rules_api(&server, "?type=alert");
    assert_eq!(body["data"]["groups"], serde_json::json!([]));
    let body = rules_api(&server, "?rule_name[]=job:x:double");
    assert_eq!(
        body["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        1
    );
    let body = rules_api(&server, "?rule_group[]=nope");
    assert_eq!(body["data"]["groups"], serde_json::json!([]));
    let r = server.get("/api/v1/rules?type=bogus");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("type"), "{}", r.text());
}

#[test]
fn alert_goes_pending_then_firing_then_resolves_with_templates_and_alerts_series() {
    let (_tmp, server) = serve_rules(
        r#"groups:
- name: alerts
  rules:
  - alert: High
    expr: y > 5
    for: 4s
    labels:
      severity: '{{ $labels.job }}-page'
    annotations:
      summary: 'value {{ $value | humanize }} on {{ $labels.instance }}'
      ext: '{{ $externalLabels.dc }}'
"#,
    );
    write_now(&server, "y", &[("job", "a"), ("instance", "h1")], 1234.0);
    wait_for("pending alert", || {
        alerts(&server).iter().any(|a| a["state"] == "pending")
    });
    let a = alerts(&server)[0].clone();
    assert_eq!(a["labels"]["alertname"], "High");
    assert_eq!(a["labels"]["severity"], "a-page");
    assert_eq!(a["labels"]["instance"], "h1");
    assert_eq!(a["annotations"]["summary"], "value 1.234k on h1");
    assert_eq!(a["annotations"]["ext"], "test");
    assert_eq!(a["value"], "1.234e+03");
    wait_for("firing alert", || {
        alerts(&server).iter().any(|a| a["state"] == "firing")
    });
    wait_for("ALERTS firing series", || {
        value(&server, "ALERTS{alertname=\"High\",alertstate=\"firing\"}") == Some(1.0)
    });
    let active_at = value(&server, "ALERTS_FOR_STATE{alertname=\"High\"}").unwrap();
    assert!(active_at > 1.7e9, "{active_at}");
    let body = rules_api(&server, "?type=alert");
    let r = &body["data"]["groups"][0]["rules"][0];
    assert_eq!(r["state"], "firing");
    assert_eq!(r["duration"], 4.0);
    assert_eq!(r["type"], "alerting");
    assert_eq!(r["alerts"].as_array().unwrap().len(), 1);
    let body = rules_api(&server, "?exclude_alerts=true");
    assert_eq!(
        body["data"]["groups"][0]["rules"][0]["alerts"],
        serde_json::Value::Null
    );

    // The condition ends: the alert resolves and its series go stale.
    write_now(&server, "y", &[("job", "a"), ("instance", "h1")], 0.0);
    wait_for("resolved", || alerts(&server).is_empty());
    wait_for("ALERTS stale", || {
        query(&server, "ALERTS{alertname=\"High\"}").is_empty()
    });
    let body = rules_api(&server, "?type=alert");
    assert_eq!(body["data"]["groups"][0]["rules"][0]["state"], "inactive");
}

#[test]
fn bad_rule_files_are_refused_with_file_line_and_reason() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "groups:\n- name: g\n  rules:\n  - record: r\n    expr: sum(x\n",
            "rules.yml:5:",
            "could not parse expression",
        ),
        (
            "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
            "rules.yml:4:",
            "repeated in the same file",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - record: r\n   expr: x\n",
            "rules.yml:",
            "",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    annotations: {s: '{{ nosuch }}'}\n",
            "rules.yml:4:",
            "not defined",
        ),
    ];
    for (text, place, reason) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = prometheus_yml(tmp.path(), text, "");
        let err = refused_start(
            &tmp.path().join("data"),
            &["--scrape-config", cfg.to_str().unwrap()],
        );
        assert!(err.contains(place), "{place} not in {err}");
        assert!(err.contains(reason), "{reason} not in {err}");
    }
}

#[test]
fn reload_refuses_a_bad_file_and_keeps_the_running_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let good = "groups:\n- name: g\n  rules:\n  - record: r:one\n    expr: vector(1)\n";
    let cfg = prometheus_yml(tmp.path(), good, "");
    let server = start(tmp.path(), &cfg, &["--enable-lifecycle"]);
    wait_for("first rule", || value(&server, "r:one") == Some(1.0));
    std::fs::write(
        tmp.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - record: r:two\n    expr: vector(\n",
    )
    .unwrap();
    let r = server.post("/-/reload", &[], b"");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("rules.yml:5"), "{}", r.text());
    let body = rules_api(&server, "");
    assert_eq!(body["data"]["groups"][0]["rules"][0]["name"], "r:one");
    assert_eq!(
        body["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        1
    );
    // SIGHUP with a fixed file takes the new rules.
    std::fs::write(
        tmp.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - record: r:one\n    expr: vector(1)\n  - record: r:two\n    expr: vector(2)\n",
    )
    .unwrap();
    signal(server.child.as_ref().unwrap(), "HUP");
    wait_for("reloaded rule", || value(&server, "r:two") == Some(2.0));
    let body = rules_api(&server, "");
    assert_eq!(
        body["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn a_rule_failing_at_evaluation_reports_it_in_health_and_the_others_go_on() {
    let (_tmp, server) = serve_rules(
        r#"groups:
- name: g
  rules:
  - record: dup
    expr: label_replace(z, "i", "", "i", ".*")
  - record: fine
    expr: sum(z)
  - alert: BadTemplate
    expr: z > 0
    annotations:
      s: '{{ humanize "not a number" }}'
"#,
    );
    // One request: an evaluation between two writes would see one `z`,
    // record `dup` without a clash, and leave it behind.
    let t = now_ms();
    let r = write_series(
        &server,
        &[
            (
                vec![("__name__", "z"), ("i", "1")],
                vec![Sample { t, v: 1.0 }],
            ),
            (
                vec![("__name__", "z"), ("i", "2")],
                vec![Sample { t, v: 2.0 }],
            ),
        ],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    wait_for("later rule still evaluated", || {
        value(&server, "fine") == Some(3.0)
    });
    wait_for("health err", || {
        let body = rules_api(&server, "");
        body["data"]["groups"][0]["rules"][2]["health"] == "err"
    });
    let body = rules_api(&server, "");
    let rules = &body["data"]["groups"][0]["rules"];
    assert_eq!(rules[0]["health"], "err");
    assert_mentions(rules[0]["lastError"].as_str().unwrap(), &["same labelset"]);
    assert_eq!(rules[1]["health"], "ok");
    assert_mentions(rules[2]["lastError"].as_str().unwrap(), &["not a number"]);
    let a = alerts(&server);
    assert!(
        a[0]["annotations"]["s"]
            .as_str()
            .unwrap()
            .starts_with("<error expanding template"),
        "{a:?}"
    );
    assert!(
        query(&server, "dup").is_empty(),
        "a failed evaluation writes nothing"
    );
    assert!(metric(&server, "prometheus_rule_evaluation_failures_total") > 0.0);
}

#[test]
fn unreachable_alertmanager_is_counted_and_never_blocks_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = prometheus_yml(
        tmp.path(),
        "groups:\n- name: g\n  rules:\n  - alert: Always\n    expr: vector(1)\n  - record: after\n    expr: vector(7)\n",
        &format!(
            "alerting:\n  alertmanagers:\n  - timeout: 1s\n    static_configs:\n    - targets: ['127.0.0.1:{port}']\n"
        ),
    );
    let server = start(tmp.path(), &cfg, &["--rules-alert-resend-delay", "1s"]);
    wait_for("send errors counted", || {
        try_metric(&server, "prometheus_notifications_errors_total").unwrap_or(0.0) >= 2.0
    });
    let before = metric(&server, "prometheus_rule_group_iterations_total");
    wait_until("evaluation goes on", Duration::from_secs(10), || {
        metric(&server, "prometheus_rule_group_iterations_total") >= before + 2.0
    });
    assert_eq!(value(&server, "after"), Some(7.0));
    assert!(metric(&server, "prometheus_notifications_dropped_total") >= 2.0);
    assert_eq!(metric(&server, "prometheus_notifications_sent_total"), 0.0);
}

#[test]
fn shipped_rule_files_pass_promtool_and_load_with_one_flag() {
    let files: Vec<PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    if have_all(&["promtool"]) {
        let out = std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_tmp, server) = Server::fresh();
    assert_eq!(
        rules_api(&server, "")["data"]["groups"],
        serde_json::json!([]),
        "off by default"
    );
    drop(server);
    let (_tmp, server) = Server::fresh_with(&["--rules-ready-made"]);
    let body = rules_api(&server, "");
    let names: Vec<&str> = body["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "hourglass-collection-health",
            "hourglass-missing-metrics",
            "hourglass-node-rollups"
        ]
    );
}

#[test]
fn restart_restores_pending_alerts_from_alerts_for_state() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = prometheus_yml(
        tmp.path(),
        "groups:\n- name: g\n  rules:\n  - alert: Slow\n    expr: w > 0\n    for: 60s\n",
        "",
    );
    let flags = ["--rules-alert-for-grace-period", "1s"];
    let server = start(tmp.path(), &cfg, &flags);
    write_now(&server, "w", &[("job", "a")], 1.0);
    wait_for("ALERTS_FOR_STATE written", || {
        value(&server, "ALERTS_FOR_STATE{alertname=\"Slow\"}").is_some()
    });
    let active_at = value(&server, "ALERTS_FOR_STATE{alertname=\"Slow\"}").unwrap();
    // Pending for a while before the restart.
    std::thread::sleep(Duration::from_secs(6));
    let (ok, _) = server.terminate();
    assert!(ok, "clean shutdown");
    let restart_s = now_ms() as f64 / 1000.0;
    let server = start(tmp.path(), &cfg, &flags);
    wait_for("restored ALERTS_FOR_STATE", || {
        value(&server, "ALERTS_FOR_STATE{alertname=\"Slow\"}").is_some_and(|v| v > active_at + 0.5)
    });
    let restored = value(&server, "ALERTS_FOR_STATE{alertname=\"Slow\"}").unwrap();
    // Restored: the pending time before the restart still counts, only the
    // downtime is added. A fresh alert would start after the restart.
    assert!(
        restored < restart_s - 3.0,
        "activeAt {restored} not restored (restart at {restart_s}, was {active_at})"
    );
    let a = alerts(&server);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["state"], "pending");
}

#[test]
fn recorded_series_go_stale_when_their_source_disappears() {
    let (_tmp, server) =
        serve_rules("groups:\n- name: g\n  rules:\n  - record: big\n    expr: v > 10\n");
    write_now(&server, "v", &[("k", "1")], 50.0);
    write_now(&server, "v", &[("k", "2")], 60.0);
    wait_for("two recorded series", || query(&server, "big").len() == 2);
    write_now(&server, "v", &[("k", "2")], 5.0);
    wait_for("one left", || query(&server, "big").len() == 1);
    // The gone series ends with a stale marker rather than lingering for
    // the lookback period.
    assert_eq!(
        query(&server, "big")[0].0.get("k").map(String::as_str),
        Some("1")
    );
    assert!(query(&server, "count_over_time(big{k=\"2\"}[1m])")[0].1 >= 1.0);
}

#[test]
fn check_rules_command_agrees_with_promtool_on_good_and_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.yml");
    let bad = tmp.path().join("bad.yml");
    std::fs::write(&good, "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(up)\n  - alert: X\n    expr: up == 0\n    for: 1m\n").unwrap();
    std::fs::write(
        &bad,
        "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(up\n",
    )
    .unwrap();
    let run = |prog: &str, args: &[&str], f: &Path| {
        let out = std::process::Command::new(prog)
            .args(args)
            .arg(f)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = run(BIN, &["check", "rules"], &good);
    assert!(ok && text.contains("SUCCESS: 2 rules found"), "{text}");
    let (ok, text) = run(BIN, &["check", "rules"], &bad);
    assert!(
        !ok && text.contains("bad.yml:5:") && text.contains("could not parse expression"),
        "{text}"
    );
    if have_all(&["promtool"]) {
        assert!(run("promtool", &["check", "rules"], &good).0);
        let (ok, text) = run("promtool", &["check", "rules"], &bad);
        assert!(!ok && text.contains("5:"), "{text}");
    }
}

#[test]
fn recording_rule_over_native_histograms_stores_histograms_not_nan() {
    use hourglass::ingest::protobuf::Writer;
    use hourglass::ingest::remote_write::v1;
    use hourglass_storage::{FloatHistogram, Span};
    let (_tmp, server) = serve_rules(
        "groups:\n- name: hist\n  rules:\n  - record: job:lat:sum\n    expr: sum by (job) (lat)\n  - record: job:lat:count\n    expr: histogram_count(job:lat:sum)\n",
    );
    let h = |k: f64| FloatHistogram {
        schema: 1,
        count: 6.0 * k,
        sum: 2.5 * k,
        zero_threshold: 1e-9,
        positive_spans: vec![Span::new(0, 3)],
        positive_buckets: vec![k, 2.0 * k, 3.0 * k],
        ..FloatHistogram::default()
    };
    let mut w = Writer::default();
    for (i, k) in [("1", 1.0), ("2", 2.0)] {
        v1::encode_histogram_series(
            &mut w,
            [("__name__", "lat"), ("job", "a"), ("i", i)],
            &[],
            &[(now_ms(), h(k))],
        );
    }
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204, "{}", r.text());
    wait_for("recorded histogram", || {
        value(&server, "histogram_count(job:lat:sum)") == Some(18.0)
    });
    let r = server.get(&format!(
        "/api/v1/query?query={}",
        common::query::enc("job:lat:sum")
    ));
    let got = &r.json()["data"]["result"][0];
    assert!(got.get("value").is_none(), "a float was recorded: {got}");
    assert_eq!(got["histogram"][1]["count"], "18", "{got}");
    assert_eq!(got["histogram"][1]["sum"], "7.5", "{got}");
    assert_eq!(got["metric"]["job"], "a", "{got}");
    // A rule reading the recorded histogram sees it at once.
    wait_for("chained float rule", || {
        value(&server, "job:lat:count") == Some(18.0)
    });
    let body = rules_api(&server, "");
    assert_eq!(
        body["data"]["groups"][0]["rules"][0]["health"], "ok",
        "{body}"
    );
}
