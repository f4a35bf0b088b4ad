//! `convert_classic_histograms_to_nhcb` on real scrapes: classic `le`
//! histograms from text, OpenMetrics and protobuf bodies stored as native
//! histograms with custom buckets (schema -53), beside their classic series
//! only with `always_scrape_classic_histograms`, converted as Prometheus's
//! `convertnhcb` converts them; `histogram_quantile` answers the same on
//! the converted histogram and on the classic buckets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::families::{body, buckets, classic, histogram};
use common::protobuf_target::PROTOBUF;
use common::query::{query, value};
use common::target::{TEXT, serve_bytes};
use common::*;
use hourglass::ingest::metric_family::{Family, FamilyType, HistogramMsg};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Two complete histograms (one without its `+Inf` bucket, converted with
/// one holding the count), one whose buckets are not cumulative (no
/// histogram, as in Prometheus), a gauge histogram and a gauge; counts
/// times `k`, plus a base so no rate is clamped at zero.
fn text_page(k: u64) -> String {
    let c = |n: u64| 1_000 * n + k * n;
    format!(
        "# HELP req_seconds Request latency.\n\
         # TYPE req_seconds histogram\n\
         req_seconds_bucket{{path=\"/a\",le=\"0.1\"}} {}\n\
         req_seconds_bucket{{path=\"/a\",le=\"0.5\"}} {}\n\
         req_seconds_bucket{{path=\"/a\",le=\"1\"}} {}\n\
         req_seconds_bucket{{path=\"/a\",le=\"+Inf\"}} {}\n\
         req_seconds_sum{{path=\"/a\"}} 20\n\
         req_seconds_count{{path=\"/a\"}} {}\n\
         req_seconds_bucket{{le=\"0.1\",path=\"/b\"}} {}\n\
         req_seconds_bucket{{le=\"0.5\",path=\"/b\"}} {}\n\
         req_seconds_count{{path=\"/b\"}} {}\n\
         req_seconds_sum{{path=\"/b\"}} 3\n\
         # TYPE broken histogram\n\
         broken_bucket{{le=\"1\"}} 5\n\
         broken_bucket{{le=\"2\"}} 3\n\
         broken_count 5\n\
         # TYPE temp gauge\n\
         temp 3\n",
        c(10),
        c(30),
        c(45),
        c(50),
        c(50),
        c(1),
        c(2),
        c(4),
    )
}

fn job(name: &str, addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 1s\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
    )
}

fn scraped(server: &Server, job: &str) -> Option<f64> {
    value(server, &format!("scrape_samples_scraped{{job=\"{job}\"}}"))
}

#[track_caller]
fn close(a: Option<f64>, b: Option<f64>, what: &str) {
    let (Some(a), Some(b)) = (a, b) else {
        panic!("{what}: {a:?} vs {b:?}")
    };
    assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}");
}

