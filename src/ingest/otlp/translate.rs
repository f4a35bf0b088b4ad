//! OTLP metrics into series, as Prometheus 3 translates them.
//!
//! - `job` is `service.namespace/service.name` (or `service.name`),
//!   `instance` is `service.instance.id`; resource attributes named in the
//!   promotion list become labels of every series of the resource; all
//!   other resource attributes go on one `target_info` series (value 1,
//!   at the resource's newest point) with `job` and `instance`.
//! - Point attributes become labels (names translated; keys that
//!   translate alike are joined with `;` in key order); `job`/`instance`
//!   from the resource win over point attributes of those names.
//! - Gauges and non-monotonic sums are gauges; monotonic sums are counters
//!   (`_total`); explicit-bucket histograms are classic histograms
//!   (`_bucket{le}` cumulative with `le="+Inf"` = count, `_sum`, `_count`);
//!   summaries are `{quantile}`, `_sum`, `_count`.
//! - Only cumulative temporality is stored: delta sums and histograms are
//!   refused with a reason (they would need per-series state to convert,
//!   and a restart would lose it); so are metrics of no known kind.
//! - Exponential histograms are native histograms (`exponential.rs`), named
//!   with the unit suffix and no type suffix; so are explicit-bucket
//!   histograms with `convert_histograms_to_nhcb`, as custom-bucket native
//!   histograms (NHCB: the bounds are the custom values, the count must be
//!   the buckets' total).
//! - With created-timestamp zero ingestion, `start_time_unix_nano` of a
//!   monotonic sum, a histogram or a summary point is the start timestamp
//!   of its series (storage writes a zero there when it is newer than the
//!   series' last sample), as Prometheus does with
//!   `created-timestamp-zero-ingestion`; gauges carry none.
//!   Without it, a monotonic sum point's `start_time_unix_nano` is kept as
//!   its sample's start timestamp (storage's start-timestamp companions),
//!   which `rate` and friends read.
//! - A point flagged "no recorded value" writes a staleness marker.
//! - Times are nanoseconds, stored as milliseconds (rounded down).

use super::model::*;
use super::names::{Kind, label_name, metric_name, push_label_name};
use crate::ingest::arena::SeriesArena;
use hourglass_storage::{FloatHistogram, STALE_NAN_BITS, Sample};

/// Refusal reasons reported in full; the rest are counted.
pub const MAX_REPORTED: usize = 8;

/// How to translate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings<'s> {
    /// Resource attributes promoted to labels (as sent, e.g. `k8s.pod.name`).
    pub promote: &'s [String],
    /// Most series the request may yield; past it translation stops.
    pub max_series: usize,
    /// Series carry their metric's type and unit as `__type__` and
    /// `__unit__` (Prometheus's type-and-unit-labels feature).
    pub type_and_unit_labels: bool,
    /// Points' start times are start timestamps of their series
    /// (`--created-timestamp-zero-ingestion`).
    pub created_timestamp_zero: bool,
    /// Explicit-bucket histograms become custom-bucket native histograms
    /// (`--otlp-convert-histograms-to-nhcb`).
    pub convert_histograms_to_nhcb: bool,
}

/// What translation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Data points turned into series.
    pub accepted: u64,
    /// Data points refused.
    pub rejected: u64,
    /// Why (the first [`MAX_REPORTED`] reasons).
    pub reasons: Vec<String>,
    /// Set when the request yields more than `max_series` series.
    pub too_many_series: bool,
    /// Set when the series built outgrew what `charge` allowed.
    pub over_budget: bool,
}

impl Outcome {
    fn refuse(&mut self, points: usize, why: String) {
        self.rejected += points as u64;
        if self.reasons.len() < MAX_REPORTED {
            self.reasons.push(why);
        }
    }
}

