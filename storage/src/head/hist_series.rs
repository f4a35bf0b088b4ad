//! A series' native histogram samples in the head, beside its floats.
//!
//! A series may hold both kinds; a timestamp holds one sample of either
//! kind (the first stored wins). Histograms follow the float rules:
//! retention, the future bound, the out-of-order window (measured from the
//! series' newest sample of either kind), exact repeats accepted silently,
//! a different sample at a stored timestamp refused.
//!
//! The in-order run is sealed into histogram chunks (the partition
//! encoding, `chunk::histogram`) every [`SEAL_LEN`] samples once
//! [`SEAL_AT`] wait, so a reader shares the sealed bytes (an `Arc`) and
//! decodes them when it reads the samples, instead of copying decoded
//! histograms out of the head. The newest samples and out-of-order ones
//! stay decoded in a map (a timestamp is held in one place only); undoing
//! or persisting part of a sealed chunk puts it back into the map first.

use super::series::{Outcome, Rules, SeriesData};
use crate::chunk::histogram;
use crate::histogram_iter::{HistPiece, HistSnapshot};
use crate::model::histogram::FloatHistogram;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Samples per sealed chunk (half an hour at 15 s).
const SEAL_LEN: usize = 120;
/// In-order samples held decoded before the oldest [`SEAL_LEN`] are
/// sealed: the newest stay decoded, where an undone batch finds them.
const SEAL_AT: usize = 2 * SEAL_LEN;

/// A sealed run of histogram samples.
#[derive(Debug, Clone)]
pub(crate) struct SealedHist {
    min_t: i64,
    max_t: i64,
    len: usize,
    bytes: Arc<[u8]>,
}

/// Histogram samples of one series, by time.
#[derive(Debug, Default)]
pub(crate) struct HistData {
    /// Samples not sealed, by time: the newest, and out-of-order ones.
    samples: BTreeMap<i64, FloatHistogram>,
    /// Sealed runs in time order, disjoint in time; samples in the map
    /// may fall inside their spans (never on their timestamps).
    sealed: Vec<SealedHist>,
    /// Newest histogram time ever stored; kept when samples move to a
    /// partition, so the acceptance rules still see it.
    pub(crate) newest: Option<i64>,
}

