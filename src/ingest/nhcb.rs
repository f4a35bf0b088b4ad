//! Classic `le` histograms as native histograms with custom buckets (NHCB,
//! schema -53), converted as Prometheus's `convertnhcb` converts them for
//! `convert_classic_histograms_to_nhcb`:
//!
//! - buckets are cumulative counts by upper bound, taken in any order: a
//!   repeated bound keeps its first count, a NaN bound, a negative count or
//!   counts that fall as bounds rise make the histogram unconvertible;
//! - the count is `_count`, or the highest bucket's count without one (no
//!   buckets and no count: unconvertible); the sum is `_sum` (0 without);
//! - without a `+Inf` bucket one is added holding the count; with one, the
//!   count must equal it;
//! - the finite bounds become `custom_values`, the counts per bucket the
//!   buckets, empty ones compacted away as Prometheus compacts (runs of up
//!   to 2 empty buckets kept inside a span when every count is a whole
//!   number, none otherwise); the result must validate.
//!
//! An unconvertible histogram is no sample at all, as in Prometheus.

use hourglass_storage::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, HistogramError, Span};

/// Why classic series make no native histogram.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NhcbError {
    /// A bucket bound is NaN.
    #[error("bucket boundary must not be NaN")]
    NanBound,
    /// A bucket count is negative.
    #[error("bucket count must be non-negative: le={le}, count={count}")]
    NegativeBucket {
        /// The bound.
        le: f64,
        /// The count.
        count: f64,
    },
    /// A higher bound holds fewer observations than a lower one.
    #[error("count is not cumulative: le={le}, count={count} against {other}")]
    NotCumulative {
        /// The bound.
        le: f64,
        /// Its count.
        count: f64,
        /// The neighbouring bucket's count it contradicts.
        other: f64,
    },
    /// `_count` is negative.
    #[error("count must be non-negative: count={0}")]
    NegativeCount(f64),
    /// Neither buckets nor `_count`.
    #[error("count must be provided when no buckets are present")]
    MissingCount,
    /// `_count` differs from the `+Inf` bucket.
    #[error("count mismatch: count={count} != le=+Inf count={inf}")]
    CountMismatch {
        /// `_count`.
        count: f64,
        /// The `+Inf` bucket's count.
        inf: f64,
    },
    /// The result is no valid histogram.
    #[error("{0}")]
    Invalid(#[from] HistogramError),
}

/// One classic histogram's series, collected in any order.
#[derive(Debug, Clone, Default)]
pub struct ClassicHistogram {
    /// (upper bound, cumulative count), bounds ascending.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    err: Option<NhcbError>,
}

impl ClassicHistogram {
    /// The `_bucket{le}` series.
    pub fn set_bucket(&mut self, le: f64, count: f64) {
        if self.err.is_some() {
            return;
        }
        if le.is_nan() {
            self.err = Some(NhcbError::NanBound);
            return;
        }
        if count < 0.0 {
            self.err = Some(NhcbError::NegativeBucket { le, count });
            return;
        }
        let at = self.buckets.partition_point(|(b, _)| *b < le);
        if self.buckets.get(at).is_some_and(|(b, _)| *b == le) {
            return;
        }
        let not_cumulative = |other: f64| NhcbError::NotCumulative { le, count, other };
        if let Some(&(_, below)) = at.checked_sub(1).and_then(|i| self.buckets.get(i))
            && count < below
        {
            self.err = Some(not_cumulative(below));
            return;
        }
        if let Some(&(_, above)) = self.buckets.get(at)
            && count > above
        {
            self.err = Some(not_cumulative(above));
            return;
        }
        self.buckets.insert(at, (le, count));
    }

    /// The `_count` series.
    pub fn set_count(&mut self, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(NhcbError::NegativeCount(count));
            return;
        }
        self.count = Some(count);
    }

    /// The `_sum` series.
    pub fn set_sum(&mut self, sum: f64) {
        if self.err.is_none() {
            self.sum = sum;
        }
    }

    /// The native histogram with custom buckets (see the module docs).
    pub fn convert(&self) -> Result<FloatHistogram, NhcbError> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let mut buckets = self.buckets.clone();
        let count = match (self.count, buckets.last()) {
            (Some(c), _) => c,
            (None, Some(&(_, top))) => top,
            (None, None) => return Err(NhcbError::MissingCount),
        };
        if buckets.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
            buckets.push((f64::INFINITY, count));
        }
        let inf = buckets.last().map_or(count, |(_, c)| *c);
        if count != inf {
            return Err(NhcbError::CountMismatch { count, inf });
        }
        let whole = |v: f64| v == v.round();
        let integral = whole(count) && buckets.iter().all(|(_, c)| whole(*c));
        let mut prev = 0.0;
        let per_bucket: Vec<f64> = buckets
            .iter()
            .map(|(_, c)| {
                let n = c - prev;
                prev = *c;
                n
            })
            .collect();
        let (positive_spans, positive_buckets) = compact(&per_bucket, if integral { 2 } else { 0 });
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans,
            positive_buckets,
            custom_values: buckets
                .iter()
                .map(|(le, _)| *le)
                .filter(|le| *le != f64::INFINITY)
                .collect(),
            ..FloatHistogram::default()
        };
        h.validate()?;
        Ok(h)
    }
}

