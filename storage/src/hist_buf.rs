//! A reader's reusable buffer of decoded histogram samples: a query worker
//! decodes series after series into one, and each sample's bucket and span
//! vectors are overwritten in place instead of allocated anew.

use crate::model::histogram::FloatHistogram;

/// Decoded samples `(time, histogram)` in time order; the slots past
/// [`HistBuf::len`] are kept for their allocations.
#[derive(Debug, Default)]
pub struct HistBuf {
    items: Vec<(i64, FloatHistogram)>,
    len: usize,
}

impl HistBuf {
    /// The samples.
    pub fn as_slice(&self) -> &[(i64, FloatHistogram)] {
        &self.items[..self.len]
    }

    /// The samples, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [(i64, FloatHistogram)] {
        &mut self.items[..self.len]
    }

    /// How many samples it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the samples, keeping their storage.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Room for `n` more samples.
    pub(crate) fn reserve(&mut self, n: usize) {
        let free = self.items.len() - self.len;
        self.items.reserve(n.saturating_sub(free));
    }

    /// Appends `(t, h)`, replacing a kept slot.
    pub(crate) fn push(&mut self, t: i64, h: FloatHistogram) {
        match self.items.get_mut(self.len) {
            Some(slot) => *slot = (t, h),
            None => self.items.push((t, h)),
        }
        self.len += 1;
    }

    /// Appends a sample of `layout`'s schema, spans, bounds and scalars with
    /// these buckets, written into a kept slot's vectors where there is one.
    pub(crate) fn push_parts(
        &mut self,
        t: i64,
        layout: &FloatHistogram,
        positive: &[f64],
        negative: &[f64],
    ) {
        if self.len == self.items.len() {
            self.items.push((t, FloatHistogram::default()));
        }
        let (st, h) = &mut self.items[self.len];
        *st = t;
        h.counter_reset_hint = layout.counter_reset_hint;
        h.schema = layout.schema;
        h.zero_threshold = layout.zero_threshold;
        h.zero_count = layout.zero_count;
        h.count = layout.count;
        h.sum = layout.sum;
        h.positive_spans.clone_from(&layout.positive_spans);
        h.negative_spans.clone_from(&layout.negative_spans);
        h.custom_values.clone_from(&layout.custom_values);
        h.positive_buckets.clear();
        h.positive_buckets.extend_from_slice(positive);
        h.negative_buckets.clear();
        h.negative_buckets.extend_from_slice(negative);
        self.len += 1;
    }

    /// Keeps the samples for which `keep` holds, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&FloatHistogram) -> bool) {
        let mut w = 0;
        for r in 0..self.len {
            if keep(&self.items[r].1) {
                self.items.swap(w, r);
                w += 1;
            }
        }
        self.len = w;
    }

    /// Replaces the samples by `samples`.
    pub(crate) fn fill(&mut self, samples: Vec<(i64, FloatHistogram)>) {
        self.clear();
        self.reserve(samples.len());
        for (t, h) in samples {
            self.push(t, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(sum: f64, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            sum,
            positive_buckets: buckets.to_vec(),
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn slots_are_overwritten_and_kept() {
        let mut b = HistBuf::default();
        b.push_parts(1, &h(1.0, &[]), &[1.0, 2.0, 3.0], &[4.0]);
        b.push(2, h(2.0, &[5.0]));
        assert_eq!(b.len(), 2);
        b.clear();
        assert!(b.is_empty());
        b.push_parts(3, &h(3.0, &[]), &[7.0], &[]);
        assert_eq!(b.as_slice().len(), 1);
        let (t, got) = &b.as_slice()[0];
        assert_eq!((*t, got.sum), (3, 3.0));
        assert_eq!(got.positive_buckets, vec![7.0]);
        assert!(got.negative_buckets.is_empty());
        // The slot keeps the capacity of the three buckets it held.
        assert!(got.positive_buckets.capacity() >= 3);
    }

    #[test]
    fn retain_keeps_order() {
        let mut b = HistBuf::default();
        b.fill((0..5).map(|i| (i, h(i as f64, &[]))).collect());
        b.retain(|h| h.sum != 1.0 && h.sum != 3.0);
        let sums: Vec<f64> = b.as_slice().iter().map(|x| x.1.sum).collect();
        assert_eq!(sums, vec![0.0, 2.0, 4.0]);
    }
}
