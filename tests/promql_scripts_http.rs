//! Prometheus's PromQL test scripts as an outside tester runs them: each
//! `load` goes to a live `hourglass serve` over remote write 1.0 (floats,
//! stale markers and native histograms; float series with an `@st` row
//! over remote write 2.0 with their start timestamps), each `eval` is asked of
//! `/api/v1/query` or `/api/v1/query_range`, and the JSON answer is judged
//! as the in-process runner judges the engine's. A fresh server serves
//! each stretch of a script between `clear`s.
//!
//! Gated: `HOURGLASS_PROMQL_SCRIPTS_HTTP=<dir>` names the scripts; without
//! it the test does nothing. `HOURGLASS_PROMQL_FAILURES_HTTP=<file>` writes
//! what failed. Prints pass counts per file and in total; never fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../query/tests/script/compare.rs"]
mod compare;
#[path = "../query/tests/script/parse.rs"]
mod parse;
#[path = "../query/tests/script/values.rs"]
mod values;

use common::Server;
use common::query::enc;
use compare::{Answer, Tally, judge};
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{v1, v2};
use hourglass_query::{InstantSample, RangeSeries, Value};
use hourglass_storage::{FloatHistogram, Labels, Sample};
use parse::{Command, Eval, Kind};
use serde_json::Value as Json;
use values::Val;

/// Milliseconds as the API's seconds.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn float(v: &Json) -> f64 {
    match v.as_str().unwrap_or("NaN") {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or(f64::NAN),
    }
}

fn ms(t: &Json) -> i64 {
    (t.as_f64().unwrap_or(0.0) * 1000.0).round() as i64
}

fn labels(metric: &Json) -> Labels {
    let pairs: Vec<(&str, &str)> = metric
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    Labels::from_pairs(pairs)
}

/// A histogram as the API writes it: count and sum (the judge compares
/// only those over HTTP).
fn histogram(h: &Json) -> FloatHistogram {
    FloatHistogram {
        count: float(&h["count"]),
        sum: float(&h["sum"]),
        ..FloatHistogram::default()
    }
}

/// The JSON of a query answer as the engine's value.
fn value(data: &Json) -> Value {
    let result = &data["result"];
    match data["resultType"].as_str().unwrap_or("") {
        "scalar" => Value::Scalar {
            t: ms(&result[0]),
            v: float(&result[1]),
        },
        "string" => Value::String {
            t: ms(&result[0]),
            s: result[1].as_str().unwrap_or("").to_owned(),
        },
        "vector" => Value::Vector(
            result
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| match s.get("histogram") {
                    Some(h) => InstantSample {
                        labels: labels(&s["metric"]),
                        t: ms(&h[0]),
                        v: f64::NAN,
                        h: Some(Box::new(histogram(&h[1]))),
                    },
                    None => InstantSample {
                        labels: labels(&s["metric"]),
                        t: ms(&s["value"][0]),
                        v: float(&s["value"][1]),
                        h: None,
                    },
                })
                .collect(),
        ),
        _ => Value::Matrix(
            result
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| RangeSeries {
                    labels: labels(&s["metric"]),
                    points: s["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| Sample::new(ms(&p[0]), float(&p[1])))
                        .collect(),
                    histograms: s["histograms"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| (ms(&p[0]), histogram(&p[1])))
                        .collect(),
                })
                .collect(),
        ),
    }
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Asks the server `ev` and returns its answer or its error's text.
fn ask(server: &Server, ev: &Eval) -> Result<Answer, String> {
    let path = match ev.kind {
        Kind::Instant { at } => format!("/api/v1/query?query={}&time={}", enc(&ev.expr), secs(at)),
        Kind::Range { start, end, step } => format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            enc(&ev.expr),
            secs(start),
            secs(end),
            secs(step)
        ),
    };
    let r = server.get(&path);
    let body: Json = serde_json::from_slice(&r.body).map_err(|e| format!("{e}: {}", r.text()))?;
    if body["status"] != "success" {
        return Err(body["error"].as_str().unwrap_or("").to_owned());
    }
    Ok(Answer {
        value: value(&body["data"]),
        warnings: strings(&body["warnings"]),
        infos: strings(&body["infos"]),
        coarse_histograms: true,
    })
}

