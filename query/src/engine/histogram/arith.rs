//! Histogram arithmetic: addition and subtraction of two histograms (to
//! the coarser schema and the wider zero bucket), and scaling.

use super::bounds::{positive_bounds, reduced_index};
use super::buckets::{from_pairs, merge_sorted, pairs};
use hourglass_storage::{CounterResetHint, FloatHistogram};

/// Why two histograms cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incompatible {
    /// One has custom buckets, the other exponential ones.
    MixedSchemas,
}

/// `a + b`.
pub fn add(a: &FloatHistogram, b: &FloatHistogram) -> Result<FloatHistogram, Incompatible> {
    combine(a, b, 1.0)
}

/// `a - b`.
pub(crate) fn sub(a: &FloatHistogram, b: &FloatHistogram) -> Result<FloatHistogram, Incompatible> {
    combine(a, b, -1.0)
}

/// Every count and the sum times `f`.
pub fn scale(h: &FloatHistogram, f: f64) -> FloatHistogram {
    map_values(h, |c| c * f)
}

/// Every count and the sum through `f` (scaling, negation, division).
pub(crate) fn map_values(h: &FloatHistogram, f: impl Fn(f64) -> f64) -> FloatHistogram {
    let mut out = h.clone();
    map_values_in_place(&mut out, f);
    out
}

/// [`map_values`] without a copy.
pub(crate) fn map_values_in_place(h: &mut FloatHistogram, f: impl Fn(f64) -> f64) {
    h.count = f(h.count);
    h.sum = f(h.sum);
    h.zero_count = f(h.zero_count);
    h.positive_buckets.iter_mut().for_each(|c| *c = f(*c));
    h.negative_buckets.iter_mut().for_each(|c| *c = f(*c));
}

/// `h` at the coarser schema `to` (buckets merged).
pub(crate) fn reduce(h: &FloatHistogram, to: i32) -> FloatHistogram {
    let mut out = h.clone();
    if to >= h.schema || h.uses_custom_buckets() {
        return out;
    }
    out.schema = to;
    (out.positive_spans, out.positive_buckets) = from_pairs(&side_at(
        &h.positive_spans,
        &h.positive_buckets,
        h.schema,
        to,
    ));
    (out.negative_spans, out.negative_buckets) = from_pairs(&side_at(
        &h.negative_spans,
        &h.negative_buckets,
        h.schema,
        to,
    ));
    out
}

/// True when both have custom buckets, with different bounds (they are
/// reconciled to the bounds they share, which Prometheus notes).
pub fn custom_mismatch(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.uses_custom_buckets() && b.uses_custom_buckets() && a.custom_values != b.custom_values
}

/// The bounds in both sorted lists.
pub(crate) fn common_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().copied().filter(|x| b.contains(x)).collect()
}

/// The custom buckets of `h` moved to `bounds` (a subset of its own): each
/// bucket goes to the first new bucket whose upper bound covers its own.
pub(crate) fn at_bounds(h: &FloatHistogram, bounds: &[f64]) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = pairs(&h.positive_spans, &h.positive_buckets)
        .into_iter()
        .map(|(idx, c)| {
            let upper = usize::try_from(idx)
                .ok()
                .and_then(|i| h.custom_values.get(i))
                .copied()
                .unwrap_or(f64::INFINITY);
            (bounds.partition_point(|b| *b < upper) as i32, c)
        })
        .collect();
    merge_sorted(&mut out);
    out
}

/// The side's buckets at the coarser schema `to`.
fn side_at(
    spans: &[hourglass_storage::Span],
    counts: &[f64],
    from: i32,
    to: i32,
) -> Vec<(i32, f64)> {
    let mut p = pairs(spans, counts);
    if from != to {
        p.iter_mut()
            .for_each(|(idx, _)| *idx = reduced_index(*idx, from, to));
        merge_sorted(&mut p);
    }
    p
}