impl HistData {
    /// True when no sample is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.sealed.is_empty()
    }

    /// Samples held.
    fn len(&self) -> usize {
        self.samples.len() + self.sealed.iter().map(|c| c.len).sum::<usize>()
    }

    /// The sealed chunk whose span holds `t`.
    fn sealed_at(&self, t: i64) -> Option<usize> {
        let i = self.sealed.partition_point(|c| c.max_t < t);
        self.sealed.get(i).filter(|c| c.min_t <= t).map(|_| i)
    }

    /// Decodes a sealed chunk (written by this head: it decodes).
    fn decode(c: &SealedHist) -> Vec<(i64, FloatHistogram)> {
        histogram::decode(&c.bytes).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a sealed head histogram chunk does not decode");
            Vec::new()
        })
    }

    /// The sample at `t`.
    fn get(&self, t: i64) -> Option<Cow<'_, FloatHistogram>> {
        if let Some(h) = self.samples.get(&t) {
            return Some(Cow::Borrowed(h));
        }
        let c = self.sealed.get(self.sealed_at(t)?)?;
        Self::decode(c)
            .into_iter()
            .find(|x| x.0 == t)
            .map(|x| Cow::Owned(x.1))
    }

    /// Puts sealed chunk `i` back into the map.
    fn unseal(&mut self, i: usize) {
        if i < self.sealed.len() {
            let c = self.sealed.remove(i);
            self.samples.extend(Self::decode(&c));
        }
    }

    /// Seals the oldest [`SEAL_LEN`] in-order samples once [`SEAL_AT`]
    /// wait.
    fn maybe_seal(&mut self) {
        if self.samples.len() < SEAL_AT {
            return;
        }
        let after = self.sealed.last().map_or(i64::MIN, |c| c.max_t);
        let run = match after.checked_add(1) {
            Some(from) => self.samples.range(from..),
            None => return,
        };
        if run.clone().take(SEAL_AT).count() < SEAL_AT {
            return;
        }
        let take: Vec<(i64, FloatHistogram)> =
            run.take(SEAL_LEN).map(|(&t, h)| (t, h.clone())).collect();
        let (Some(first), Some(last)) = (take.first(), take.last()) else {
            return;
        };
        let (min_t, max_t) = (first.0, last.0);
        match histogram::encode(&take) {
            Ok(bytes) => {
                for (t, _) in &take {
                    self.samples.remove(t);
                }
                self.sealed.push(SealedHist {
                    min_t,
                    max_t,
                    len: take.len(),
                    bytes: bytes.into(),
                });
            }
            // Left decoded (a histogram the chunk cannot hold).
            Err(e) => tracing::debug!(error = %e, "head histograms not sealed"),
        }
    }

    /// Samples with `mint <= t <= maxt` as a reader takes them.
    fn snapshot(&self, mint: i64, maxt: i64) -> HistSnapshot {
        let mut out = HistSnapshot::default();
        if mint > maxt {
            return out;
        }
        let from = self.sealed.partition_point(|c| c.max_t < mint);
        for c in self.sealed[from..].iter().take_while(|c| c.min_t <= maxt) {
            if c.min_t >= mint && c.max_t <= maxt {
                match out.sealed.last_mut() {
                    Some(HistPiece::Sealed(v)) => v.push(Arc::clone(&c.bytes)),
                    _ => out
                        .sealed
                        .push(HistPiece::Sealed(vec![Arc::clone(&c.bytes)])),
                }
                continue;
            }
            let mut v = Self::decode(c);
            v.retain(|(t, _)| (mint..=maxt).contains(t));
            if !v.is_empty() {
                out.sealed.push(HistPiece::Decoded(v));
            }
        }
        out.decoded = Vec::with_capacity(self.samples.range(mint..=maxt).count());
        out.decoded.extend(
            self.samples
                .range(mint..=maxt)
                .map(|(&t, h)| (t, h.clone())),
        );
        out
    }
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
        self.ooo.hist().is_some_and(|h| h.get(t).is_some())
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
            if let Some(stored) = self.ooo.hist().and_then(|d| d.get(t)) {
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
        d.maybe_seal();
        Outcome::Appended
    }

    /// Histogram samples with `mint <= t <= maxt` as a reader takes them:
    /// sealed chunks shared, not copied.
    pub(crate) fn hist_snapshot(&self, mint: i64, maxt: i64) -> HistSnapshot {
        self.ooo
            .hist()
            .map_or_else(HistSnapshot::default, |d| d.snapshot(mint, maxt))
    }

    /// Histogram samples with `mint <= t <= maxt`, decoded and copied, in
    /// time order.
    pub(crate) fn histograms_in(&self, mint: i64, maxt: i64) -> Vec<(i64, FloatHistogram)> {
        let [sealed, decoded] = self.hist_snapshot(mint, maxt).into_sources();
        crate::histogram_iter::HistogramIter::merge_lazy(vec![sealed, decoded])
            .into_vec()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "a sealed head histogram chunk does not decode");
                Vec::new()
            })
    }

    /// Removes these exact histogram samples; returns how many were found.
    pub(crate) fn remove_histograms(&mut self, samples: &[(i64, FloatHistogram)]) -> usize {
        let Some(d) = self.ooo.hist_mut() else {
            return 0;
        };
        let mut found = 0;
        for (t, h) in samples {
            if let Some(i) = d.sealed_at(*t) {
                d.unseal(i);
            }
            if d.samples.get(t).is_some_and(|s| s.same_bits(h)) {
                d.samples.remove(t);
                found += 1;
            }
        }
        if samples.iter().any(|(t, _)| Some(*t) == d.newest) {
            let sealed = d.sealed.last().map(|c| c.max_t);
            d.newest = d.samples.keys().next_back().copied().max(sealed);
        }
        if d.newest.is_none() {
            self.ooo.clear_hist();
        }
        found
    }

    /// Drops the samples at `times` (written to a partition), keeping the
    /// newest time for the acceptance rules.
    pub(crate) fn drop_histograms(&mut self, times: &[i64]) {
        let Some(d) = self.ooo.hist_mut() else {
            return;
        };
        let mut sorted = times.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        // A sealed chunk all of whose samples go is dropped whole; one
        // that keeps some goes back into the map first.
        let mut i = 0;
        while let Some(c) = d.sealed.get(i) {
            let lo = sorted.partition_point(|&t| t < c.min_t);
            let hi = sorted.partition_point(|&t| t <= c.max_t);
            if hi == lo {
                i += 1;
            } else if HistData::decode(c)
                .iter()
                .all(|(t, _)| sorted[lo..hi].binary_search(t).is_ok())
            {
                d.sealed.remove(i);
            } else {
                d.unseal(i);
            }
        }
        for t in &sorted {
            d.samples.remove(t);
        }
    }

    /// Histogram samples held.
    pub(crate) fn num_histograms(&self) -> usize {
        self.ooo.hist().map_or(0, HistData::len)
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

#[cfg(test)]
#[path = "hist_series_tests.rs"]
mod sealed_tests;
