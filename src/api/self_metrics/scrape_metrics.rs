//! The scraper's figures on `/metrics`: targets per pool and their health,
//! scrapes and failures per pool, and the time between scrapes per
//! interval. Prometheus's own names where it has the figure (so its
//! dashboards read them), `hourglass_*` for the rest; labels per pool or
//! interval, never per target.

use super::exposition::Exposition;
use crate::scrape::stats::{self, REASONS};
use crate::scrape::{Health, ScrapeManager};
use std::collections::BTreeMap;

/// A family of one sample per scrape pool, named and typed by `(name, kind)`.
fn per_pool<'a>(
    out: &mut Exposition,
    (name, kind): (&str, &str),
    help: &str,
    values: impl Iterator<Item = (&'a str, f64)>,
) {
    out.family(name, kind, help);
    for (pool, v) in values {
        out.sample(name, &[("scrape_job", pool)], v);
    }
}

/// Writes the scraper's families.
pub(super) fn write(out: &mut Exposition, scrape: &ScrapeManager) {
    let snap = scrape.targets();
    let pools: Vec<String> = scrape
        .config()
        .map(|c| c.jobs.iter().map(|j| j.name.clone()).collect())
        .unwrap_or_default();
    let mut health: BTreeMap<&str, [u64; 3]> = pools.iter().map(|p| (p.as_str(), [0; 3])).collect();
    for t in &snap.active {
        if let Some(h) = health.get_mut(t.scrape_pool.as_str()) {
            let i = match t.status.health {
                Health::Up => 0,
                Health::Down => 1,
                Health::Unknown => 2,
            };
            h[i] += 1;
        }
    }
    per_pool(
        out,
        ("prometheus_target_scrape_pool_targets", "gauge"),
        "Current number of targets in this scrape pool.",
        health
            .iter()
            .map(|(p, h)| (*p, h.iter().sum::<u64>() as f64)),
    );
    out.family(
        "hourglass_scrape_pool_targets",
        "gauge",
        "Targets of a scrape pool by the health of their last scrape (up, down, unknown before the first).",
    );
    for (pool, h) in &health {
        for (i, name) in ["up", "down", "unknown"].iter().enumerate() {
            out.sample(
                "hourglass_scrape_pool_targets",
                &[("scrape_job", pool), ("health", name)],
                h[i] as f64,
            );
        }
    }

    let names: Vec<&str> = pools.iter().map(String::as_str).collect();
    let counts = stats::global().pools(&names);
    per_pool(
        out,
        ("hourglass_scrapes_total", "counter"),
        "Scrapes done by the targets of a scrape pool, failed or not.",
        counts.iter().map(|(p, c)| (p.as_str(), c.scrapes as f64)),
    );
    out.family(
        "hourglass_scrape_failures_total",
        "counter",
        "Failed scrapes of a scrape pool's targets, by reason (timeout, connection, http_status, body_size_limit, sample_limit, label_limit, target_limit, content_type, parse).",
    );
    for (pool, c) in &counts {
        for (i, reason) in REASONS.iter().enumerate() {
            if c.failures[i] > 0 {
                out.sample(
                    "hourglass_scrape_failures_total",
                    &[("scrape_job", pool), ("reason", reason)],
                    c.failures[i] as f64,
                );
            }
        }
    }
    let total = |reason: &str| -> f64 {
        let i = REASONS.iter().position(|r| *r == reason).unwrap_or(0);
        counts.values().map(|c| c.failures[i]).sum::<u64>() as f64
    };
    out.single(
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "counter",
        "Total number of scrapes that hit the sample limit and were rejected.",
        total("sample_limit"),
    );
    out.single(
        "prometheus_target_scrapes_exceeded_body_size_limit_total",
        "counter",
        "Total number of scrapes that hit the body size limit.",
        total("body_size_limit"),
    );
    out.single(
        "prometheus_target_scrape_pool_exceeded_label_limits_total",
        "counter",
        "Total number of times scrape pools hit the label limits.",
        total("label_limit"),
    );

    out.family(
        "prometheus_target_interval_length_seconds",
        "summary",
        "Actual intervals between scrapes (quantiles over each interval's last 1024).",
    );
    for (interval, l) in stats::global().intervals() {
        for (q, v) in l.quantiles() {
            let q = q.to_string();
            out.sample(
                "prometheus_target_interval_length_seconds",
                &[("interval", &interval), ("quantile", &q)],
                v,
            );
        }
        out.sample(
            "prometheus_target_interval_length_seconds_sum",
            &[("interval", &interval)],
            l.sum,
        );
        out.sample(
            "prometheus_target_interval_length_seconds_count",
            &[("interval", &interval)],
            l.count as f64,
        );
    }

    let (last_ok, last_success) = scrape.last_load();
    out.single(
        "prometheus_config_last_reload_successful",
        "gauge",
        "Whether the last load of the scrape configuration file succeeded (1 without a file).",
        if last_ok { 1.0 } else { 0.0 },
    );
    if let Some(t) = last_success.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
        out.single(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When the scrape configuration file was last loaded successfully.",
            t.as_secs_f64(),
        );
    }
    let (ok, failed) = scrape.reload_counts();
    out.family(
        "hourglass_scrape_config_reloads_total",
        "counter",
        "Reloads of the scrape configuration file (SIGHUP, /-/reload), by result.",
    );
    out.sample(
        "hourglass_scrape_config_reloads_total",
        &[("result", "success")],
        ok as f64,
    );
    out.sample(
        "hourglass_scrape_config_reloads_total",
        &[("result", "failure")],
        failed as f64,
    );
}
