//! Explicit-bucket OTLP histogram points as native histograms with custom
//! buckets (NHCB), for `convert_histograms_to_nhcb`, as Prometheus's OTLP
//! translator converts them:
//!
//! - the explicit bounds are the custom values, each bucket count the
//!   count of its bucket, the last one the `+Inf` bucket; `count` and
//!   `sum` as sent (a point without a sum has sum 0);
//! - a point without bucket counts is one `+Inf` bucket holding `count`;
//! - the buckets must add up to `count`, bounds must be ascending and not
//!   NaN (`ingest::nhcb` checks the result as it checks converted classic
//!   histograms);
//! - a point flagged "no recorded value" is a staleness marker.

use super::model::HistogramPoint;
use crate::ingest::nhcb::ClassicHistogram;
use hourglass_storage::FloatHistogram;

/// The custom-bucket native histogram of one point, or why it cannot be
/// one.
pub fn to_custom_buckets(p: &HistogramPoint<'_>) -> Result<FloatHistogram, String> {
    if p.meta.no_recorded_value() {
        return Ok(FloatHistogram::stale_marker());
    }
    let mut classic = ClassicHistogram::default();
    let mut cumulative = 0u64;
    for (i, count) in p.bucket_counts.iter().enumerate() {
        cumulative = cumulative.saturating_add(*count);
        let le = p.bounds.get(i).copied().unwrap_or(f64::INFINITY);
        classic.set_bucket(le, cumulative as f64);
    }
    classic.set_count(p.count as f64);
    classic.set_sum(p.sum.unwrap_or(0.0));
    classic
        .convert()
        .map_err(|e| format!("cannot convert to a native histogram with custom buckets: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::model::FLAG_NO_RECORDED_VALUE;
    use hourglass_storage::{CUSTOM_BUCKETS_SCHEMA, Span};

    fn point(bounds: &[f64], counts: &[u64], count: u64) -> HistogramPoint<'static> {
        HistogramPoint {
            count,
            sum: Some(7.5),
            bucket_counts: counts.to_vec(),
            bounds: bounds.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn bounds_become_custom_values_and_counts_the_buckets() {
        let h = to_custom_buckets(&point(&[0.1, 1.0, 10.0], &[2, 0, 3, 1], 6)).unwrap();
        assert_eq!(h.schema, CUSTOM_BUCKETS_SCHEMA);
        assert_eq!(h.custom_values, vec![0.1, 1.0, 10.0]);
        assert_eq!((h.count, h.sum), (6.0, 7.5));
        assert_eq!(
            h.positive_spans,
            vec![Span {
                offset: 0,
                length: 4
            }]
        );
        assert_eq!(h.positive_buckets, vec![2.0, 0.0, 3.0, 1.0]);
    }

    #[test]
    fn a_point_without_buckets_is_one_overflow_bucket_holding_the_count() {
        let h = to_custom_buckets(&point(&[], &[], 4)).unwrap();
        assert!(h.custom_values.is_empty());
        assert_eq!(h.positive_buckets, vec![4.0]);
        assert_eq!(h.count, 4.0);
    }

    #[test]
    fn buckets_that_do_not_add_up_to_the_count_are_refused() {
        let e = to_custom_buckets(&point(&[1.0], &[1, 1], 5)).unwrap_err();
        assert!(e.contains("count mismatch"), "{e}");
        let e = to_custom_buckets(&point(&[f64::NAN], &[1, 1], 2)).unwrap_err();
        assert!(e.contains("NaN"), "{e}");
    }

    #[test]
    fn no_recorded_value_is_a_staleness_marker() {
        let mut p = point(&[1.0], &[1, 1], 2);
        p.meta.flags = FLAG_NO_RECORDED_VALUE;
        assert!(to_custom_buckets(&p).unwrap().is_stale());
    }
}
