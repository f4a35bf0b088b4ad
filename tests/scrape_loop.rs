//! The scrape loop against targets served by the test on 127.0.0.1:
//! labels, report series, staleness, limits, negotiation, schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hourglass::scrape::config::ScrapeConfig;
use hourglass::scrape::{Health, ScrapeManager};
use hourglass_storage::{MatchOp, Matcher, Querier, Sample, Storage, is_stale_nan};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Page {
    status: u16,
    content_type: String,
    body: String,
    delay_ms: u64,
}

#[derive(Clone, Default)]
struct Targets {
    pages: Arc<Mutex<HashMap<String, Page>>>,
    accept: Arc<Mutex<Vec<String>>>,
}

impl Targets {
    fn set(&self, name: &str, body: &str) {
        self.set_page(
            name,
            Page {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
                body: body.into(),
                delay_ms: 0,
            },
        );
    }
    fn set_page(&self, name: &str, page: Page) {
        self.pages.lock().unwrap().insert(name.into(), page);
    }
}

async fn serve_page(
    State(t): State<Targets>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    t.accept.lock().unwrap().push(accept);
    let page = t.pages.lock().unwrap().get(&name).cloned();
    let Some(page) = page else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if page.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(page.delay_ms)).await;
    }
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let status = StatusCode::from_u16(page.status).unwrap();
    if gzip {
        let bytes = common::write::gzip(page.body.as_bytes());
        (
            status,
            [
                (header::CONTENT_TYPE, page.content_type),
                (header::CONTENT_ENCODING, "gzip".to_string()),
            ],
            bytes,
        )
            .into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, page.content_type)],
            page.body,
        )
            .into_response()
    }
}

async fn start_targets() -> (Targets, SocketAddr) {
    let t = Targets::default();
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(serve_page))
        .with_state(t.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (t, addr)
}

/// A store on a fresh directory and the targets it will scrape.
async fn start() -> (tempfile::TempDir, Arc<Storage>, Targets, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_storage(dir.path());
    let (t, addr) = start_targets().await;
    (dir, storage, t, addr)
}

fn open_storage(dir: &std::path::Path) -> Arc<Storage> {
    Arc::new(Storage::open(dir, Default::default()).unwrap())
}

/// A stored series: its label pairs and samples.
type StoredSeries = (Vec<(String, String)>, Vec<Sample>);

fn select(storage: &Storage, pairs: &[(&str, &str)]) -> Vec<StoredSeries> {
    let matchers: Vec<Matcher> = pairs
        .iter()
        .map(|(k, v)| Matcher::new(MatchOp::Equal, *k, *v).unwrap())
        .collect();
    let q = storage.querier(0, i64::MAX);
    q.select(&matchers, 0, i64::MAX)
        .unwrap()
        .map(|s| {
            (
                s.labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                s.samples.collect(),
            )
        })
        .collect()
}

fn job(addr: SocketAddr, name: &str, path: &str, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 100ms\n    metrics_path: /{path}\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
    )
}

fn manager(storage: &Arc<Storage>, jobs: &str) -> ScrapeManager {
    let m = ScrapeManager::new(Arc::clone(storage));
    m.apply(ScrapeConfig::parse(&format!("scrape_configs:\n{jobs}")).unwrap());
    m
}

