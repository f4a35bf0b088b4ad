//! A family's series as Prometheus's scraper reads them from the protobuf
//! format: counters, gauges and untyped metrics are one series each; a
//! summary is `{quantile}` series, `_sum` and `_count`; a classic
//! histogram is `_count`, `_sum` and `_bucket{le}` series (`le="+Inf"`
//! added when missing); a native histogram is one histogram series of the
//! family's name, with its classic buckets as well only when asked
//! (`always_scrape_classic_histograms`); with `convert_classic_histograms_to_nhcb`
//! a classic histogram is one native histogram with custom buckets
//! instead (its classic series too only when asked). `le` and `quantile` values are
//! written as Prometheus writes them (`1.0`, `+Inf`), a timestamp of 0
//! means none.

use super::{Family, FamilyType, HistogramMsg, Metric};
use crate::ingest::nhcb::{ClassicHistogram, NhcbError};
use crate::ingest::remote_write::histogram::validated;
use crate::ingest::text::{MetricKind, SampleLine};
use hourglass_query::prom_text::exposition_float;
use hourglass_storage::{CounterResetHint, FloatHistogram, Histogram, HistogramError};
use std::borrow::Cow;

/// How histograms are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Store native histograms (`scrape_native_histograms`); without it a
    /// native histogram yields its classic buckets only.
    pub native: bool,
    /// Also store the classic buckets of a native histogram, and the
    /// classic series of a converted one
    /// (`always_scrape_classic_histograms`).
    pub always_classic: bool,
    /// Classic histograms (not gauge histograms, not beside a stored
    /// native histogram) become native histograms with custom buckets
    /// (`convert_classic_histograms_to_nhcb`, see [`crate::ingest::nhcb`]).
    pub convert_nhcb: bool,
}

/// A series' value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A float sample.
    Float(f64),
    /// A native histogram sample.
    Histogram(FloatHistogram),
}

/// One series of a family with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposed<'a> {
    /// Name, labels and timestamp (its `value` is unused; see `value`).
    pub line: SampleLine<'a>,
    /// The value.
    pub value: Value,
    /// The metric's created timestamp (counters, summaries, histograms).
    pub created_ms: Option<i64>,
}

/// Why a family cannot be read, worded as Prometheus words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    /// An empty name.
    #[error("invalid metric name: {0:?}")]
    Name(String),
    /// A unit that is not a suffix of the name.
    #[error("unit {unit:?} not a suffix of metric {name:?}")]
    Unit {
        /// The unit.
        unit: String,
        /// The family.
        name: String,
    },
    /// A native histogram Prometheus would refuse.
    #[error("invalid native histogram of {name:?}: {why}")]
    Histogram {
        /// The family.
        name: String,
        /// Why.
        why: HistogramError,
    },
}

fn kind(t: FamilyType) -> MetricKind {
    match t {
        FamilyType::Counter => MetricKind::Counter,
        FamilyType::Gauge => MetricKind::Gauge,
        FamilyType::Summary => MetricKind::Summary,
        FamilyType::Untyped => MetricKind::Untyped,
        FamilyType::Histogram | FamilyType::GaugeHistogram => MetricKind::Histogram,
    }
}

fn check_unit(f: &Family<'_>) -> Result<(), SeriesError> {
    if f.unit.is_empty() {
        return Ok(());
    }
    let base = match f.name.strip_suffix("_total") {
        Some(b) if f.kind == FamilyType::Counter => b,
        _ => f.name,
    };
    let ok = base
        .strip_suffix(f.unit)
        .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1);
    if ok {
        Ok(())
    } else {
        Err(SeriesError::Unit {
            unit: f.unit.to_string(),
            name: f.name.to_string(),
        })
    }
}

