//! Native histograms: the integer form remote write carries and the float
//! form storage returns and PromQL computes with.
//!
//! Schemas: -4..=8 are exponential (bucket `i` of schema `s` covers
//! `(2^((i-1)/2^s), 2^(i/2^s)]`), -53 is custom buckets (`custom_values`
//! are the finite, strictly increasing upper bounds; `+Inf` is implicit).
//! Spans: the first offset is the absolute index of the first bucket, later
//! offsets are gaps (>= 0) after the previous span.

use super::sample::STALE_NAN_BITS;

/// Lowest exponential schema.
pub const MIN_EXPONENTIAL_SCHEMA: i32 = -4;
/// Highest exponential schema stored (ingest reduces 9..=52 to this).
pub const MAX_EXPONENTIAL_SCHEMA: i32 = 8;
/// The custom-buckets schema (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// A run of consecutive buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First span: index of its first bucket; later spans: gap after the
    /// previous span.
    pub offset: i32,
    /// Number of buckets in the run.
    pub length: u32,
}

impl Span {
    /// A span of `length` buckets at `offset`.
    pub fn new(offset: i32, length: u32) -> Self {
        Span { offset, length }
    }
}

/// What the producer knows about counter resets at this sample.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum CounterResetHint {
    /// Nothing known: compare with the previous sample.
    #[default]
    Unknown = 0,
    /// A counter reset happened here.
    CounterReset = 1,
    /// Certainly no counter reset.
    NotCounterReset = 2,
    /// A gauge histogram: resets do not apply.
    Gauge = 3,
}

impl CounterResetHint {
    /// The hint for a wire or disk code (unknown codes: `Unknown`).
    pub fn from_u8(code: u8) -> Self {
        match code {
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// Why a histogram is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// The schema is neither exponential (-4..=8) nor custom buckets (-53).
    #[error("invalid histogram schema {0} (want -4..=8 or -53)")]
    BadSchema(i32),
    /// Span lengths do not add up to the number of buckets.
    #[error("{side} side: spans need {need} buckets, have {have} buckets")]
    SpanBucketMismatch {
        /// `positive` or `negative`.
        side: &'static str,
        /// Buckets the spans describe.
        need: u64,
        /// Buckets present.
        have: usize,
    },
    /// A span after the first has a negative offset.
    #[error("{side} side: span number {span} has negative offset {offset}")]
    NegativeSpanOffset {
        /// `positive` or `negative`.
        side: &'static str,
        /// 1-based span number.
        span: usize,
        /// The offset.
        offset: i32,
    },
    /// A bucket holds a negative (or NaN) count.
    #[error("{side} side: bucket number {bucket} has observation count of {count}")]
    NegativeBucket {
        /// `positive` or `negative`.
        side: &'static str,
        /// 1-based bucket number.
        bucket: usize,
        /// The count.
        count: f64,
    },
    /// The zero bucket or the total count is negative (or NaN).
    #[error("{field} is {value}, must not be negative")]
    NegativeCount {
        /// `count` or `zero_count`.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// The buckets hold a different number of observations than `count`.
    #[error("{in_buckets} observations found in buckets, but the Count field is {count}")]
    CountMismatch {
        /// Sum of the zero bucket and every bucket.
        in_buckets: u64,
        /// The count field.
        count: u64,
    },
    /// The buckets hold more observations than `count` (sum is NaN).
    #[error(
        "{in_buckets} observations found in buckets, but the Count field is {count} (count not big enough)"
    )]
    CountNotBigEnough {
        /// Sum of the zero bucket and every bucket.
        in_buckets: u64,
        /// The count field.
        count: u64,
    },
    /// Custom bounds are not strictly increasing, or one is NaN.
    #[error(
        "custom buckets: previous bound is {prev} and current is {curr}: bounds must be strictly increasing"
    )]
    CustomBoundsNotAscending {
        /// The previous bound.
        prev: f64,
        /// The offending bound.
        curr: f64,
    },
    /// The last custom bound is +Inf (it is implicit).
    #[error("custom buckets: last +Inf bound must not be explicitly defined")]
    CustomBoundsInfinite,
    /// Spans reach past the custom bounds.
    #[error("custom buckets: spans cover {extent} buckets but {bounds} bounds allow {allowed}")]
    CustomSpansOutOfBounds {
        /// Buckets the spans reach.
        extent: u64,
        /// Number of custom bounds.
        bounds: usize,
        /// `bounds + 1`.
        allowed: usize,
    },
    /// A custom-buckets histogram has a zero bucket, negative spans or
    /// negative buckets.
    #[error("custom buckets: must not have {0}")]
    CustomBucketsWith(&'static str),
    /// An exponential histogram carries custom bounds.
    #[error("histogram with exponential schema must not have custom bounds")]
    ExponentialWithCustomBounds,
    /// A span has a length or offset too large to index buckets.
    #[error("{side} side: spans reach past bucket index range")]
    SpanOverflow {
        /// `positive` or `negative`.
        side: &'static str,
    },
}

