//! A series' native histogram samples in the head, beside its floats.
//!
//! A series may hold both kinds; a timestamp holds one sample of either
//! kind (the first stored wins). Histograms follow the float rules:
//! retention, the future bound, the out-of-order window (measured from the
//! series' newest sample of either kind), exact repeats accepted silently,
//! a different sample at a stored timestamp refused.

use super::series::{Outcome, Rules, SeriesData};
use crate::model::histogram::FloatHistogram;
use std::collections::BTreeMap;

/// Histogram samples of one series, by time.
#[derive(Debug, Default)]
pub(crate) struct HistData {
    pub(crate) samples: BTreeMap<i64, FloatHistogram>,
    /// Newest histogram time ever stored; kept when samples move to a
    /// partition, so the acceptance rules still see it.
    pub(crate) newest: Option<i64>,
}

impl SeriesData {
    /// Newest sample time of either kind.
    pub(crate) fn max_t_any(&self) -> Option<i64> {
        let h = self.ooo.hist().and_then(|h| h.newest);
        match (self.max_t(), h) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when a histogram is stored at `t`.
    pub(crate) fn has_histogram_at(&self, t: i64) -> bool {
        self.ooo.hist().is_some_and(|h| h.samples.contains_key(&t))
    }

    /// Stores one histogram sample under the float rules.
    pub(crate) fn append_histogram(
        &mut self,
        t: i64,
        h: &FloatHistogram,
        rules: &Rules,
    ) -> Outcome {
        if let Some(refused) = rules.refuse_time(t) {
            return refused;
        }
        if let Some(max_t) = self.max_t_any()
            && t <= max_t
        {
            let window_end = max_t.min(rules.max_valid_t);
            if !rules.replay && t < window_end.saturating_sub(rules.ooo_window_ms) {
                return Outcome::OutOfWindow;
            }
            if let Some(stored) = self.ooo.hist().and_then(|d| d.samples.get(&t)) {
                return if stored.same_bits(h) {
                    Outcome::Duplicate
                } else {
                    Outcome::DuplicateConflict
                };
            }
            if self.stored_at(t).is_some() {
                return Outcome::DuplicateConflict;
            }
        }
        let d = self.ooo.hist_or_default();
        d.samples.insert(t, h.clone());
        d.newest = Some(d.newest.map_or(t, |n| n.max(t)));
        Outcome::Appended
    }

    /// Histogram samples with `mint <= t <= maxt`, copied for a reader.
    pub(crate) fn histograms_in(&self, mint: i64, maxt: i64) -> Vec<(i64, FloatHistogram)> {
        match self.ooo.hist() {
            Some(d) if mint <= maxt => {
                // Sized first: a day of histograms is megabytes, and a
                // vector grown by doubling copies it over and over.
                let mut out = Vec::with_capacity(d.samples.range(mint..=maxt).count());
                out.extend(d.samples.range(mint..=maxt).map(|(&t, h)| (t, h.clone())));
                out
            }
            _ => Vec::new(),
        }
    }

    /// Removes these exact histogram samples; returns how many were found.
    pub(crate) fn remove_histograms(&mut self, samples: &[(i64, FloatHistogram)]) -> usize {
        let Some(d) = self.ooo.hist_mut() else {
            return 0;
        };
        let mut found = 0;
        for (t, h) in samples {
            if d.samples.get(t).is_some_and(|s| s.same_bits(h)) {
                d.samples.remove(t);
                found += 1;
            }
        }
        if samples.iter().any(|(t, _)| Some(*t) == d.newest) {
            d.newest = d.samples.keys().next_back().copied();
        }
        if d.newest.is_none() {
            self.ooo.clear_hist();
        }
        found
    }

    /// Drops the samples at `times` (written to a partition), keeping the
    /// newest time for the acceptance rules.
    pub(crate) fn drop_histograms(&mut self, times: &[i64]) {
        if let Some(d) = self.ooo.hist_mut() {
            for t in times {
                d.samples.remove(t);
            }
        }
    }

    /// Histogram samples held.
    pub(crate) fn num_histograms(&self) -> usize {
        self.ooo.hist().map_or(0, |d| d.samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::Sample;

    fn h(count: f64) -> FloatHistogram {
        FloatHistogram {
            count,
            sum: count,
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn histograms_follow_the_float_rules_and_first_kind_wins() {
        let r = Rules::small();
        let mut d = SeriesData::default();
        assert_eq!(d.append(Sample::new(10_000, 1.0), &r), Outcome::Appended);
        assert_eq!(
            d.append_histogram(10_000, &h(1.0), &r),
            Outcome::DuplicateConflict
        );
        assert_eq!(d.append_histogram(11_000, &h(1.0), &r), Outcome::Appended);
        assert_eq!(
            d.append(Sample::new(11_000, 1.0), &r),
            Outcome::DuplicateConflict
        );
        assert_eq!(d.append_histogram(11_000, &h(1.0), &r), Outcome::Duplicate);
        assert_eq!(
            d.append_histogram(11_000, &h(2.0), &r),
            Outcome::DuplicateConflict
        );
        assert_eq!(d.append_histogram(10_500, &h(2.0), &r), Outcome::Appended);
        assert_eq!(d.append_histogram(9_000, &h(2.0), &r), Outcome::OutOfWindow);
        assert_eq!(d.max_t_any(), Some(11_000));
        let got: Vec<i64> = d.histograms_in(0, 20_000).iter().map(|x| x.0).collect();
        assert_eq!(got, vec![10_500, 11_000]);
        assert_eq!(
            d.remove_histograms(&[(11_000, h(1.0)), (10_500, h(9.0))]),
            1
        );
        assert_eq!(d.num_histograms(), 1);
        assert_eq!(d.max_t_any(), Some(10_500));
    }
}