/// `a + sign·b` (sign ±1).
fn combine(
    a: &FloatHistogram,
    b: &FloatHistogram,
    sign: f64,
) -> Result<FloatHistogram, Incompatible> {
    let (ca, cb) = (a.uses_custom_buckets(), b.uses_custom_buckets());
    if ca != cb {
        return Err(Incompatible::MixedSchemas);
    }
    if custom_mismatch(a, b) {
        // Both at the bounds they share (Prometheus reconciles them so).
        let cv = common_bounds(&a.custom_values, &b.custom_values);
        let (mut a, mut b) = (a.clone(), b.clone());
        for h in [&mut a, &mut b] {
            (h.positive_spans, h.positive_buckets) = from_pairs(&at_bounds(h, &cv));
            h.custom_values = cv.clone();
        }
        return combine(&a, &b, sign);
    }
    if same_layout(a, b) {
        // The common case (one series over time, or series of one
        // instrumentation): bucket by bucket, one allocation.
        let mut out = a.clone();
        add_scaled_same_layout(&mut out, b, sign);
        return Ok(out);
    }
    let schema = a.schema.min(b.schema);
    let merge = |sa: &[(i32, f64)], sb: &[(i32, f64)]| {
        let mut all: Vec<(i32, f64)> = Vec::with_capacity(sa.len() + sb.len());
        let (mut i, mut j) = (0, 0);
        while i < sa.len() || j < sb.len() {
            match (sa.get(i), sb.get(j)) {
                (Some(&x), Some(&y)) if x.0 == y.0 => {
                    all.push((x.0, x.1 + sign * y.1));
                    i += 1;
                    j += 1;
                }
                (Some(&x), Some(&y)) if x.0 < y.0 => {
                    all.push(x);
                    i += 1;
                }
                (Some(&x), None) => {
                    all.push(x);
                    i += 1;
                }
                (_, Some(&y)) => {
                    all.push((y.0, sign * y.1));
                    j += 1;
                }
                (None, None) => break,
            }
        }
        all
    };
    let pos = merge(
        &side_at(&a.positive_spans, &a.positive_buckets, a.schema, schema),
        &side_at(&b.positive_spans, &b.positive_buckets, b.schema, schema),
    );
    let neg = merge(
        &side_at(&a.negative_spans, &a.negative_buckets, a.schema, schema),
        &side_at(&b.negative_spans, &b.negative_buckets, b.schema, schema),
    );
    let mut out = FloatHistogram {
        counter_reset_hint: if a.counter_reset_hint == CounterResetHint::Gauge
            || b.counter_reset_hint == CounterResetHint::Gauge
        {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::NotCounterReset
        },
        schema,
        zero_threshold: a.zero_threshold.max(b.zero_threshold),
        zero_count: a.zero_count + sign * b.zero_count,
        count: a.count + sign * b.count,
        sum: a.sum + sign * b.sum,
        positive_spans: Vec::new(),
        negative_spans: Vec::new(),
        positive_buckets: Vec::new(),
        negative_buckets: Vec::new(),
        custom_values: a.custom_values.clone(),
    };
    let (mut pos, mut neg) = (pos, neg);
    if !ca && a.zero_threshold != b.zero_threshold {
        widen_zero_bucket(&mut out, &mut pos, &mut neg);
    }
    (out.positive_spans, out.positive_buckets) = from_pairs(&pos);
    (out.negative_spans, out.negative_buckets) = from_pairs(&neg);
    Ok(out)
}

/// True when `a` and `b` have the same buckets (schema, spans, zero
/// threshold, custom bounds): their counts line up index by index.
fn same_layout(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold == b.zero_threshold
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.custom_values == b.custom_values
}

/// `acc += sign·b` for histograms of the same layout.
fn add_scaled_same_layout(acc: &mut FloatHistogram, b: &FloatHistogram, sign: f64) {
    acc.count += sign * b.count;
    acc.sum += sign * b.sum;
    acc.zero_count += sign * b.zero_count;
    for (x, y) in acc.positive_buckets.iter_mut().zip(&b.positive_buckets) {
        *x += sign * y;
    }
    for (x, y) in acc.negative_buckets.iter_mut().zip(&b.negative_buckets) {
        *x += sign * y;
    }
    acc.counter_reset_hint = if acc.counter_reset_hint == CounterResetHint::Gauge
        || b.counter_reset_hint == CounterResetHint::Gauge
    {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::NotCounterReset
    };
}