/// Metric metadata the translation found: (family name, type, help, unit).
pub type Metadata = Vec<(String, &'static str, String, String)>;

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE: &str = "service.instance.id";

/// Labels every series of a resource carries.
struct ResourceLabels {
    pairs: Vec<(String, String)>,
}

fn resource_labels(r: &Resource<'_>, s: &Settings<'_>) -> ResourceLabels {
    let get = |k: &str| {
        r.attributes
            .iter()
            .find(|a| a.key == k)
            .map(|a| a.value.as_ref())
    };
    let mut pairs = Vec::new();
    if let Some(name) = get(SERVICE_NAME) {
        let job = match get(SERVICE_NAMESPACE) {
            Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name.to_string(),
        };
        pairs.push(("job".to_string(), job));
    }
    if let Some(id) = get(SERVICE_INSTANCE) {
        pairs.push(("instance".to_string(), id.to_string()));
    }
    for key in s.promote {
        if let Some(v) = get(key) {
            let name = label_name(key);
            if !pairs.iter().any(|(n, _)| *n == name) {
                pairs.push((name, v.to_string()));
            }
        }
    }
    ResourceLabels { pairs }
}

/// Translates `req` into `out`; returns what was accepted and refused,
/// and fills `metadata`. The arena's growth is handed to `charge` as it
/// grows; when it says no, translation stops (`over_budget`).
pub fn translate(
    req: &Request<'_>,
    s: &Settings<'_>,
    out: &mut SeriesArena,
    metadata: &mut Metadata,
    charge: &mut dyn FnMut(usize) -> bool,
) -> Outcome {
    let mut o = Outcome::default();
    let mut w = Writer {
        charged: out.held_bytes(),
        out,
        labels: Vec::new(),
        max_series: s.max_series,
        charge,
        over: false,
        typed: Vec::new(),
        start: 0,
        keep: false,
    };
    for r in &req.resources {
        let res = resource_labels(r, s);
        let mut newest: Option<i64> = None;
        for m in &r.metrics {
            if w.full() {
                o.too_many_series = true;
                return o;
            }
            w.typed.clear();
            if s.type_and_unit_labels {
                let unit = super::names::unit_label(&m.unit);
                for (n, v) in crate::ingest::type_unit::labelled(&[], m.data.type_name(), &unit) {
                    w.typed.push((n.to_string(), v.to_string()));
                }
            }
            metric(&mut w, s, &res, m, &mut o, metadata, &mut newest);
            w.typed.clear();
        }
        target_info(&mut w, r, &res, newest);
    }
    o.too_many_series |= w.out.len() > w.max_series;
    o.over_budget = w.over;
    o
}

fn target_info(w: &mut Writer<'_>, r: &Resource<'_>, res: &ResourceLabels, newest: Option<i64>) {
    let Some(t) = newest else { return };
    let rest: Vec<Attr<'_>> = r
        .attributes
        .iter()
        .filter(|a| ![SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE].contains(&a.key.as_ref()))
        .cloned()
        .collect();
    if rest.is_empty() {
        return;
    }
    w.start = 0;
    let ids: Vec<(String, String)> = res
        .pairs
        .iter()
        .filter(|(n, _)| n == "job" || n == "instance")
        .cloned()
        .collect();
    w.series("target_info", &rest, &ids, None, Sample { t, v: 1.0 });
}

/// One series' sample.
enum Point {
    Float(Sample),
    /// A native histogram at a time (ms).
    Native(i64, FloatHistogram),
}

impl From<Sample> for Point {
    fn from(s: Sample) -> Self {
        Point::Float(s)
    }
}

/// Builds series into the arena.
struct Writer<'o> {
    out: &'o mut SeriesArena,
    /// Scratch: translated attribute labels of the current point.
    labels: Vec<(String, String)>,
    max_series: usize,
    charge: &'o mut dyn FnMut(usize) -> bool,
    /// Arena bytes charged so far.
    charged: usize,
    /// `charge` said no: nothing more is built.
    over: bool,
    /// `__type__`/`__unit__` of the current metric's series.
    typed: Vec<(String, String)>,
    /// Start timestamp (ms, `0`: none) of the current point's series.
    start: i64,
    /// `start` is kept as the sample's start timestamp, not turned into a
    /// zero sample.
    keep: bool,
}

