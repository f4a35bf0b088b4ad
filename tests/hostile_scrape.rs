//! Hostile scrape targets (loopback only, bounded in time): each one fails
//! its own scrape with a reason, never stalls or crashes the scraper, and
//! never touches another target's data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::gzip;
use hourglass::scrape::config::ScrapeConfig;
use hourglass::scrape::{Health, ScrapeManager};
use hourglass_storage::{MatchOp, Matcher, Querier, STALE_NAN_BITS, Storage};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
enum Behaviour {
    /// Headers and this body, then close.
    Whole(Vec<u8>, &'static str),
    /// Headers announcing a long body, one byte every 50 ms forever.
    Trickle,
    /// Half a response, then close.
    Cut,
}

/// A raw HTTP/1.1 target on a std thread per connection.
fn raw_target(b: Behaviour) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let b = b.clone();
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                match b {
                    Behaviour::Whole(body, extra) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(&body);
                    }
                    Behaviour::Trickle => {
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n",
                        );
                        for _ in 0..200 {
                            if s.write_all(b"#").is_err() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    Behaviour::Cut => {
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nm 1\n",
                        );
                    }
                }
            });
        }
    });
    addr
}

fn last_values(storage: &Storage, pairs: &[(&str, &str)]) -> Vec<f64> {
    let matchers: Vec<Matcher> = pairs
        .iter()
        .map(|(k, v)| Matcher::new(MatchOp::Equal, *k, *v).unwrap())
        .collect();
    storage
        .querier(0, i64::MAX)
        .select(&matchers, 0, i64::MAX)
        .unwrap()
        .filter_map(|s| s.samples.last().map(|x| x.v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_fail_alone_with_reasons_and_cannot_forge_stale_markers() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
    let mut lines = String::new();
    for i in 0..3000 {
        lines.push_str(&format!("series_{i} {i}\n"));
    }
    let targets = [
        (
            "good",
            Behaviour::Whole(b"good_metric 1\n".to_vec(), ""),
            "",
        ),
        ("nan", Behaviour::Whole(b"forged NaN\n".to_vec(), ""), ""),
        (
            "utf8",
            Behaviour::Whole(b"bad{l=\"\xff\xfe\"} 1\n".to_vec(), ""),
            "",
        ),
        (
            "bomb",
            Behaviour::Whole(gzip(&vec![b'#'; 64 << 20]), "Content-Encoding: gzip\r\n"),
            "    body_size_limit: 1MB\n",
        ),
        (
            "badgzip",
            Behaviour::Whole(b"not gzip at all".to_vec(), "Content-Encoding: gzip\r\n"),
            "",
        ),
        ("trickle", Behaviour::Trickle, "    scrape_timeout: 300ms\n"),
        ("cut", Behaviour::Cut, ""),
        (
            "labels",
            Behaviour::Whole(b"m{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n".to_vec(), ""),
            "    label_limit: 4\n",
        ),
        (
            "dupes",
            Behaviour::Whole(b"d 1\nd 2\nd{x=\"\"} 3\n".to_vec(), ""),
            "",
        ),
        (
            "future",
            Behaviour::Whole(b"f 1 99999999999999\nnow_metric 1\n".to_vec(), ""),
            "",
        ),
        ("wide", Behaviour::Whole(lines.into_bytes(), ""), ""),
    ];
    let mut yaml = String::from("scrape_configs:\n");
    for (name, b, extra) in &targets {
        let addr = raw_target(b.clone());
        yaml.push_str(&format!(
            "  - job_name: {name}\n    scrape_interval: 500ms\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    let m = ScrapeManager::new(Arc::clone(&storage));
    m.apply(ScrapeConfig::parse(&yaml).unwrap());
    let started = Instant::now();
    loop {
        let a = m.targets().active;
        if a.len() == targets.len() && a.iter().all(|t| t.status.scrapes >= 2) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{a:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snap = m.targets();
    let status = |pool: &str| {
        let t = snap.active.iter().find(|t| t.scrape_pool == pool).unwrap();
        (
            t.status.health,
            t.status.last_error.clone(),
            t.status.last_scrape_duration,
        )
    };
    for (pool, word) in [
        ("utf8", "UTF-8"),
        ("bomb", "body size limit exceeded"),
        ("badgzip", "gzip"),
        ("trickle", "context deadline exceeded"),
        ("cut", "Get "),
        ("labels", "label_limit exceeded"),
    ] {
        let (health, err, took) = status(pool);
        assert_eq!(health, Health::Down, "{pool}: {err}");
        assert!(
            err.to_lowercase().contains(&word.to_lowercase()),
            "{pool}: {err}"
        );
        assert!(took < Duration::from_secs(2), "{pool} took {took:?}");
        assert_eq!(
            last_values(&storage, &[("__name__", "up"), ("job", pool)]),
            [0.0]
        );
    }
    for pool in ["good", "nan", "dupes", "future", "wide"] {
        let (health, err, _) = status(pool);
        assert_eq!(health, Health::Up, "{pool}: {err}");
    }
    // A NaN from a target is stored, but never with the stale-marker bits.
    let forged = last_values(&storage, &[("__name__", "forged")]);
    assert!(forged[0].is_nan() && forged[0].to_bits() != STALE_NAN_BITS);
    // A sample far in the future is refused alone; the rest of its scrape lands.
    assert!(last_values(&storage, &[("__name__", "f")]).is_empty());
    assert_eq!(last_values(&storage, &[("__name__", "now_metric")]), [1.0]);
    assert_eq!(
        last_values(&storage, &[("__name__", "series_2999")]),
        [2999.0]
    );
    assert_eq!(last_values(&storage, &[("__name__", "good_metric")]), [1.0]);
    m.shutdown().await;
}
