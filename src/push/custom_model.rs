//! One item of `POST /api/v1/metrics/custom`: decoded field by field so a
//! refusal names the field, then turned into Prometheus-named series.

use hourglass_query::prom_text::exposition_float;
use hourglass_query::prom_text::is_legacy_label_name;
use hourglass_storage::Labels;
use serde_json::{Map, Value};

/// A refused item: which field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (`labels.zone`, `buckets.0.5`, …), empty for the item.
    pub field: String,
    /// Why.
    pub reason: String,
}

fn err(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// `metric_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Custom,
}

impl Kind {
    /// The type `/api/v1/metadata` reports.
    pub fn metadata(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Custom => "unknown",
        }
    }
}

const SOURCES: [&str; 5] = [
    "APPLICATION",
    "INFRASTRUCTURE",
    "KUBERNETES",
    "CLOUD_PROVIDER",
    "CUSTOM_EXPORTER",
];

const FIELDS: [&str; 12] = [
    "name",
    "metric_type",
    "value",
    "labels",
    "timestamp",
    "source",
    "help_text",
    "buckets",
    "quantiles",
    "sum",
    "count",
    "unit",
];

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Single(f64),
    /// Buckets sorted by `le`, ending with `+Inf`.
    Histogram {
        buckets: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    },
}

/// A valid item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub kind: Kind,
    pub help: Option<String>,
    pub unit: Option<String>,
    /// Unix milliseconds.
    pub t: i64,
    /// Labels besides `__name__` (with `source`).
    labels: Vec<(String, String)>,
    body: Body,
}

impl Item {
    /// The series this item writes, each with its value: Prometheus's
    /// naming for histograms and summaries, so PromQL works on them.
    pub fn series(&self) -> Vec<(Labels, f64)> {
        let make = |suffix: &str, extra: Option<(&str, String)>| {
            let name = format!("{}{suffix}", self.name);
            let base = self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let extra = extra.iter().map(|(n, v)| (*n, v.as_str()));
            Labels::from_pairs(
                std::iter::once(("__name__", name.as_str()))
                    .chain(base)
                    .chain(extra),
            )
        };
        // Buckets and quantiles: one series each, labelled by its bound,
        // then `_sum` and `_count`.
        let (suffix, bound, points, sum, count) = match &self.body {
            Body::Single(v) => return vec![(make("", None), *v)],
            Body::Histogram {
                buckets,
                sum,
                count,
            } => ("_bucket", "le", buckets, sum, count),
            Body::Summary {
                quantiles,
                sum,
                count,
            } => ("", "quantile", quantiles, sum, count),
        };
        let mut out: Vec<(Labels, f64)> = points
            .iter()
            .map(|(at, v)| (make(suffix, Some((bound, exposition_float(*at)))), *v))
            .collect();
        out.push((make("_sum", None), *sum));
        out.push((make("_count", None), *count));
        out
    }

    /// How many samples [`Item::series`] yields, without building them.
    pub fn num_samples(&self) -> usize {
        match &self.body {
            Body::Single(_) => 1,
            Body::Histogram { buckets, .. } => buckets.len() + 2,
            Body::Summary { quantiles, .. } => quantiles.len() + 2,
        }
    }

    /// For counters: the series and value the monotonicity check compares.
    pub fn counter_value(&self) -> Option<(Labels, f64)> {
        match (self.kind, &self.body) {
            (Kind::Counter, Body::Single(_)) => self.series().into_iter().next(),
            _ => None,
        }
    }
}

/// Decodes one item; `now` is the default timestamp.
pub fn decode(v: &Value, now: i64) -> Result<Item, FieldError> {
    let Some(obj) = v.as_object() else {
        return Err(err("", "each metric must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(k.as_str(), "unknown field"));
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(err("name", "must not be empty")),
        Some(_) => return Err(err("name", "must be a string")),
        None => return Err(err("name", "required")),
    };
    if name.starts_with("__") {
        return Err(err("name", "names starting with __ are reserved"));
    }
    let kind = match opt_str(obj, "metric_type")?
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("COUNTER") => Kind::Counter,
        Some("GAUGE") => Kind::Gauge,
        Some("HISTOGRAM") => Kind::Histogram,
        Some("SUMMARY") => Kind::Summary,
        Some("CUSTOM") => Kind::Custom,
        Some(_) => {
            return Err(err(
                "metric_type",
                "must be COUNTER, GAUGE, HISTOGRAM, SUMMARY or CUSTOM",
            ));
        }
        None => return Err(err("metric_type", "required")),
    };
    let source = match opt_str(obj, "source")? {
        None => None,
        Some(s) => match SOURCES.iter().find(|k| k.eq_ignore_ascii_case(s)) {
            Some(k) => Some(*k),
            None => {
                return Err(err(
                    "source",
                    format!("must be one of {}", SOURCES.join(", ")),
                ));
            }
        },
    };
    let labels = labels(obj, kind, source)?;
    let t = timestamp(obj.get("timestamp"), now)?;
    let help = opt_str(obj, "help_text")?.map(str::to_string);
    let unit = opt_str(obj, "unit")?.map(str::to_string);
    let body = match kind {
        Kind::Counter | Kind::Gauge | Kind::Custom => {
            let v = number(obj.get("value"), "value")?.ok_or_else(|| err("value", "required"))?;
            if kind == Kind::Counter && v < 0.0 {
                return Err(err("value", "a counter must not be negative"));
            }
            Body::Single(v)
        }
        Kind::Histogram => histogram(obj)?,
        Kind::Summary => summary(obj)?,
    };
    Ok(Item {
        name,
        kind,
        help,
        unit,
        t,
        labels,
        body,
    })
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(field, "must be a string")),
    }
}

