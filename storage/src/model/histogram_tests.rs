//! Validation and conversion of native histograms.

use super::*;

fn exp() -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count: 2,
        count: 11,
        sum: 18.4,
        positive_spans: vec![Span::new(0, 2), Span::new(1, 2)],
        negative_spans: vec![Span::new(0, 2)],
        positive_deltas: vec![1, 1, -1, 0],
        negative_deltas: vec![1, 2],
        ..Histogram::default()
    }
}

#[test]
fn integer_histogram_decodes_deltas_into_absolute_counts() {
    let h = exp();
    h.validate().unwrap();
    let f = h.to_float();
    assert_eq!(f.positive_buckets, vec![1.0, 2.0, 1.0, 1.0]);
    assert_eq!(f.negative_buckets, vec![1.0, 3.0]);
    assert_eq!(f.count, 11.0);
    f.validate().unwrap();
}

#[test]
fn validation_names_what_is_wrong() {
    let mut h = exp();
    h.count = 10;
    assert!(matches!(
        h.validate(),
        Err(HistogramError::CountMismatch {
            in_buckets: 11,
            count: 10
        })
    ));
    let mut h = exp();
    h.positive_deltas.push(1);
    assert!(matches!(
        h.validate(),
        Err(HistogramError::SpanBucketMismatch {
            side: "positive",
            ..
        })
    ));
    let mut h = exp();
    h.negative_deltas = vec![1, -2];
    assert!(matches!(
        h.validate(),
        Err(HistogramError::NegativeBucket {
            side: "negative",
            bucket: 2,
            ..
        })
    ));
    let mut h = exp();
    h.positive_spans[1].offset = -1;
    assert!(matches!(
        h.validate(),
        Err(HistogramError::NegativeSpanOffset { span: 2, .. })
    ));
    let mut h = exp();
    h.schema = 9;
    assert_eq!(h.validate(), Err(HistogramError::BadSchema(9)));
    let mut h = exp();
    h.custom_values = vec![1.0];
    assert_eq!(
        h.validate(),
        Err(HistogramError::ExponentialWithCustomBounds)
    );
    let mut h = exp();
    h.sum = f64::NAN;
    h.count = 12;
    h.validate().unwrap();
    h.count = 10;
    assert!(matches!(
        h.validate(),
        Err(HistogramError::CountNotBigEnough { .. })
    ));
}

#[test]
fn custom_buckets_need_ascending_finite_bounds_covering_the_spans() {
    let mut h = Histogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 6,
        sum: 3.0,
        positive_spans: vec![Span::new(0, 3)],
        positive_deltas: vec![1, 1, 1],
        custom_values: vec![0.1, 0.5],
        ..Histogram::default()
    };
    h.validate().unwrap();
    h.custom_values = vec![0.5, 0.1];
    assert!(matches!(
        h.validate(),
        Err(HistogramError::CustomBoundsNotAscending { .. })
    ));
    h.custom_values = vec![0.1, f64::INFINITY];
    assert_eq!(h.validate(), Err(HistogramError::CustomBoundsInfinite));
    h.custom_values = vec![0.1];
    assert!(matches!(
        h.validate(),
        Err(HistogramError::CustomSpansOutOfBounds { .. })
    ));
    h.custom_values = vec![0.1, 0.5];
    h.zero_count = 1;
    h.count = 7;
    assert_eq!(
        h.validate(),
        Err(HistogramError::CustomBucketsWith("a zero count"))
    );
}

#[test]
fn float_histogram_rejects_negative_counts_and_marks_staleness() {
    let mut f = exp().to_float();
    f.positive_buckets[0] = -1.0;
    assert!(matches!(
        f.validate(),
        Err(HistogramError::NegativeBucket { .. })
    ));
    let mut f = exp().to_float();
    f.count = -1.0;
    assert!(matches!(
        f.validate(),
        Err(HistogramError::NegativeCount { field: "count", .. })
    ));
    let stale = FloatHistogram::stale_marker();
    assert!(stale.is_stale());
    assert!(stale.same_bits(&FloatHistogram::stale_marker()));
    assert!(!exp().to_float().is_stale());
}
