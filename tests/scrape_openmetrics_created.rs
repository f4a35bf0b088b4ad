//! OpenMetrics `_created` lines on a real scrape, as Prometheus 3 reads
//! them: with `--created-timestamp-zero-ingestion` they are no series but
//! the created timestamps of their counters, summaries and histograms (a
//! zero sample there, as protobuf scrapes get); without the flag they stay
//! ordinary series.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{query, query_at, value};
use common::target::serve_bytes;
use common::*;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A client library's OpenMetrics page: `_created` after each metric's
/// samples, in seconds.
fn page(created_ms: i64) -> Vec<u8> {
    let s = created_ms as f64 / 1000.0;
    format!(
        "# TYPE jobs counter\n\
         jobs_total{{kind=\"a\"}} 7\n\
         jobs_created{{kind=\"a\"}} {s}\n\
         jobs_total{{kind=\"b\"}} 2\n\
         jobs_created{{kind=\"b\"}} {s}\n\
         # TYPE lat_seconds histogram\n\
         lat_seconds_bucket{{le=\"0.5\"}} 1\n\
         lat_seconds_bucket{{le=\"+Inf\"}} 3\n\
         lat_seconds_count 3\n\
         lat_seconds_sum 1.5\n\
         lat_seconds_created {s}\n\
         # TYPE rpc_seconds summary\n\
         rpc_seconds{{quantile=\"0.5\"}} 0.25\n\
         rpc_seconds_sum 2\n\
         rpc_seconds_count 4\n\
         rpc_seconds_created {s}\n\
         # TYPE temp gauge\n\
         temp 21.5\n\
         # EOF\n"
    )
    .into_bytes()
}

fn job(addr: std::net::SocketAddr) -> String {
    format!(
        "scrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{addr}']\n"
    )
}

#[test]
fn openmetrics_created_lines_become_start_zeros_only_with_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let created = now_ms() - 30_000;
    let (served, addr) = serve_bytes(OPENMETRICS, page(created));
    for d in ["with", "without"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let (_c1, with) = start_scraping_with(
        &tmp.path().join("with"),
        &job(addr),
        &["--created-timestamp-zero-ingestion"],
    );
    let (_c2, without) = start_scraping(&tmp.path().join("without"), &job(addr));
    for s in [&with, &without] {
        wait_for("scraped", || {
            value(s, "jobs_total{kind=\"a\"}") == Some(7.0) && value(s, "temp") == Some(21.5)
        });
    }
    let at = Some((created + 1) as f64 / 1000.0);
    // With the flag: a zero at the created timestamp of every series of a
    // counter, histogram and summary, and no `_created` series.
    for q in [
        "jobs_total",
        "lat_seconds_bucket",
        "lat_seconds_count",
        "lat_seconds_sum",
        "rpc_seconds",
        "rpc_seconds_sum",
        "rpc_seconds_count",
    ] {
        let got = query_at(&with, q, at);
        assert!(!got.is_empty(), "{q}");
        assert!(got.iter().all(|(_, v)| *v == 0.0), "{q}: {got:?}");
    }
    assert_eq!(query_at(&with, "jobs_total", at).len(), 2);
    assert!(query(&with, "{__name__=~\".+_created\"}").is_empty());
    // `_created` lines are not scraped samples: 2 + 4 + 3 + 1.
    assert_eq!(
        value(&with, "scrape_samples_scraped{job=\"app\"}"),
        Some(10.0)
    );
    // A gauge has no created timestamp.
    assert!(query_at(&with, "temp", at).is_empty());
    // Without it, Prometheus's default: `_created` lines are series of
    // their own, in seconds, and nothing is added at the created time.
    assert_eq!(
        value(&without, "jobs_created{kind=\"b\"}"),
        Some(created as f64 / 1000.0)
    );
    assert_eq!(
        value(&without, "lat_seconds_created"),
        Some(created as f64 / 1000.0)
    );
    assert_eq!(
        value(&without, "scrape_samples_scraped{job=\"app\"}"),
        Some(14.0)
    );
    assert!(query_at(&without, "jobs_total", at).is_empty());
    // A counter reset: a newer created timestamp puts a new zero there.
    let last = value(&with, "timestamp(jobs_total{kind=\"a\"})").unwrap();
    let reset = (last * 1000.0) as i64 + 1_500;
    served.lock().unwrap().body = page(reset);
    wait_for("a scrape after the reset", || {
        value(&with, "timestamp(jobs_total{kind=\"a\"})").unwrap_or(0.0) * 1000.0
            > reset as f64 + 100.0
    });
    let got = query_at(&with, "jobs_total", Some((reset + 1) as f64 / 1000.0));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(_, v)| *v == 0.0), "{got:?}");
}
