//! Sealed hours become partitions while the server runs; queries read
//! across partitions and the head, before and after a restart;
//! `hourglass inspect` reports them; retention removes old ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::write::write_node_hours;
use common::*;
use std::process::Command;

/// 2024-01-01T00:00:00Z.
const T0: i64 = common::write::T2024;

fn write_hours(server: &Server, hours: i64) {
    write_node_hours(server, "bytes_total", 0..hours, 3.0);
}

/// Starts a server on the data in `dir`: it has at least `partitions`
/// partitions, and hour 0 reads back.
fn reopen(dir: &std::path::Path, partitions: f64) -> Server {
    let again = Server::start(dir, &KEEP_HISTORY);
    assert!(metric(&again, "hourglass_partitions") >= partitions);
    assert_hour_zero_kept(&again);
    again
}

/// Hour 0 reads back after a restart: `a` half an hour in is sample 120.
fn assert_hour_zero_kept(server: &Server) {
    let v = value_at(server, "bytes_total{instance=\"a\"}", T0 + 30 * 60_000);
    assert_eq!(v, "360", "sample 120 of series a, times 3");
}

fn value_at(server: &Server, query: &str, t_ms: i64) -> String {
    let q: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let v = server
        .get(&format!("/api/v1/query?query={q}&time={}", t_ms / 1000))
        .json();
    v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("no result for {query}: {v}"))
        .to_string()
}

#[test]
fn sealed_hours_become_partitions_and_stay_readable() {
    let (tmp, server) = Server::fresh_with(&keeping_history(&["--persist-interval", "1s"]));
    write_hours(&server, 4);
    // Hours 0 and 1 end more than the 1 h out-of-order window before the
    // newest sample (end of hour 3), so they are sealed.
    wait_for("partitions", || {
        metric(&server, "hourglass_partitions") >= 2.0
    });
    assert_hour_zero_kept(&server);
    // A rate across the partition/head boundary sees no gap.
    let across: f64 = value_at(
        &server,
        "sum(rate(bytes_total[10m]))",
        T0 + 2 * 3_600_000 + 60_000,
    )
    .parse()
    .unwrap();
    assert!((across - 0.4).abs() < 1e-9, "{across}");

    let out = Command::new(BIN)
        .args(["inspect", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2024-01-01T00:00:00.000Z"), "{text}");
    assert!(
        text.contains(" 480 "),
        "hour 0 holds 2 series × 240 samples: {text}"
    );
    assert!(text.contains("WAL:"), "{text}");

    let (ok, _) = server.terminate();
    assert!(ok);
    let again = reopen(tmp.path(), 2.0);
    assert_eq!(
        value_at(
            &again,
            "bytes_total{instance=\"b\"}",
            T0 + 3 * 3_600_000 + 59 * 60_000
        ),
        format!("{}", (4 * 240 - 4) * 3)
    );
}

#[test]
fn retention_by_size_removes_the_oldest_partitions() {
    let (_tmp, server) = Server::fresh_with(&keeping_history(&[
        "--persist-interval",
        "1s",
        "--retention-size",
        "1B",
    ]));
    write_hours(&server, 4);
    wait_for("size retention", || {
        let text = server.get("/metrics").text();
        text.contains("hourglass_retention_partitions_removed_total{reason=\"size\"} 2")
    });
    assert_eq!(metric(&server, "hourglass_partitions"), 0.0);
}

#[test]
fn a_graceful_stop_leaves_one_checkpoint_and_no_wal_record_to_replay() {
    let (tmp, server) = Server::fresh_with(&KEEP_HISTORY);
    write_hours(&server, 3);
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("nothing to replay")),
        "{log:?}"
    );
    // The WAL is the checkpoint and one empty segment (its header only).
    let wal = tmp.path().join("wal");
    let names: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let segments: Vec<&String> = names.iter().filter(|n| n.len() == 8).collect();
    assert_eq!(segments.len(), 1, "{names:?}");
    let segment_len = std::fs::metadata(wal.join(segments[0])).unwrap().len();
    assert_eq!(segment_len, 24, "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("checkpoint.")),
        "{names:?}"
    );

    let again = reopen(tmp.path(), 1.0);
    assert_eq!(
        value_at(
            &again,
            "count_over_time(bytes_total{instance=\"b\"}[3h])",
            T0 + 3 * 3_600_000 - 1
        ),
        "720"
    );
    assert_checkpoint_only(&again);
    let (ok, _) = again.terminate();
    assert!(ok);
}