impl Writer<'_> {
    fn full(&self) -> bool {
        self.over || self.out.len() > self.max_series
    }

    /// One series: `name`, the point's attributes, the resource's labels
    /// (which win), and `extra` (`le` or `quantile`).
    fn series(
        &mut self,
        name: &str,
        attrs: &[Attr<'_>],
        res: &[(String, String)],
        extra: Option<(&str, &str)>,
        s: impl Into<Point>,
    ) {
        if self.full() {
            return;
        }
        self.labels.clear();
        for a in attrs {
            let n = label_name(&a.key);
            if n == "__name__"
                || res.iter().any(|(r, _)| *r == n)
                || extra.is_some_and(|(e, _)| e == n)
            {
                continue;
            }
            self.labels.push((n, a.value.to_string()));
        }
        // Keys that translate alike: values joined with `;` in key order.
        self.labels.sort();
        self.labels.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1.push(';');
                a.1.push_str(&b.1);
                true
            } else {
                false
            }
        });
        self.out.label("__name__", name);
        for (n, v) in self.labels.iter().chain(res) {
            self.out.label_with(|s| s.push_str(n), |s| s.push_str(v));
        }
        if let Some((n, v)) = extra {
            self.out
                .label_with(|s| push_label_name(s, n), |s| s.push_str(v));
        }
        for (n, v) in &self.typed {
            self.out.label(n, v);
        }
        match s.into() {
            Point::Float(s) if self.keep => self.out.finish_kept(s, self.start),
            Point::Float(s) => self.out.finish_started(s, self.start),
            Point::Native(t, h) => self.out.finish_histogram_started(t, h, self.start),
        }
        let held = self.out.held_bytes();
        if held > self.charged {
            if (self.charge)(held - self.charged) {
                self.charged = held;
            } else {
                self.over = true;
            }
        }
    }
}

fn ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// `v`, or a staleness marker when the point has no recorded value.
fn value(v: f64, p: &PointMeta<'_>) -> f64 {
    if p.no_recorded_value() {
        f64::from_bits(STALE_NAN_BITS)
    } else {
        v
    }
}

/// `le` and `quantile` values as Prometheus's translator writes them.
fn float_label(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        super::proto::format_double(v)
    }
}

