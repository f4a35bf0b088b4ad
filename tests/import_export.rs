//! `hourglass export` then `hourglass import` reproduces the data exactly,
//! special values included; bad lines are reported by number and field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli::{hourglass, import, input_file};
use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::v1;
use hourglass_storage::{STALE_NAN_BITS, Sample};
use std::path::Path;

/// 2023-03-01T00:00:00Z: old data, so import seals it into partitions.
const T0: i64 = 1_677_628_800_000;

/// `hourglass export --match <selector> --data-dir <dir> [extra]`.
fn export(dir: &Path, selector: &str, extra: &[&str]) -> (bool, String, String) {
    let dir = dir.to_str().unwrap();
    hourglass(&[&["export", "--match", selector, "--data-dir", dir], extra].concat())
}

/// Remote-writes `body` to `server`, stops it and exports `selector` from
/// its data directory `dir` to `out`; returns the export's report.
fn write_stop_export(
    server: Server,
    body: &[u8],
    dir: &Path,
    selector: &str,
    out: &Path,
) -> String {
    let r = remote_write(&server, body);
    assert_eq!(r.status, 204, "{}", r.text());
    let (ok, _) = server.terminate();
    assert!(ok);
    let (ok, _, err) = export(dir, selector, &["-o", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    err
}

#[test]
fn export_then_import_reproduces_the_data_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    // Stamped in 2023: kept as written (retention counts from the wall
    // clock).
    let server = Server::start(&a, &KEEP_HISTORY);
    let mut w = Writer::default();
    let specials = [
        1.5,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(STALE_NAN_BITS),
        1e-300,
        123456789.123,
    ];
    for job in ["x", "y"] {
        let samples: Vec<Sample> = (0..3 * 240)
            .map(|i| Sample::new(T0 + i * 15_000, specials[i as usize % specials.len()]))
            .collect();
        v1::encode_series(&mut w, [("__name__", "m"), ("job", job)], &samples);
    }
    let first = tmp.path().join("first.jsonl");
    let err = write_stop_export(server, &w.buf, &a, "m", &first);
    assert!(err.contains("exported 2 series, 1440 samples"), "{err}");

    let b = tmp.path().join("b");
    let (ok, _, err) = import(&b, &first, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("1440 samples stored"), "{err}");
    assert!(
        !err.contains(" 0 partitions written"),
        "old hours should be sealed: {err}"
    );

    let (ok, second, err) = export(&b, "{job=~\"x|y\"}", &[]);
    assert!(ok, "{err}");
    assert_eq!(second, std::fs::read_to_string(&first).unwrap());
    assert!(
        second.contains("\"StaleNaN\"") && second.contains("\"-Inf\"") && second.contains("-0.0")
    );
}

#[test]
fn bad_lines_are_reported_and_good_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input_file(
        tmp.path(),
        "in.jsonl",
        concat!(
            "{\"metric\":{\"__name__\":\"ok\"},\"values\":[1,2],\"timestamps\":[1000,2000]}\n",
            "{\"metric\":{\"__name__\":\"bad\"},\"values\":[1],\"timestamps\":[]}\n",
            "not json\n",
        ),
    );
    let dir = tmp.path().join("d");
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(!ok);
    assert!(err.contains("line 2: field \"values\""), "{err}");
    assert!(err.contains("line 3: field \"line\""), "{err}");
    assert!(err.contains("2 samples stored"), "{err}");
    let (ok, out, _) = export(&dir, "ok", &[]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn export_refuses_a_directory_in_use() {
    let (tmp, _server) = Server::fresh();
    let (ok, _, err) = export(tmp.path(), "up", &[]);
    assert!(!ok);
    assert!(err.contains("in use"), "{err}");
}

#[test]
fn text_exposition_with_timestamps_imports_and_bad_lines_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input_file(
        tmp.path(),
        "in.prom",
        concat!(
            "# HELP jobs_total Jobs done.\n",
            "# TYPE jobs_total counter\n",
            "jobs_total{queue=\"a\"} 3 1677628800000\n",
            "jobs_total{queue=\"a\"} 5 1677628815000\n",
            "jobs_total{queue=\"b\"} NaN 1677628800000\n",
            "no_timestamp 1\n",
        ),
    );
    let dir = tmp.path().join("d");
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(!ok, "a sample without timestamp must fail the import");
    assert!(err.contains("line 6: sample has no timestamp"), "{err}");
    assert!(err.contains("3 samples stored"), "{err}");
    let (ok, out, _) = export(&dir, "jobs_total", &[]);
    assert!(ok);
    assert!(
        out.contains(r#""timestamps":[1677628800000,1677628815000],"values":[3.0,5.0]"#),
        "{out}"
    );
    assert!(out.contains(r#""values":["NaN"#), "{out}");
}

#[test]
fn openmetrics_with_second_timestamps_and_exemplars_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input_file(
        tmp.path(),
        "in.om",
        concat!(
            "# TYPE jobs counter\n",
            "# UNIT jobs jobs\n",
            "# HELP jobs Jobs done.\n",
            "jobs_total{queue=\"a\"} 3 1677628800\n",
            "jobs_total{queue=\"a\"} 5 1677628815.25 # {trace_id=\"abc\"} 1 1677628815.1\n",
            "jobs_created{queue=\"a\"} 1677628000 1677628800\n",
            "# TYPE build info\n",
            "build_info{version=\"1.2\"} 1 1677628800.000\n",
            "# EOF\n",
        ),
    );
    let dir = tmp.path().join("d");
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("4 samples stored"), "{err}");
    let exported = |m: &str| {
        let (ok, out, err) = export(&dir, m, &[]);
        assert!(ok, "{err}");
        out
    };
    let jobs = exported("jobs_total");
    assert!(
        jobs.contains(r#""timestamps":[1677628800000,1677628815250],"values":[3.0,5.0]"#),
        "{jobs}"
    );
    assert!(exported("build_info").contains(r#""version":"1.2""#));

    // Text after `# EOF` is refused with its line, and `--format text`
    // refuses second timestamps with a decimal point.
    std::fs::write(&input, "up 1 1677628800\n# EOF\nup 2 1677628815\n").unwrap();
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(!ok);
    assert!(err.contains("line 3") && err.contains("# EOF"), "{err}");
    std::fs::write(&input, "up 1 1677628800.5\n").unwrap();
    let (ok, _, err) = import(&dir, &input, &["--format", "text"]);
    assert!(!ok);
    assert!(err.contains("want integer milliseconds"), "{err}");
}

/// A generated 100,000+ line file with bad lines scattered through every
/// block, in each format: every good line is stored, every bad line is
/// counted and the first ones are named by number; the report stays
/// bounded.
#[test]
fn import_stores_every_good_line_and_reports_every_bad_one_in_every_format() {
    const LINES: usize = 120_000;
    const SERIES: usize = 50;
    // Bad lines, by 1-based number: in the first block, at and beside the
    // 100,000-line block boundary, and in the second block.
    let bad: Vec<usize> = vec![3, 50_000, 99_999, 100_000, 100_001, 119_999];
    let is_bad = |n: usize| bad.contains(&n);
    let hour_ago = T0 - 3_600_000;
    let formats: [(&str, &dyn Fn(usize) -> String); 3] = [
        ("text", &|n| {
            let (s, t) = (n % SERIES, hour_ago + n as i64);
            if is_bad(n) {
                format!("m{{s=\"{s}\"}} not-a-number {t}")
            } else {
                format!("m{{s=\"{s}\"}} {n} {t}")
            }
        }),
        ("openmetrics", &|n| {
            // Seconds: one sample per series per second.
            let (s, t) = (n % SERIES, hour_ago / 1000 + (n / SERIES) as i64);
            if is_bad(n) {
                format!("m{{s=\"{s}\" {n} {t}")
            } else {
                format!("m{{s=\"{s}\"}} {n} {t}")
            }
        }),
        ("jsonl", &|n| {
            let (s, t) = (n % SERIES, hour_ago + n as i64);
            if is_bad(n) {
                format!("{{\"metric\":{{\"__name__\":\"m\",\"s\":\"{s}\"}},\"values\":[1]}}")
            } else {
                format!(
                    "{{\"metric\":{{\"__name__\":\"m\",\"s\":\"{s}\"}},\"values\":[{n}],\"timestamps\":[{t}]}}"
                )
            }
        }),
    ];
    for (format, line) in formats {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        let mut text: String = (1..=LINES).map(|n| line(n) + "\n").collect();
        if format == "openmetrics" {
            text.push_str("# EOF\n");
        }
        std::fs::write(&input, text).unwrap();
        let dir = tmp.path().join("d");
        let (ok, _, err) = import(&dir, &input, &["--format", format]);
        assert!(!ok, "{format}: bad lines make the import fail: {err}");
        let good = LINES - bad.len();
        assert!(
            err.contains(&format!("{good} samples stored")),
            "{format}: {err}"
        );
        assert!(
            err.contains(&format!("{} unreadable lines", bad.len())),
            "{format}: {err}"
        );
        for n in &bad {
            assert!(
                err.contains(&format!("line {n}")),
                "{format}: line {n}: {err}"
            );
        }
        assert!(
            err.lines().count() < 40,
            "{format}: report not bounded: {err}"
        );
        let (ok, out, e) = export(&dir, "m", &[]);
        assert!(ok, "{e}");
        let mut values: Vec<usize> = out
            .lines()
            .flat_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let vals: Vec<usize> = v["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as usize)
                    .collect();
                vals
            })
            .collect();
        values.sort_unstable();
        let want: Vec<usize> = (1..=LINES).filter(|n| !is_bad(*n)).collect();
        assert!(values == want, "{format}: every good line's value stored");
    }
}

/// A report of a file with many bad lines names the first ones and counts
/// the rest, instead of printing them all.
#[test]
fn import_report_of_many_bad_lines_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    let mut text = String::new();
    for n in 1..=5000 {
        text.push_str(&format!("m{{i=\"{n}\"}} x {}\n", T0 + n));
    }
    text.push_str(&format!("ok 1 {T0}\n\u{0}\n"));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"ok2 \xff 1\n");
    bytes.extend_from_slice(format!("ok3 3 {T0}\n").as_bytes());
    std::fs::write(&input, bytes).unwrap();
    let dir = tmp.path().join("d");
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(!ok);
    assert_mentions(
        &err,
        &[
            "line 1, column",
            "more unreadable lines",
            "5002 unreadable lines",
            "2 samples stored",
        ],
    );
    assert!(err.lines().count() < 40, "{err}");
}

/// A histogram whose `# TYPE` is in one 100,000-line block and whose
/// buckets are in the next still has its `le` normalised as Prometheus
/// does, so the buckets line up with those of earlier blocks.
#[test]
fn import_carries_the_family_context_across_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    let mut text = String::from("# TYPE h histogram\n");
    text.push_str(&format!("h_bucket{{le=\"1\"}} 1 {T0}\n"));
    for i in 0..100_000 {
        text.push_str(&format!("h_bucket{{le=\"1\"}} 1 {}\n", T0 + 1 + i));
    }
    text.push_str(&format!("h_bucket{{le=\"1\"}} 2 {}\n", T0 + 200_000));
    std::fs::write(&input, text).unwrap();
    let dir = tmp.path().join("d");
    let (ok, _, err) = import(&dir, &input, &[]);
    assert!(ok, "{err}");
    let (ok, out, e) = export(&dir, "h_bucket", &[]);
    assert!(ok, "{e}");
    assert_eq!(out.lines().count(), 1, "one series, le=\"1.0\": {out:.300}");
    assert!(out.contains("\"le\":\"1.0\""), "{out:.300}");
}

#[test]
fn native_histograms_export_and_import_bit_exact_beside_floats() {
    use hourglass_storage::{CounterResetHint, FloatHistogram, Histogram, Span};
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let server = Server::start(&a, &[]);
    let ints: Vec<(i64, Histogram)> = (0..3 * 240u64)
        .map(|i| {
            // Buckets i, i, i (deltas i, 0, 0) and i in the zero bucket.
            let h = Histogram {
                counter_reset_hint: CounterResetHint::NotCounterReset,
                schema: 3,
                zero_threshold: 2f64.powi(-128),
                zero_count: i,
                count: 4 * i,
                sum: i as f64 * 0.031,
                positive_spans: vec![Span::new(-12, 2), Span::new(3, 1)],
                positive_deltas: vec![i as i64, 0, 0],
                ..Histogram::default()
            };
            (T0 + i as i64 * 15_000, h)
        })
        .collect();
    let nhcb: Vec<(i64, FloatHistogram)> = (0..10)
        .map(|i| {
            let k = f64::from(i);
            (
                T0 + i64::from(i) * 60_000 + 7,
                FloatHistogram {
                    counter_reset_hint: CounterResetHint::Gauge,
                    schema: -53,
                    count: 6.0 * k,
                    sum: 1.5 * k,
                    positive_spans: vec![Span::new(0, 3)],
                    positive_buckets: vec![k, 2.0 * k, 3.0 * k],
                    custom_values: vec![0.1, 0.5],
                    ..FloatHistogram::default()
                },
            )
        })
        .collect();
    let mut w = Writer::default();
    v1::encode_histogram_series(
        &mut w,
        [("__name__", "rpc_seconds"), ("job", "x")],
        &ints,
        &[],
    );
    v1::encode_histogram_series(
        &mut w,
        [("__name__", "rpc_seconds"), ("job", "y")],
        &[],
        &nhcb,
    );
    let floats: Vec<Sample> = (0..5)
        .map(|i| Sample::new(T0 + i * 1_000, i as f64))
        .collect();
    v1::encode_series(&mut w, [("__name__", "rpc_seconds"), ("job", "y")], &floats);
    let first = tmp.path().join("first.jsonl");
    let err = write_stop_export(server, &w.buf, &a, "rpc_seconds", &first);
    assert!(
        err.contains("exported 2 series, 5 samples, 730 native histogram samples"),
        "{err}"
    );
    let text = std::fs::read_to_string(&first).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"histograms\""))
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("\"custom_values\":[0.1,0.5]"), "{text}");

    let b = tmp.path().join("b");
    let (ok, _, err) = import(&b, &first, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("735 samples stored"), "{err}");
    assert!(!err.contains(" 0 partitions written"), "{err}");

    let (ok, second, err) = export(&b, "{__name__=\"rpc_seconds\"}", &[]);
    assert!(ok, "{err}");
    assert_eq!(second, text);

    // A histogram with fewer counts than its spans promise is named.
    let bad = input_file(
        tmp.path(),
        "bad.jsonl",
        format!(
            "{{\"metric\":{{\"__name__\":\"h\"}},\"histograms\":[{{\"schema\":0,\"count\":9,\"positive_spans\":[{{\"offset\":0,\"length\":2}}],\"positive_counts\":[1]}}],\"timestamps\":[{T0}]}}\n"
        ),
    );
    let (ok, _, err) = import(&tmp.path().join("c"), &bad, &[]);
    assert!(!ok);
    assert!(
        err.contains("line 1") && err.contains("histograms"),
        "{err}"
    );
}
