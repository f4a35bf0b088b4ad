//! The data lifecycle live, with a fast clock (`--test-clock-speed`, a
//! day in 3 s): a server with `[[retention]]` and `[[downsample]]` rules
//! ingests eight days as they pass, hour by hour, never ahead of its own
//! clock; its background compactor merges days, downsamples them and
//! removes what retention ends; PromQL answers as the rules say, and the
//! bytes of one day's partition shrink at each step, then leave the disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{query_at, warnings_at};
use common::*;
use hourglass_storage::Sample;
use std::path::Path;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// A day passes in 3 s.
const SPEED: i64 = DAY / 3_000;
const STEP: i64 = 15_000;

const RULES: &str = r#"
[[retention]]
match = '{job="debug"}'
keep = "2d"

[[downsample]]
match = '{job="node"}'
after = "3d"
resolution = "5m"
"#;

/// A gauge of random eighths (so raw samples cost bytes): splitmix64.
fn gauge(k: i64, salt: i64) -> f64 {
    let mut z = (k as u64).wrapping_mul(8).wrapping_add(salt as u64);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % 100_000) as f64 / 8.0
}

/// One hour of samples from `start` (the `k`th step since `t0`).
fn hour(t0: i64, start: i64) -> Vec<common::write::Series<'static>> {
    let ks = (start - t0) / STEP..(start + HOUR - t0) / STEP;
    let series: [(&str, &str, &str, i64); 6] = [
        ("node", "a", "g", 1),
        ("node", "b", "g", 2),
        ("node", "a", "c_total", 0),
        ("node", "b", "c_total", 0),
        ("debug", "a", "g", 3),
        ("keep", "a", "g", 4),
    ];
    series
        .iter()
        .map(|&(job, inst, name, salt)| {
            let samples = ks
                .clone()
                .map(|k| {
                    let v = if name == "g" {
                        gauge(k, salt)
                    } else {
                        (k * 3) as f64
                    };
                    Sample::new(t0 + k * STEP, v)
                })
                .collect();
            (
                vec![("__name__", name), ("job", job), ("instance", inst)],
                samples,
            )
        })
        .collect()
}

