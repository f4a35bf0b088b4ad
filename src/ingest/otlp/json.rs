//! OTLP protobuf-JSON (`application/json`): field names in lowerCamelCase
//! (snake_case accepted too), 64-bit integers as strings or numbers, enums
//! as numbers or names, doubles as numbers or `"NaN"`/`"Infinity"`.

use super::model::*;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A JSON body that does not hold a request.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// JSON of the wrong shape.
    #[error("{0}")]
    Shape(String),
}

fn get<'v>(o: &'v Map<String, Value>, camel: &str, snake: &str) -> Option<&'v Value> {
    o.get(camel)
        .or_else(|| o.get(snake))
        .filter(|v| !v.is_null())
}

fn obj<'v>(v: &'v Value, what: &str) -> Result<&'v Map<String, Value>, JsonError> {
    v.as_object()
        .ok_or_else(|| JsonError::Shape(format!("{what} must be an object")))
}

/// The list field `camel` (or `snake`), each item read by `item`; an item
/// it cannot read is refused as not one of `kind`.
fn items<T>(
    o: &Map<String, Value>,
    camel: &str,
    snake: &str,
    item: fn(&Value) -> Option<T>,
    kind: &str,
) -> Result<Vec<T>, JsonError> {
    list(o, camel, snake)?
        .iter()
        .map(|v| item(v).ok_or_else(|| JsonError::Shape(format!("{camel} must hold {kind}"))))
        .collect()
}

fn list<'v>(o: &'v Map<String, Value>, camel: &str, snake: &str) -> Result<&'v [Value], JsonError> {
    match get(o, camel, snake) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(JsonError::Shape(format!("{camel} must be an array"))),
    }
}

fn string<'v>(o: &'v Map<String, Value>, camel: &str, snake: &str) -> Result<&'v str, JsonError> {
    match get(o, camel, snake) {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JsonError::Shape(format!("{camel} must be a string"))),
    }
}

fn uint(o: &Map<String, Value>, camel: &str, snake: &str) -> Result<u64, JsonError> {
    match get(o, camel, snake) {
        None => Ok(0),
        Some(v) => uint_value(v).ok_or_else(|| {
            JsonError::Shape(format!(
                "{camel} must be an unsigned integer (number or string)"
            ))
        }),
    }
}

fn int(o: &Map<String, Value>, camel: &str, snake: &str) -> Result<i64, JsonError> {
    match get(o, camel, snake) {
        None => Ok(0),
        Some(v) => int_value(v).ok_or_else(|| {
            JsonError::Shape(format!("{camel} must be an integer (number or string)"))
        }),
    }
}

fn uint_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn double_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

fn double(o: &Map<String, Value>, camel: &str, snake: &str) -> Result<Option<f64>, JsonError> {
    get(o, camel, snake)
        .map(|v| {
            double_value(v).ok_or_else(|| JsonError::Shape(format!("{camel} must be a number")))
        })
        .transpose()
}

fn temporality(o: &Map<String, Value>) -> Result<u64, JsonError> {
    match get(o, "aggregationTemporality", "aggregation_temporality") {
        None => Ok(0),
        Some(Value::String(s)) => Ok(match s.as_str() {
            "AGGREGATION_TEMPORALITY_DELTA" => TEMPORALITY_DELTA,
            "AGGREGATION_TEMPORALITY_CUMULATIVE" => TEMPORALITY_CUMULATIVE,
            _ => 0,
        }),
        Some(v) => uint_value(v).ok_or_else(|| {
            JsonError::Shape("aggregationTemporality must be a number or an enum name".into())
        }),
    }
}

/// Decodes a JSON request.
pub fn decode(body: &[u8]) -> Result<Request<'static>, JsonError> {
    let v: Value = serde_json::from_slice(body)?;
    let root = obj(&v, "the request")?;
    let mut req = Request::default();
    for rm in list(root, "resourceMetrics", "resource_metrics")? {
        let rm = obj(rm, "resourceMetrics[]")?;
        let mut res = Resource::default();
        if let Some(r) = get(rm, "resource", "resource") {
            res.attributes = attributes(obj(r, "resource")?)?;
        }
        for sm in list(rm, "scopeMetrics", "scope_metrics")? {
            for m in list(obj(sm, "scopeMetrics[]")?, "metrics", "metrics")? {
                res.metrics.push(metric(obj(m, "metrics[]")?)?);
            }
        }
        req.resources.push(res);
    }
    Ok(req)
}

fn attributes(o: &Map<String, Value>) -> Result<Vec<Attr<'static>>, JsonError> {
    let mut out = Vec::new();
    for kv in list(o, "attributes", "attributes")? {
        let kv = obj(kv, "attributes[]")?;
        let key = string(kv, "key", "key")?.to_string();
        let Some(v) = get(kv, "value", "value") else {
            continue;
        };
        let v = obj(v, "attribute value")?;
        let value = if let Some(s) = get(v, "stringValue", "string_value") {
            s.as_str().map(str::to_string)
        } else if let Some(b) = get(v, "boolValue", "bool_value") {
            b.as_bool().map(|b| b.to_string())
        } else if let Some(i) = get(v, "intValue", "int_value") {
            int_value(i).map(|i| i.to_string())
        } else if let Some(d) = get(v, "doubleValue", "double_value") {
            double_value(d).map(super::proto::format_double)
        } else if let Some(b) = get(v, "bytesValue", "bytes_value") {
            b.as_str().map(str::to_string)
        } else {
            None
        };
        if let Some(value) = value {
            out.push(Attr {
                key: Cow::Owned(key),
                value: Cow::Owned(value),
            });
        }
    }
    Ok(out)
}