/// `acc += b`, in place when their layouts agree.
pub(crate) fn add_into(acc: &mut FloatHistogram, b: &FloatHistogram) -> Result<(), Incompatible> {
    if same_layout(acc, b) && acc.uses_custom_buckets() == b.uses_custom_buckets() {
        add_scaled_same_layout(acc, b, 1.0);
    } else {
        *acc = add(acc, b)?;
    }
    Ok(())
}

/// Moves every bucket that overlaps the zero bucket into it; a bucket
/// reaching past the threshold widens the threshold to its upper bound.
fn widen_zero_bucket(h: &mut FloatHistogram, pos: &mut Vec<(i32, f64)>, neg: &mut Vec<(i32, f64)>) {
    loop {
        let mut widened = false;
        for side in [&mut *pos, &mut *neg] {
            let mut kept = Vec::with_capacity(side.len());
            for &(idx, c) in side.iter() {
                let (lo, hi) = positive_bounds(h, idx);
                if lo < h.zero_threshold {
                    h.zero_count += c;
                    if hi > h.zero_threshold {
                        h.zero_threshold = hi;
                        widened = true;
                    }
                } else {
                    kept.push((idx, c));
                }
            }
            *side = kept;
        }
        if !widened {
            return;
        }
    }
}

/// True when `a` and `b` hold the same observations in the same buckets
/// (bit for bit; empty buckets and the reset hint do not matter).
pub(crate) fn equal(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let side = |sa, ca, sb, cb| {
        let (x, y) = (pairs(sa, ca), pairs(sb, cb));
        let nz = |v: Vec<(i32, f64)>| -> Vec<(i32, u64)> {
            v.into_iter()
                .filter(|p| p.1 != 0.0)
                .map(|(i, c)| (i, c.to_bits()))
                .collect()
        };
        nz(x) == nz(y)
    };
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && a.count.to_bits() == b.count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && a.custom_values == b.custom_values
        && side(
            &a.positive_spans,
            &a.positive_buckets,
            &b.positive_spans,
            &b.positive_buckets,
        )
        && side(
            &a.negative_spans,
            &a.negative_buckets,
            &b.negative_spans,
            &b.negative_buckets,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::histogram::buckets::positive;
    use hourglass_storage::Span;

    fn h(schema: i32, pos: &[(i32, f64)]) -> FloatHistogram {
        positive(schema, pos, 1.0, 10.0)
    }

    #[test]
    fn adding_reduces_to_the_coarser_schema() {
        let a = h(1, &[(1, 1.0), (2, 2.0), (3, 4.0)]);
        let b = h(0, &[(1, 1.0)]);
        let s = add(&a, &b).unwrap();
        assert_eq!(s.schema, 0);
        // schema 1 buckets 1,2 -> schema 0 bucket 1; 3 -> 2.
        assert_eq!(
            pairs(&s.positive_spans, &s.positive_buckets),
            vec![(1, 4.0), (2, 4.0)]
        );
        assert_eq!(s.count, 10.0);
        assert_eq!(s.zero_count, 2.0);
        let d = sub(&s, &b).unwrap();
        assert_eq!(d.count, 8.0);
        assert_eq!(d.positive_spans, vec![Span::new(1, 2)]);
    }

    #[test]
    fn a_wider_zero_bucket_swallows_the_buckets_it_overlaps() {
        let a = h(0, &[(0, 1.0), (2, 1.0)]);
        let mut b = h(0, &[]);
        b.zero_threshold = 0.7;
        let s = add(&a, &b).unwrap();
        // bucket 0 is (0.5, 1]: it overlaps [-0.7, 0.7], so the zero
        // bucket grows to 1 and takes it.
        assert_eq!(s.zero_threshold, 1.0);
        assert_eq!(s.zero_count, 3.0);
        assert_eq!(
            pairs(&s.positive_spans, &s.positive_buckets),
            vec![(2, 1.0)]
        );
    }
}