/// The bytes of the partition of the UTC day starting at `day` once it is
/// a day partition, and whether it holds downsampled series.
fn day_partition(data: &Path, day: i64) -> Option<(u64, bool)> {
    for e in std::fs::read_dir(data.join("parts")).ok()?.flatten() {
        // Not a compaction's partition under construction.
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::read(e.path().join("meta.json")) else {
            continue;
        };
        let m: serde_json::Value = serde_json::from_slice(&meta).unwrap_or_default();
        if m["hour_start_ms"].as_i64() == Some(day) && m["span_ms"].as_i64() == Some(DAY) {
            let files = std::fs::read_dir(e.path()).ok()?.flatten();
            let bytes = files
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum();
            return Some((bytes, e.path().join("downsampled").exists()));
        }
    }
    None
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn count(server: &Server, q: &str, t: i64) -> Vec<f64> {
    query_at(server, q, Some(t as f64 / 1000.0))
        .into_iter()
        .map(|x| x.1)
        .collect()
}

#[test]
fn a_fast_clock_server_downsamples_and_expires_days_as_they_pass_and_frees_their_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = config_file(tmp.path(), RULES);
    let speed = SPEED.to_string();
    let flags = [
        "--config",
        cfg.as_str(),
        "--test-clock-speed",
        speed.as_str(),
        "--retention",
        "6d",
        "--compact-days-after",
        "1d",
        "--persist-interval",
        "1s",
    ];
    // The server's clock starts before it answers: ours trails it.
    let t0 = now_ms();
    let server = Server::start(&data, &flags);
    let started = Instant::now();
    let server_now = || t0 + started.elapsed().as_millis() as i64 * SPEED;
    let day1 = t0.div_euclid(DAY) * DAY + DAY;
    let mut seen: Vec<(u64, bool)> = Vec::new();
    let mut peak_dir = 0;
    let hours = 8 * 24;
    for h in 0..hours {
        let start = t0 + h * HOUR;
        while server_now() < start + HOUR {
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = write_series(&server, &hour(t0, start));
        assert!(r.status < 300, "hour {h}: {} {}", r.status, r.text());
        if let Some(p) = day_partition(&data, day1)
            && seen.last() != Some(&p)
        {
            seen.push(p);
        }
        peak_dir = peak_dir.max(dir_bytes(&data));
    }
    let now = t0 + hours * HOUR - STEP;
    println!(
        "wrote 8 days in {:.1?} (load {})",
        started.elapsed(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    // Let retention catch up with the last hours (the day is 6d old).
    wait_until(
        "the first whole day removed",
        Duration::from_secs(60),
        || day_partition(&data, day1).is_none(),
    );
    println!("day {day1} partition (bytes, downsampled) as it aged: {seen:?}");
    println!(
        "data dir: peak {peak_dir} bytes while ingesting, {} now",
        dir_bytes(&data)
    );
    let raw = seen.iter().filter(|p| !p.1).map(|p| p.0).max();
    let down = seen.iter().filter(|p| p.1).map(|p| p.0).min();
    let (Some(raw), Some(down)) = (raw, down) else {
        panic!("the day was seen raw and downsampled: {seen:?}");
    };
    assert!(
        down * 2 < raw,
        "downsampling node and dropping debug halve the day at least: {raw} -> {down}"
    );

    // PromQL as the rules say, at times on 5m boundaries (less 1 ms), so
    // 1h windows hold whole intervals: 240 samples of 15 s.
    let at = |age: i64| (now - age).div_euclid(300_000) * 300_000 - 1;
    // The first whole day ended more than 6d before now: gone.
    for q in ["count_over_time(g[1h])", "count_over_time(c_total[1h])"] {
        let t = day1 + 12 * HOUR;
        assert!(count(&server, q, t).is_empty(), "{q}: past --retention 6d");
    }
    let debug = "count_over_time(g{job=\"debug\"}[1h])";
    assert!(
        count(&server, debug, at(2 * DAY + 3 * HOUR)).is_empty(),
        "past keep 2d"
    );
    assert_eq!(count(&server, debug, at(DAY)), [240.0]);
    let keep = "count_over_time(g{job=\"keep\"}[1h])";
    assert_eq!(
        count(&server, keep, at(4 * DAY)),
        [240.0],
        "the fallback keeps 6d"
    );
    let node = "count_over_time(g{job=\"node\"}[1h])";
    let t = at(4 * DAY);
    // The compaction after the last hours downsamples the day 4d back.
    let day4 = t.div_euclid(DAY) * DAY;
    wait_until(
        "the day 4d back downsampled",
        Duration::from_secs(60),
        || day_partition(&data, day4).is_some_and(|p| p.1),
    );
    assert_eq!(count(&server, node, t), [240.0, 240.0], "count stays exact");
    let w = warnings_at(&server, node, t as f64 / 1000.0);
    assert!(w.contains("downsampled to 5m"), "{w}");
    assert!(!warnings_at(&server, node, at(DAY) as f64 / 1000.0).contains("downsampled"));
    // max is exact over whole intervals; the counter's increase too.
    let max = "max_over_time(g{job=\"node\",instance=\"a\"}[1h])";
    let want = ((t - HOUR + 1 - t0).div_euclid(STEP) + 1..=(t - t0).div_euclid(STEP))
        .map(|k| gauge(k, 1))
        .fold(f64::MIN, f64::max);
    assert_eq!(count(&server, max, t), [want]);
    let inc = "increase(c_total{job=\"node\",instance=\"a\"}[1h])";
    let got = count(&server, inc, t);
    let raw_inc = count(&server, inc, at(DAY));
    println!(
        "increase over 1h: downsampled {got:?}, raw {raw_inc:?} (3 per 15 s: 717 inside, extrapolated to 720)"
    );
    assert_eq!(got.len(), 1);
    assert!(
        (got[0] - raw_inc[0]).abs() <= 0.1 * raw_inc[0],
        "{got:?} vs {raw_inc:?}"
    );
    // Remote write refuses what a rule would expire, naming the reason.
    let late: Vec<common::write::Series<'_>> = vec![
        (
            vec![("__name__", "g"), ("job", "debug"), ("instance", "late")],
            vec![Sample::new(now - 3 * DAY, 1.0)],
        ),
        (
            vec![("__name__", "g"), ("job", "keep"), ("instance", "late")],
            vec![Sample::new(now - 3 * DAY, 1.0)],
        ),
    ];
    let r = write_series(&server, &late);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("stored 1 samples, refused 1:")
            && r.text().contains(" past_retention=1 "),
        "{}",
        r.text()
    );
    let refused = common::query::metric(
        &server,
        "hourglass_head_samples_rejected_total{reason=\"past_retention\"}",
    );
    assert_eq!(refused, 1.0);
    let (clean, _) = server.terminate();
    assert!(clean);
}
