//! Reading the head: the querier over in-memory series.

use super::series::{MemSeries, Snapshot};
use super::{Head, lock, read};
use crate::error::StorageError;
use crate::histogram_iter::HistogramIter;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::refs::{HeadRef, PostingId};
use crate::prefetch::{self, Prefetch};
use crate::querier::{Querier, Series, SeriesSet};
use crate::sample_iter::SampleIter;
use roaring::RoaringBitmap;

/// A [`Querier`] over the head for `[mint, maxt]`.
#[derive(Debug, Clone, Copy)]
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
}

impl Head {
    /// A querier over `[mint, maxt]` (inclusive, ms).
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        HeadQuerier {
            head: self,
            mint,
            maxt,
        }
    }

    fn select_ids(&self, matchers: &[Matcher]) -> RoaringBitmap {
        read(&self.postings).select(matchers)
    }
}

impl Head {
    /// Matching series with their data in `[mint, maxt]`: chunk handles,
    /// out-of-order samples and histogram samples (unsorted by labels,
    /// possibly empty in range).
    pub(crate) fn select_raw(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<(Labels, Snapshot)> {
        let ids: Vec<HeadRef> = self
            .select_ids(matchers)
            .iter()
            .map(HeadRef::from_raw)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        // Series are borrowed under the index's read lock rather than
        // cloned out (two atomic operations each, which stall on a cold
        // cache line); the lock is retaken per batch so that creating a
        // series never waits on a long select.
        for batch in ids.chunks(512) {
            let by_id = read(&self.by_id);
            let series = |k: usize| match batch.get(k).map(|&id| by_id.get(id.index())) {
                Some(Some(Some(s))) => Some(s),
                _ => None,
            };
            for (j, &id) in batch.iter().enumerate() {
                // A series' chunks sit behind three pointers: ask for each
                // level a series or so before it is needed (skipping any
                // series an appender holds right now).
                if let Some(s) = series(j + 4) {
                    prefetch::object::<MemSeries>(s);
                }
                let levels = [
                    (3, Prefetch::Lists),
                    (2, Prefetch::Chunks),
                    (1, Prefetch::Bytes),
                ];
                for (ahead, level) in levels {
                    if let Some(d) = series(j + ahead).and_then(|s| s.data.try_lock().ok()) {
                        d.prefetch(level, mint, maxt);
                    }
                }
                if let Some(s) = series(j + 1) {
                    s.labels.prefetch();
                }
                let Some(Some(s)) = by_id.get(id.index()) else {
                    continue;
                };
                let snap = lock(&s.data).snapshot(mint, maxt);
                if snap.is_empty() {
                    continue;
                }
                out.push((self.interner.labels(&s.labels), snap));
            }
        }
        out
    }
}

impl Head {
    /// Whether any series in the head carries label `name`.
    pub(crate) fn has_label_name(&self, name: &str) -> bool {
        read(&self.postings).has_name(name)
    }
}

/// The series of snapshots [`Head::select_raw`] took, in `[mint, maxt]`.
pub(crate) fn head_series(raw: Vec<(Labels, Snapshot)>, mint: i64, maxt: i64) -> SeriesSet {
    let mut out = Vec::with_capacity(raw.len());
    for (labels, snap) in raw {
        let samples = SampleIter::new(vec![snap.chunks], snap.ooo, mint, maxt);
        // Float-only series (nearly all) allocate nothing here.
        let histograms = if snap.histograms.is_empty() {
            HistogramIter::default()
        } else {
            HistogramIter::merge_lazy(snap.histograms.into_sources().into())
        };
        out.extend(Series::non_empty(labels, samples, histograms));
    }
    SeriesSet::new(out)
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<SeriesSet, StorageError> {
        let (mint, maxt) = (mint.max(self.mint), maxt.min(self.maxt));
        if mint > maxt {
            return Ok(SeriesSet::default());
        }
        Ok(head_series(
            self.head.select_raw(matchers, mint, maxt),
            mint,
            maxt,
        ))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        // As Prometheus does: the index is not time-bounded per series, but
        // a head holding nothing in the range answers nothing.
        if !self.head.may_overlap(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        let p = read(&self.head.postings);
        if matchers.is_empty() {
            return Ok(p.label_names(None));
        }
        let sel = p.select(matchers);
        Ok(p.label_names(Some(&sel)))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if !self.head.may_overlap(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        let p = read(&self.head.postings);
        if matchers.is_empty() {
            return Ok(p.label_values(name, None));
        }
        let sel = p.select(matchers);
        Ok(p.label_values(name, Some(&sel)))
    }
}
