//! Query results as JSON, written by hand: results can hold millions of
//! points, and the number formats must match Prometheus's.

use hourglass_query::histogram_buckets;
use hourglass_query::prom_text::{Quoting, write_api_value, write_quoted};
use hourglass_query::{InstantSample, RangeSeries, Value};
use hourglass_storage::{FloatHistogram, Labels};
use std::fmt::Write as _;

/// A timestamp in ms as Prometheus prints it: seconds, with three decimals
/// only when there is a fraction.
pub fn format_timestamp(ms: i64, out: &mut String) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

fn write_str(s: &str, out: &mut String) {
    write_quoted(out, s, Quoting::Json);
}

/// `items` between `open` and `close`, comma-separated, each written by
/// `each`.
fn write_list<T>(
    open: char,
    items: impl IntoIterator<Item = T>,
    close: char,
    out: &mut String,
    mut each: impl FnMut(T, &mut String),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(close);
}

/// A label set as a JSON object.
pub(crate) fn write_labels(l: &Labels, out: &mut String) {
    write_list('{', l.iter(), '}', out, |label, out| {
        write_str(&label.name, out);
        out.push(':');
        write_str(&label.value, out);
    });
}

/// `[<t>,"<v>"]` as Prometheus writes a float point.
pub(crate) fn write_point(t: i64, v: f64, out: &mut String) {
    out.push('[');
    format_timestamp(t, out);
    out.push_str(",\"");
    write_api_value(v, out);
    out.push_str("\"]");
}

fn write_float_string(v: f64, out: &mut String) {
    out.push('"');
    write_api_value(v, out);
    out.push('"');
}

/// `[<t>,{"count":"…","sum":"…","buckets":[[<rule>,"<lo>","<hi>","<n>"],…]}]`
/// as Prometheus writes a histogram (empty buckets left out, and the
/// `buckets` key too when none remain).
fn write_histogram_point(t: i64, h: &FloatHistogram, out: &mut String) {
    out.push('[');
    format_timestamp(t, out);
    out.push_str(",{\"count\":");
    write_float_string(h.count, out);
    out.push_str(",\"sum\":");
    write_float_string(h.sum, out);
    let buckets = histogram_buckets(h);
    if !buckets.is_empty() {
        out.push_str(",\"buckets\":");
        write_list('[', &buckets, ']', out, |b, out| {
            let _ = write!(out, "[{},", b.boundaries);
            write_float_string(b.lower, out);
            out.push(',');
            write_float_string(b.upper, out);
            out.push(',');
            write_float_string(b.count, out);
            out.push(']');
        });
    }
    out.push_str("}]");
}

/// `{"metric":{…},"<key>":…}`, the value written by `value`.
fn write_series(labels: &Labels, key: &str, out: &mut String, value: impl FnOnce(&mut String)) {
    out.push_str("{\"metric\":");
    write_labels(labels, out);
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    value(out);
    out.push('}');
}

fn write_vector(v: &[InstantSample], out: &mut String) {
    write_list('[', v, ']', out, |s, out| match &s.h {
        Some(h) => write_series(&s.labels, "histogram", out, |out| {
            write_histogram_point(s.t, h, out)
        }),
        None => write_series(&s.labels, "value", out, |out| write_point(s.t, s.v, out)),
    });
}

fn write_matrix(m: &[RangeSeries], out: &mut String) {
    write_list('[', m, ']', out, |s, out| {
        let floats = |out: &mut String| {
            write_list('[', &s.points, ']', out, |p, out| {
                write_point(p.t, p.v, out)
            });
        };
        if s.histograms.is_empty() {
            write_series(&s.labels, "values", out, floats);
            return;
        }
        let hists = |out: &mut String| {
            write_list('[', &s.histograms, ']', out, |(t, h), out| {
                write_histogram_point(*t, h, out)
            });
        };
        if s.points.is_empty() {
            write_series(&s.labels, "histograms", out, hists);
        } else {
            write_series(&s.labels, "values", out, |out| {
                floats(out);
                out.push_str(",\"histograms\":");
                hists(out);
            });
        }
    });
}

