//! A histogram side as sorted `(index, count)` pairs, and back into spans;
//! and the bucket listing the HTTP API writes.

use super::bounds::positive_bounds;
use hourglass_storage::{FloatHistogram, Span};

/// The buckets described by `spans` over `counts`, in index order.
pub(crate) fn pairs(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut it = counts.iter();
    for (n, s) in spans.iter().enumerate() {
        idx = if n == 0 {
            s.offset
        } else {
            idx.saturating_add(s.offset)
        };
        for _ in 0..s.length {
            let Some(&c) = it.next() else {
                return out;
            };
            out.push((idx, c));
            idx = idx.saturating_add(1);
        }
    }
    out
}

/// A test histogram: positive buckets `pos` (index, count) at `schema`,
/// `zero` observations in a zero bucket 0.001 wide, and `sum`.
#[cfg(test)]
pub(crate) fn positive(schema: i32, pos: &[(i32, f64)], zero: f64, sum: f64) -> FloatHistogram {
    let (positive_spans, positive_buckets) = from_pairs(pos);
    FloatHistogram {
        schema,
        zero_threshold: 0.001,
        zero_count: zero,
        count: zero + pos.iter().map(|p| p.1).sum::<f64>(),
        sum,
        positive_spans,
        positive_buckets,
        ..FloatHistogram::default()
    }
}

/// Spans and counts of sorted, distinct `pairs`; buckets whose count is 0
/// are left out (spans open a gap instead).
pub(crate) fn from_pairs(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(pairs.len());
    let mut next: Option<i32> = None; // index after the current span's last
    for &(idx, c) in pairs {
        if c == 0.0 {
            continue;
        }
        match (next, spans.last_mut()) {
            (Some(n), Some(last)) if n == idx => last.length += 1,
            (Some(n), _) => spans.push(Span::new(idx - n, 1)),
            (None, _) => spans.push(Span::new(idx, 1)),
        }
        counts.push(c);
        next = Some(idx + 1);
    }
    (spans, counts)
}

/// Adds up pairs of the same index or bound (input sorted by it).
pub(crate) fn merge_sorted<K: PartialEq>(pairs: &mut Vec<(K, f64)>) {
    pairs.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 += b.1;
            true
        } else {
            false
        }
    });
}

/// One bucket of a histogram as the HTTP API lists it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Which ends are inclusive: 0 `(lo, hi]`, 1 `[lo, hi)`, 2 `(lo, hi)`,
    /// 3 `[lo, hi]`.
    pub boundaries: u8,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Observations in it.
    pub count: f64,
}

/// Every bucket of `h` with a non-zero count, ascending: negative, zero,
/// positive (as Prometheus's API writes them). Regular buckets that
/// overlap the zero bucket are clipped at its threshold.
pub fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut out = Vec::new();
    let t = h.zero_threshold;
    let custom = h.uses_custom_buckets();
    for (idx, c) in pairs(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .rev()
    {
        if c == 0.0 {
            continue;
        }
        let (lo, hi) = positive_bounds(h, idx);
        out.push(Bucket {
            boundaries: 1,
            lower: -hi,
            upper: (-lo).min(-t),
            count: c,
        });
    }
    if h.zero_count != 0.0 && !custom {
        out.push(Bucket {
            boundaries: 3,
            lower: -t,
            upper: t,
            count: h.zero_count,
        });
    }
    for (idx, c) in pairs(&h.positive_spans, &h.positive_buckets) {
        if c == 0.0 {
            continue;
        }
        let (lo, hi) = positive_bounds(h, idx);
        let (lower, boundaries) = if custom {
            (lo, if lo == f64::NEG_INFINITY { 3 } else { 0 })
        } else {
            (lo.max(t), 0)
        };
        out.push(Bucket {
            boundaries,
            lower,
            upper: hi,
            count: c,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_spans() {
        let spans = [Span::new(-2, 2), Span::new(3, 1)];
        let p = pairs(&spans, &[1.0, 2.0, 3.0]);
        assert_eq!(p, vec![(-2, 1.0), (-1, 2.0), (3, 3.0)]);
        let (s, c) = from_pairs(&p);
        assert_eq!(s, spans.to_vec());
        assert_eq!(c, vec![1.0, 2.0, 3.0]);
        let (s, c) = from_pairs(&[(0, 1.0), (1, 0.0), (2, 4.0)]);
        assert_eq!(s, vec![Span::new(0, 1), Span::new(1, 1)]);
        assert_eq!(c, vec![1.0, 4.0]);
    }
}
