//! Hostile pushes and imports against a real server on loopback: decode
//! amplification in custom metrics, oversized and malformed Pushgateway
//! pushes, pushes racing refused pushes to one group, odd grouping paths,
//! and hostile import files. Each case is bounded in size and time; the
//! server must answer every request with a clear 4xx, keep `/-/ready`
//! answering, and lose nothing it acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::import;
use common::custom::{assert_reason, post_custom};
use common::query::*;
use common::*;
use std::time::{Duration, Instant};

const TEXT: (&str, &str) = ("Content-Type", "text/plain; version=0.0.4");

/// The server's peak resident memory so far, in MiB (Linux).
fn peak_rss_mib(server: &Server) -> Option<u64> {
    let pid = server.child.as_ref()?.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// Runs `attack` while polling `/-/ready`; the slowest readiness answer.
fn while_ready(server: &Server, attack: impl FnOnce() + Send) -> Duration {
    let addr = server.addr;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut worst = Duration::ZERO;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let t = Instant::now();
                let r = request(addr, "GET", "/-/ready", &[], b"");
                assert_eq!(r.status, 200, "ready: {}", r.text());
                worst = worst.max(t.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            worst
        });
        attack();
        done.store(true, std::sync::atomic::Ordering::Release);
        poller.join().unwrap()
    })
}

/// The issue's body: ~31 KB of gzip inflating to a 16M-item JSON list. It
/// is refused while decoding, once past the item limit, with a small
/// answer; memory stays bounded and readiness keeps answering.
#[test]
fn gzip_custom_metrics_list_of_16m_items_is_refused_while_decoding() {
    let (_tmp, server) = Server::fresh();
    let mut list = Vec::with_capacity(32_000_002);
    list.push(b'[');
    for _ in 0..16_000_000 {
        list.extend_from_slice(b"0,");
    }
    list.pop();
    list.push(b']');
    let body = gzip(&list);
    drop(list);
    assert!(body.len() < 64 << 10, "{} bytes", body.len());
    let baseline = peak_rss_mib(&server);
    let started = Instant::now();
    let mut answer = None;
    let worst_ready = while_ready(&server, || {
        answer = Some(request(
            server.addr,
            "POST",
            "/api/v1/metrics/custom",
            &[JSON, ("Content-Encoding", "gzip")],
            &body,
        ));
    });
    let elapsed = started.elapsed();
    let r = answer.unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.body.len() < 1024, "{} bytes of answer", r.body.len());
    let j = r.json();
    assert_eq!(j["status"], "error");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("more than 1000000 metrics"),
        "{j}"
    );
    let peak = peak_rss_mib(&server);
    eprintln!(
        "16M-item gzip list: {} ms, answer {} bytes, peak RSS {peak:?} MiB (before {baseline:?}), slowest /-/ready {} ms",
        elapsed.as_millis(),
        r.body.len(),
        worst_ready.as_millis()
    );
    if let Some(peak) = peak {
        // The 32 MB decompressed body plus bounded decoding state.
        assert!(peak < 400, "peak RSS {peak} MiB");
    }
    assert!(worst_ready < Duration::from_secs(2), "{worst_ready:?}");
}

