//! OTLP exponential histogram points as native histograms, translated as
//! Prometheus's OTLP receiver does.
//!
//! - OTLP bucket `i` covers `(base^i, base^(i+1)]`, a native histogram's
//!   bucket `i` covers `(base^(i-1), base^i]`: indexes move up by one.
//! - Scales above 8 (finer than any native schema) are reduced to 8 by
//!   merging `2^(scale-8)` neighbouring buckets; scales below -4 are refused.
//! - Dense OTLP buckets become spans; a run of more than two empty buckets
//!   starts a new span, shorter runs are kept as zeros (as client_golang
//!   lays buckets out).
//! - A zero threshold of 0 means "not sent": Prometheus's default width
//!   (`1e-128`) is used.
//! - A point flagged "no recorded value" is a staleness marker.

use super::model::{ExponentialBuckets, ExponentialPoint};
use hourglass_storage::{
    CounterResetHint, Histogram, MAX_EXPONENTIAL_SCHEMA, MIN_EXPONENTIAL_SCHEMA, STALE_NAN_BITS,
    Span,
};

/// Zero-bucket width when the point sends none (Prometheus's default).
const DEFAULT_ZERO_THRESHOLD: f64 = 1e-128;

/// The (integer) native histogram of one point, checked as Prometheus
/// checks one, or why it cannot be one.
pub fn to_native(p: &ExponentialPoint<'_>) -> Result<Histogram, String> {
    if p.meta.no_recorded_value() {
        return Ok(Histogram {
            sum: f64::from_bits(STALE_NAN_BITS),
            ..Histogram::default()
        });
    }
    if p.scale < MIN_EXPONENTIAL_SCHEMA {
        return Err(format!(
            "scale {} is below the lowest native histogram schema {MIN_EXPONENTIAL_SCHEMA}",
            p.scale
        ));
    }
    let scale_down = (p.scale - MAX_EXPONENTIAL_SCHEMA).max(0) as u32;
    let (positive_spans, positive_deltas) = layout(&p.positive, scale_down);
    let (negative_spans, negative_deltas) = layout(&p.negative, scale_down);
    let h = Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: p.scale.min(MAX_EXPONENTIAL_SCHEMA),
        zero_threshold: if p.zero_threshold > 0.0 {
            p.zero_threshold
        } else {
            DEFAULT_ZERO_THRESHOLD
        },
        zero_count: p.zero_count,
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
        positive_spans,
        negative_spans,
        positive_deltas,
        negative_deltas,
        custom_values: Vec::new(),
    };
    h.validate().map_err(|e| e.to_string())?;
    Ok(h)
}

/// Spans and delta-encoded counts of one side, `2^scale_down` buckets
/// merged into one.
fn layout(b: &ExponentialBuckets, scale_down: u32) -> (Vec<Span>, Vec<i64>) {
    // Merge first: (native index, count) in increasing index order.
    let mut merged: Vec<(i64, u64)> = Vec::new();
    for (i, &c) in b.counts.iter().enumerate() {
        let otlp = i64::from(b.offset) + i as i64;
        let idx = (otlp >> scale_down) + 1;
        match merged.last_mut() {
            Some((last, sum)) if *last == idx => *sum = sum.saturating_add(c),
            _ => merged.push((idx, c)),
        }
    }
    let (mut spans, mut deltas) = (Vec::<Span>::new(), Vec::new());
    let (mut next, mut prev): (Option<i64>, i64) = (None, 0);
    let mut push = |count: i64| {
        deltas.push(count.wrapping_sub(prev));
        prev = count;
    };
    for (idx, c) in merged {
        if c == 0 {
            continue;
        }
        match next {
            Some(n) if idx - n <= 2 => {
                for _ in n..idx {
                    push(0);
                }
                if let Some(s) = spans.last_mut() {
                    s.length += (idx - n) as u32 + 1;
                }
            }
            _ => {
                let offset = match next {
                    None => idx,
                    Some(n) => idx - n,
                };
                spans.push(Span::new(offset as i32, 1));
            }
        }
        push(c as i64);
        next = Some(idx + 1);
    }
    (spans, deltas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::model::FLAG_NO_RECORDED_VALUE;

    fn point(scale: i32, offset: i32, counts: &[u64]) -> ExponentialPoint<'static> {
        let n: u64 = counts.iter().sum();
        ExponentialPoint {
            count: n + 1,
            sum: Some(12.5),
            scale,
            zero_count: 1,
            positive: ExponentialBuckets {
                offset,
                counts: counts.to_vec(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn indexes_move_up_by_one_and_short_gaps_stay_in_the_span() {
        let h = to_native(&point(0, 0, &[1, 0, 2, 0, 0, 0, 3])).unwrap();
        assert_eq!(h.schema, 0);
        assert_eq!(h.positive_spans, vec![Span::new(1, 3), Span::new(3, 1)]);
        assert_eq!(h.positive_deltas, vec![1, -1, 2, 1]);
        let h = h.to_float();
        assert_eq!(h.zero_threshold, DEFAULT_ZERO_THRESHOLD);
        assert_eq!((h.count, h.zero_count, h.sum), (7.0, 1.0, 12.5));
    }

    #[test]
    fn leading_empty_buckets_do_not_open_the_span() {
        let h = to_native(&point(2, -3, &[0, 0, 5, 1])).unwrap();
        assert_eq!(h.positive_spans, vec![Span::new(0, 2)]);
        assert_eq!(h.to_float().positive_buckets, vec![5.0, 1.0]);
    }

    #[test]
    fn scales_above_eight_merge_neighbours() {
        // Scale 10 to 8: four OTLP buckets per native bucket. OTLP indexes
        // 4..=11 map to 1..=2, then +1.
        let h = to_native(&point(10, 4, &[1, 1, 1, 1, 2, 0, 0, 1])).unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(h.positive_spans, vec![Span::new(2, 2)]);
        assert_eq!(h.to_float().positive_buckets, vec![4.0, 3.0]);
        // Negative offsets floor: OTLP -1 at scale 9 is native index 0.
        let h = to_native(&point(9, -1, &[3])).unwrap();
        assert_eq!(h.positive_spans, vec![Span::new(0, 1)]);
    }

    #[test]
    fn too_coarse_scales_and_inconsistent_counts_are_refused() {
        assert!(to_native(&point(-5, 0, &[1])).unwrap_err().contains("-4"));
        let mut p = point(0, 0, &[1, 2]);
        p.count = 1;
        assert!(to_native(&p).is_err());
    }

    #[test]
    fn no_recorded_value_is_a_staleness_marker() {
        let mut p = point(0, 0, &[1]);
        p.meta.flags = FLAG_NO_RECORDED_VALUE;
        assert!(to_native(&p).unwrap().is_stale());
    }
}
