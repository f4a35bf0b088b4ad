//! `hourglass verify` names every damaged file of a data directory with
//! its byte offset and exits non-zero; `--repair` moves the damaged pieces
//! aside (never deleting them), refuses while a server holds the
//! directory, and `serve` then starts and serves everything else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::hourglass;
use common::query::query_at;
use common::targets::post_target;
use common::write::write_node_hours;
use common::*;
use std::path::{Path, PathBuf};

/// 2024-01-01T00:00:00Z.
const T0: i64 = common::write::T2024;
const HOUR: i64 = 3_600_000;

/// One request per hour, so the WAL holds one record per hour.
fn write_hours(server: &Server, hours: i64) {
    write_node_hours(server, "bytes_total", 0..hours, 1.0);
}

/// A stopped data directory with every file kind: four partitions (hours
/// 0 to 3: a graceful stop persists every finished hour), the WAL and its
/// checkpoint, Pushgateway groups and a registered target.
fn populated() -> tempfile::TempDir {
    populated_then(true)
}

/// As [`populated`]; a server killed with SIGKILL (`graceful` false)
/// leaves its last samples as WAL records, where a graceful stop leaves
/// none to replay.
fn populated_then(graceful: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    // Stamped in 2024: kept as written, hours as hours.
    let server = Server::start(tmp.path(), &keeping_history(&["--persist-interval", "1s"]));
    write_hours(&server, 4);
    wait_for("partitions", || {
        metric(&server, "hourglass_partitions") >= 2.0
    });
    let r = server.request("PUT", "/metrics/job/batch", &[], b"jobs_done 3\n");
    assert!(r.status < 300, "{}", r.text());
    // A push source: nothing is scraped, the registry file is written.
    let r = post_target(
        &server,
        &serde_json::json!({"source_id": "edge", "collection_method": "STREAMING"}),
    );
    assert!(r.status < 300, "{}", r.text());
    if graceful {
        let (ok, _) = server.terminate();
        assert!(ok);
    } else {
        // Current-hour samples stay WAL records until their hour is sealed.
        let body: String = (0..20)
            .map(|i| format!("queue_depth{{q=\"{i}\"}} {i}\n"))
            .collect();
        let r = server.request("PUT", "/metrics/job/live", &[], body.as_bytes());
        assert!(r.status < 300, "{}", r.text());
        let mut server = server;
        let mut child = server.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }
    // The groups file is written at a graceful stop.
    let files: &[&str] = if graceful {
        &["pushgateway.groups", "targets.registry"]
    } else {
        &["targets.registry"]
    };
    for f in files {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    tmp
}

fn partitions(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("parts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().contains('.'))
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x10;
    std::fs::write(path, b).unwrap();
}

fn truncate(path: &Path, by: usize) {
    let b = std::fs::read(path).unwrap();
    std::fs::write(path, &b[..b.len() - by]).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn verify(data: &Path, extra: &[&str]) -> (bool, String) {
    let d = data.to_str().unwrap();
    let (ok, out, err) = hourglass(&[&["verify", "--data-dir", d], extra].concat());
    (ok, format!("{out}{err}"))
}

fn value_at(server: &Server, q: &str, t_ms: i64) -> Option<f64> {
    query_at(server, q, Some(t_ms as f64 / 1000.0))
        .first()
        .map(|r| r.1)
}

#[test]
fn verify_names_file_and_offset_of_a_flipped_byte_or_a_cut_in_each_file_kind() {
    let pristine = populated();
    let (ok, out) = verify(pristine.path(), &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("partitions: 4 intact, 0 damaged")
            && out.contains("pushgateway groups: 1 entries, intact")
            && out.contains("targets registry: 1 entries, intact")
            && out.contains("summary: 4 partitions, 8 chunks, 1920 samples"),
        "{out}"
    );

    // (what, damage, words the report must hold)
    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage, Vec<String>)> = vec![
        (
            "a chunk's byte",
            |d| flip(&partitions(d)[0].join("chunks"), 12),
            vec![
                "chunks at byte 8: chunk of".into(),
                "chunk checksum mismatch".into(),
                "file checksum mismatch".into(),
            ],
        ),
        (
            "an index byte",
            |d| flip(&partitions(d)[1].join("index"), 14),
            // A v2 index is checksummed whole (its sections may be zstd'd).
            vec!["index at byte".into(), "checksum mismatch".into()],
        ),
        (
            "a cut chunks file",
            |d| truncate(&partitions(d)[0].join("chunks"), 7),
            vec!["chunks at byte".into(), "checksum mismatch".into()],
        ),
        (
            "a cut index",
            |d| truncate(&partitions(d)[1].join("index"), 3),
            vec!["index at byte".into(), "checksum mismatch".into()],
        ),
        (
            "meta.json",
            |d| std::fs::write(partitions(d)[0].join("meta.json"), b"{\"version\":").unwrap(),
            vec!["meta.json at byte".into()],
        ),
        (
            "the groups file's payload",
            |d| flip(&d.join("pushgateway.groups"), 20),
            vec![
                "pushgateway.groups at byte 5".into(),
                "checksum mismatch".into(),
            ],
        ),
        (
            "the registry's payload",
            |d| flip(&d.join("targets.registry"), 40),
            vec![
                "targets.registry at byte 9".into(),
                "checksum mismatch".into(),
            ],
        ),
        (
            "a cut registry",
            |d| truncate(&d.join("targets.registry"), 5),
            vec!["targets.registry at byte 5".into(), "torn".into()],
        ),
    ];
    for (what, damage, words) in cases {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), tmp.path());
        damage(tmp.path());
        let (ok, out) = verify(tmp.path(), &[]);
        assert!(!ok, "{what}: verify must fail:\n{out}");
        for w in &words {
            assert!(out.contains(w.as_str()), "{what}: no {w:?} in:\n{out}");
        }
        assert!(out.contains("DAMAGED"), "{what}:\n{out}");
        println!(
            "{what}: {}",
            out.lines().find(|l| l.contains("DAMAGED")).unwrap()
        );
    }
}

