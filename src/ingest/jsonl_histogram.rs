//! Native histograms in JSON lines, beside the float lines of
//! [`super::jsonl`]: one series per line, `histograms` in place of
//! `values`, each histogram an object with the fields of remote write's
//! `Histogram` message (float form, absolute bucket counts):
//!
//! ```text
//! {"metric":{"__name__":"rpc_seconds","job":"api"},
//!  "histograms":[{"schema":3,"zero_threshold":2.9e-39,"zero_count":1,"count":9,"sum":0.3,
//!                 "positive_spans":[{"offset":-12,"length":2}],"positive_counts":[3,5],
//!                 "negative_spans":[],"negative_counts":[],"custom_values":[],"reset_hint":"UNKNOWN"}],
//!  "timestamps":[1700000000000]}
//! ```
//!
//! Numbers are written as [`value_json`] writes them, so every bit
//! pattern (the staleness marker's sum included) survives; absent fields
//! read as empty or zero, `reset_hint` as `UNKNOWN`.

use super::jsonl::{LineError, bad, metric_labels, timestamps, value_from_json, value_json};
use hourglass_storage::{CounterResetHint, FloatHistogram, Labels, Sample, Span};
use serde_json::{Map, Value, json};

/// A parsed line: float samples or histogram samples of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A line with `values`.
    Floats(Labels, Vec<Sample>),
    /// A line with `histograms`.
    Histograms(Labels, Vec<(i64, FloatHistogram)>),
}

fn hint_name(h: CounterResetHint) -> &'static str {
    match h {
        CounterResetHint::Unknown => "UNKNOWN",
        CounterResetHint::CounterReset => "YES",
        CounterResetHint::NotCounterReset => "NO",
        CounterResetHint::Gauge => "GAUGE",
    }
}

fn spans_json(spans: &[Span]) -> Value {
    Value::Array(
        spans
            .iter()
            .map(|s| json!({"offset": s.offset, "length": s.length}))
            .collect(),
    )
}

fn counts_json(counts: &[f64]) -> Value {
    Value::Array(counts.iter().map(|c| value_json(*c)).collect())
}

/// One histogram as its JSON object.
pub fn histogram_json(h: &FloatHistogram) -> Value {
    json!({
        "schema": h.schema,
        "zero_threshold": value_json(h.zero_threshold),
        "zero_count": value_json(h.zero_count),
        "count": value_json(h.count),
        "sum": value_json(h.sum),
        "positive_spans": spans_json(&h.positive_spans),
        "positive_counts": counts_json(&h.positive_buckets),
        "negative_spans": spans_json(&h.negative_spans),
        "negative_counts": counts_json(&h.negative_buckets),
        "custom_values": counts_json(&h.custom_values),
        "reset_hint": hint_name(h.counter_reset_hint),
    })
}

/// One series' histogram samples as a JSON line (without the newline).
pub fn histogram_line(labels: &Labels, samples: &[(i64, FloatHistogram)]) -> String {
    let mut metric = Map::new();
    for l in labels.iter() {
        metric.insert(l.name.to_string(), Value::String(l.value.to_string()));
    }
    json!({
        "metric": metric,
        "histograms": samples.iter().map(|(_, h)| histogram_json(h)).collect::<Vec<_>>(),
        "timestamps": samples.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
    })
    .to_string()
}

fn number(o: &Map<String, Value>, key: &str, i: usize) -> Result<f64, LineError> {
    match o.get(key) {
        None => Ok(0.0),
        Some(v) => value_from_json(v)
            .ok_or_else(|| bad("histograms", format!("entry {i}: {key} is not a number"))),
    }
}

fn counts(o: &Map<String, Value>, key: &str, i: usize) -> Result<Vec<f64>, LineError> {
    list(o, key, i, "a non-number", value_from_json)
}

