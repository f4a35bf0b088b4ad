//! Cardinality over history: `GET /api/v1/status/tsdb` with `start`/`end`
//! or `date`, `match[]`, `focusLabel` and `topN` counts series from the
//! partitions and the head, each series once, with the hour each first
//! appeared; `hourglass cardinality` counts the same offline; bad
//! parameters get a 400 naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::hourglass;
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::Sample;
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;
const HOUR: i64 = 3_600_000;

fn series(w: &mut Writer, name: &str, job: &str, inst: &str, hour: i64) {
    let samples: Vec<Sample> = (0..240)
        .map(|i| Sample::new(T0 + hour * HOUR + i * 15_000, i as f64))
        .collect();
    v1::encode_series(
        w,
        [("__name__", name), ("job", job), ("instance", inst)],
        &samples,
    );
}

/// Hour 0: `old_metric` × 3 (a partition); hours 1 and 3: `mid_metric` × 2
/// (a partition and the head); hour 3: `new_metric` × 1 (the head).
fn seeded(dir: &std::path::Path) -> Server {
    // Stamped in 2024: kept whole, hours as hours.
    let server = Server::start(dir, &keeping_history(&["--persist-interval", "1s"]));
    let writes: Vec<Vec<(&str, &str, &str, i64)>> = vec![
        vec![
            ("old_metric", "node", "i1", 0),
            ("old_metric", "node", "i2", 0),
            ("old_metric", "node", "i3", 0),
        ],
        vec![
            ("mid_metric", "node", "i1", 1),
            ("mid_metric", "node", "i2", 1),
        ],
        vec![
            ("mid_metric", "node", "i1", 3),
            ("mid_metric", "node", "i2", 3),
            ("new_metric", "other", "i9", 3),
        ],
    ];
    for batch in writes {
        let mut w = Writer::default();
        for (name, job, inst, hour) in batch {
            series(&mut w, name, job, inst, hour);
        }
        let r = remote_write(&server, &w.buf);
        assert_eq!(r.status, 204, "{}", r.text());
    }
    wait_for("partitions", || {
        metric(&server, "hourglass_partitions") >= 2.0
    });
    server
}

fn tsdb(server: &Server, query: &str) -> Value {
    let r = server.get(&format!("/api/v1/status/tsdb{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()["data"].clone()
}

fn counts(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

#[test]
fn status_tsdb_counts_partitions_and_head_over_any_range() {
    let tmp = tempfile::tempdir().unwrap();
    let server = seeded(tmp.path());

    let all = tsdb(&server, "?focusLabel=instance");
    assert_eq!(all["totalSeries"], 6, "{all}");
    assert_eq!(all["headStats"]["numSeries"], 6);
    assert_eq!(all["totalLabelValuePairs"], 18);
    assert_eq!(
        counts(&all["seriesCountByMetricName"]),
        owned(&[("old_metric", 3), ("mid_metric", 2), ("new_metric", 1)])
    );
    assert_eq!(
        counts(&all["seriesCountByFocusLabelValue"]),
        owned(&[("i1", 2), ("i2", 2), ("i3", 1), ("i9", 1)])
    );
    assert_eq!(
        counts(&all["seriesCountBySource"]),
        owned(&[("node", 5), ("other", 1)])
    );
    assert_eq!(all["sourceLabel"], "job");
    assert_eq!(
        counts(&all["labelValueCountByLabelName"]),
        owned(&[("instance", 4), ("__name__", 3), ("job", 2)])
    );
    assert_eq!(
        counts(&all["seriesCountByLabelName"]),
        owned(&[("__name__", 6), ("instance", 6), ("job", 6)])
    );
    assert_eq!(
        all["seriesCountByLabelValuePair"][0],
        json!({"name": "job=node", "value": 5})
    );
    let churn: Vec<(String, u64)> = all["newSeriesByHour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["hour"].as_str().unwrap()[..13].to_string(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        churn,
        owned(&[
            ("2024-01-01T00", 3),
            ("2024-01-01T01", 2),
            ("2024-01-01T03", 1)
        ])
    );

    // Hour 0 alone: its partition.
    let h0 = tsdb(
        &server,
        &format!("?start={}&end={}", T0 / 1000, (T0 + HOUR - 1) / 1000),
    );
    assert_eq!(h0["totalSeries"], 3, "{h0}");
    // Hour 3 alone: the head; mid_metric is new there within this range.
    let h3 = tsdb(
        &server,
        &format!(
            "?start={}&end={}",
            (T0 + 3 * HOUR) / 1000,
            (T0 + 4 * HOUR) / 1000
        ),
    );
    assert_eq!(h3["totalSeries"], 3, "{h3}");
    assert_eq!(h3["newSeriesByHour"][0]["value"], 3);
    // A day, by date; a day without data.
    assert_eq!(tsdb(&server, "?date=2024-01-01")["totalSeries"], 6);
    assert_eq!(tsdb(&server, "?date=2024-01-02")["totalSeries"], 0);
    // match[], and topN cuts every list.
    let other = tsdb(&server, "?match[]=%7Bjob%3D%22other%22%7D");
    assert_eq!(other["totalSeries"], 1);
    let either = tsdb(&server, "?match[]=new_metric&match[]=old_metric");
    assert_eq!(either["totalSeries"], 4);
    let top1 = tsdb(&server, "?topN=1");
    assert_eq!(
        counts(&top1["seriesCountByMetricName"]),
        owned(&[("old_metric", 3)])
    );
    assert_eq!(
        top1["seriesCountByLabelValuePair"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn status_tsdb_refuses_bad_parameters_naming_the_field() {
    let (_tmp, server) = Server::fresh();
    for (query, field) in [
        ("?topN=0", "topN"),
        ("?topN=10001", "topN"),
        ("?topN=x", "topN"),
        ("?limit=-1", "limit"),
        ("?date=2024-13-01", "date"),
        ("?date=2024-02-30", "date"),
        ("?date=yesterday", "date"),
        ("?date=2024-01-01&start=1", "date"),
        ("?start=10&end=5", "end"),
        ("?start=abc", "start"),
        ("?match[]=rate(x%5B5m%5D)", "match[]"),
    ] {
        let r = server.get(&format!("/api/v1/status/tsdb{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let v = r.json();
        assert_eq!(v["errorType"], "bad_data");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(&format!("\"{field}\"")), "{query}: {msg}");
    }
}

#[test]
fn cardinality_command_counts_a_stopped_directory_as_the_api_did() {
    let tmp = tempfile::tempdir().unwrap();
    let server = seeded(tmp.path());
    let (ok, _) = server.terminate();
    assert!(ok);
    let d = tmp.path().to_str().unwrap();
    let (ok, out, err) = hourglass(&["cardinality", "--data-dir", d, "--focus-label", "instance"]);
    assert!(ok, "{out}{err}");
    assert_mentions(
        &out,
        &[
            "series: 6  label pairs: 18",
            "partitions read: 2",
            "         3  old_metric",
            "         5  node",
            "         2  i1",
            "         3  2024-01-01T00:00:00",
            "         1  2024-01-01T03:00:00",
            "summary: 2 partitions, 6 series",
        ],
    );
    let (ok, out, _) = hourglass(&[
        "cardinality",
        "--data-dir",
        d,
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-01T00:59:59Z",
        "--match",
        "{job=\"node\"}",
    ]);
    assert!(ok);
    assert!(out.contains("series: 3 "), "{out}");
    let (ok, _, err) = hourglass(&["cardinality", "--data-dir", d, "--match", "rate(x[5m])"]);
    assert!(!ok && err.contains("--match"), "{err}");
}
