//! An OTLP `ExportMetricsServiceRequest` as decoded from protobuf or JSON:
//! only what the translation reads, strings borrowed from the body where
//! the encoding allows. Scopes are flattened into their resource.

use std::borrow::Cow;

/// The whole request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Request<'a> {
    /// One entry per `ResourceMetrics`.
    pub resources: Vec<Resource<'a>>,
}

/// A resource and every metric of its scopes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resource<'a> {
    /// Resource attributes.
    pub attributes: Vec<Attr<'a>>,
    /// Metrics of all its scopes.
    pub metrics: Vec<Metric<'a>>,
}

/// An attribute with its value in string form (`AnyValue.AsString`:
/// booleans `true`/`false`, integers and doubles in decimal, bytes in
/// base64); array and map values are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr<'a> {
    /// The key.
    pub key: Cow<'a, str>,
    /// The value.
    pub value: Cow<'a, str>,
}

/// One metric.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metric<'a> {
    /// The OTel name.
    pub name: Cow<'a, str>,
    /// Its description (stored as metadata help).
    pub description: Cow<'a, str>,
    /// Its UCUM unit.
    pub unit: Cow<'a, str>,
    /// Its points.
    pub data: Data<'a>,
}

/// `AggregationTemporality`.
pub const TEMPORALITY_DELTA: u64 = 1;
/// `AggregationTemporality`.
pub const TEMPORALITY_CUMULATIVE: u64 = 2;

/// The metric's kind and points.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Data<'a> {
    /// No known kind was set (an unknown or missing `data` field).
    #[default]
    Missing,
    /// A gauge.
    Gauge(Vec<NumberPoint<'a>>),
    /// A sum.
    Sum {
        /// Its points.
        points: Vec<NumberPoint<'a>>,
        /// `AggregationTemporality` as sent.
        temporality: u64,
        /// A counter when true.
        monotonic: bool,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Its points.
        points: Vec<HistogramPoint<'a>>,
        /// `AggregationTemporality` as sent.
        temporality: u64,
    },
    /// An exponential histogram (stored as a native histogram).
    Exponential {
        /// Its points.
        points: Vec<ExponentialPoint<'a>>,
        /// `AggregationTemporality` as sent.
        temporality: u64,
    },
    /// A summary.
    Summary(Vec<SummaryPoint<'a>>),
}

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the series went away.
pub const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// What a data point of every kind carries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PointMeta<'a> {
    /// Point attributes.
    pub attributes: Vec<Attr<'a>>,
    /// Time (ns since the epoch).
    pub time_ns: u64,
    /// `start_time_unix_nano`: when the cumulative series began (0: not
    /// sent).
    pub start_ns: u64,
    /// `DataPointFlags`.
    pub flags: u32,
}

impl PointMeta<'_> {
    /// Flagged "no recorded value": the series went away.
    pub fn no_recorded_value(&self) -> bool {
        self.flags & FLAG_NO_RECORDED_VALUE != 0
    }
}

/// A gauge or sum point.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NumberPoint<'a> {
    /// Attributes, times and flags.
    pub meta: PointMeta<'a>,
    /// The value (`as_int` converted).
    pub value: f64,
}

/// An explicit-bucket histogram point.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HistogramPoint<'a> {
    /// Attributes, times and flags.
    pub meta: PointMeta<'a>,
    /// Observations.
    pub count: u64,
    /// Their sum, when sent.
    pub sum: Option<f64>,
    /// Per-bucket (not cumulative) counts; one more than `bounds`.
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of all buckets but the last.
    pub bounds: Vec<f64>,
}

/// An exponential histogram point.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExponentialPoint<'a> {
    /// Attributes, times and flags.
    pub meta: PointMeta<'a>,
    /// Observations.
    pub count: u64,
    /// Their sum, when sent.
    pub sum: Option<f64>,
    /// Resolution: bucket bounds are powers of `2^(2^-scale)`.
    pub scale: i32,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// The zero bucket's width (0 when not sent).
    pub zero_threshold: f64,
    /// Buckets of positive observations.
    pub positive: ExponentialBuckets,
    /// Buckets of negative observations (by absolute value).
    pub negative: ExponentialBuckets,
}

/// Dense buckets from index `offset`: bucket `offset + i` holds `counts[i]`
/// observations in `(base^(offset+i), base^(offset+i+1)]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExponentialBuckets {
    /// Index of the first bucket.
    pub offset: i32,
    /// Per-bucket (not cumulative) counts.
    pub counts: Vec<u64>,
}

/// A summary point.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SummaryPoint<'a> {
    /// Attributes, times and flags.
    pub meta: PointMeta<'a>,
    /// Observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// (quantile, value) pairs.
    pub quantiles: Vec<(f64, f64)>,
}

impl Data<'_> {
    /// How many data points it holds.
    pub fn points(&self) -> usize {
        match self {
            Data::Missing => 0,
            Data::Gauge(p) | Data::Sum { points: p, .. } => p.len(),
            Data::Histogram { points, .. } => points.len(),
            Data::Exponential { points, .. } => points.len(),
            Data::Summary(p) => p.len(),
        }
    }

    /// Its Prometheus metadata type: monotonic sums are counters, other
    /// sums gauges, both histogram kinds histograms ("" when missing).
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::Missing => "",
            Data::Sum {
                monotonic: true, ..
            } => "counter",
            Data::Gauge(_) | Data::Sum { .. } => "gauge",
            Data::Histogram { .. } | Data::Exponential { .. } => "histogram",
            Data::Summary(_) => "summary",
        }
    }

    /// The aggregation temporality of a sum or histogram, with what to
    /// call the kind in a refusal; none for gauges and summaries.
    pub fn temporality(&self) -> Option<(u64, &'static str)> {
        match self {
            Data::Sum { temporality, .. } => Some((*temporality, "sum")),
            Data::Histogram { temporality, .. } => Some((*temporality, "histogram")),
            Data::Exponential { temporality, .. } => Some((*temporality, "exponential histogram")),
            Data::Missing | Data::Gauge(_) | Data::Summary(_) => None,
        }
    }
}
