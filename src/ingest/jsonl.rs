//! JSON lines, one series per line, as VictoriaMetrics exports them:
//! `{"metric":{"__name__":"up","job":"a"},"values":[1,0],"timestamps":[1700000000000,1700000015000]}`.
//!
//! Finite values are JSON numbers in shortest round-trip form. JSON has no
//! NaN or infinity, so those are strings: `"+Inf"`, `"-Inf"`, `"NaN"`
//! (Prometheus's NaN), `"StaleNaN"` (the staleness marker) and
//! `"NaN:0x…"` for any other NaN payload, so that every bit pattern
//! survives export and import.

use hourglass_storage::{Labels, STALE_NAN_BITS, Sample};
use serde_json::{Map, Number, Value};

/// Go's `math.NaN()`, the NaN Prometheus stores for ordinary NaN values.
const PROM_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// One value as JSON.
pub fn value_json(v: f64) -> Value {
    if let Some(n) = Number::from_f64(v) {
        return Value::Number(n);
    }
    let bits = v.to_bits();
    Value::String(if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if bits == STALE_NAN_BITS {
        "StaleNaN".into()
    } else if bits == PROM_NAN_BITS {
        "NaN".into()
    } else {
        format!("NaN:{bits:#018x}")
    })
}

/// The inverse of [`value_json`]; numbers may also be written as strings.
pub fn value_from_json(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
            "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
            "NaN" | "nan" => Some(f64::from_bits(PROM_NAN_BITS)),
            "StaleNaN" => Some(f64::from_bits(STALE_NAN_BITS)),
            other => match other.strip_prefix("NaN:0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok().map(f64::from_bits),
                None => other.parse().ok(),
            },
        },
        _ => None,
    }
}

/// One series as a JSON line (without the newline).
pub fn series_line(labels: &Labels, samples: &[Sample]) -> String {
    let mut metric = Map::new();
    for l in labels.iter() {
        metric.insert(l.name.to_string(), Value::String(l.value.to_string()));
    }
    let line = serde_json::json!({
        "metric": metric,
        "values": samples.iter().map(|s| value_json(s.v)).collect::<Vec<_>>(),
        "timestamps": samples.iter().map(|s| s.t).collect::<Vec<_>>(),
    });
    line.to_string()
}

/// A line that is not a series: says which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct LineError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

pub(crate) fn bad(field: &'static str, reason: impl Into<String>) -> LineError {
    LineError {
        field,
        reason: reason.into(),
    }
}

/// Parses one JSON line into labels and samples.
pub fn parse_line(line: &str) -> Result<(Labels, Vec<Sample>), LineError> {
    let v: Value = serde_json::from_str(line).map_err(|e| bad("line", e.to_string()))?;
    parse_value(&v)
}

/// The `metric` object of a parsed line as labels.
pub(crate) fn metric_labels(v: &Value) -> Result<Labels, LineError> {
    let metric = v
        .get("metric")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("metric", "missing or not an object"))?;
    let mut pairs = Vec::with_capacity(metric.len());
    for (k, val) in metric {
        let s = val
            .as_str()
            .ok_or_else(|| bad("metric", format!("label {k:?} is not a string")))?;
        pairs.push((k.as_str(), s));
    }
    Ok(Labels::from_pairs(pairs))
}

/// The `timestamps` of a parsed line, which must be as many as `n`
/// entries of `field`.
pub(crate) fn timestamps(v: &Value, field: &'static str, n: usize) -> Result<Vec<i64>, LineError> {
    let times = v
        .get("timestamps")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("timestamps", "missing or not an array"))?;
    if n != times.len() {
        return Err(bad(
            field,
            format!("{n} {field} for {} timestamps", times.len()),
        ));
    }
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_i64()
                .ok_or_else(|| bad("timestamps", format!("entry {i} is not an integer (ms)")))
        })
        .collect()
}

/// [`parse_line`] of an already parsed line.
pub(crate) fn parse_value(v: &Value) -> Result<(Labels, Vec<Sample>), LineError> {
    let labels = metric_labels(v)?;
    let values = v
        .get("values")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("values", "missing or not an array"))?;
    let times = timestamps(v, "values", values.len())?;
    let mut samples = Vec::with_capacity(values.len());
    for (i, (val, t)) in values.iter().zip(times).enumerate() {
        let v = value_from_json(val)
            .ok_or_else(|| bad("values", format!("entry {i} is not a number")))?;
        samples.push(Sample::new(t, v));
    }
    Ok((labels, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn special_values_survive() {
        for bits in [
            STALE_NAN_BITS,
            PROM_NAN_BITS,
            f64::NAN.to_bits(),
            0x7ff8_dead_beef_0001,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            5e-324f64.to_bits(),
        ] {
            let v = f64::from_bits(bits);
            let back = value_from_json(&value_json(v)).unwrap();
            assert_eq!(back.to_bits(), bits, "{bits:#x}");
        }
    }

    #[test]
    fn bad_lines_name_the_field() {
        for (line, field) in [
            ("{", "line"),
            (r#"{"values":[],"timestamps":[]}"#, "metric"),
            (
                r#"{"metric":{"a":1},"values":[],"timestamps":[]}"#,
                "metric",
            ),
            (r#"{"metric":{},"values":[1],"timestamps":[]}"#, "values"),
            (
                r#"{"metric":{},"values":[true],"timestamps":[1]}"#,
                "values",
            ),
            (
                r#"{"metric":{},"values":[1],"timestamps":[1.5]}"#,
                "timestamps",
            ),
        ] {
            assert_eq!(parse_line(line).unwrap_err().field, field, "{line}");
        }
    }

    proptest! {
        #[test]
        fn lines_round_trip(bits in proptest::collection::vec(any::<u64>(), 0..20), t0 in any::<i32>()) {
            let labels = Labels::from_pairs([("__name__", "m"), ("job", "a\"b")]);
            let samples: Vec<Sample> = bits
                .iter()
                .enumerate()
                .map(|(i, b)| Sample::new(i64::from(t0) + i as i64, f64::from_bits(*b)))
                .collect();
            let (l, s) = parse_line(&series_line(&labels, &samples)).unwrap();
            prop_assert_eq!(l, labels);
            prop_assert_eq!(s, samples);
        }
    }
}