/// The whole success envelope of a query result; `paging` (series in the
/// whole result, offset, limit) adds `totalSeries`, `offset` and `limit`
/// to `data` for a paged answer; `stats` is the `data.stats` object,
/// already written, when the query asked for it.
pub fn query_response(
    value: &Value,
    warnings: &[String],
    infos: &[String],
    paging: Option<(usize, usize, Option<usize>)>,
    stats: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":");
    match value {
        Value::Scalar { t, v } => {
            out.push_str("\"scalar\",\"result\":");
            write_point(*t, *v, &mut out);
        }
        Value::String { t, s } => {
            out.push_str("\"string\",\"result\":[");
            format_timestamp(*t, &mut out);
            out.push(',');
            write_str(s, &mut out);
            out.push(']');
        }
        Value::Vector(v) => {
            out.push_str("\"vector\",\"result\":");
            write_vector(v, &mut out);
        }
        Value::Matrix(m) => {
            out.push_str("\"matrix\",\"result\":");
            write_matrix(m, &mut out);
        }
    }
    if let Some((total, offset, limit)) = paging {
        let _ = write!(
            out,
            ",\"totalSeries\":{total},\"offset\":{offset},\"limit\":"
        );
        match limit {
            Some(l) => {
                let _ = write!(out, "{l}");
            }
            None => out.push_str("null"),
        }
    }
    if let Some(stats) = stats {
        out.push_str(",\"stats\":");
        out.push_str(stats);
    }
    out.push('}');
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if list.is_empty() {
            continue;
        }
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        write_list('[', list, ']', &mut out, |w, out| write_str(w, out));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_prometheus_prints_them() {
        for (ms, want) in [
            (1_435_781_451_781, "1435781451.781"),
            (1500, "1.500"),
            (4000, "4"),
            (5, "0.005"),
            (-1500, "-1.500"),
        ] {
            let mut s = String::new();
            format_timestamp(ms, &mut s);
            assert_eq!(s, want, "{ms}");
        }
    }

    #[test]
    fn responses_are_valid_json() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b\\c\n")]);
        let value = Value::Vector(vec![InstantSample {
            labels,
            t: 4000,
            v: f64::NAN,
            h: None,
        }]);
        let text = query_response(
            &value,
            &["careful".into()],
            &["repaired".into()],
            None,
            None,
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["data"]["result"][0]["metric"]["job"], "a\"b\\c\n");
        assert_eq!(parsed["data"]["result"][0]["value"][1], "NaN");
        assert_eq!(parsed["warnings"][0], "careful");
        assert_eq!(parsed["infos"][0], "repaired");
        let h = FloatHistogram {
            counter_reset_hint: hourglass_storage::CounterResetHint::Unknown,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 7.0,
            sum: 12.5,
            positive_spans: vec![hourglass_storage::Span::new(0, 2)],
            negative_spans: vec![hourglass_storage::Span::new(1, 1)],
            positive_buckets: vec![1.0, 3.0],
            negative_buckets: vec![1.0],
            custom_values: Vec::new(),
        };
        let value = Value::Vector(vec![InstantSample {
            labels: Labels::from_pairs([("__name__", "h")]),
            t: 4000,
            v: f64::NAN,
            h: Some(Box::new(h)),
        }]);
        let text = query_response(&value, &[], &[], None, None);
        assert_eq!(
            text,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[4,{"count":"7","sum":"12.5","buckets":[[1,"-2","-1","1"],[3,"-0.001","0.001","2"],[0,"0.5","1","1"],[0,"1","2","3"]]}]}]}}"#
        );
        let s = query_response(&Value::Scalar { t: 4000, v: 2.0 }, &[], &[], None, None);
        assert_eq!(
            s,
            r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
        );
    }
}