/// A JSON number, or `"NaN"`, `"+Inf"`, `"-Inf"` (JSON has no such numbers).
fn number(v: Option<&Value>, field: &str) -> Result<Option<f64>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| err(field, "not a number")),
        Some(Value::String(s)) => match s.as_str() {
            "NaN" => Ok(Some(f64::NAN)),
            "+Inf" | "Inf" => Ok(Some(f64::INFINITY)),
            "-Inf" => Ok(Some(f64::NEG_INFINITY)),
            _ => Err(err(
                field,
                "must be a number (or \"NaN\", \"+Inf\", \"-Inf\")",
            )),
        },
        Some(_) => Err(err(field, "must be a number")),
    }
}

fn timestamp(v: Option<&Value>, now: i64) -> Result<i64, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(now),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| err("timestamp", "a number must be integer Unix milliseconds")),
        // Strings are RFC 3339 only: a numeric string would be ambiguous
        // between seconds and milliseconds.
        Some(Value::String(s)) if s.parse::<f64>().is_err() => crate::prom_time::parse_time(s)
            .map_err(|_| err("timestamp", format!("cannot parse {s:?} as RFC 3339"))),
        Some(_) => Err(err(
            "timestamp",
            "must be RFC 3339 text or integer Unix milliseconds",
        )),
    }
}

fn labels(
    obj: &Map<String, Value>,
    kind: Kind,
    source: Option<&'static str>,
) -> Result<Vec<(String, String)>, FieldError> {
    let mut out = Vec::new();
    match obj.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (n, v) in m {
                let field = format!("labels.{n}");
                let Value::String(v) = v else {
                    return Err(err(field, "label values must be strings"));
                };
                if !is_legacy_label_name(n) || n.starts_with("__") {
                    return Err(err(
                        field,
                        "invalid label name: want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
                    ));
                }
                let reserved = match kind {
                    Kind::Histogram => n == "le",
                    Kind::Summary => n == "quantile",
                    _ => false,
                };
                if reserved {
                    return Err(err(
                        field,
                        "reserved for the buckets or quantiles of this type",
                    ));
                }
                if n == "source" && source.is_some() {
                    return Err(err(field, "conflicts with the source field"));
                }
                out.push((n.clone(), v.clone()));
            }
        }
        Some(_) => return Err(err("labels", "must be an object of string values")),
    }
    if let Some(s) = source {
        out.push(("source".to_string(), s.to_string()));
    }
    Ok(out)
}

/// `{"<float>": value, …}` sorted by key; keys and values named in errors.
fn float_map(obj: &Map<String, Value>, field: &str) -> Result<Vec<(f64, f64)>, FieldError> {
    let Some(Value::Object(m)) = obj.get(field) else {
        return Err(match obj.get(field) {
            None => err(field, "required"),
            Some(_) => err(field, "must be an object"),
        });
    };
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        let f = format!("{field}.{k}");
        let key: f64 = k
            .parse()
            .map_err(|_| err(f.as_str(), "key is not a number"))?;
        if key.is_nan() {
            return Err(err(f, "key must not be NaN"));
        }
        let v = number(Some(v), &f)?.ok_or_else(|| err(f.as_str(), "must be a number"))?;
        out.push((key, v));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(err(
            field,
            format!("{} appears twice", exposition_float(w[0].0)),
        ));
    }
    Ok(out)
}

fn required(obj: &Map<String, Value>, field: &str) -> Result<f64, FieldError> {
    number(obj.get(field), field)?.ok_or_else(|| err(field, "required"))
}

fn histogram(obj: &Map<String, Value>) -> Result<Body, FieldError> {
    let mut buckets = float_map(obj, "buckets")?;
    let sum = required(obj, "sum")?;
    let count = number(obj.get("count"), "count")?;
    let inf = buckets
        .last()
        .filter(|(le, _)| *le == f64::INFINITY)
        .map(|(_, n)| *n);
    let count = match (count, inf) {
        (Some(c), Some(i)) if c != i => {
            return Err(err(
                "count",
                format!("must equal the +Inf bucket ({})", exposition_float(i)),
            ));
        }
        (Some(c), _) => c,
        (None, Some(i)) => i,
        (None, None) => return Err(err("count", "required (or a +Inf bucket)")),
    };
    if inf.is_none() {
        buckets.push((f64::INFINITY, count));
    }
    for w in buckets.windows(2) {
        if w[1].1 < w[0].1 {
            return Err(err(
                format!("buckets.{}", exposition_float(w[1].0)),
                "bucket counts are cumulative and must not decrease as le grows",
            ));
        }
    }
    if let Some((le, n)) = buckets.iter().find(|(_, n)| *n < 0.0 || n.is_nan()) {
        return Err(err(
            format!("buckets.{}", exposition_float(*le)),
            format!("invalid count {n}"),
        ));
    }
    Ok(Body::Histogram {
        buckets,
        sum,
        count,
    })
}

fn summary(obj: &Map<String, Value>) -> Result<Body, FieldError> {
    let quantiles = float_map(obj, "quantiles")?;
    if let Some((q, _)) = quantiles.iter().find(|(q, _)| !(0.0..=1.0).contains(q)) {
        return Err(err(
            format!("quantiles.{}", exposition_float(*q)),
            "quantile must be between 0 and 1",
        ));
    }
    let sum = required(obj, "sum")?;
    let count = required(obj, "count")?;
    if count < 0.0 {
        return Err(err("count", "must not be negative"));
    }
    Ok(Body::Summary {
        quantiles,
        sum,
        count,
    })
}

#[cfg(test)]
#[path = "custom_model_tests.rs"]
mod tests;