/// Spans and buckets of `counts` (one per custom bound) without empty
/// buckets, except runs of at most `max_empty` between filled ones.
fn compact(counts: &[f64], max_empty: usize) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        let gap = last.map(|j| i - j - 1);
        match (gap, spans.last_mut()) {
            (Some(gap), Some(span)) if gap <= max_empty => {
                out.extend(std::iter::repeat_n(0.0, gap));
                span.length += gap as u32 + 1;
            }
            (Some(gap), _) => spans.push(Span::new(gap as i32, 1)),
            (None, _) => spans.push(Span::new(i as i32, 1)),
        }
        out.push(c);
        last = Some(i);
    }
    (spans, out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn classic(buckets: &[(f64, f64)], count: Option<f64>, sum: f64) -> ClassicHistogram {
        let mut h = ClassicHistogram::default();
        for &(le, c) in buckets {
            h.set_bucket(le, c);
        }
        if let Some(c) = count {
            h.set_count(c);
        }
        h.set_sum(sum);
        h
    }

    const INF: f64 = f64::INFINITY;

    #[test]
    fn a_complete_histogram_converts_with_its_bounds_and_counts_per_bucket() {
        let h = classic(
            &[(0.1, 2.0), (0.5, 5.0), (1.0, 5.0), (INF, 9.0)],
            Some(9.0),
            4.5,
        )
        .convert()
        .unwrap();
        assert_eq!(h.schema, -53);
        assert_eq!((h.count, h.sum), (9.0, 4.5));
        assert_eq!(h.custom_values, [0.1, 0.5, 1.0]);
        // 2, 3, 0, 4: one empty bucket stays inside the span (whole counts).
        assert_eq!(h.positive_spans, [Span::new(0, 4)]);
        assert_eq!(h.positive_buckets, [2.0, 3.0, 0.0, 4.0]);
    }

    #[test]
    fn missing_inf_bucket_and_count_are_filled_in_as_prometheus_does() {
        // No +Inf: one is added holding the count.
        let h = classic(&[(1.0, 1.0), (2.0, 3.0)], Some(4.0), 0.0)
            .convert()
            .unwrap();
        assert_eq!(h.custom_values, [1.0, 2.0]);
        assert_eq!(h.positive_buckets, [1.0, 2.0, 1.0]);
        // No count: the highest bucket's.
        let h = classic(&[(1.0, 1.0), (INF, 3.0)], None, 2.0)
            .convert()
            .unwrap();
        assert_eq!(h.count, 3.0);
        // Only a count: everything in +Inf, no bounds.
        let h = classic(&[], Some(7.0), 1.0).convert().unwrap();
        assert!(h.custom_values.is_empty());
        assert_eq!(
            (h.positive_spans.clone(), h.positive_buckets.clone()),
            (vec![Span::new(0, 1)], vec![7.0])
        );
        // Buckets in any order; a repeated bound keeps its first count.
        let h = classic(&[(INF, 4.0), (2.0, 3.0), (1.0, 1.0), (2.0, 9.0)], None, 0.0)
            .convert()
            .unwrap();
        assert_eq!(h.custom_values, [1.0, 2.0]);
        assert_eq!(h.positive_buckets, [1.0, 2.0, 1.0]);
    }

    #[test]
    fn empty_buckets_are_compacted_in_runs_longer_than_prometheus_keeps() {
        let bounds: Vec<(f64, f64)> = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
            .iter()
            .enumerate()
            .map(|(i, c)| (i as f64, *c))
            .collect();
        let h = classic(&bounds, Some(2.0), 0.0).convert().unwrap();
        // Per bucket 0 0 1 0 0 0 1 0 0 0: gaps of 3 split the span.
        assert_eq!(h.positive_spans, [Span::new(2, 1), Span::new(3, 1)]);
        assert_eq!(h.positive_buckets, [1.0, 1.0]);
        // Fractional counts: no empty bucket is kept.
        let h = classic(&[(1.0, 0.5), (2.0, 0.5), (3.0, 1.5)], Some(1.5), 0.0)
            .convert()
            .unwrap();
        assert_eq!(h.positive_spans, [Span::new(0, 1), Span::new(1, 1)]);
        assert_eq!(h.positive_buckets, [0.5, 1.0]);
        // All empty: no spans.
        let h = classic(&[(1.0, 0.0)], Some(0.0), 0.0).convert().unwrap();
        assert!(h.positive_spans.is_empty() && h.positive_buckets.is_empty());
    }

    #[test]
    fn inconsistent_histograms_do_not_convert() {
        for (h, want) in [
            (classic(&[(f64::NAN, 1.0)], Some(1.0), 0.0), "NaN"),
            (classic(&[(1.0, -1.0)], Some(1.0), 0.0), "non-negative"),
            (
                classic(&[(1.0, 3.0), (2.0, 2.0)], Some(3.0), 0.0),
                "cumulative",
            ),
            (
                classic(&[(2.0, 2.0), (1.0, 3.0)], Some(3.0), 0.0),
                "cumulative",
            ),
            (
                classic(&[(1.0, 1.0)], Some(-1.0), 0.0),
                "count must be non-negative",
            ),
            (classic(&[], None, 1.0), "must be provided"),
            (
                classic(&[(1.0, 1.0), (INF, 2.0)], Some(3.0), 0.0),
                "mismatch",
            ),
            // A count below the buckets: the added +Inf bucket goes negative.
            (classic(&[(1.0, 5.0)], Some(3.0), 0.0), "observation count"),
        ] {
            let err = h.convert().unwrap_err().to_string();
            assert!(err.contains(want), "{err} (want {want})");
        }
    }
}
