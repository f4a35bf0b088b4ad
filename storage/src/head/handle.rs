//! Appending by handle: a caller that appends to the same series again and
//! again (a scrape loop's series cache) keeps each series' handle from the
//! last append and skips the lookup by labels (hashing them, probing the
//! series map), the costliest step of appending a known series. Same
//! acceptance rules, WAL record and counters as [`Head::append`].

use super::append::AppendStats;
use super::series::MemSeries;
use super::series_key::Stored;
use super::{Head, lock};
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use hourglass_wal::Wal;
use std::sync::Arc;

/// A series of the head, as an append left it. Holding one keeps only the
/// series' memory alive, not the series: once the head drops the series
/// (persisted, or past retention), the next append with the handle looks
/// the labels up again and hands back a new handle.
#[derive(Clone)]
pub struct SeriesHandle(Arc<MemSeries>);

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SeriesHandle").field(&self.0.id).finish()
    }
}

impl SeriesHandle {
    /// Whether the head still holds this series.
    pub fn is_live(&self) -> bool {
        !lock(&self.0.data).deleted
    }
}

/// Which series a sample is for.
#[derive(Debug, Clone)]
pub enum SeriesTarget {
    /// A series an earlier append handed back: no lookup, no labels needed.
    Known(SeriesHandle),
    /// Labels to look up, or to create the series with.
    Labels(Labels),
}

/// One sample of one series.
#[derive(Debug, Clone)]
pub struct HandleSample {
    /// The series; after the append, its handle unless the sample of a
    /// series not yet stored was refused.
    pub series: SeriesTarget,
    /// The sample.
    pub sample: Sample,
    /// Its start timestamp (`0`: none), as for [`crate::SeriesRef`]:
    /// a zero lands there when it is newer than the series' last sample.
    pub start: i64,
}

impl HandleSample {
    /// The series' handle, when the entry has one.
    pub fn handle(&self) -> Option<&SeriesHandle> {
        match &self.series {
            SeriesTarget::Known(h) => Some(h),
            SeriesTarget::Labels(_) => None,
        }
    }
}

/// A batch of single samples by handle; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct HandleBatch {
    /// The samples; a series may appear more than once.
    pub series: Vec<HandleSample>,
}

impl HandleBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample.
    pub fn push(&mut self, series: SeriesTarget, sample: Sample) {
        self.push_started(series, sample, 0);
    }

    /// Adds a sample with its start timestamp (`0`: none).
    pub fn push_started(&mut self, series: SeriesTarget, sample: Sample, start: i64) {
        self.series.push(HandleSample {
            series,
            sample,
            start,
        });
    }

    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

impl Head {
    /// Applies a batch as [`Head::append`] does and logs it to `wal` (if
    /// any) as one record. Afterwards each entry's handle is that of the
    /// series its sample went to (unchanged when the sample of a series
    /// not yet stored was refused).
    pub fn append_handles(
        &self,
        batch: &mut HandleBatch,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        let cap = self.max_valid_t();
        let newest = batch
            .series
            .iter()
            .map(|e| e.sample.t)
            .filter(|&t| t <= cap)
            .max()
            .unwrap_or(i64::MIN);
        let mut a = self.appending(wal.is_some(), batch.series.len(), None, newest);
        for e in &mut batch.series {
            let samples = std::slice::from_ref(&e.sample);
            let starts: &[i64] = if e.start == 0 {
                &[]
            } else {
                std::slice::from_ref(&e.start)
            };
            let used = match &e.series {
                SeriesTarget::Known(h) => {
                    let key = Stored(&self.interner, &h.0.labels);
                    self.append_series(&mut a, key, samples, starts, Some(&h.0))
                }
                SeriesTarget::Labels(l) => self.append_series(&mut a, l, samples, starts, None),
            };
            if let Some(s) = used {
                e.series = SeriesTarget::Known(SeriesHandle(s));
            }
        }
        self.finish(a, wal)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::head::HeadOptions;
    use crate::model::batch::WriteBatch;

    fn labels(i: usize) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())])
    }

    #[test]
    fn handles_come_back_and_find_the_same_series_next_time() {
        let head = Head::new(HeadOptions::default());
        let mut batch = HandleBatch::new();
        for i in 0..3 {
            batch.push(
                SeriesTarget::Labels(labels(i)),
                Sample::new(1_000, i as f64),
            );
        }
        let stats = head.append_handles(&mut batch, None).unwrap();
        assert_eq!(stats.appended, 3);
        assert!(batch.series.iter().all(|e| e.handle().is_some()));
        let first: Vec<_> = batch
            .series
            .iter()
            .map(|e| e.handle().unwrap().0.id)
            .collect();
        for e in &mut batch.series {
            e.sample.t = 2_000;
        }
        let stats = head.append_handles(&mut batch, None).unwrap();
        assert_eq!(stats.appended, 3);
        let again: Vec<_> = batch
            .series
            .iter()
            .map(|e| e.handle().unwrap().0.id)
            .collect();
        assert_eq!(first, again);
        assert_eq!(head.stats().series, 3);
        // The same series by labels: no new series, samples in the same place.
        let mut wb = WriteBatch::new();
        wb.push(labels(1), vec![Sample::new(3_000, 9.0)]);
        assert_eq!(head.append(&wb, None).unwrap().appended, 1);
        assert_eq!(head.stats().series, 3);
        let data = lock(&batch.series[1].handle().unwrap().0.data);
        assert_eq!(data.max_t(), Some(3_000));
    }

    #[test]
    fn refused_samples_by_handle_are_counted_as_by_labels() {
        let head = Head::new(HeadOptions::default());
        let mut batch = HandleBatch::new();
        batch.push(
            SeriesTarget::Labels(labels(0)),
            Sample::new(10_000_000, 1.0),
        );
        head.append_handles(&mut batch, None).unwrap();
        let handle = batch.series[0].handle().unwrap().clone();
        assert!(handle.is_live());
        // Far behind the newest sample: outside the out-of-order window.
        let mut late = HandleBatch::new();
        late.push(SeriesTarget::Known(handle), Sample::new(0, 2.0));
        let stats = head.append_handles(&mut late, None).unwrap();
        assert_eq!(stats.appended, 0);
        assert_eq!(stats.rejected.out_of_window, 1);
        assert!(late.series[0].handle().is_some());
        // Refused before it existed (far in the future): no series, no handle.
        let mut future = HandleBatch::new();
        future.push(
            SeriesTarget::Labels(labels(1)),
            Sample::new(i64::MAX / 4, 2.0),
        );
        let stats = head.append_handles(&mut future, None).unwrap();
        assert_eq!(stats.rejected.too_far_in_future, 1);
        assert!(future.series[0].handle().is_none());
        assert_eq!(head.stats().series, 1);
    }
}