/// Appends the series of `f` to `out`.
pub fn series<'a>(
    f: &Family<'a>,
    opts: Options,
    out: &mut Vec<Exposed<'a>>,
) -> Result<(), SeriesError> {
    if f.name.is_empty() {
        return Err(SeriesError::Name(f.name.to_string()));
    }
    check_unit(f)?;
    for m in &f.metrics {
        let mut push = |suffix: &str, extra: Option<(&'static str, String)>, value: Value| {
            let name = if suffix.is_empty() {
                Cow::Borrowed(f.name)
            } else {
                Cow::Owned(format!("{}{suffix}", f.name))
            };
            let mut labels: Vec<(Cow<'a, str>, Cow<'a, str>)> = m
                .labels
                .iter()
                .map(|(n, v)| (Cow::Borrowed(*n), Cow::Borrowed(*v)))
                .collect();
            if let Some((n, v)) = extra {
                labels.push((Cow::Borrowed(n), Cow::Owned(v)));
            }
            out.push(Exposed {
                line: SampleLine {
                    name,
                    labels,
                    value: 0.0,
                    timestamp_ms: (m.timestamp_ms != 0).then_some(m.timestamp_ms),
                    family: Cow::Borrowed(f.name),
                    kind: kind(f.kind),
                },
                value,
                created_ms: created(f.kind, m),
            });
        };
        match f.kind {
            FamilyType::Counter => {
                push("", None, Value::Float(m.counter.map_or(0.0, |c| c.value)));
            }
            FamilyType::Gauge => push("", None, Value::Float(m.gauge.unwrap_or(0.0))),
            FamilyType::Untyped => push("", None, Value::Float(m.untyped.unwrap_or(0.0))),
            FamilyType::Summary => {
                let s = m.summary.clone().unwrap_or_default();
                for (q, v) in &s.quantiles {
                    push(
                        "",
                        Some(("quantile", exposition_float(*q))),
                        Value::Float(*v),
                    );
                }
                push("_sum", None, Value::Float(s.sum));
                push("_count", None, Value::Float(s.count as f64));
            }
            FamilyType::Histogram | FamilyType::GaugeHistogram => {
                let h = m.histogram.clone().unwrap_or_default();
                let native = h.is_native();
                if native && opts.native {
                    let nh = native_histogram(&h, f.kind == FamilyType::GaugeHistogram).map_err(
                        |why| SeriesError::Histogram {
                            name: f.name.to_string(),
                            why,
                        },
                    )?;
                    push("", None, Value::Histogram(nh));
                }
                let native_used = native && opts.native;
                let mut classic = !native_used || (opts.always_classic && !h.buckets.is_empty());
                if opts.convert_nhcb && !native_used && f.kind == FamilyType::Histogram {
                    // Unconvertible: no histogram, as in Prometheus.
                    if let Ok(nh) = custom_buckets(&h) {
                        push("", None, Value::Histogram(nh));
                    }
                    classic = opts.always_classic;
                }
                if !classic {
                    continue;
                }
                let count = if h.count_float != 0.0 {
                    h.count_float
                } else {
                    h.count as f64
                };
                push("_count", None, Value::Float(count));
                push("_sum", None, Value::Float(h.sum));
                let mut inf = false;
                for b in &h.buckets {
                    let v = if b.cumulative_float != 0.0 {
                        b.cumulative_float
                    } else {
                        b.cumulative as f64
                    };
                    push(
                        "_bucket",
                        Some(("le", exposition_float(b.upper))),
                        Value::Float(v),
                    );
                    if b.upper == f64::INFINITY {
                        inf = true;
                        break;
                    }
                }
                if !inf {
                    push("_bucket", Some(("le", "+Inf".into())), Value::Float(count));
                }
            }
        }
    }
    Ok(())
}

/// A classic histogram message as a native histogram with custom buckets.
fn custom_buckets(h: &HistogramMsg) -> Result<FloatHistogram, NhcbError> {
    let mut c = ClassicHistogram::default();
    for b in &h.buckets {
        let v = if b.cumulative_float != 0.0 {
            b.cumulative_float
        } else {
            b.cumulative as f64
        };
        c.set_bucket(b.upper, v);
    }
    c.set_count(if h.count_float != 0.0 {
        h.count_float
    } else {
        h.count as f64
    });
    c.set_sum(h.sum);
    c.convert()
}