#[test]
fn repair_sets_damaged_pieces_aside_and_serve_serves_the_rest() {
    let tmp = populated();
    let data = tmp.path();
    let parts = partitions(data);
    flip(&parts[0].join("chunks"), 12);
    flip(&data.join("pushgateway.groups"), 20);
    flip(&data.join("targets.registry"), 40);

    let (ok, out) = verify(data, &["--repair"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("repair done: 3 damaged pieces set aside"),
        "{out}"
    );
    let aside = PathBuf::from(format!("{}.corrupt", parts[0].display()));
    assert!(
        aside.join("chunks").is_file(),
        "partition kept aside: {out}"
    );
    assert!(data.join("pushgateway.corrupt").is_file());
    assert!(data.join("targets.registry.corrupt").is_file());
    assert!(!parts[0].exists());

    // Clean now, what was set aside reported as such.
    let (ok, out) = verify(data, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("kept aside earlier") && out.contains("partitions: 3 intact"));

    let server = Server::start(data, &KEEP_HISTORY);
    assert_eq!(server.get("/-/ready").status, 200);
    let q = "bytes_total{instance=\"a\"}";
    assert_eq!(
        value_at(&server, q, T0 + 30 * 60_000),
        None,
        "hour 0 set aside"
    );
    assert_eq!(value_at(&server, q, T0 + HOUR + 30 * 60_000), Some(360.0));
    assert_eq!(
        value_at(&server, q, T0 + 3 * HOUR + 30 * 60_000),
        Some(840.0)
    );
}

#[test]
fn repair_of_a_damaged_wal_segment_keeps_a_copy_and_serve_starts() {
    let tmp = populated_then(false);
    let data = tmp.path();
    let mut segments: Vec<PathBuf> = std::fs::read_dir(data.join("wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().contains('.'))
        .collect();
    segments.sort();
    let seg = segments.last().unwrap().clone();
    let len = std::fs::metadata(&seg).unwrap().len() as usize;
    assert!(len > 200, "segment of {len} bytes");
    flip(&seg, len / 3);

    let (ok, out) = verify(data, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&seg.display().to_string()) && out.contains("at byte"),
        "{out}"
    );
    let (ok, out) = verify(data, &["--repair"]);
    assert!(ok, "{out}");
    assert!(out.contains("repaired: WAL"), "{out}");
    let copies = std::fs::read_dir(data.join("wal"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt"))
        .count();
    assert!(copies >= 1, "a copy of the damaged segment is kept");

    let server = Server::start(data, &KEEP_HISTORY);
    assert_eq!(server.get("/-/ready").status, 200);
    let q = "bytes_total{instance=\"a\"}";
    assert_eq!(
        value_at(&server, q, T0 + 30 * 60_000),
        Some(120.0),
        "partitions intact"
    );
}

#[test]
fn repair_is_refused_while_a_server_holds_the_directory() {
    let (tmp, server) = Server::fresh();
    let (ok, out) = verify(tmp.path(), &["--repair"]);
    assert!(!ok, "{out}");
    assert!(out.contains("in use by another hourglass process"), "{out}");
    // Plain verify reads only and runs beside the server.
    let (ok, out) = verify(tmp.path(), &[]);
    assert!(ok, "{out}");
    drop(server);
}

#[test]
fn verify_checks_tombstones_the_compaction_journal_and_each_snapshot() {
    let tmp = populated();
    let data = tmp.path();
    let tomb = hourglass_storage::tombstones::encode(&[hourglass_storage::tombstones::Tombstone {
        matchers: vec![
            hourglass_storage::Matcher::new(hourglass_storage::MatchOp::Equal, "instance", "a")
                .unwrap(),
        ],
        start: T0,
        end: T0 + HOUR,
    }]);
    std::fs::write(data.join("tombstones"), &tomb).unwrap();
    // A journal torn before its fsync: never committed, not damage.
    std::fs::write(data.join("parts/COMPACTION"), b"HGCJ\x01\0\0\0\x05").unwrap();
    let snap = tempfile::tempdir().unwrap();
    copy_dir(data, snap.path());
    std::fs::create_dir(data.join("snapshots")).unwrap();
    std::fs::rename(snap.path(), data.join("snapshots/s1")).unwrap();
    let (ok, out) = verify(data, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("tombstones: 1 entries, intact"), "{out}");
    assert!(out.contains("TORN: compaction journal"), "{out}");
    assert!(out.contains("snapshot s1: partitions: 4 intact"), "{out}");
    assert!(out.contains("snapshot s1: tombstones: 1 entries"), "{out}");

    flip(&data.join("tombstones"), tomb.len() / 2);
    let snap_part = partitions(&data.join("snapshots/s1"))[1].clone();
    flip(&snap_part.join("chunks"), 20);
    let (ok, out) = verify(data, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("DAMAGED: tombstones"), "{out}");
    assert!(out.contains("snapshot s1: DAMAGED: partition"), "{out}");
    assert!(out.contains("2 damaged"), "{out}");
    let (ok, out) = verify(data, &["--repair"]);
    assert!(ok, "{out}");
    assert!(data.join("tombstones.corrupt").is_file(), "{out}");
    assert!(
        PathBuf::from(format!("{}.corrupt", snap_part.display())).is_dir(),
        "{out}"
    );
    let (ok, out) = verify(data, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("snapshot s1: partitions: 3 intact"), "{out}");
}
