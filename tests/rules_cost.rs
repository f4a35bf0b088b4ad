//! The cost of rule evaluation: 1,000 recording rules over 10,000 series
//! every 15 s, as a share of one core, measured from the server process's
//! CPU time (/proc) over a window of several evaluations. Ignored by
//! default (it takes over a minute); run it on a release build:
//!
//! ```text
//! cargo build --release --bin hourglass
//! HOURGLASS_BIN=$CARGO_TARGET_DIR/release/hourglass \
//!   cargo test -p hourglass --test rules_cost -- --ignored --nocapture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass_storage::Sample;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const METRICS: usize = 100;
const SERIES_PER_METRIC: usize = 100;

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn rules_file() -> String {
    let mut s = String::from("groups:\n");
    for m in 0..METRICS {
        let _ = writeln!(s, "- name: m{m}\n  interval: 15s\n  rules:");
        for (k, expr) in [
            format!("sum(rate(m{m}_total[1m]))"),
            format!("sum by (g) (rate(m{m}_total[1m]))"),
            format!("avg by (g) (rate(m{m}_total[1m]))"),
            format!("max(rate(m{m}_total[1m]))"),
            format!("min by (g) (m{m}_total)"),
            format!("count by (g) (m{m}_total)"),
            format!("sum by (g) (m{m}_total)"),
            format!("topk(3, rate(m{m}_total[1m]))"),
            format!("quantile(0.9, rate(m{m}_total[1m]))"),
            format!("sum without (i) (increase(m{m}_total[1m]))"),
        ]
        .iter()
        .enumerate()
        {
            let _ = writeln!(s, "  - record: m{m}:r{k}\n    expr: {expr}");
        }
    }
    s
}

fn write_round(server: &Server, t: i64, round: f64) {
    let names: Vec<String> = (0..METRICS).map(|m| format!("m{m}_total")).collect();
    let is: Vec<String> = (0..SERIES_PER_METRIC).map(|i| i.to_string()).collect();
    let gs: Vec<String> = (0..10).map(|g| g.to_string()).collect();
    for chunk in names.chunks(10) {
        let mut series: Vec<Series<'_>> = Vec::new();
        for n in chunk {
            for (i, id) in is.iter().enumerate() {
                series.push((
                    vec![
                        ("__name__", n.as_str()),
                        ("job", "cost"),
                        ("i", id.as_str()),
                        ("g", gs[i % 10].as_str()),
                    ],
                    vec![Sample {
                        t,
                        v: round * (i as f64 + 1.0),
                    }],
                ));
            }
        }
        let r = write_series(server, &series);
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

#[test]
#[ignore = "measurement: over a minute; run with --ignored on a release build"]
fn thousand_recording_rules_over_ten_thousand_series_cost_under_a_quarter_core() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("rules.yml"), rules_file()).unwrap();
    let cfg = tmp.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        "global:\n  evaluation_interval: 15s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &["--scrape-config", cfg.to_str().unwrap()],
    );
    let pid = server.child.as_ref().unwrap().id();
    let mut round = 1.0;
    // Warm up: data for rate() windows, every group evaluated once.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(35) {
        write_round(&server, now_ms(), round);
        round += 1.0;
        std::thread::sleep(Duration::from_secs(5));
    }
    let window = Duration::from_secs(60);
    let (cpu0, eval0, iter0) = (
        cpu_seconds(pid),
        metric(&server, "hourglass_rule_evaluation_seconds_total"),
        metric(&server, "prometheus_rule_group_iterations_total"),
    );
    let mut write_cpu = 0.0;
    let t0 = Instant::now();
    while t0.elapsed() < window {
        let c = cpu_seconds(pid);
        write_round(&server, now_ms(), round);
        write_cpu += cpu_seconds(pid) - c;
        round += 1.0;
        std::thread::sleep(Duration::from_secs(5));
    }
    let took = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let eval = metric(&server, "hourglass_rule_evaluation_seconds_total") - eval0;
    let iters = metric(&server, "prometheus_rule_group_iterations_total") - iter0;
    let failures = metric(&server, "prometheus_rule_evaluation_failures_total");
    let missed = metric(&server, "prometheus_rule_group_iterations_missed_total");
    assert!(value_ok(&server), "recorded series present");
    eprintln!(
        "figure: 1,000 recording rules / 10,000 series / 15 s: process CPU {:.1}% of one core over {took:.0} s \
         (of which writes ~{:.1}%), evaluation wall time {:.1}% of one core, {iters} group evaluations, \
         {failures} failures, {missed} missed",
        100.0 * cpu / took,
        100.0 * write_cpu / took,
        100.0 * eval / took,
    );
    assert_eq!(failures, 0.0);
    assert!(
        iters >= 300.0,
        "every group evaluated about 4 times: {iters}"
    );
}

fn value_ok(server: &Server) -> bool {
    !common::query::query(server, "m0:r0").is_empty()
        && !common::query::query(server, "m99:r9").is_empty()
}