fn created(t: FamilyType, m: &Metric<'_>) -> Option<i64> {
    match t {
        FamilyType::Counter => m.counter.and_then(|c| c.created_ms),
        FamilyType::Summary => m.summary.as_ref().and_then(|s| s.created_ms),
        FamilyType::Histogram | FamilyType::GaugeHistogram => {
            m.histogram.as_ref().and_then(|h| h.created_ms)
        }
        FamilyType::Gauge | FamilyType::Untyped => None,
    }
}

/// The native histogram of a message, validated as Prometheus validates
/// it; schemas 9..=52 are reduced to 8.
pub fn native_histogram(h: &HistogramMsg, gauge: bool) -> Result<FloatHistogram, HistogramError> {
    let ih = Histogram {
        counter_reset_hint: if gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        count: h.count,
        sum: h.sum,
        positive_spans: h.positive_spans.clone(),
        negative_spans: h.negative_spans.clone(),
        positive_deltas: h.positive_deltas.clone(),
        negative_deltas: h.negative_deltas.clone(),
        custom_values: Vec::new(),
    };
    let fh = FloatHistogram {
        zero_count: h.zero_count_float,
        count: h.count_float,
        positive_buckets: h.positive_counts.clone(),
        negative_buckets: h.negative_counts.clone(),
        ..FloatHistogram::default()
    };
    validated(ih, fh, h.is_float())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::families::{buckets, classic, float_native, histogram, native, one};
    use super::super::{Counter, Summary};
    use super::*;

    /// Each series as `name{labels} value`, histograms as `h(count,sum)`.
    fn texts(f: &Family<'_>, opts: Options) -> Vec<String> {
        let mut out = Vec::new();
        series(f, opts, &mut out).unwrap();
        out.iter()
            .map(|e| {
                let labels: Vec<String> = e
                    .line
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let v = match &e.value {
                    Value::Float(v) => v.to_string(),
                    Value::Histogram(h) => format!("h({},{})", h.count, h.sum),
                };
                format!("{}{{{}}} {v}", e.line.name, labels.join(","))
            })
            .collect()
    }

    fn family(kind: FamilyType, m: Metric<'static>) -> Family<'static> {
        one("x", kind, m)
    }

    fn hist(kind: FamilyType, h: HistogramMsg) -> Family<'static> {
        histogram("x", kind, vec![], h)
    }

    const NATIVE: Options = Options {
        native: true,
        always_classic: false,
        convert_nhcb: false,
    };

    #[test]
    fn counters_gauges_untyped_and_summaries_read_as_prometheus_reads_them() {
        let c = Metric {
            labels: vec![("a", "b")],
            counter: Some(Counter {
                value: 7.0,
                created_ms: Some(5),
            }),
            timestamp_ms: 1000,
            ..Metric::default()
        };
        let mut out = Vec::new();
        series(&family(FamilyType::Counter, c), NATIVE, &mut out).unwrap();
        assert_eq!(out[0].line.timestamp_ms, Some(1000));
        assert_eq!(out[0].created_ms, Some(5));
        assert_eq!(out[0].value, Value::Float(7.0));
        let g = Metric {
            gauge: Some(-2.0),
            ..Metric::default()
        };
        assert_eq!(
            texts(&family(FamilyType::Gauge, g.clone()), NATIVE),
            ["x{} -2"]
        );
        // A timestamp of 0 is no timestamp; a missing value is 0.
        let mut out = Vec::new();
        series(&family(FamilyType::Untyped, g), NATIVE, &mut out).unwrap();
        assert_eq!(out[0].line.timestamp_ms, None);
        assert_eq!(out[0].value, Value::Float(0.0));
        let s = Metric {
            summary: Some(Summary {
                count: 4,
                sum: 2.5,
                quantiles: vec![(0.5, 0.1), (1.0, 0.9)],
                created_ms: None,
            }),
            ..Metric::default()
        };
        assert_eq!(
            texts(&family(FamilyType::Summary, s), NATIVE),
            [
                "x{quantile=0.5} 0.1",
                "x{quantile=1.0} 0.9",
                "x_sum{} 2.5",
                "x_count{} 4"
            ]
        );
    }

    #[test]
    fn classic_histograms_get_an_inf_bucket_and_native_ones_their_buckets_only_when_asked() {
        let classic = classic(3, 1.5, native(None).buckets);
        let want_classic = [
            "x_count{} 3",
            "x_sum{} 1.5",
            "x_bucket{le=0.5} 1",
            "x_bucket{le=2.0} 3",
            "x_bucket{le=+Inf} 3",
        ];
        assert_eq!(
            texts(&hist(FamilyType::Histogram, classic), NATIVE),
            want_classic
        );
        let native = hist(FamilyType::Histogram, native(None));
        assert_eq!(texts(&native, NATIVE), ["x{} h(3,1.5)"]);
        let both = Options {
            native: true,
            always_classic: true,
            convert_nhcb: false,
        };
        let mut want = vec!["x{} h(3,1.5)"];
        want.extend(want_classic);
        assert_eq!(texts(&native, both), want);
        // Native histograms not scraped: the classic buckets stand in.
        assert_eq!(texts(&native, Options::default()), want_classic);
    }

    #[test]
    fn classic_histograms_convert_to_custom_buckets_only_when_asked() {
        let classic = classic(3, 1.5, native(None).buckets);
        let convert = Options {
            native: true,
            always_classic: false,
            convert_nhcb: true,
        };
        let f = hist(FamilyType::Histogram, classic.clone());
        let mut out = Vec::new();
        series(&f, convert, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let Value::Histogram(h) = &out[0].value else {
            panic!("{out:?}")
        };
        assert_eq!((h.schema, h.count, h.sum), (-53, 3.0, 1.5));
        assert_eq!(h.custom_values, [0.5, 2.0]);
        assert_eq!(h.positive_buckets, [1.0, 2.0]);
        // Kept beside when asked.
        let keep = Options {
            always_classic: true,
            ..convert
        };
        assert_eq!(texts(&f, keep).len(), 6);
        // Not a gauge histogram, not beside a stored native histogram.
        let gauge = hist(FamilyType::GaugeHistogram, classic);
        assert_eq!(texts(&gauge, convert).len(), 5);
        let native = hist(FamilyType::Histogram, native(None));
        assert_eq!(texts(&native, convert), ["x{} h(3,1.5)"]);
        // Inconsistent: nothing, as in Prometheus.
        let falling = HistogramMsg {
            count: 3,
            buckets: buckets(&[(1.0, 3), (2.0, 2)]),
            ..HistogramMsg::default()
        };
        let f = hist(FamilyType::Histogram, falling);
        assert!(texts(&f, convert).is_empty());
    }

    #[test]
    fn native_histograms_are_validated_typed_and_reduced() {
        let mut out = Vec::new();
        let f = hist(FamilyType::GaugeHistogram, native(None));
        series(&f, NATIVE, &mut out).unwrap();
        let Value::Histogram(h) = &out[0].value else {
            panic!("{out:?}")
        };
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
        assert_eq!(h.positive_buckets, [1.0, 1.0]);
        let h = native_histogram(&float_native(), false).unwrap();
        assert_eq!(
            (h.count, h.zero_count, h.positive_buckets.clone()),
            (2.5, 0.5, vec![2.0])
        );
        let fine = HistogramMsg {
            schema: 9,
            ..native(None)
        };
        assert_eq!(native_histogram(&fine, false).unwrap().schema, 8);
        let wrong = HistogramMsg {
            count: 9,
            ..native(None)
        };
        let f = hist(FamilyType::Histogram, wrong);
        let err = series(&f, NATIVE, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, SeriesError::Histogram { .. }), "{err}");
    }

    #[test]
    fn names_and_units_are_checked() {
        let mut f = family(FamilyType::Counter, Metric::default());
        f.name = "";
        assert!(series(&f, NATIVE, &mut Vec::new()).is_err());
        for (name, unit, ok) in [
            ("req_seconds_total", "seconds", true),
            ("req_seconds", "seconds", true),
            ("req_total", "seconds", false),
            ("seconds", "seconds", false),
            ("reqseconds", "seconds", false),
        ] {
            let f = Family {
                name,
                unit,
                ..family(FamilyType::Counter, Metric::default())
            };
            assert_eq!(
                series(&f, NATIVE, &mut Vec::new()).is_ok(),
                ok,
                "{name} {unit}"
            );
        }
    }
}