/// Integer histogram as remote write carries it: buckets delta-encoded
/// (the first value of a side is an absolute count, each next one the
/// difference to the previous bucket).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket schema.
    pub schema: i32,
    /// Width of the zero bucket `[-t, t]`.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations (NaN observations included).
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Positive bucket spans.
    pub positive_spans: Vec<Span>,
    /// Negative bucket spans.
    pub negative_spans: Vec<Span>,
    /// Positive buckets, delta-encoded.
    pub positive_deltas: Vec<i64>,
    /// Negative buckets, delta-encoded.
    pub negative_deltas: Vec<i64>,
    /// Custom bucket upper bounds (schema -53 only).
    pub custom_values: Vec<f64>,
}

/// Float histogram: absolute bucket counts (what storage returns and PromQL
/// computes with).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket schema.
    pub schema: i32,
    /// Width of the zero bucket `[-t, t]`.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations (NaN observations included).
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Positive bucket spans.
    pub positive_spans: Vec<Span>,
    /// Negative bucket spans.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Custom bucket upper bounds (schema -53 only).
    pub custom_values: Vec<f64>,
}

/// True for the exponential schemas -4..=8.
pub fn is_exponential_schema(schema: i32) -> bool {
    (MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&schema)
}

/// True for the custom-buckets schema.
pub fn is_custom_buckets_schema(schema: i32) -> bool {
    schema == CUSTOM_BUCKETS_SCHEMA
}

/// Absolute counts from in-histogram deltas (wrapping, as Prometheus does).
fn undelta(deltas: &[i64]) -> Vec<f64> {
    let mut acc = 0i64;
    deltas
        .iter()
        .map(|d| {
            acc = acc.wrapping_add(*d);
            acc as f64
        })
        .collect()
}

impl Histogram {
    /// The same histogram with absolute float bucket counts.
    pub fn to_float(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: undelta(&self.positive_deltas),
            negative_buckets: undelta(&self.negative_deltas),
            custom_values: self.custom_values.clone(),
        }
    }

    /// True when this is a staleness marker (sum is the stale NaN).
    pub fn is_stale(&self) -> bool {
        self.sum.to_bits() == STALE_NAN_BITS
    }

    /// Checks the histogram as Prometheus's `Histogram.Validate` does.
    pub fn validate(&self) -> Result<(), HistogramError> {
        let mut n_count = 0u64;
        if is_custom_buckets_schema(self.schema) {
            check_custom(
                &self.custom_values,
                &self.positive_spans,
                self.positive_deltas.len(),
                self.zero_count == 0,
                self.zero_threshold == 0.0,
                self.negative_spans.is_empty(),
                self.negative_deltas.is_empty(),
            )?;
        } else if is_exponential_schema(self.schema) {
            check_spans("positive", &self.positive_spans, self.positive_deltas.len())?;
            check_spans("negative", &self.negative_spans, self.negative_deltas.len())?;
            n_count = check_delta_buckets("negative", &self.negative_deltas)?;
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialWithCustomBounds);
            }
        } else {
            return Err(HistogramError::BadSchema(self.schema));
        }
        let p_count = check_delta_buckets("positive", &self.positive_deltas)?;
        let in_buckets = n_count.wrapping_add(p_count).wrapping_add(self.zero_count);
        if self.sum.is_nan() {
            if in_buckets > self.count {
                return Err(HistogramError::CountNotBigEnough {
                    in_buckets,
                    count: self.count,
                });
            }
        } else if in_buckets != self.count {
            return Err(HistogramError::CountMismatch {
                in_buckets,
                count: self.count,
            });
        }
        Ok(())
    }
}

impl FloatHistogram {
    /// True when this is a staleness marker (sum is the stale NaN).
    pub fn is_stale(&self) -> bool {
        self.sum.to_bits() == STALE_NAN_BITS
    }

    /// A staleness marker: an empty histogram whose sum is the stale NaN.
    pub fn stale_marker() -> Self {
        FloatHistogram {
            sum: f64::from_bits(STALE_NAN_BITS),
            ..FloatHistogram::default()
        }
    }

    /// True for schema -53.
    pub fn uses_custom_buckets(&self) -> bool {
        is_custom_buckets_schema(self.schema)
    }