/// Waits until all `targets` active targets have been scraped `times`.
async fn scraped(m: &ScrapeManager, what: &str, targets: usize, times: u64) {
    wait_for(what, || {
        let a = m.targets().active;
        a.len() == targets && a.iter().all(|t| t.status.scrapes >= times)
    })
    .await;
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn scrapes(m: &ScrapeManager, pool: &str) -> u64 {
    m.targets()
        .active
        .iter()
        .find(|t| t.scrape_pool == pool)
        .map_or(0, |t| t.status.scrapes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_series_carry_target_labels_report_series_and_go_stale_when_gone() {
    let (_dir, storage, t, addr) = start().await;
    t.set(
        "a",
        "# HELP foo_total A counter.\n# TYPE foo_total counter\nfoo_total{a=\"1\"} 3\nbar{job=\"x\"} 1\n",
    );
    let m = manager(&storage, &job(addr, "app", "a", ""));
    wait_for("2 scrapes", || scrapes(&m, "app") >= 2).await;
    let instance = addr.to_string();
    let foo = select(&storage, &[("__name__", "foo_total")]);
    assert_eq!(foo.len(), 1);
    assert_eq!(
        foo[0].0,
        vec![
            ("__name__".to_string(), "foo_total".to_string()),
            ("a".into(), "1".into()),
            ("instance".into(), instance.clone()),
            ("job".into(), "app".into()),
        ]
    );
    assert_eq!(foo[0].1[0].v, 3.0);
    let bar = select(&storage, &[("__name__", "bar")]);
    assert_eq!(bar[0].0[1], ("exported_job".to_string(), "x".to_string()));
    for (name, want) in [
        ("up", 1.0),
        ("scrape_samples_scraped", 2.0),
        ("scrape_samples_post_metric_relabeling", 2.0),
    ] {
        let s = select(&storage, &[("__name__", name), ("job", "app")]);
        assert_eq!(s.len(), 1, "{name}");
        assert_eq!(s[0].1.last().unwrap().v, want, "{name}");
    }
    let added = select(&storage, &[("__name__", "scrape_series_added")]);
    assert_eq!(added[0].1[0].v, 2.0, "first scrape adds both series");
    assert_eq!(added[0].1[1].v, 0.0, "second scrape adds none");
    let meta = m.metadata();
    let foo_meta = meta.iter().find(|m| m.metric == "foo_total").unwrap();
    assert_eq!(foo_meta.metadata.kind, "counter");
    assert_eq!(foo_meta.metadata.help, "A counter.");

    // `bar` disappears: its last sample becomes a stale marker.
    t.set("a", "foo_total{a=\"1\"} 4\n");
    let n = scrapes(&m, "app");
    wait_for("2 more scrapes", || scrapes(&m, "app") >= n + 2).await;
    let bar = select(&storage, &[("__name__", "bar")]);
    let last = bar[0].1.last().unwrap();
    assert!(is_stale_nan(last.v), "bar not marked stale: {:?}", bar[0].1);
    let foo = select(&storage, &[("__name__", "foo_total")]);
    assert!(!is_stale_nan(foo[0].1.last().unwrap().v));

    // The target goes away: every series and the report series go stale.
    m.apply(ScrapeConfig::parse("scrape_configs: []\n").unwrap());
    wait_for("end-of-run markers", || {
        let up = select(&storage, &[("__name__", "up"), ("job", "app")]);
        up.first()
            .is_some_and(|s| is_stale_nan(s.1.last().unwrap().v))
    })
    .await;
    let foo = select(&storage, &[("__name__", "foo_total")]);
    assert!(is_stale_nan(foo[0].1.last().unwrap().v));
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_targets_are_down_with_their_reason_and_never_affect_others() {
    let (_dir, storage, t, addr) = start().await;
    t.set("good", "ok_metric 1\n");
    t.set_page(
        "err",
        Page {
            status: 500,
            content_type: "text/plain".into(),
            body: "boom".into(),
            delay_ms: 0,
        },
    );
    t.set("garbage", "ok_metric 1\nthis is { not metrics\n");
    t.set("many", "m1 1\nm2 2\nm3 3\n");
    t.set("long", "m{l=\"0123456789\"} 1\n");
    t.set_page(
        "slow",
        Page {
            status: 200,
            content_type: "text/plain".into(),
            body: "m 1\n".into(),
            delay_ms: 300,
        },
    );
    t.set_page(
        "html",
        Page {
            status: 200,
            content_type: "text/html".into(),
            body: "<html>".into(),
            delay_ms: 0,
        },
    );
    t.set("big", &"x 1\n".repeat(300));
    let jobs = [
        job(addr, "good", "good", ""),
        job(addr, "err", "err", ""),
        job(addr, "garbage", "garbage", ""),
        job(addr, "many", "many", "    sample_limit: 2\n"),
        job(addr, "long", "long", "    label_value_length_limit: 5\n"),
        job(addr, "slow", "slow", "    scrape_timeout: 50ms\n"),
        job(addr, "html", "html", ""),
        job(addr, "big", "big", "    body_size_limit: 1KB\n"),
        job("127.0.0.1:1".parse().unwrap(), "refused", "x", ""),
    ]
    .concat();
    let m = manager(&storage, &jobs);
    scraped(&m, "every target scraped twice", 9, 2).await;
    let snap = m.targets();
    let reason = |pool: &str| {
        let t = snap.active.iter().find(|t| t.scrape_pool == pool).unwrap();
        (t.status.health, t.status.last_error.clone())
    };
    assert_eq!(reason("good"), (Health::Up, String::new()));
    for (pool, word) in [
        (
            "err",
            "server returned HTTP status 500 Internal Server Error",
        ),
        ("garbage", "line 2"),
        ("many", "sample limit exceeded"),
        ("long", "label_value_length_limit exceeded"),
        ("slow", "context deadline exceeded"),
        ("html", "unsupported Content-Type \"text/html\""),
        ("big", "body size limit exceeded"),
        ("refused", "onnection refused"),
    ] {
        let (health, err) = reason(pool);
        assert_eq!(health, Health::Down, "{pool}: {err}");
        assert!(err.contains(word), "{pool}: {err}");
        let up = select(&storage, &[("__name__", "up"), ("job", pool)]);
        assert_eq!(up[0].1.last().unwrap().v, 0.0, "{pool}");
    }
    // Nothing of a failed scrape is stored: the garbage target's good line
    // and the over-limit target's samples are not there.
    assert!(select(&storage, &[("__name__", "ok_metric"), ("job", "garbage")]).is_empty());
    assert!(select(&storage, &[("__name__", "m1")]).is_empty());
    let many = select(
        &storage,
        &[("__name__", "scrape_samples_scraped"), ("job", "many")],
    );
    assert_eq!(
        many[0].1.last().unwrap().v,
        3.0,
        "parsing goes on past the limit"
    );
    let good = select(&storage, &[("__name__", "ok_metric"), ("job", "good")]);
    assert!(good[0].1.len() >= 2);
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiation_gzip_honor_labels_and_timestamps_follow_prometheus() {
    let (_dir, storage, t, addr) = start().await;
    t.set_page(
        "om",
        Page {
            status: 200,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".into(),
            body: "# TYPE c counter\n# UNIT c seconds\n# HELP c Help.\nc_total{job=\"mine\"} 5 1000.5\n# EOF\n".into(),
            delay_ms: 0,
        },
    );
    let jobs = [
        job(addr, "honor", "om", "    honor_labels: true\n"),
        job(addr, "plain", "om", "    honor_timestamps: false\n"),
    ]
    .concat();
    let m = manager(&storage, &jobs);
    scraped(&m, "scrapes", 2, 1).await;
    let accept = t.accept.lock().unwrap()[0].clone();
    assert_eq!(
        accept,
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
         application/openmetrics-text;version=0.0.1;q=0.5,\
         text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
         text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    );
    let snap = m.targets();
    assert!(
        snap.active.iter().all(|t| t.status.health == Health::Up),
        "{snap:?}"
    );
    // honor_labels keeps the exposed job and its timestamp (OpenMetrics seconds).
    let honored = select(&storage, &[("__name__", "c_total"), ("job", "mine")]);
    assert_eq!(honored.len(), 1);
    assert_eq!(honored[0].1[0].t, 1_000_500);
    // Without honor_labels the exposed job becomes exported_job; without
    // honor_timestamps the scrape time is used.
    let plain = select(&storage, &[("__name__", "c_total"), ("job", "plain")]);
    assert_eq!(
        plain[0].0[1],
        ("exported_job".to_string(), "mine".to_string())
    );
    assert!(plain[0].1[0].t > 1_700_000_000_000);
    let meta = m.metadata();
    let c = meta.iter().find(|x| x.metric == "c").unwrap();
    assert_eq!(
        (c.metadata.kind.as_str(), c.metadata.unit.as_str()),
        ("counter", "seconds")
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_second_target_is_scraped_on_fixed_ticks_without_drift() {
    let (_dir, storage, t, addr) = start().await;
    t.set("a", "m 1\n");
    let m = manager(&storage, &job(addr, "fast", "a", ""));
    // A minute: 600 ticks, so a drift of even 0.1% would show.
    tokio::time::sleep(Duration::from_secs(60)).await;
    m.shutdown().await;
    let up = select(&storage, &[("__name__", "up"), ("job", "fast")]);
    let ts: Vec<i64> = up[0].1.iter().map(|s| s.t).collect();
    assert!(ts.len() >= 570, "only {} scrapes in 60 s", ts.len());
    // Samples carry the time a scrape started: on a busy machine a scrape
    // may start late, but the next is due on the same phase of the 100 ms
    // grid, so the phase most scrapes sit on is the same in the first and
    // the last ten seconds: no drift.
    let phase_of = |part: &[i64]| {
        let mut counts = [0usize; 100];
        for t in part {
            counts[t.rem_euclid(100) as usize] += 1;
        }
        let (phase, n) = counts.iter().enumerate().max_by_key(|(_, n)| **n).unwrap();
        (phase, *n)
    };
    let (first, _) = phase_of(&ts[..100]);
    let (last, _) = phase_of(&ts[ts.len() - 100..]);
    let (phase, on_phase) = phase_of(&ts);
    let span = ts[ts.len() - 1] - ts[0];
    eprintln!(
        "{} scrapes over {span} ms ({:.2}/s), {on_phase} on phase {phase} of the 100 ms grid",
        ts.len(),
        ts.len() as f64 * 1000.0 / span as f64
    );
    assert_eq!(first, last, "the schedule drifted: {ts:?}");
    assert!(on_phase * 2 >= ts.len(), "{ts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_over_target_limit_fail_every_target_without_a_request() {
    let (_dir, storage, t, addr) = start().await;
    t.set("a", "m 1\n");
    let yaml = format!(
        "scrape_configs:\n  - job_name: capped\n    scrape_interval: 100ms\n    target_limit: 1\n    metrics_path: /a\n\
         \x20   static_configs:\n      - targets: ['{addr}', 'localhost:{}']\n",
        addr.port()
    );
    let m = ScrapeManager::new(Arc::clone(&storage));
    m.apply(ScrapeConfig::parse(&yaml).unwrap());
    scraped(&m, "scrapes", 2, 2).await;
    for target in m.targets().active {
        assert_eq!(target.status.health, Health::Down);
        assert_eq!(
            target.status.last_error,
            "target_limit exceeded (number of targets: 2, limit: 1)"
        );
    }
    assert!(t.accept.lock().unwrap().is_empty(), "no request was made");
    assert!(select(&storage, &[("__name__", "m")]).is_empty());
    m.shutdown().await;
}
