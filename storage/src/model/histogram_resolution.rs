//! Lowering a histogram's resolution: schemas 9..=52 arrive from some
//! instrumentation and are stored as schema 8 (Prometheus does the same on
//! ingest), by merging each group of 2^(from - to) neighbouring buckets.

use super::histogram::{FloatHistogram, Span};
use std::collections::BTreeMap;

/// The bucket index at schema `to` holding bucket `idx` of schema `from`
/// (`from >= to`): bucket `i` covers `(b^(i-1), b^i]`, so upper bounds map
/// by rounding up.
fn target_index(idx: i32, from: i32, to: i32) -> i32 {
    let shift = (from - to).clamp(0, 31) as u32;
    ((i64::from(idx) - 1) >> shift) as i32 + 1
}

/// Absolute bucket indices of `spans`, in order.
fn indices(spans: &[Span]) -> impl Iterator<Item = i32> + '_ {
    let mut at = 0i64;
    spans.iter().enumerate().flat_map(move |(n, s)| {
        at = if n == 0 {
            i64::from(s.offset)
        } else {
            at + i64::from(s.offset)
        };
        let start = at;
        at += i64::from(s.length);
        (start..start + i64::from(s.length))
            .map(|i| i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    })
}

fn merge(spans: &[Span], buckets: &[f64], from: i32, to: i32) -> (Vec<Span>, Vec<f64>) {
    let mut merged: BTreeMap<i32, f64> = BTreeMap::new();
    for (idx, c) in indices(spans).zip(buckets) {
        *merged.entry(target_index(idx, from, to)).or_default() += c;
    }
    let mut out_spans: Vec<Span> = Vec::new();
    let mut prev: Option<i32> = None;
    for &idx in merged.keys() {
        match (prev, out_spans.last_mut()) {
            (Some(p), Some(last)) if idx == p + 1 => last.length += 1,
            (Some(p), _) => out_spans.push(Span::new(idx - p - 1, 1)),
            (None, _) => out_spans.push(Span::new(idx, 1)),
        }
        prev = Some(idx);
    }
    (out_spans, merged.into_values().collect())
}

impl FloatHistogram {
    /// The same observations at the lower schema `to` (no change unless
    /// both schemas are exponential-like and `to` is lower).
    pub fn reduce_resolution(&mut self, to: i32) {
        let from = self.schema;
        if to >= from || self.uses_custom_buckets() {
            return;
        }
        let (ps, pb) = merge(&self.positive_spans, &self.positive_buckets, from, to);
        let (ns, nb) = merge(&self.negative_spans, &self.negative_buckets, from, to);
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        self.schema = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_10_to_8_merges_groups_of_four_buckets_and_keeps_the_count() {
        // Indices 1..=8 at schema 10 land in 1 and 2 at schema 8.
        let mut h = FloatHistogram {
            schema: 10,
            count: 36.0,
            positive_spans: vec![Span::new(1, 8)],
            positive_buckets: (1..=8).map(f64::from).collect(),
            negative_spans: vec![Span::new(-3, 1), Span::new(5, 1)],
            negative_buckets: vec![5.0, 7.0],
            ..FloatHistogram::default()
        };
        h.reduce_resolution(8);
        assert_eq!(h.schema, 8);
        assert_eq!(h.positive_spans, vec![Span::new(1, 2)]);
        assert_eq!(h.positive_buckets, vec![10.0, 26.0]);
        // -3 → 0, 3 → 1: adjacent at schema 8.
        assert_eq!(h.negative_spans, vec![Span::new(0, 2)]);
        assert_eq!(h.negative_buckets, vec![5.0, 7.0]);
        h.validate().unwrap();
        assert_eq!(target_index(0, 10, 8), 0);
        assert_eq!(target_index(-4, 10, 8), -1);
        assert_eq!(target_index(-3, 10, 8), 0);
    }
}
