//! The built-in web UI in a real browser: Debian's chromium, headless,
//! driven by Playwright (`tests/ui/ui.mjs`, `npm ci --prefix tests/ui`)
//! against servers holding known data. The script types and runs queries,
//! compares legend and table with the API, reopens a link, checks the
//! targets, cardinality, live and status pages and the error cases, prints
//! the first-load size and the 50 × 11,000 render time, and writes
//! screenshots of each page, light and dark, to `target/ui-screenshots/`
//! (`UI_SCREENSHOT_DIR` overrides).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, now_ms, write_series};
use hourglass_storage::Sample;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Why the browser test cannot run here, if it cannot.
fn missing_tools(ui_dir: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is absent (apt-get install chromium)"));
    }
    if !ui_dir.join("node_modules/playwright-core").is_dir() {
        return Some("tests/ui/node_modules is absent (npm ci --prefix tests/ui)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("node is absent".into()),
    }
}

/// Three counters over the hour before `end_ms`, one sample every 15 s,
/// and 50 `ui_wave` series over the 3 h 10 min before it, one every 30 s
/// (19,050 samples: over the limited server's 2,000).
fn write_known_data(server: &Server, end_ms: i64) {
    let requests: Vec<_> = [("api", "a", 1.0), ("api", "b", 2.0), ("web", "c", 5.0)]
        .into_iter()
        .map(|(job, instance, rate)| {
            let samples = (0..=240)
                .map(|i| Sample::new(end_ms - (240 - i) * 15_000, rate * i as f64))
                .collect();
            (
                vec![
                    ("__name__", "ui_requests_total"),
                    ("job", job),
                    ("instance", instance),
                ],
                samples,
            )
        })
        .collect();
    assert_eq!(write_series(server, &requests).status, 204);
    let ids: Vec<String> = (0..50).map(|i| format!("{i:02}")).collect();
    let waves: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let samples = (0..=380)
                .map(|i| {
                    let v = n as f64 + (i as f64 / 10.0 + n as f64).sin() * 3.0;
                    Sample::new(end_ms - (380 - i) * 30_000, v)
                })
                .collect();
            (
                vec![("__name__", "ui_wave"), ("job", "wave"), ("i", id.as_str())],
                samples,
            )
        })
        .collect();
    assert_eq!(write_series(server, &waves).status, 204);
}

fn screenshot_dir(root: &Path) -> PathBuf {
    if let Some(d) = std::env::var_os("UI_SCREENSHOT_DIR") {
        return d.into();
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target.join("ui-screenshots")
}

#[test]
fn web_ui_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ui_dir = root.join("tests/ui");
    if let Some(why) = missing_tools(&ui_dir) {
        println!("skipped: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // A password in a flag's URL: the Status page shows it redacted.
    let server = Server::start(
        &tmp.path().join("main"),
        &[
            "--web-external-url",
            "http://admin:ui-secret-pw@127.0.0.1:9/",
        ],
    );
    let limited_dir = tmp.path().join("limited");
    let limited = Server::start(
        &limited_dir,
        &["--query-max-samples", "2000", "--source-label", "instance"],
    );
    // Whole seconds, a little in the past, so the UI and the API agree on
    // the instant they evaluate at.
    let end_ms = (now_ms() / 1000 - 2) * 1000;
    write_known_data(&server, end_ms);
    write_known_data(&limited, end_ms);

    // Remote write feeds the live tail: one `ui_live` sample every 300 ms
    // while the browser runs.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (stop, addr) = (stop.clone(), server.addr);
        std::thread::spawn(move || {
            let mut n = 0.0;
            while !stop.load(Ordering::Relaxed) {
                n += 1.0;
                let body = common::v1_body(&[(
                    vec![("__name__", "ui_live"), ("job", "live")],
                    vec![Sample::new(now_ms(), n)],
                )]);
                let _ =
                    common::try_request(addr, "POST", "/api/v1/write", &common::V1_HEADERS, &body);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };

    let shots = screenshot_dir(root);
    let out = tmp.path().join("node.out");
    let err = tmp.path().join("node.err");
    let mut child = Command::new("node")
        .arg(ui_dir.join("ui.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&shots)
        .arg(format!("http://{}", limited.addr))
        .arg((end_ms / 1000).to_string())
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("run node");
    let ok = common::wait_with_timeout(&mut child, Duration::from_secs(330));
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(ok, "the browser test failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: every browser check passed"),
        "{stdout}"
    );
}

/// The UI's files without a browser: gzip when accepted, identity
/// otherwise, 304 for a matching ETag, 404 for a file the UI does not have.
#[test]
fn ui_files_are_served_gzipped_with_etags() {
    let (_tmp, server) = Server::fresh();
    let page = server.get_with("/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&page.body[..]), &mut html)
        .unwrap();
    assert!(html.contains("ui/app.js"), "{html}");
    let plain = server.get("/ui/app.js");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(plain.text().contains("hashchange"));
    let etag = plain.header("etag").unwrap().to_string();
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let again = server.get_with("/ui/app.js", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(server.get("/ui/secrets.toml").status, 404);
    assert_eq!(server.get("/ui/..%2FCargo.toml").status, 404);
}