fn points<T>(
    o: &Map<String, Value>,
    f: impl Fn(&Map<String, Value>) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    list(o, "dataPoints", "data_points")?
        .iter()
        .map(|p| f(obj(p, "dataPoints[]")?))
        .collect()
}

fn metric(o: &Map<String, Value>) -> Result<Metric<'static>, JsonError> {
    let mut m = Metric {
        name: Cow::Owned(string(o, "name", "name")?.to_string()),
        description: Cow::Owned(string(o, "description", "description")?.to_string()),
        unit: Cow::Owned(string(o, "unit", "unit")?.to_string()),
        data: Data::Missing,
    };
    if let Some(g) = get(o, "gauge", "gauge") {
        m.data = Data::Gauge(points(obj(g, "gauge")?, number_point)?);
    } else if let Some(s) = get(o, "sum", "sum") {
        let s = obj(s, "sum")?;
        m.data = Data::Sum {
            points: points(s, number_point)?,
            temporality: temporality(s)?,
            monotonic: get(s, "isMonotonic", "is_monotonic")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
    } else if let Some(h) = get(o, "histogram", "histogram") {
        let h = obj(h, "histogram")?;
        m.data = Data::Histogram {
            points: points(h, histogram_point)?,
            temporality: temporality(h)?,
        };
    } else if let Some(e) = get(o, "exponentialHistogram", "exponential_histogram") {
        let e = obj(e, "exponentialHistogram")?;
        m.data = Data::Exponential {
            points: points(e, exponential_point)?,
            temporality: temporality(e)?,
        };
    } else if let Some(s) = get(o, "summary", "summary") {
        m.data = Data::Summary(points(obj(s, "summary")?, summary_point)?);
    }
    Ok(m)
}

fn meta(p: &Map<String, Value>) -> Result<PointMeta<'static>, JsonError> {
    Ok(PointMeta {
        attributes: attributes(p)?,
        time_ns: uint(p, "timeUnixNano", "time_unix_nano")?,
        start_ns: uint(p, "startTimeUnixNano", "start_time_unix_nano")?,
        flags: uint(p, "flags", "flags")? as u32,
    })
}

fn number_point(p: &Map<String, Value>) -> Result<NumberPoint<'static>, JsonError> {
    let value = match (get(p, "asDouble", "as_double"), get(p, "asInt", "as_int")) {
        (Some(d), _) => {
            double_value(d).ok_or_else(|| JsonError::Shape("asDouble must be a number".into()))?
        }
        (None, Some(i)) => int_value(i)
            .ok_or_else(|| JsonError::Shape("asInt must be an integer (number or string)".into()))?
            as f64,
        (None, None) => 0.0,
    };
    Ok(NumberPoint {
        meta: meta(p)?,
        value,
    })
}

fn histogram_point(p: &Map<String, Value>) -> Result<HistogramPoint<'static>, JsonError> {
    let counts = items(
        p,
        "bucketCounts",
        "bucket_counts",
        uint_value,
        "unsigned integers",
    )?;
    let bounds = items(
        p,
        "explicitBounds",
        "explicit_bounds",
        double_value,
        "numbers",
    )?;
    Ok(HistogramPoint {
        meta: meta(p)?,
        count: uint(p, "count", "count")?,
        sum: double(p, "sum", "sum")?,
        bucket_counts: counts,
        bounds,
    })
}

fn exponential_point(p: &Map<String, Value>) -> Result<ExponentialPoint<'static>, JsonError> {
    let scale = int(p, "scale", "scale")?;
    Ok(ExponentialPoint {
        meta: meta(p)?,
        count: uint(p, "count", "count")?,
        sum: double(p, "sum", "sum")?,
        scale: i32::try_from(scale)
            .map_err(|_| JsonError::Shape(format!("scale {scale} is out of range")))?,
        zero_count: uint(p, "zeroCount", "zero_count")?,
        zero_threshold: double(p, "zeroThreshold", "zero_threshold")?.unwrap_or(0.0),
        positive: exponential_buckets(p, "positive")?,
        negative: exponential_buckets(p, "negative")?,
    })
}

fn exponential_buckets(
    p: &Map<String, Value>,
    side: &str,
) -> Result<ExponentialBuckets, JsonError> {
    let Some(b) = get(p, side, side) else {
        return Ok(ExponentialBuckets::default());
    };
    let b = obj(b, side)?;
    let offset = int(b, "offset", "offset")?;
    let counts = list(b, "bucketCounts", "bucket_counts")?
        .iter()
        .map(|v| {
            uint_value(v)
                .ok_or_else(|| JsonError::Shape("bucketCounts must hold unsigned integers".into()))
        })
        .collect::<Result<_, _>>()?;
    Ok(ExponentialBuckets {
        offset: i32::try_from(offset)
            .map_err(|_| JsonError::Shape(format!("{side}.offset {offset} is out of range")))?,
        counts,
    })
}

fn summary_point(p: &Map<String, Value>) -> Result<SummaryPoint<'static>, JsonError> {
    let mut quantiles = Vec::new();
    for q in list(p, "quantileValues", "quantile_values")? {
        let q = obj(q, "quantileValues[]")?;
        quantiles.push((
            double(q, "quantile", "quantile")?.unwrap_or(0.0),
            double(q, "value", "value")?.unwrap_or(0.0),
        ));
    }
    Ok(SummaryPoint {
        meta: meta(p)?,
        count: uint(p, "count", "count")?,
        sum: double(p, "sum", "sum")?.unwrap_or(0.0),
        quantiles,
    })
}