fn spans(o: &Map<String, Value>, key: &str, i: usize) -> Result<Vec<Span>, LineError> {
    let span = |s: &Value| {
        let offset = s.get("offset").map_or(Some(0), Value::as_i64)?;
        let length = s.get("length").map_or(Some(0), Value::as_u64)?;
        Some(Span {
            offset: i32::try_from(offset).ok()?,
            length: u32::try_from(length).ok()?,
        })
    };
    list(
        o,
        key,
        i,
        "a span without an integer offset and length",
        span,
    )
}

/// The array `key` of entry `i` (empty when absent), each item read by
/// `item`; an item it refuses is named as `what`.
fn list<T>(
    o: &Map<String, Value>,
    key: &str,
    i: usize,
    what: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, LineError> {
    let Some(v) = o.get(key) else {
        return Ok(Vec::new());
    };
    let arr = v
        .as_array()
        .ok_or_else(|| bad("histograms", format!("entry {i}: {key} is not an array")))?;
    arr.iter()
        .map(|v| item(v).ok_or_else(|| bad("histograms", format!("entry {i}: {key} holds {what}"))))
        .collect()
}

/// One histogram from its JSON object; checked as storage expects.
fn histogram_from(v: &Value, i: usize) -> Result<FloatHistogram, LineError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("histograms", format!("entry {i} is not an object")))?;
    let schema = match o.get("schema") {
        None => 0,
        Some(s) => s
            .as_i64()
            .and_then(|s| i32::try_from(s).ok())
            .ok_or_else(|| bad("histograms", format!("entry {i}: schema is not an integer")))?,
    };
    let counter_reset_hint = match o.get("reset_hint").and_then(Value::as_str) {
        None | Some("UNKNOWN") => CounterResetHint::Unknown,
        Some("YES") => CounterResetHint::CounterReset,
        Some("NO") => CounterResetHint::NotCounterReset,
        Some("GAUGE") => CounterResetHint::Gauge,
        Some(other) => {
            return Err(bad(
                "histograms",
                format!("entry {i}: reset_hint {other:?} is not UNKNOWN, YES, NO or GAUGE"),
            ));
        }
    };
    let h = FloatHistogram {
        counter_reset_hint,
        schema,
        zero_threshold: number(o, "zero_threshold", i)?,
        zero_count: number(o, "zero_count", i)?,
        count: number(o, "count", i)?,
        sum: number(o, "sum", i)?,
        positive_spans: spans(o, "positive_spans", i)?,
        negative_spans: spans(o, "negative_spans", i)?,
        positive_buckets: counts(o, "positive_counts", i)?,
        negative_buckets: counts(o, "negative_counts", i)?,
        custom_values: counts(o, "custom_values", i)?,
    };
    if !h.is_stale() {
        h.validate()
            .map_err(|e| bad("histograms", format!("entry {i}: {e}")))?;
    }
    Ok(h)
}

/// Parses one JSON line of either kind.
pub fn parse_any_line(line: &str) -> Result<Line, LineError> {
    let v: Value = serde_json::from_str(line).map_err(|e| bad("line", e.to_string()))?;
    let Some(hists) = v.get("histograms") else {
        let (labels, samples) = super::jsonl::parse_value(&v)?;
        return Ok(Line::Floats(labels, samples));
    };
    let labels = metric_labels(&v)?;
    let hists = hists
        .as_array()
        .ok_or_else(|| bad("histograms", "not an array"))?;
    let times = timestamps(&v, "histograms", hists.len())?;
    let samples = hists
        .iter()
        .zip(times)
        .enumerate()
        .map(|(i, (h, t))| Ok((t, histogram_from(h, i)?)))
        .collect::<Result<Vec<_>, LineError>>()?;
    Ok(Line::Histograms(labels, samples))
}