/// Many bad items under the limit: every one is counted, only the first
/// 100 are listed, and the answer stays small.
#[test]
fn custom_metrics_errors_are_bounded_to_the_first_hundred_plus_a_count() {
    let (_tmp, server) = Server::fresh();
    let n = 200_000;
    let mut list = String::from("[");
    list.push_str(r#"{"name":"good","metric_type":"GAUGE","value":1},"#);
    for _ in 0..n {
        list.push_str(r#"{"name":"bad","metric_type":"GAUGE"},"#);
    }
    list.pop();
    list.push(']');
    let r = post_custom(&server, list.as_bytes());
    assert_eq!(r.status, 207, "{}", r.text());
    assert!(r.body.len() < 16 << 10, "{} bytes", r.body.len());
    let j = r.json();
    assert_eq!(j["accepted"], 1);
    assert_eq!(j["rejected"], n);
    let errors = j["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[99]["index"], 100);
    assert_eq!(errors[0]["field"], "value");
    assert_eq!(j["errors_omitted"], n - 100);
    assert_eq!(value(&server, "good"), Some(1.0));
}

/// One item with a huge nested value is refused on its own, read through
/// without being built; the other items land.
#[test]
fn custom_metrics_item_with_a_huge_nested_value_is_refused_alone() {
    let (_tmp, server) = Server::fresh();
    let huge = format!("[{}0]", "0,".repeat(2_000_000));
    let body = format!(
        r#"[{{"name":"a","metric_type":"GAUGE","value":1}},{{"name":"h","metric_type":"GAUGE","value":1,"labels":{huge}}},{{"name":"b","metric_type":"GAUGE","value":2}}]"#
    );
    let r = server.post(
        "/api/v1/metrics/custom",
        &[JSON, ("Content-Encoding", "gzip")],
        &gzip(body.as_bytes()),
    );
    assert_eq!(r.status, 207, "{}", r.text());
    let j = r.json();
    assert_eq!(
        (j["accepted"].as_u64(), j["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(j["errors"][0]["index"], 1);
    assert_reason(&j, 0, "more than 100000 JSON values");
    assert_eq!(value(&server, "b"), Some(2.0));
    if let Some(peak) = peak_rss_mib(&server) {
        eprintln!("2M-value item: peak RSS {peak} MiB");
        assert!(peak < 300, "peak RSS {peak} MiB");
    }
}

/// A push with more series than a write request may have is refused while
/// parsing, naming the line; nothing of it is stored.
#[test]
fn pushgateway_push_over_the_series_limit_is_refused_while_parsing() {
    let (_tmp, server) = start_with_config("[limits]\nmax_series_per_request = 1000\n", &[]);
    let body: String = (0..100_000)
        .map(|i| format!("m{{i=\"{i}\"}} 1\n"))
        .collect();
    let r = server.request(
        "PUT",
        "/metrics/job/big",
        &[TEXT, ("Content-Encoding", "gzip")],
        &gzip(body.as_bytes()),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("line 1001: push has more than 1000 series"),
        "{}",
        r.text()
    );
    assert_eq!(query(&server, "count(m)"), vec![]);
}

/// Malformed pushes (each a different expfmt refusal) race valid pushes to
/// the same group from 8 threads: every malformed one gets 400, every
/// valid one 200, and afterwards the group holds exactly the last valid
/// push's series.
#[test]
fn refused_pushes_racing_valid_ones_never_corrupt_the_group() {
    let (_tmp, server) = Server::fresh();
    let bad = [
        "x 1\n# TYPE x gauge\n",
        "# HELP x a\n# HELP x b\n",
        "x{a=\"\\q\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
        "x 1 1700000000000\n",
        "x{a=\"1\" 1\n",
        "x 1\nx 2\n",
    ];
    let addr = server.addr;
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..30 {
                    if (t + i) % 2 == 0 {
                        let body = bad[(t * 7 + i) % bad.len()];
                        let r = request(addr, "PUT", "/metrics/job/race", &[TEXT], body.as_bytes());
                        assert_eq!(r.status, 400, "{body:?}: {}", r.text());
                    } else {
                        let body = format!("series_{t}_{i} 1\n");
                        let r = request(addr, "PUT", "/metrics/job/race", &[TEXT], body.as_bytes());
                        assert_eq!(r.status, 200, "{}", r.text());
                    }
                }
            });
        }
    });
    let r = request(addr, "PUT", "/metrics/job/race", &[TEXT], b"last 1\n");
    assert_eq!(r.status, 200, "{}", r.text());
    // Pushes to one group within one millisecond take the next one, so the
    // last push's stale markers may sit a few ms past the wall clock.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let live = query(&server, "{job=\"race\", __name__!=\"push_time_seconds\"}");
    let names: Vec<&str> = live.iter().map(|(l, _)| l["__name__"].as_str()).collect();
    assert_eq!(names, vec!["last"]);
}

/// Odd grouping paths get a 4xx (or, when valid, 200), never a 5xx, and
/// the server stays ready.
#[test]
fn odd_grouping_paths_get_clear_refusals() {
    let (_tmp, server) = Server::fresh();
    let long = "a".repeat(8000);
    let paths = [
        "/metrics/job@base64/".to_string(),
        "/metrics/job@base64/%%%".to_string(),
        "/metrics/job/j/x@base64/A".to_string(),
        "/metrics/job/j/x/%+1".to_string(),
        "/metrics/job/j/x/%ff%fe".to_string(),
        "/metrics/job/j/__name__/x".to_string(),
        "/metrics/job/j/job/k".to_string(),
        "/metrics/job/j//".to_string(),
        format!("/metrics/job/{long}"),
        format!("/metrics/job/j/{long}/v"),
        "/metrics/job/j/a/1/b/2/c/3/d/4/e/5/f/6/g/7/h/8".to_string(),
    ];
    for path in &paths {
        for method in ["PUT", "POST", "DELETE"] {
            let r = server.request(method, path, &[TEXT], b"m 1\n");
            assert!(
                r.status == 200 || r.status == 202 || (400..500).contains(&r.status),
                "{method} {path}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    assert_eq!(server.get("/-/ready").status, 200);
}

/// A hostile import file (bad lines, invalid UTF-8, huge names) stores
/// every good line, names the bad ones and reports the refused series.
#[test]
fn hostile_import_file_keeps_every_good_line() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    let t = 1_677_628_800_000i64;
    let mut bytes = Vec::new();
    let mut good = 0;
    for i in 0..2000 {
        match i % 5 {
            0 => bytes.extend_from_slice(b"m{a=\"\xff\"} 1 1\n"),
            1 => bytes.extend_from_slice(format!("m{{i=\"{i}\" 1 {t}\n").as_bytes()),
            2 => {
                bytes.extend_from_slice(format!("{} 1 {}\n", "x".repeat(100_000), t + i).as_bytes())
            }
            _ => {
                good += 1;
                bytes.extend_from_slice(format!("m{{i=\"{i}\"}} {i} {}\n", t + i).as_bytes());
            }
        }
    }
    std::fs::write(&input, bytes).unwrap();
    let (ok, _, err) = import(&tmp.path().join("d"), &input, &["--format", "text"]);
    assert!(!ok);
    // The 100,000-character names parse, and storage refuses them.
    assert_mentions(
        &err,
        &[
            &format!("{good} samples stored, 400 refused"),
            "refused series: ",
            "800 unreadable lines",
            "line 1: invalid UTF-8",
        ],
    );
    assert!(err.lines().count() < 40, "{err}");
}

/// Series count too, not just items: histograms whose buckets add up past
/// the per-request limit are refused while decoding, nothing stored.
#[test]
fn custom_metrics_over_the_series_limit_is_refused_while_decoding() {
    let (_tmp, server) = start_with_config("[limits]\nmax_series_per_request = 1000\n", &[]);
    let buckets: Vec<String> = (0..600).map(|i| format!("\"{i}\":{i}")).collect();
    let item = format!(
        r#"{{"name":"h","metric_type":"HISTOGRAM","buckets":{{{}}},"sum":1,"count":600}}"#,
        buckets.join(",")
    );
    let body = format!("[{item},{item}]");
    let r = post_custom(&server, body.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("more than 1000 series"), "{}", r.text());
    assert_eq!(query(&server, "count(h_bucket)"), vec![]);
    // One of them is within the limit.
    let r = server.post(
        "/api/v1/metrics/custom",
        &[JSON],
        format!("[{item}]").as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}
