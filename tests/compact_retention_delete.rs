//! Compaction, retention rules and deletes end to end: a server ingests
//! four days of samples (the store's "now" is its newest sample, so old
//! timestamps make days pass at once), its background compactor merges
//! old days and applies a `[[retention]]` rule, the admin API deletes
//! series, and `du` of the partitions shrinks where it must; then the
//! offline `hourglass delete` and `hourglass compact`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::parts_bytes;
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

#[test]
fn retention_rules_compaction_and_delete_series_shrink_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_file(
        tmp.path(),
        "[[retention]]\nmatch = '{job=\"debug\"}'\nkeep = \"1d\"\n",
    );
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
    ];
    let server = Server::start(&data, &flags);
    let now = now_ms() - 60_000;
    write_four_days(&server, now);

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
    let before = parts_bytes(&data);
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
fn admin_api_switched_off_answers_503() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--disable-admin-api"]);
    for path in [
        "/api/v1/admin/tsdb/delete_series",
        "/api/v1/admin/tsdb/clean_tombstones",
    ] {
        let r = post_form(&server, path, "match[]=up");
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.json()["errorType"], "unavailable");
    }
}

#[test]
fn delete_and_clean_tombstones_on_an_empty_store_succeed() {
    let (_tmp, server) = Server::fresh();
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