/// Fuzz body: arbitrary bytes as an `hourglass import` line must parse or
/// fail with an error, never panic, and what parses must print back to a
/// line that parses to the same printing (floats and histograms alike).
#[doc(hidden)]
pub fn fuzz_import_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let print = |l: &Line| match l {
        Line::Floats(labels, samples) => super::jsonl::series_line(labels, samples),
        Line::Histograms(labels, samples) => histogram_line(labels, samples),
    };
    if let Ok(line) = parse_any_line(text) {
        let once = print(&line);
        let again = parse_any_line(&once).unwrap_or_else(|e| panic!("{once}: {e}"));
        assert_eq!(print(&again), once, "printed line changed on a round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(k: f64) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            zero_count: k,
            count: 7.0 * k,
            sum: 0.1 + k,
            positive_spans: vec![Span::new(-12, 2), Span::new(3, 1)],
            positive_buckets: vec![k, 2.0 * k, 3.0 * k],
            negative_spans: vec![Span::new(1, 1)],
            negative_buckets: vec![0.0],
            custom_values: Vec::new(),
        }
    }

    #[test]
    fn histogram_lines_round_trip_bit_exact_with_custom_buckets_and_stale_markers() {
        let labels = Labels::from_pairs([("__name__", "rpc_seconds"), ("job", "a\"b")]);
        let nhcb = FloatHistogram {
            schema: -53,
            count: 6.0,
            sum: 1.5,
            positive_spans: vec![Span::new(0, 3)],
            positive_buckets: vec![1.0, 2.0, 3.0],
            custom_values: vec![0.1, 0.5],
            counter_reset_hint: CounterResetHint::Gauge,
            ..FloatHistogram::default()
        };
        let samples = vec![
            (1_000, latency(1.0)),
            (2_000, latency(2.5)),
            (3_000, nhcb),
            (4_000, FloatHistogram::stale_marker()),
        ];
        let line = histogram_line(&labels, &samples);
        let Line::Histograms(l, got) = parse_any_line(&line).unwrap() else {
            panic!("not a histogram line: {line}");
        };
        assert_eq!(l, labels);
        assert_eq!(got.len(), samples.len());
        for ((tg, g), (tw, w)) in got.iter().zip(&samples) {
            assert_eq!(tg, tw);
            assert!(g.same_bits(w), "{g:?} != {w:?}");
            assert_eq!(g.counter_reset_hint, w.counter_reset_hint);
        }
    }

    #[test]
    fn float_lines_still_parse_and_bad_histograms_name_the_field_and_reason() {
        let floats = r#"{"metric":{"__name__":"up"},"values":[1],"timestamps":[5]}"#;
        assert!(matches!(parse_any_line(floats), Ok(Line::Floats(_, s)) if s.len() == 1));
        for (line, needle) in [
            (
                r#"{"metric":{},"histograms":[{}],"timestamps":[]}"#,
                "1 histograms for 0 timestamps",
            ),
            (
                r#"{"metric":{},"histograms":[{"schema":3,"count":5,"positive_spans":[{"offset":0,"length":1}],"positive_counts":[-1]}],"timestamps":[1]}"#,
                "entry 0",
            ),
            (
                r#"{"metric":{},"histograms":[{"schema":"x"}],"timestamps":[1]}"#,
                "schema is not an integer",
            ),
            (
                r#"{"metric":{},"histograms":[{"reset_hint":"MAYBE"}],"timestamps":[1]}"#,
                "reset_hint",
            ),
        ] {
            let e = parse_any_line(line).unwrap_err();
            assert_eq!(e.field, "histograms", "{line}");
            assert!(e.reason.contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn damaged_import_lines_are_errors_not_panics() {
        let labels = Labels::from_pairs([("__name__", "rpc_seconds")]);
        let hist = histogram_line(&labels, &[(1_000, latency(1.0)), (2_000, latency(2.0))]);
        let floats = super::super::jsonl::series_line(
            &labels,
            &[Sample::new(1_000, 1.5), Sample::new(2_000, f64::NAN)],
        );
        for line in [hist, floats] {
            fuzz_import_line(line.as_bytes());
            let b = line.as_bytes();
            for n in 0..b.len() {
                fuzz_import_line(&b[..n]);
            }
            let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
            let bytes = b"0123456789-.e,:[]{}\"\\x";
            for _ in 0..3_000 {
                let mut c = b.to_vec();
                let i = rng.usize(..c.len());
                c[i] = bytes[rng.usize(..bytes.len())];
                fuzz_import_line(&c);
            }
        }
    }
}