/// Writes one `load` to the server, float series with an `@st` row over
/// remote write 2.0 with their start timestamps; `Err` says why it was
/// refused.
fn load(
    server: &Server,
    series: &[(Labels, Vec<values::Slot>)],
    starts: &[(Labels, Vec<Option<i64>>)],
    step: i64,
) -> Result<(), String> {
    let mut w = Writer::default();
    let mut v2 = v2::Encoder::new();
    let mut started = false;
    for (i, (l, slots)) in series.iter().enumerate() {
        // A series written twice in one load keeps its last line.
        if series[i + 1..].iter().any(|(m, _)| m == l) {
            continue;
        }
        let mut samples = Vec::new();
        let mut hists = Vec::new();
        for (k, s) in slots.iter().enumerate() {
            let t = k as i64 * step;
            match s {
                Some(Val::Float(v)) => samples.push(Sample::new(t, *v)),
                Some(Val::Hist(h)) => hists.push((t, (**h).clone())),
                None => {}
            }
        }
        let pairs: Vec<(&str, &str)> = l.iter().map(|p| (&*p.name, &*p.value)).collect();
        let offsets = starts.iter().rev().find(|(m, _)| m == l).map(|(_, o)| o);
        match offsets {
            Some(o) if !samples.is_empty() => {
                let with_st: Vec<(Sample, i64)> = samples
                    .iter()
                    .map(|s| {
                        let k = (s.t / step) as usize;
                        let st = o.get(k).copied().flatten().map_or(0, |o| s.t + o);
                        (*s, st)
                    })
                    .collect();
                v2.series(pairs.iter().copied(), &with_st, None);
                started = true;
            }
            _ if !samples.is_empty() => v1::encode_series(&mut w, pairs.iter().copied(), &samples),
            _ => {}
        }
        if !hists.is_empty() {
            v1::encode_histogram_series(&mut w, pairs.iter().copied(), &[], &hists);
        }
    }
    let r = common::remote_write(server, &w.buf);
    if !(200..300).contains(&r.status) {
        return Err(format!("load refused ({}): {}", r.status, r.text()));
    }
    if started {
        let r = common::remote_write_v2(server, &v2.finish());
        if !(200..300).contains(&r.status) {
            return Err(format!(
                "start timestamps refused ({}): {}",
                r.status,
                r.text()
            ));
        }
    }
    Ok(())
}

fn run_script(name: &str, text: &str) -> Tally {
    let (mut tally, cmds) = match Tally::start(name, text) {
        Ok(c) => c,
        Err(unreadable) => return unreadable,
    };
    let flags: &[&str] = if compare::delayed_name_removal(text, true) {
        &["--enable-delayed-name-removal"]
    } else {
        &[]
    };
    // (server, its directory): the server stops before the directory goes.
    let start = || {
        let dir = tempfile::tempdir().expect("tempdir");
        (Server::start(dir.path(), flags), dir)
    };
    let mut served = start();
    let mut native: Vec<Labels> = Vec::new();
    let mut refused: Option<String> = None;
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                served = start();
                native.clear();
                refused = None;
            }
            Command::Load {
                step,
                series,
                starts,
            } => {
                native.extend(
                    series
                        .iter()
                        .filter(|(_, s)| s.iter().any(|v| matches!(v, Some(Val::Hist(_)))))
                        .map(|(l, _)| l.clone()),
                );
                if let Err(e) = load(&served.0, &series, &starts, step) {
                    refused = Some(e);
                }
            }
            Command::Unreadable { line, reason } => tally.unreadable(name, line, &reason),
            Command::Eval(ev) => {
                let grid = match ev.kind {
                    Kind::Range { start, end, step } => Some((start, end, step)),
                    Kind::Instant { .. } => ev.range_grid,
                };
                let verdict = match &refused {
                    Some(e) => Err(e.clone()),
                    None => judge(&ev, ask(&served.0, &ev), grid),
                };
                tally.eval(name, &ev, &native, verdict);
            }
        }
    }
    tally
}

#[test]
fn outside_scripts_over_http() {
    compare::run_outside(
        "HOURGLASS_PROMQL_SCRIPTS_HTTP",
        " over HTTP",
        "HOURGLASS_PROMQL_FAILURES_HTTP",
        run_script,
    );
}
