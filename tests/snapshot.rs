//! `POST /api/v1/admin/tsdb/snapshot` writes `snapshots/<name>/`, which a
//! second server opens as its `--data-dir` and answers from exactly as the
//! first did at the snapshot: partitions and head, nothing written after.
//! `skip_head` leaves the head out; the endpoint is off unless `--enable-admin-api` switches
//! it on; `hourglass snapshot` does the same offline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::hourglass;
use common::query::{assert_api_error, query_at};
use common::write::write_node_hours;
use common::*;
use std::path::{Path, PathBuf};

/// 2024-01-01T00:00:00Z.
const T0: i64 = common::write::T2024;
const HOUR: i64 = 3_600_000;

/// A server with hours 0 and 1 in partitions, 2 and 3 in the head.
fn server_with_partitions_and_head(dir: &Path) -> Server {
    let server = Server::start(
        dir,
        &keeping_history(&["--persist-interval", "1s", "--enable-admin-api"]),
    );
    write_node_hours(&server, "bytes_total", 0..4, 1.0);
    wait_for("partitions", || {
        metric(&server, "hourglass_partitions") >= 2.0
    });
    server
}

fn snapshot(server: &Server, query: &str) -> Response {
    server.post(&format!("/api/v1/admin/tsdb/snapshot{query}"), &[], b"")
}

fn at(server: &Server, q: &str, t_ms: i64) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = query_at(server, q, Some(t_ms as f64 / 1000.0))
        .into_iter()
        .map(|(l, v)| (format!("{l:?}"), v))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

const CHECKS: &[(&str, i64)] = &[
    ("bytes_total", T0 + 30 * 60_000),
    ("bytes_total", T0 + HOUR + 59 * 60_000),
    ("bytes_total", T0 + 3 * HOUR + 30 * 60_000),
    ("count_over_time(bytes_total[5h])", T0 + 4 * HOUR),
    ("sum(rate(bytes_total[10m]))", T0 + 2 * HOUR + 60_000),
];

#[test]
fn snapshot_opens_as_a_data_dir_and_answers_as_the_server_did() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server_with_partitions_and_head(tmp.path());
    let before: Vec<_> = CHECKS.iter().map(|(q, t)| at(&server, q, *t)).collect();
    assert_eq!(before[3].len(), 2);
    assert_eq!(before[3][0].1, 960.0, "{:?}", before[3]);

    let r = snapshot(&server, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], "success");
    let name = body["data"]["name"].as_str().unwrap().to_string();
    assert!(name.len() > 17 && name.contains('Z'), "{name}");
    let snap = tmp.path().join("snapshots").join(&name);
    assert!(snap.join("parts").is_dir() && snap.join("wal").is_dir());

    // Written after the snapshot: not in it.
    write_node_hours(&server, "after_snapshot", 3..4, 1.0);

    let copy = Server::start(&snap, &KEEP_HISTORY);
    for ((q, t), want) in CHECKS.iter().zip(&before) {
        assert_eq!(&at(&copy, q, *t), want, "{q} at {t}");
    }
    assert!(at(&copy, "after_snapshot", T0 + 3 * HOUR + 30 * 60_000).is_empty());
    assert_eq!(
        at(&server, "after_snapshot", T0 + 3 * HOUR + 30 * 60_000).len(),
        2
    );
    // The partitions are links, not copies: same inode.
    let parts = std::fs::read_dir(snap.join("parts"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let linked = parts.path().join("chunks");
    let original = tmp
        .path()
        .join("parts")
        .join(parts.file_name())
        .join("chunks");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&linked).unwrap().ino(),
        std::fs::metadata(&original).unwrap().ino()
    );
}

#[test]
fn snapshot_with_skip_head_holds_the_partitions_only() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server_with_partitions_and_head(tmp.path());
    let r = snapshot(&server, "?skip_head=true");
    assert_eq!(r.status, 200, "{}", r.text());
    let name = r.json()["data"]["name"].as_str().unwrap().to_string();
    let snap = tmp.path().join("snapshots").join(&name);
    assert!(!snap.join("wal").exists());
    let copy = Server::start(&snap, &KEEP_HISTORY);
    assert_eq!(at(&copy, "bytes_total", T0 + 30 * 60_000).len(), 2);
    assert!(at(&copy, "bytes_total", T0 + 3 * HOUR + 30 * 60_000).is_empty());
}

#[test]
fn snapshot_refuses_a_bad_skip_head_and_answers_503_when_the_admin_api_is_off() {
    let (tmp, server) = Server::fresh_with(&["--enable-admin-api"]);
    let r = snapshot(&server, "?skip_head=maybe");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_api_error(&r.json(), "bad_data", "skip_head");
    drop(server);

    let server = Server::start(tmp.path(), &[]);
    let r = snapshot(&server, "");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_api_error(&r.json(), "unavailable", "admin APIs disabled");
    assert!(!tmp.path().join("snapshots").exists());
}

#[test]
fn offline_snapshot_of_a_stopped_directory_opens_as_a_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server_with_partitions_and_head(tmp.path());
    let before: Vec<_> = CHECKS.iter().map(|(q, t)| at(&server, q, *t)).collect();
    let d = tmp.path().to_str().unwrap();
    let (ok, _, err) = hourglass(&["snapshot", "--data-dir", d]);
    assert!(!ok, "refused while the server holds the directory");
    assert!(err.contains("in use"), "{err}");
    let (ok, _) = server.terminate();
    assert!(ok);

    let out_dir: PathBuf = tmp.path().join("copy");
    let (ok, out, err) = hourglass(&[
        "snapshot",
        "--data-dir",
        d,
        "--output",
        out_dir.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("2 partitions"), "{out}");
    let copy = Server::start(&out_dir, &KEEP_HISTORY);
    for ((q, t), want) in CHECKS.iter().zip(&before) {
        assert_eq!(&at(&copy, q, *t), want, "{q} at {t}");
    }
}