#[test]
fn classic_text_histograms_become_custom_bucket_histograms_that_answer_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let (target, addr) = serve_bytes(TEXT, text_page(0).into_bytes());
    // The global default converts; a job can switch it off or keep the
    // classic series beside.
    let config = format!(
        "global:\n  convert_classic_histograms_to_nhcb: true\nscrape_configs:\n{}{}{}",
        job("nhcb", addr, ""),
        job("both", addr, "    always_scrape_classic_histograms: true\n"),
        job(
            "classic",
            addr,
            "    convert_classic_histograms_to_nhcb: false\n"
        ),
    );
    let (_cfg, server) = start_scraping(tmp.path(), &config);
    for j in ["nhcb", "both", "classic"] {
        wait_for(j, || scraped(&server, j).is_some());
    }
    // Only the histograms, the gauge; the broken family is lost, as in
    // Prometheus.
    assert_eq!(scraped(&server, "nhcb"), Some(3.0));
    assert_eq!(scraped(&server, "classic"), Some(14.0));
    assert_eq!(scraped(&server, "both"), Some(16.0));
    for (q, want) in [
        (
            "histogram_count(req_seconds{job=\"nhcb\",path=\"/a\"})",
            50_000.0,
        ),
        ("histogram_sum(req_seconds{job=\"nhcb\",path=\"/a\"})", 20.0),
        (
            "histogram_count(req_seconds{job=\"nhcb\",path=\"/b\"})",
            4_000.0,
        ),
        ("count(req_seconds_bucket{job=\"nhcb\"})", f64::NAN),
        ("count(broken{job=\"nhcb\"})", f64::NAN),
        ("count(broken_bucket{job=\"nhcb\"})", f64::NAN),
        ("count(broken_bucket{job=\"both\"})", 2.0),
        ("count(req_seconds{job=\"classic\"})", f64::NAN),
        ("temp{job=\"nhcb\"}", 3.0),
    ] {
        let got = value(&server, q);
        if want.is_nan() {
            assert_eq!(got, None, "{q}");
        } else {
            assert_eq!(got, Some(want), "{q}");
        }
    }
    // 30 of 50 observations up to 0.5.
    close(
        value(
            &server,
            "histogram_fraction(0, 0.5, req_seconds{job=\"nhcb\",path=\"/a\"})",
        ),
        Some(0.6),
        "fraction",
    );
    // Custom buckets: the classic bounds, as Prometheus returns them.
    let r = server
        .get(&format!(
            "/api/v1/query?query={}",
            common::query::enc("req_seconds{job=\"nhcb\",path=\"/a\"}")
        ))
        .json();
    let buckets = &r["data"]["result"][0]["histogram"][1]["buckets"];
    assert_eq!(buckets[0][2], "0.1", "{r}");
    assert_eq!(buckets[3][2], "+Inf", "{r}");
    // histogram_quantile agrees between the converted histogram and the
    // classic buckets: the same job, and the job that keeps them classic.
    for q in ["0.1", "0.5", "0.9", "0.99"] {
        for path in ["/a"] {
            let native = value(
                &server,
                &format!("histogram_quantile({q}, req_seconds{{job=\"both\",path=\"{path}\"}})"),
            );
            for j in ["both", "classic"] {
                let classic = value(
                    &server,
                    &format!(
                        "histogram_quantile({q}, req_seconds_bucket{{job=\"{j}\",path=\"{path}\"}})"
                    ),
                );
                close(native, classic, &format!("q={q} {path} {j}"));
            }
        }
    }
    // Without a `+Inf` bucket the classic series have no quantile; the
    // converted histogram got one holding the count: 2,000 of 4,000
    // observations up to 0.5.
    let classic_b = value(
        &server,
        "histogram_quantile(0.5, req_seconds_bucket{job=\"both\",path=\"/b\"})",
    );
    assert!(classic_b.is_some_and(f64::is_nan), "{classic_b:?}");
    close(
        value(
            &server,
            "histogram_quantile(0.5, req_seconds{job=\"both\",path=\"/b\"})",
        ),
        Some(0.5),
        "/b",
    );
    // Over rates too, once the counts grew.
    let t0 = value(&server, "timestamp(temp{job=\"both\"})").unwrap();
    target.lock().unwrap().body = text_page(7).into_bytes();
    wait_for("grown", || {
        value(
            &server,
            "histogram_count(req_seconds{job=\"both\",path=\"/a\"})",
        ) == Some(50_350.0)
    });
    wait_for("two scrapes after", || {
        value(&server, "timestamp(temp{job=\"both\"})").unwrap_or(0.0) > t0 + 2.5
    });
    for q in ["0.5", "0.9"] {
        let native = value(
            &server,
            &format!(
                "histogram_quantile({q}, sum(rate(req_seconds{{job=\"both\",path=\"/a\"}}[1m])))"
            ),
        );
        let classic = value(
            &server,
            &format!(
                "histogram_quantile({q}, sum by (le) (rate(req_seconds_bucket{{job=\"both\",path=\"/a\"}}[1m])))"
            ),
        );
        close(native, classic, &format!("rate q={q}"));
    }
}

#[test]
fn openmetrics_and_protobuf_classic_histograms_convert_too() {
    let tmp = tempfile::tempdir().unwrap();
    let om = format!(
        "{}# EOF\n",
        text_page(0).replace("# TYPE temp gauge\ntemp 3\n", "")
    );
    let (_om, om_addr) = serve_bytes(OPENMETRICS, om.into_bytes());
    let size = HistogramMsg {
        created_ms: Some(now_ms() - 60_000),
        ..classic(5, 100.0, buckets(&[(10.0, 1), (100.0, 4)]))
    };
    let classic = histogram(
        "size_bytes",
        FamilyType::Histogram,
        vec![("disk", "d")],
        size,
    );
    let gauge_histogram = Family {
        name: "depth",
        kind: FamilyType::GaugeHistogram,
        ..classic.clone()
    };
    let (_pb, pb_addr) = serve_bytes(PROTOBUF, body(&[classic, gauge_histogram]));
    let convert = "    convert_classic_histograms_to_nhcb: true\n";
    let config = format!(
        "scrape_configs:\n{}{}",
        job("om", om_addr, convert),
        job(
            "pb",
            pb_addr,
            &format!("{convert}    scrape_protocols: [PrometheusProto]\n")
        ),
    );
    let (_cfg, server) = start_scraping(tmp.path(), &config);
    for j in ["om", "pb"] {
        wait_for(j, || scraped(&server, j).is_some());
    }
    assert_eq!(
        value(
            &server,
            "histogram_count(req_seconds{job=\"om\",path=\"/a\"})"
        ),
        Some(50_000.0)
    );
    assert!(query(&server, "req_seconds_bucket{job=\"om\"}").is_empty());
    assert_eq!(
        value(
            &server,
            "histogram_count(size_bytes{job=\"pb\",disk=\"d\"})"
        ),
        Some(5.0)
    );
    // 4 of 5 up to 100; the fifth in +Inf, added with the count.
    close(
        value(
            &server,
            "histogram_fraction(0, 100, size_bytes{job=\"pb\"})",
        ),
        Some(0.8),
        "fraction",
    );
    assert!(query(&server, "size_bytes_bucket{job=\"pb\"}").is_empty());
    // A gauge histogram is not converted.
    assert_eq!(
        value(&server, "depth_bucket{job=\"pb\",le=\"+Inf\"}"),
        Some(5.0)
    );
    assert!(query(&server, "histogram_count(depth)").is_empty());
    // The label the classic series had, and none they did not.
    let got = query(&server, "histogram_count(size_bytes)");
    assert_eq!(got[0].0.get("disk").map(String::as_str), Some("d"));
    assert!(!got[0].0.contains_key("le"));
}