fn metric(
    w: &mut Writer<'_>,
    s: &Settings<'_>,
    res: &ResourceLabels,
    m: &Metric<'_>,
    o: &mut Outcome,
    metadata: &mut Metadata,
    newest: &mut Option<i64>,
) {
    let n = m.data.points();
    let kind = match &m.data {
        Data::Sum {
            monotonic: true, ..
        } => Kind::Counter,
        Data::Gauge(_) | Data::Sum { .. } => Kind::Gauge,
        _ => Kind::Other,
    };
    let nhcb = s.convert_histograms_to_nhcb && matches!(m.data, Data::Histogram { .. });
    let name = metric_name(&m.name, &m.unit, kind);
    if name.is_empty() {
        o.refuse(
            n.max(1),
            format!("metric {:?}: no legal characters in its name", m.name),
        );
        return;
    }
    let cumulative = |t: u64, what: &str, o: &mut Outcome| {
        if t == TEMPORALITY_CUMULATIVE {
            return true;
        }
        let why = if t == TEMPORALITY_DELTA {
            format!(
                "metric {:?}: delta temporality is not supported for {what}s; export cumulative temporality (e.g. OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative)",
                m.name
            )
        } else {
            format!(
                "metric {:?}: {what} with unspecified aggregation temporality",
                m.name
            )
        };
        o.refuse(n, why);
        false
    };
    if let Some((temporality, what)) = m.data.temporality()
        && !cumulative(temporality, what, o)
    {
        return;
    }
    // Gauges have no start; every other kind's points may.
    let started = s.created_timestamp_zero
        && !matches!(
            m.data,
            Data::Gauge(_)
                | Data::Sum {
                    monotonic: false,
                    ..
                }
        );
    // Without zero ingestion, a monotonic sum's start is kept as its
    // samples' start timestamp.
    let kept = !s.created_timestamp_zero
        && matches!(
            m.data,
            Data::Sum {
                monotonic: true,
                ..
            }
        );
    // A point's time in ms, noted as the newest seen; its start goes on `w`.
    let mut stamp = |w: &mut Writer<'_>, p: &PointMeta<'_>| {
        let t = ms(p.time_ns);
        *newest = Some(newest.map_or(t, |x| x.max(t)));
        w.start = if started || kept { ms(p.start_ns) } else { 0 };
        w.keep = kept;
        t
    };
    let type_name = match &m.data {
        Data::Missing => {
            o.refuse(1, format!("metric {:?}: no data of a known kind (gauge, sum, histogram, exponential histogram, summary)", m.name));
            return;
        }
        Data::Exponential { points, .. } => {
            for p in points {
                match super::exponential::to_native(p) {
                    Ok(h) => {
                        let t = stamp(w, &p.meta);
                        let h = Point::Native(t, h.to_float());
                        w.series(&name, &p.meta.attributes, &res.pairs, None, h);
                        o.accepted += 1;
                    }
                    Err(why) => o.refuse(1, format!("metric {:?}: {why}", m.name)),
                }
            }
            "histogram"
        }
        Data::Gauge(points) | Data::Sum { points, .. } => {
            for p in points {
                let t = stamp(w, &p.meta);
                let v = value(p.value, &p.meta);
                w.series(&name, &p.meta.attributes, &res.pairs, None, Sample { t, v });
                o.accepted += 1;
            }
            if kind == Kind::Counter {
                "counter"
            } else {
                "gauge"
            }
        }
        Data::Histogram { points, .. } => {
            for p in points {
                if p.bucket_counts.len() != p.bounds.len() + 1 && !p.bucket_counts.is_empty() {
                    o.refuse(1, format!(
                        "metric {:?}: {} bucket counts for {} bounds (want one more count than bounds)",
                        m.name, p.bucket_counts.len(), p.bounds.len()
                    ));
                    continue;
                }
                if nhcb {
                    match super::explicit::to_custom_buckets(p) {
                        Ok(h) => {
                            let t = stamp(w, &p.meta);
                            let h = Point::Native(t, h);
                            w.series(&name, &p.meta.attributes, &res.pairs, None, h);
                            o.accepted += 1;
                        }
                        Err(why) => o.refuse(1, format!("metric {:?}: {why}", m.name)),
                    }
                    continue;
                }
                let attrs = &p.meta.attributes;
                let t = stamp(w, &p.meta);
                let at = |v: f64| Sample {
                    t,
                    v: value(v, &p.meta),
                };
                let bucket = format!("{name}_bucket");
                let mut cum = 0u64;
                for (i, bound) in p.bounds.iter().enumerate() {
                    cum = cum.saturating_add(p.bucket_counts.get(i).copied().unwrap_or(0));
                    let le = float_label(*bound);
                    w.series(
                        &bucket,
                        attrs,
                        &res.pairs,
                        Some(("le", &le)),
                        at(cum as f64),
                    );
                }
                let count = at(p.count as f64);
                w.series(&bucket, attrs, &res.pairs, Some(("le", "+Inf")), count);
                if let Some(sum) = p.sum {
                    w.series(&format!("{name}_sum"), attrs, &res.pairs, None, at(sum));
                }
                w.series(&format!("{name}_count"), attrs, &res.pairs, None, count);
                o.accepted += 1;
            }
            "histogram"
        }
        Data::Summary(points) => {
            for p in points {
                let attrs = &p.meta.attributes;
                let t = stamp(w, &p.meta);
                let at = |v: f64| Sample {
                    t,
                    v: value(v, &p.meta),
                };
                for (q, v) in &p.quantiles {
                    let q = float_label(*q);
                    w.series(&name, attrs, &res.pairs, Some(("quantile", &q)), at(*v));
                }
                w.series(&format!("{name}_sum"), attrs, &res.pairs, None, at(p.sum));
                let count = at(p.count as f64);
                w.series(&format!("{name}_count"), attrs, &res.pairs, None, count);
                o.accepted += 1;
            }
            "summary"
        }
    };
    metadata.push((
        name,
        type_name,
        m.description.to_string(),
        m.unit.to_string(),
    ));
}
