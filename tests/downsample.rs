//! Downsampling end to end: a server ingests three days of samples (the
//! store's "now" is its newest sample, so old timestamps make days pass at
//! once) and answers PromQL from the raw data; restarted with a
//! `[[downsample]]` tier, its background compactor replaces the old days
//! of the selected series by 5m summaries: the partitions shrink, the
//! same queries agree with the raw answers within the stated error, and
//! `warnings` names the resolution. Then the offline `hourglass compact`
//! applies a coarser tier.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::parts_bytes;
use common::query::{query_at, warnings_at};
use common::*;
use hourglass_storage::Sample;
use std::path::Path;
use std::time::Duration;

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;
const BUCKETS: [&str; 4] = ["0.1", "0.5", "1", "+Inf"];

/// Bytes of the partitions, once no compaction is under way (no
/// journal, no temporary directories) and the figure holds still.
fn settled_bytes(data: &Path) -> u64 {
    let mut last = u64::MAX;
    let mut out = 0;
    wait_until("compaction settled", Duration::from_secs(60), || {
        let busy = std::fs::read_dir(data.join("parts"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(['.', 'C']));
        let now = parts_bytes(data);
        let still = !busy && now == last;
        last = now;
        out = now;
        if !still {
            std::thread::sleep(Duration::from_millis(1500));
        }
        still
    });
    out
}

/// Whether the partition starting at `start` holds downsampled series.
fn downsampled(data: &Path, start: i64) -> bool {
    std::fs::read_dir(data.join("parts"))
        .unwrap()
        .flatten()
        .any(|e| {
            let meta = std::fs::read(e.path().join("meta.json")).unwrap_or_default();
            let m: serde_json::Value = serde_json::from_slice(&meta).unwrap_or_default();
            m["hour_start_ms"].as_i64() == Some(start) && e.path().join("downsampled").exists()
        })
}

/// Three days of 15 s samples ending at `now` for job `node` (a
/// counter that restarts now and then, a gauge, classic histogram buckets)
/// and job `db` (the same counter and gauge), five instances each, in one
/// request.
fn write_three_days(server: &Server, now: i64) {
    let mut rng = fastrand::Rng::with_seed(14);
    let mut series = Vec::new();
    let insts: Vec<String> = (0..5).map(|i| format!("h{i}")).collect();
    let n = 3 * 24 * 60 * 4;
    let times = |k: i64| now - 3 * DAY + k * 15_000;
    for job in ["node", "db"] {
        for inst in &insts {
            let mut c = 0.0;
            let counter: Vec<Sample> = (0..n)
                .map(|k| {
                    c = if rng.u32(..3000) == 0 {
                        0.0
                    } else {
                        c + f64::from(rng.u32(..1000))
                    };
                    Sample::new(times(k), c)
                })
                .collect();
            // A scrape in ten missed: intervals hold 17 to 20 samples, so
            // the mean of their means is not the mean.
            let gauge: Vec<Sample> = (0..n)
                .filter_map(|k| {
                    let v = f64::from(rng.u32(..100_000)) / 8.0;
                    (rng.u32(..10) != 0).then(|| Sample::new(times(k), v))
                })
                .collect();
            let base = |name| {
                vec![
                    ("__name__", name),
                    ("job", job),
                    ("instance", inst.as_str()),
                ]
            };
            series.push((base("c_total"), counter));
            series.push((base("g"), gauge));
            if job == "node" {
                let mut cum = [0.0f64; 4];
                let mut buckets: Vec<Vec<Sample>> = vec![Vec::new(); 4];
                for k in 0..n {
                    let obs = rng.u32(..4) as usize;
                    for (b, v) in cum.iter_mut().enumerate() {
                        if b >= obs {
                            *v += 1.0;
                        }
                        buckets[b].push(Sample::new(times(k), *v));
                    }
                }
                for (le, s) in BUCKETS.iter().zip(buckets) {
                    let mut l = base("lat_bucket");
                    l.push(("le", le));
                    series.push((l, s));
                }
            }
        }
    }
    let r = write_series(server, &series);
    assert!(r.status < 300, "{} {}", r.status, r.text());
}

const QUERIES: [&str; 9] = [
    "g",
    "count_over_time(g[1h])",
    "max_over_time(g[1h])",
    "min_over_time(g[1h])",
    "avg_over_time(g[1h])",
    "sum_over_time(g[1h])",
    "rate(c_total[1h])",
    "increase(c_total[1h])",
    "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[1h])))",
];

/// Relative error allowed per query: exact for `max`/`min`/`count`, and for the
/// sums and means of whole intervals; for the counter functions the
/// window loses up to one interval at its start (5m of 1h) to
/// extrapolation.
fn tolerance(q: &str) -> f64 {
    if q.contains("rate") || q.contains("increase") {
        0.1
    } else {
        1e-9
    }
}

fn answers(server: &Server, t_s: f64) -> Vec<Vec<(common::query::Labels, f64)>> {
    QUERIES
        .iter()
        .map(|q| query_at(server, q, Some(t_s)))
        .collect()
}

#[test]
fn a_downsampling_tier_shrinks_old_days_and_queries_stay_within_the_stated_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Ages chosen so that the test's day is past both tiers at any time of
    // day: the first whole day ended at least 24 h before now.
    let tier = "[[downsample]]\nmatch = '{job=\"node\"}'\nafter = \"12h\"\nresolution = \"5m\"\n";
    let cfg = config_file(tmp.path(), tier);
    let flags = ["--compact-days-after", "12h", "--persist-interval", "1s"];
    let server = Server::start(&data, &flags);
    let now = now_ms() - 60_000;
    write_three_days(&server, now);
    // Day partitions, raw: the baseline.
    wait_until("day partitions", Duration::from_secs(90), || {
        std::fs::read_dir(data.join("parts"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().len() == 10)
            .count()
            >= 1
    });
    // The first whole day is past the tier. A query time in it, on a 5m
    // boundary (minus 1 ms): its 1h windows hold whole intervals.
    let day1 = (now - 3 * DAY).div_euclid(DAY) * DAY + DAY;
    let t = day1 + 12 * 60 * MIN + 25 * MIN - 1;
    let t_s = t as f64 / 1000.0;
    let raw = answers(&server, t_s);
    assert!(raw.iter().all(|r| !r.is_empty()), "{raw:?}");
    // The same on an hour boundary, for the 1h tier.
    let th_s = (day1 + 12 * 60 * MIN - 1) as f64 / 1000.0;
    let hourly = "max_over_time(g{job=\"node\"}[1h])";
    let raw_hour = query_at(&server, hourly, Some(th_s));
    assert_eq!(raw_hour.len(), 5);
    let (clean, _) = server.terminate();
    assert!(clean);
    let before = parts_bytes(&data);

    // Background compactor with the tier.
    let mut with_cfg: Vec<&str> = flags.to_vec();
    with_cfg.extend(["--config", cfg.as_str()]);
    let server = Server::start(&data, &with_cfg);
    wait_until("the day downsampled", Duration::from_secs(90), || {
        downsampled(&data, day1)
    });
    let after = settled_bytes(&data);
    println!("partitions: {before} -> {after} bytes after downsampling 30 of 40 series past 12 h");
    assert!(after < before, "{before} -> {after}");
    let got = answers(&server, t_s);
    for ((q, r), g) in QUERIES.iter().zip(&raw).zip(&got) {
        assert_eq!(
            r.iter().map(|x| &x.0).collect::<Vec<_>>(),
            g.iter().map(|x| &x.0).collect::<Vec<_>>(),
            "{q}: the same series"
        );
        let worst = r
            .iter()
            .zip(g)
            .map(|(a, b)| ((a.1 - b.1) / a.1.abs().max(1e-9)).abs())
            .fold(0.0, f64::max);
        println!("{q}: worst relative error {worst:.2e}");
        assert!(worst <= tolerance(q), "{q}: {r:?} vs {g:?}");
    }
    let w = warnings_at(&server, "max_over_time(g{job=\"node\"}[1h])", t_s);
    assert!(w.contains("downsampled to 5m"), "{w}");
    let w = warnings_at(&server, "max_over_time(g{job=\"db\"}[1h])", t_s);
    assert!(!w.contains("downsampled"), "raw series: no warning: {w}");
    let (clean, _) = server.terminate();
    assert!(clean);

    // Offline: a coarser tier folds the oldest day into 1h intervals.
    let coarse_dir = tmp.path().join("coarse");
    std::fs::create_dir(&coarse_dir).unwrap();
    let coarse = config_file(
        &coarse_dir,
        &format!(
            "{tier}[[downsample]]\nmatch = '{{job=\"node\"}}'\nafter = \"23h\"\nresolution = \"1h\"\n"
        ),
    );
    let d = data.to_str().unwrap();
    let (ok, out, err) = common::cli::hourglass(&[
        "compact",
        "--data-dir",
        d,
        "--compact-days-after",
        "12h",
        "--config",
        &coarse,
    ]);
    assert!(ok, "{out}\n{err}");
    println!("{out}");
    let server = Server::start(&data, &with_cfg);
    let w = warnings_at(&server, "max_over_time(g{job=\"node\"}[1h])", t_s);
    assert!(w.contains("downsampled to 1h"), "{w}");
    assert_eq!(
        query_at(&server, hourly, Some(th_s)),
        raw_hour,
        "max over a whole hour stays exact at 1h"
    );
}

#[test]
fn invalid_downsampling_tiers_refuse_to_start_naming_the_rule() {
    let tier = "[[downsample]]\nmatch = '{job=\"node\"}'\nafter = \"7d\"\nresolution = \"7m\"\n";
    let why = ["downsample rule 1", "divide a day"];
    refused_naming("--config", "hourglass.toml", tier, &why);
}
