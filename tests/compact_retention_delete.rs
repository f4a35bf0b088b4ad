//! Compaction, retention rules and deletes end to end: a server ingests
//! four days of samples (the store's "now" is its newest sample, so old
//! timestamps make days pass at once), its background compactor merges
//! old days and applies a `[[retention]]` rule, the admin API deletes
//! series, and `du` of the partitions shrinks where it must; then the
//! offline `hourglass delete` and `hourglass compact`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::{parts_bytes, settled_parts_bytes};
use common::query::{enc, results};
use common::*;
use hourglass_storage::Sample;
use std::path::Path;
use std::time::Duration;

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

fn part_names(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("parts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Four days of one-minute samples, ending now, for `m{job, instance}`:
/// ten `debug` and ten `prod` series, in one request (so no persist round
/// falls between series: samples of hours already persisted would wait
/// in the head, where rules do not reach, until the next hour is sealed).
fn write_four_days(server: &Server, now: i64) {
    let insts: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    let mut series = Vec::new();
    for job in ["debug", "prod"] {
        for (i, inst) in insts.iter().enumerate() {
            let i = i as i64;
            let samples: Vec<Sample> = (0..4 * 24 * 60)
                .map(|k| {
                    let t = now - 4 * DAY + k * MIN;
                    Sample::new(t, ((k * 7_919 + i * 104_729) % 1_000) as f64 * 0.37)
                })
                .collect();
            series.push((
                vec![("__name__", "m"), ("job", job), ("instance", inst.as_str())],
                samples,
            ));
        }
    }
    let r = write_series(server, &series);
    assert!(r.status < 300, "{} {}", r.status, r.text());
}

fn counts(server: &Server, selector: &str) -> Vec<f64> {
    results(server, &format!("count_over_time({selector}[5d])"))
        .iter()
        .map(common::query::sample_value)
        .collect()
}

fn post_form(server: &Server, path: &str, form: &str) -> Response {
    server.post(path, &[FORM], form.as_bytes())
}

/// A config file in `dir` whose one retention rule keeps the series of
/// job `debug` for `keep`; returns its path.
fn debug_kept_for(dir: &Path, keep: &str) -> String {
    let rule = format!("[[retention]]\nmatch = '{{job=\"debug\"}}'\nkeep = \"{keep}\"\n");
    config_file(dir, &rule)
}

#[test]
fn retention_rules_compaction_and_delete_series_shrink_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = debug_kept_for(tmp.path(), "1d");
    let data = tmp.path().join("data");
    let flags = [
        "--config",
        cfg.as_str(),
        "--retention",
        "30d",
        "--compact-days-after",
        "1d",
        "--persist-interval",
        "1s",
        "--enable-admin-api",
    ];
    // Written before the rule is in force (with it, ingest refuses what
    // it would remove: `storage/tests/retention_at_ingest.rs`).
    let server = Server::start(&data, &flags[2..]);
    let now = now_ms() - 60_000;
    write_four_days(&server, now);
    assert!(server.terminate().0);
    let server = Server::start(&data, &flags);

    // Old days become day partitions; debug keeps one day.
    wait_until("day partitions", Duration::from_secs(90), || {
        part_names(&data).iter().any(|n| n.len() == 10)
    });
    wait_until("the debug rule applied", Duration::from_secs(90), || {
        let c = counts(&server, "m{job=\"debug\"}");
        c.len() == 10 && c.iter().all(|&n| n <= (24 * 60 + 61) as f64)
    });
    let prod = counts(&server, "m{job=\"prod\"}");
    assert_eq!(prod.len(), 10);
    assert!(prod.iter().all(|&n| n == (4 * 24 * 60) as f64), "{prod:?}");
    println!("partitions after compaction: {:?}", part_names(&data));

    // Delete half of prod: hidden at once, bytes gone after clean_tombstones.
    let before = settled_parts_bytes(&data);
    let r = post_form(
        &server,
        "/api/v1/admin/tsdb/delete_series",
        &format!("match[]={}", enc("m{job=\"prod\",instance=~\"h[0-4]\"}")),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(counts(&server, "m{job=\"prod\"}").len(), 5);
    let r = post_form(&server, "/api/v1/admin/tsdb/clean_tombstones", "");
    assert_eq!(r.status, 204, "{}", r.text());
    let after = parts_bytes(&data);
    println!("delete 5 of 20 series (the long-kept ones): partition bytes {before} -> {after}");
    assert!(after < before * 8 / 10, "{before} -> {after}");
    let series = server
        .get(&format!(
            "/api/v1/series?match[]={}",
            enc("m{job=\"prod\"}")
        ))
        .json();
    let mut insts: Vec<String> = series["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance"].as_str().unwrap().to_string())
        .collect();
    insts.sort();
    assert_eq!(insts, ["h5", "h6", "h7", "h8", "h9"]);

    // Bad input: a clear 400 naming the field; nothing changes.
    let r = post_form(&server, "/api/v1/admin/tsdb/delete_series", "");
    assert_eq!(r.status, 400);
    common::query::assert_api_error(&r.json(), "bad_data", "match[]");
    let r = post_form(&server, "/api/v1/admin/tsdb/delete_series", "match[]=%7B");
    assert_eq!(r.status, 400);
    common::query::assert_api_error(&r.json(), "bad_data", "match[]");
    let r = post_form(
        &server,
        "/api/v1/admin/tsdb/delete_series",
        "match[]=m&start=100&end=10",
    );
    assert_eq!(r.status, 400);
    common::query::assert_api_error(&r.json(), "bad_data", "end");
    let r = post_form(
        &server,
        "/api/v1/admin/tsdb/delete_series",
        &format!("match[]={}", enc("{job=\"nothing\"}")),
    );
    assert_eq!(r.status, 204, "a selector matching nothing is no error");
    assert_eq!(counts(&server, "m{job=\"prod\"}").len(), 5);

    // A restart keeps all of it.
    let (clean, _) = server.terminate();
    assert!(clean);
    let server = Server::start(&data, &flags);
    assert_eq!(counts(&server, "m{job=\"prod\"}").len(), 5);
    assert_eq!(counts(&server, "m{job=\"debug\"}").len(), 10);
    let (clean, _) = server.terminate();
    assert!(clean);

    // Offline: delete debug entirely, then a compaction with nothing to do.
    let d = data.to_str().unwrap();
    let (ok, out, err) =
        common::cli::hourglass(&["delete", "--data-dir", d, "--match", "{job=\"debug\"}"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("series selected: 10"), "{out}");
    assert!(out.contains("bytes:"), "{out}");
    println!("{out}");
    let (ok, out, err) = common::cli::hourglass(&["compact", "--data-dir", d]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("partitions:"), "{out}");
    let server = Server::start(&data, &flags);
    assert!(counts(&server, "m{job=\"debug\"}").is_empty());
    assert_eq!(counts(&server, "m{job=\"prod\"}").len(), 5);
}

#[test]
fn admin_api_is_off_unless_switched_on_and_answers_503() {
    let (_tmp, server) = Server::fresh();
    let now = now_ms() - 60_000;
    write_minutes(&server, "k", now - 10 * MIN, now);
    let everything = format!("match[]={}", enc("{__name__=~\".+\"}"));
    for path in [
        "/api/v1/admin/tsdb/delete_series",
        "/api/v1/admin/tsdb/clean_tombstones",
    ] {
        let r = post_form(&server, path, &everything);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.json()["errorType"], "unavailable");
    }
    // A hostile delete on a server started with the defaults removes nothing.
    assert_eq!(counts(&server, "m").len(), 6);
}

#[test]
fn delete_and_clean_tombstones_on_an_empty_store_succeed() {
    let (_tmp, server) = Server::fresh_with(&["--enable-admin-api"]);
    let r = post_form(&server, "/api/v1/admin/tsdb/delete_series", "match[]=up");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = post_form(&server, "/api/v1/admin/tsdb/clean_tombstones", "");
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn invalid_or_shadowed_retention_rules_refuse_to_start_naming_the_rule() {
    for (rules, want) in [
        (
            "[[retention]]\nmatch = '{job='\nkeep = \"1d\"\n",
            "retention rule 1",
        ),
        (
            "[[retention]]\nmatch = '{job=\"a\"}'\nkeep = \"never\"\n",
            "keep = \"never\"",
        ),
        (
            "[[retention]]\nmatch = '{job=\"a\"}'\nkeep = \"1d\"\n[[retention]]\nmatch = 'm{job=\"a\"}'\nkeep = \"9d\"\n",
            "retention rule 2",
        ),
    ] {
        refused_naming("--config", "hourglass.toml", rules, &[want]);
    }
    let (ok, _, err) = common::cli::hourglass(&["compact", "--data-dir", "/nonexistent/hourglass"]);
    assert!(!ok);
    assert!(err.contains("is not a directory"), "{err}");
}

/// `m{job, instance="h0".."h5"}`, one sample a minute over `[from, to)`.
fn write_minutes(server: &Server, job: &str, from: i64, to: i64) {
    let insts: Vec<String> = (0..6).map(|i| format!("h{i}")).collect();
    let series: Vec<_> = insts
        .iter()
        .map(|inst| {
            let samples: Vec<Sample> = (from..to)
                .step_by(MIN as usize)
                .map(|t| Sample::new(t, (t / MIN % 97) as f64))
                .collect();
            (
                vec![("__name__", "m"), ("job", job), ("instance", inst.as_str())],
                samples,
            )
        })
        .collect();
    let r = write_series(server, &series);
    assert!(r.status < 300, "{} {}", r.status, r.text());
}

/// The instances the partitions on disk hold series of.
fn instances_on_disk(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data.join("parts")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.file_type().unwrap().is_dir() || name.starts_with('.') {
            continue;
        }
        let p = hourglass_storage::partition::Partition::open(e.path()).unwrap();
        out.extend(
            p.series()
                .filter_map(|(l, _)| l.get("instance").map(String::from)),
        );
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_delete_acknowledged_then_kill_9_stays_deleted_and_never_reaches_a_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // No hour ready before the kill (an out-of-order window longer than
    // the data): everything is in the head.
    let server = Server::start(
        &data,
        &["--out-of-order-window", "4h", "--enable-admin-api"],
    );
    let now = now_ms() - 60_000;
    write_minutes(&server, "k", now - 3 * 60 * MIN, now);
    let r = post_form(
        &server,
        "/api/v1/admin/tsdb/delete_series",
        &format!("match[]={}", enc("m{instance=~\"h[0-2]\"}")),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(counts(&server, "m").len(), 3, "hidden at once");
    common::signal(server.child.as_ref().unwrap(), "KILL");
    drop(server);

    let server = Server::start(&data, &["--persist-interval", "1s"]);
    let c = counts(&server, "m");
    assert_eq!(c, vec![180.0; 3], "the WAL replayed, the delete kept");
    // The finished hours are persisted: none of the deleted samples.
    wait_until("hours persisted", Duration::from_secs(60), || {
        !instances_on_disk(&data).is_empty()
    });
    assert_eq!(instances_on_disk(&data), ["h3", "h4", "h5"]);
    assert_eq!(counts(&server, "m"), vec![180.0; 3]);
    assert!(server.terminate().0);
}

#[test]
fn a_retention_rule_hides_head_samples_older_than_its_keep_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = debug_kept_for(tmp.path(), "1h");
    // Written before the rule is in force (with it, ingest refuses what
    // it would remove); replayed into the head at the restart.
    let flags = ["--config", cfg.as_str(), "--persist-interval", "1h"];
    let server = Server::start(&tmp.path().join("data"), &flags[2..]);
    let now = now_ms();
    write_minutes(&server, "debug", now - 90 * MIN, now);
    write_minutes(&server, "prod", now - 90 * MIN, now);
    assert!(server.terminate().0);
    let server = Server::start(&tmp.path().join("data"), &flags);
    let debug = counts(&server, "m{job=\"debug\"}");
    assert_eq!(debug.len(), 6);
    assert!(
        debug.iter().all(|&n| (59.0..=61.0).contains(&n)),
        "{debug:?}"
    );
    assert_eq!(counts(&server, "m{job=\"prod\"}"), vec![90.0; 6]);
}

#[test]
fn hourglass_compact_killed_with_sigkill_leaves_the_store_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Hours stay hours while serving: the offline compaction has days to
    // merge.
    let flags = ["--persist-interval", "1s", "--compact-days-after", "0"];
    let server = Server::start(&data, &flags);
    let now = now_ms() - 60_000;
    write_four_days(&server, now);
    // Every hour but the last one or two (inside the out-of-order window).
    wait_until("hours persisted", Duration::from_secs(90), || {
        part_names(&data).len() >= 4 * 24 - 2
    });
    let want = counts(&server, "m");
    assert_eq!(want, vec![(4 * 24 * 60) as f64; 20]);
    assert!(server.terminate().0);

    let d = data.to_str().unwrap();
    let mut killed = 0;
    for delay_ms in [10, 40, 120, 300, 800] {
        let mut child = std::process::Command::new(BIN)
            .args(["compact", "--data-dir", d, "--compact-days-after", "1d"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        common::signal(&child, "KILL");
        let status = child.wait().unwrap();
        if !status.success() {
            killed += 1;
        }
        let (ok, out, err) = common::cli::hourglass(&["verify", "--data-dir", d]);
        assert!(ok, "killed after {delay_ms} ms: {out}\n{err}");
    }
    println!("compactions killed mid-way: {killed} of 5");
    let (ok, out, err) = common::cli::hourglass(&["compact", "--data-dir", d]);
    assert!(ok, "{out}\n{err}");
    let server = Server::start(&data, &flags);
    assert_eq!(counts(&server, "m"), want);
    assert!(
        part_names(&data).iter().any(|n| n.len() == 10),
        "{:?}",
        part_names(&data)
    );
}