/// `m{job="node",instance="a"|"b"}` over `hours` hours from `T0`, a
/// request per hour: 15 s scrapes jittered by 0–6 ms (none before its
/// hour), two-decimal values.
fn write_jittered_hours(server: &Server, hours: i64) {
    use hourglass::ingest::protobuf::Writer;
    use hourglass::ingest::remote_write::v1;
    use hourglass_storage::Sample;
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for h in 0..hours {
        let mut w = Writer::default();
        for inst in ["a", "b"] {
            let samples: Vec<Sample> = (h * 240..(h + 1) * 240)
                .map(|i| {
                    let t = T0 + i * 15_000 + rng.u64(..7) as i64;
                    Sample::new(t, (i * 997 % 1000) as f64 / 100.0)
                })
                .collect();
            v1::encode_series(
                &mut w,
                [("__name__", "m"), ("job", "node"), ("instance", inst)],
                &samples,
            );
        }
        let r = remote_write(server, &w.buf);
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

/// The `version` of every partition's meta.json, by directory name
/// (leaving out what a running compaction is writing: `.tmp-*`, its
/// journal).
fn partition_versions(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir.join("parts"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = std::fs::read(e.path().join("meta.json")).ok()?;
            let meta: serde_json::Value = serde_json::from_slice(&meta).ok()?;
            (!name.starts_with('.')).then(|| (name, meta["version"].as_u64().unwrap_or(0)))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn serve_merges_days_of_past_data_on_schedule_and_a_stop_leaves_hours_in_cold_chunks() {
    // 27 hours from 2024-01-01T00:00Z, years before the wall clock: the
    // store's "now" is its newest sample, so the first day ended 3 hours
    // before it and `--compact-days-after 1h` merges it while serving.
    let tmp = tempfile::tempdir().unwrap();
    let flags = [
        "--retention",
        "0",
        "--compact-days-after",
        "1h",
        "--persist-interval",
        "1s",
    ];
    let server = Server::start(tmp.path(), &flags);
    write_jittered_hours(&server, 27);
    wait_for("the day partition", || day_merged(tmp.path()));
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    // The day, and the hour of the next day that was ready at the stop;
    // the last two hours are in the stop's checkpoint. Jittered time
    // takes the grid encodings, its offsets (a spread that is not a power
    // of two) in mixed radix: partition version 6 for both.
    let parts = partition_versions(tmp.path());
    println!("partitions after the stop: {parts:?}");
    assert_eq!(
        parts,
        [
            ("2024-01-01".to_string(), 6),
            ("2024-01-02T00".to_string(), 6)
        ]
    );
    let again = Server::start(tmp.path(), &flags);
    assert_all_jittered_hours_read(&again);
    assert_checkpoint_only(&again);
    let (ok, _) = again.terminate();
    assert!(ok);
}

/// The WAL replay read the stop's checkpoint records only (built on every
/// core, a record per worker at most here), nothing from a segment.
fn assert_checkpoint_only(server: &Server) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    let replayed = metric(server, "hourglass_wal_replayed_records");
    assert!(
        (1.0..=workers as f64).contains(&replayed),
        "{replayed} records replayed, {workers} workers"
    );
}

/// Every sample of 27 [`write_jittered_hours`] reads back.
fn assert_all_jittered_hours_read(server: &Server) {
    let end = T0 + 27 * 3_600_000;
    assert_eq!(
        value_at(server, "sum(count_over_time(m[2d]))", end),
        format!("{}", 2 * 27 * 240)
    );
}

/// Whether the UTC day 2024-01-01 is one day partition yet.
fn day_merged(dir: &std::path::Path) -> bool {
    partition_versions(dir)
        .iter()
        .any(|(n, _)| n == "2024-01-01")
}

/// The `took_ms` of the stop's head checkpoint, from the server's log.
fn checkpoint_took_ms(log: &[String]) -> Option<u64> {
    log.iter()
        .filter(|l| l.contains("head checkpointed"))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("took_ms="))
        })
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_backfilled_day_is_merged_as_soon_as_its_last_hour_is_written_not_a_persist_interval_later() {
    // The default --persist-interval (1 min): a persist round runs as soon
    // as an hour is ready, and the compaction after it merges the day
    // whose last hour it wrote, long before the interval ends.
    let tmp = tempfile::tempdir().unwrap();
    let flags = ["--retention", "0", "--compact-days-after", "1h"];
    let server = Server::start(tmp.path(), &flags);
    let t0 = std::time::Instant::now();
    write_jittered_hours(&server, 27);
    wait_until(
        "the day partition before the 1 min persist interval",
        std::time::Duration::from_secs(45),
        || day_merged(tmp.path()),
    );
    println!("day merged {:?} after the first write", t0.elapsed());
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    println!("stop's checkpoint took {:?} ms", checkpoint_took_ms(&log));
    // Nothing of the day was written twice: the day and the hour of the
    // next day that was ready, nothing else.
    let names: Vec<String> = partition_versions(tmp.path())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["2024-01-01", "2024-01-02T00"]);
}

#[test]
fn a_day_left_unmerged_at_a_stop_is_merged_right_after_the_next_start() {
    // Hours written and stopped with day merges off (as a stop that
    // interrupted a merge leaves them); the next start with merges on
    // does not wait for a persist interval to merge the day.
    let tmp = tempfile::tempdir().unwrap();
    let off = [
        "--retention",
        "0",
        "--compact-days-after",
        "0",
        "--persist-interval",
        "1s",
    ];
    let server = Server::start(tmp.path(), &off);
    write_jittered_hours(&server, 27);
    wait_for("the day's hours written", || {
        partition_versions(tmp.path()).len() >= 24
    });
    let (ok, log) = server.terminate();
    assert!(ok, "{log:?}");
    assert!(!day_merged(tmp.path()));
    let on = ["--retention", "0", "--compact-days-after", "1h"];
    let again = Server::start(tmp.path(), &on);
    wait_until(
        "the day partition before the 1 min persist interval",
        std::time::Duration::from_secs(45),
        || day_merged(tmp.path()),
    );
    assert_all_jittered_hours_read(&again);
    let (ok, log) = again.terminate();
    assert!(ok, "{log:?}");
}