    /// Bitwise equality (NaN sums and counts compare equal to themselves):
    /// the identity storage uses to tell a repeated sample from a conflict.
    pub fn same_bits(&self, other: &FloatHistogram) -> bool {
        fn eq(a: &[f64], b: &[f64]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        self.counter_reset_hint == other.counter_reset_hint
            && self.schema == other.schema
            && self.zero_threshold.to_bits() == other.zero_threshold.to_bits()
            && self.zero_count.to_bits() == other.zero_count.to_bits()
            && self.count.to_bits() == other.count.to_bits()
            && self.sum.to_bits() == other.sum.to_bits()
            && self.positive_spans == other.positive_spans
            && self.negative_spans == other.negative_spans
            && eq(&self.positive_buckets, &other.positive_buckets)
            && eq(&self.negative_buckets, &other.negative_buckets)
            && eq(&self.custom_values, &other.custom_values)
    }

    /// Checks the histogram as Prometheus's `FloatHistogram.Validate` does
    /// (the count is not compared with the buckets: float rounding would
    /// give false alarms), plus non-negative `count` and `zero_count`.
    pub fn validate(&self) -> Result<(), HistogramError> {
        if is_custom_buckets_schema(self.schema) {
            check_custom(
                &self.custom_values,
                &self.positive_spans,
                self.positive_buckets.len(),
                self.zero_count == 0.0,
                self.zero_threshold == 0.0,
                self.negative_spans.is_empty(),
                self.negative_buckets.is_empty(),
            )?;
        } else if is_exponential_schema(self.schema) {
            check_spans(
                "positive",
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_spans(
                "negative",
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
            check_float_buckets("negative", &self.negative_buckets)?;
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialWithCustomBounds);
            }
        } else {
            return Err(HistogramError::BadSchema(self.schema));
        }
        check_float_buckets("positive", &self.positive_buckets)?;
        for (field, value) in [("count", self.count), ("zero_count", self.zero_count)] {
            if value < 0.0 {
                return Err(HistogramError::NegativeCount { field, value });
            }
        }
        Ok(())
    }

    /// Number of buckets on both sides.
    pub fn num_buckets(&self) -> usize {
        self.positive_buckets.len() + self.negative_buckets.len()
    }
}

fn check_spans(side: &'static str, spans: &[Span], buckets: usize) -> Result<(), HistogramError> {
    let mut need = 0u64;
    for (n, span) in spans.iter().enumerate() {
        if n > 0 && span.offset < 0 {
            return Err(HistogramError::NegativeSpanOffset {
                side,
                span: n + 1,
                offset: span.offset,
            });
        }
        need += u64::from(span.length);
    }
    if need != buckets as u64 {
        return Err(HistogramError::SpanBucketMismatch {
            side,
            need,
            have: buckets,
        });
    }
    Ok(())
}

fn check_delta_buckets(side: &'static str, deltas: &[i64]) -> Result<u64, HistogramError> {
    let mut acc = 0i64;
    let mut total = 0u64;
    for (n, d) in deltas.iter().enumerate() {
        acc = acc.wrapping_add(*d);
        if acc < 0 {
            return Err(HistogramError::NegativeBucket {
                side,
                bucket: n + 1,
                count: acc as f64,
            });
        }
        total = total.wrapping_add(acc as u64);
    }
    Ok(total)
}

fn check_float_buckets(side: &'static str, buckets: &[f64]) -> Result<(), HistogramError> {
    for (n, c) in buckets.iter().enumerate() {
        if *c < 0.0 {
            return Err(HistogramError::NegativeBucket {
                side,
                bucket: n + 1,
                count: *c,
            });
        }
    }
    Ok(())
}

fn check_custom(
    bounds: &[f64],
    spans: &[Span],
    buckets: usize,
    zero_count_ok: bool,
    zero_threshold_ok: bool,
    no_negative_spans: bool,
    no_negative_buckets: bool,
) -> Result<(), HistogramError> {
    let mut prev = f64::NEG_INFINITY;
    for curr in bounds {
        if curr.is_nan() || *curr <= prev {
            return Err(HistogramError::CustomBoundsNotAscending { prev, curr: *curr });
        }
        prev = *curr;
    }
    if prev == f64::INFINITY {
        return Err(HistogramError::CustomBoundsInfinite);
    }
    let side = "positive";
    let mut need = 0u64;
    let mut extent = 0u64;
    for (n, span) in spans.iter().enumerate() {
        if span.offset < 0 {
            return Err(HistogramError::NegativeSpanOffset {
                side,
                span: n + 1,
                offset: span.offset,
            });
        }
        need += u64::from(span.length);
        extent += u64::from(span.length) + span.offset.unsigned_abs() as u64;
    }
    if need != buckets as u64 {
        return Err(HistogramError::SpanBucketMismatch {
            side,
            need,
            have: buckets,
        });
    }
    if extent > bounds.len() as u64 + 1 {
        return Err(HistogramError::CustomSpansOutOfBounds {
            extent,
            bounds: bounds.len(),
            allowed: bounds.len() + 1,
        });
    }
    for (ok, what) in [
        (zero_count_ok, "a zero count"),
        (zero_threshold_ok, "a zero threshold"),
        (no_negative_spans, "negative spans"),
        (no_negative_buckets, "negative buckets"),
    ] {
        if !ok {
            return Err(HistogramError::CustomBucketsWith(what));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
