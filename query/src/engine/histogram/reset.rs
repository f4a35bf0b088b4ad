//! Counter-reset detection between two consecutive histogram samples.

use super::arith::{at_bounds, common_bounds};
use super::bounds::{positive_bounds, reduced_index};
use super::buckets::{merge_sorted, pairs};
use hourglass_storage::{CounterResetHint, FloatHistogram, Span};

/// True when `curr` (the sample after `prev`) starts the counter over:
/// its hint says so, or a count went down, or its layout cannot have
/// grown out of `prev`'s (a finer schema, a narrower zero bucket, other
/// custom bounds).
pub(crate) fn is_reset(curr: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match curr.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset => return false,
        CounterResetHint::Unknown | CounterResetHint::Gauge => {}
    }
    if curr.count < prev.count {
        return true;
    }
    // The common case: the same layout, bucket by bucket.
    if curr.schema == prev.schema
        && curr.zero_threshold == prev.zero_threshold
        && curr.positive_spans == prev.positive_spans
        && curr.negative_spans == prev.negative_spans
        && curr.custom_values == prev.custom_values
    {
        let down = |c: &[f64], p: &[f64]| c.iter().zip(p).any(|(c, p)| c < p);
        return curr.zero_count < prev.zero_count
            || down(&curr.positive_buckets, &prev.positive_buckets)
            || down(&curr.negative_buckets, &prev.negative_buckets);
    }
    if curr.uses_custom_buckets() != prev.uses_custom_buckets() {
        return true;
    }
    if curr.uses_custom_buckets() {
        // Compared at the bounds both have.
        let cv = common_bounds(&curr.custom_values, &prev.custom_values);
        return decreased(&at_bounds(prev, &cv), &at_bounds(curr, &cv));
    }
    if curr.schema > prev.schema || curr.zero_threshold < prev.zero_threshold {
        return true;
    }
    // `prev`'s zero count as it would be at `curr`'s threshold.
    let t = curr.zero_threshold;
    let mut prev_zero = prev.zero_count;
    let mut moved = |spans: &[Span], counts: &[f64]| -> Option<Vec<(i32, f64)>> {
        let mut out = Vec::with_capacity(counts.len());
        for (idx, c) in pairs(spans, counts) {
            let (lo, hi) = positive_bounds(prev, idx);
            if lo < t {
                if hi > t {
                    // A bucket straddles the new threshold.
                    return None;
                }
                prev_zero += c;
            } else {
                out.push((reduced_index(idx, prev.schema, curr.schema), c));
            }
        }
        merge_sorted(&mut out);
        Some(out)
    };
    let (Some(pos), Some(neg)) = (
        moved(&prev.positive_spans, &prev.positive_buckets),
        moved(&prev.negative_spans, &prev.negative_buckets),
    ) else {
        return true;
    };
    if curr.zero_count < prev_zero {
        return true;
    }
    decreased(&pos, &pairs(&curr.positive_spans, &curr.positive_buckets))
        || decreased(&neg, &pairs(&curr.negative_spans, &curr.negative_buckets))
}

/// True when a bucket of `prev` holds more than the same bucket of
/// `curr` (a missing bucket holds 0).
fn decreased(prev: &[(i32, f64)], curr: &[(i32, f64)]) -> bool {
    let mut j = 0;
    for &(idx, c) in prev {
        while j < curr.len() && curr[j].0 < idx {
            j += 1;
        }
        let now = match curr.get(j) {
            Some(&(i, v)) if i == idx => v,
            _ => 0.0,
        };
        if now < c {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::histogram::buckets::positive;

    fn h(pos: &[(i32, f64)]) -> FloatHistogram {
        positive(0, pos, 0.0, 1.0)
    }

    #[test]
    fn a_bucket_going_down_is_a_reset_even_when_the_count_grows() {
        let prev = h(&[(0, 2.0), (1, 1.0)]);
        assert!(!is_reset(&h(&[(0, 2.0), (1, 2.0)]), &prev));
        assert!(is_reset(&h(&[(0, 1.0), (1, 5.0)]), &prev));
        assert!(is_reset(&h(&[(1, 5.0)]), &prev));
        let mut hinted = h(&[(0, 3.0), (1, 3.0)]);
        hinted.counter_reset_hint = CounterResetHint::CounterReset;
        assert!(is_reset(&hinted, &prev));
    }
}
