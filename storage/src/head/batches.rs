//! What the head appends: owned batches, batches borrowing their labels
//! from a decoded request, and those with the series their writer's keys
//! found ahead of the append ([`KnownBatch`]).

use super::Head;
use super::append::{AppendStats, Appending};
use super::sent_keys::KnownSeries;
use super::series_key::SortedPairs;
use super::series_limits::SeriesQuota;
use crate::error::StorageError;
use crate::model::batch::{BorrowedBatch, SentKey, WriteBatch};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::sort_pairs;
use crate::model::sample::Sample;
use crate::prefetch;
use hourglass_wal::Wal;
use std::sync::Arc;

/// Series a batch found by key hints to the cache ahead of its append.
const PREFETCH_AHEAD: usize = 4;
/// Series whose open chunk is hinted ahead of its append.
const OPEN_CHUNK_AHEAD: usize = 2;

/// A batch the head appends: owned, or borrowing its labels (series
/// already present are then found without allocating).
pub(crate) trait HeadBatch {
    /// Series and samples in the batch.
    fn counts(&self) -> (usize, usize);
    /// Appends each series to `a`.
    fn append_each(&self, head: &Head, a: &mut Appending<'_>);
    /// The newest sample time at or before `cap` (`i64::MIN`: none).
    fn newest(&self, cap: i64) -> i64;
}

/// The newest sample time of `series` (floats and histograms) at or
/// before `cap` (`i64::MIN`: none).
fn newest_of<'s>(
    series: impl Iterator<Item = (&'s [Sample], &'s [(i64, FloatHistogram)])>,
    cap: i64,
) -> i64 {
    series
        .flat_map(|(samples, hs)| samples.iter().map(|x| x.t).chain(hs.iter().map(|h| h.0)))
        .filter(|&t| t <= cap)
        .max()
        .unwrap_or(i64::MIN)
}

impl HeadBatch for WriteBatch {
    fn counts(&self) -> (usize, usize) {
        (self.series.len(), self.num_samples())
    }

    fn newest(&self, cap: i64) -> i64 {
        let series = self.series.iter();
        newest_of(series.map(|s| (&s.samples[..], &s.histograms[..])), cap)
    }

    fn append_each(&self, head: &Head, a: &mut Appending<'_>) {
        for ss in &self.series {
            head.append_series(a, &ss.labels, &ss.samples, &[], None);
            if !ss.histograms.is_empty() {
                head.append_histogram_series(a, &ss.labels, &ss.histograms, &[]);
            }
        }
    }
}

impl HeadBatch for BorrowedBatch<'_> {
    fn counts(&self) -> (usize, usize) {
        (self.series.len(), self.num_samples())
    }

    fn newest(&self, cap: i64) -> i64 {
        newest_of(self.series.iter().map(|s| (s.samples, s.histograms)), cap)
    }

    fn append_each(&self, head: &Head, a: &mut Appending<'_>) {
        append_borrowed_each(self, &[], head, a);
    }
}

/// A borrowed batch with the series [`Head::find_sent`] found for it, one
/// per series (or none).
pub(crate) struct KnownBatch<'b, 'a>(pub &'b BorrowedBatch<'a>, pub &'b [Option<KnownSeries>]);

impl HeadBatch for KnownBatch<'_, '_> {
    fn counts(&self) -> (usize, usize) {
        self.0.counts()
    }

    fn newest(&self, cap: i64) -> i64 {
        self.0.newest(cap)
    }

    fn append_each(&self, head: &Head, a: &mut Appending<'_>) {
        append_borrowed_each(self.0, self.1, head, a);
    }
}

/// Appends each series of `batch`: a keyed series by the series `known`
/// holds for it, else by its key, else by its labels.
fn append_borrowed_each(
    batch: &BorrowedBatch<'_>,
    known: &[Option<KnownSeries>],
    head: &Head,
    a: &mut Appending<'_>,
) {
    let mut sorted = Vec::new();
    let keyed = head.sent.used_at(head.quota.active());
    // Read before any lookup: inserts after a removal are dropped.
    let generation = head.sent.generation();
    let known_at = |i: usize| known.get(i).and_then(Option::as_ref);
    let keys: Vec<Option<SentKey>> = batch
        .series
        .iter()
        .enumerate()
        .map(|(i, ss)| {
            ss.sent_key
                .filter(|_| keyed && ss.histograms.is_empty() && known_at(i).is_none())
        })
        .collect();
    let mut found = Vec::new();
    head.sent.get_many(&keys, &mut found);
    for (i, ss) in batch.series.iter().enumerate() {
        let ahead = i + PREFETCH_AHEAD;
        let series_at = |i: usize| {
            known_at(i)
                .map(|k| &k.series)
                .or_else(|| found.get(i).and_then(Option::as_ref))
        };
        if let Some(s) = series_at(ahead) {
            prefetch::object(&**s);
        }
        // The open chunk's end, once the series itself has arrived: the
        // append writes there under the series' lock, whose release
        // waits for those writes.
        if let Some(s) = series_at(i + OPEN_CHUNK_AHEAD)
            && let Ok(d) = s.data.try_lock()
        {
            d.open.prefetch_end();
        }
        if let Some(k) = known_at(i)
            && let Some(key) = ss.sent_key
        {
            head.append_sent(a, key, ss, Some(&k.series), k.generation, &mut sorted);
            continue;
        }
        if let Some(key) = keys.get(i).copied().flatten() {
            let s = found.get(i).and_then(Option::as_ref);
            head.append_sent(a, key, ss, s, generation, &mut sorted);
            continue;
        }
        sort_pairs(ss.labels, &mut sorted);
        head.append_series(
            a,
            SortedPairs(&sorted),
            ss.samples,
            ss.start_timestamps,
            None,
        );
        if !ss.histograms.is_empty() {
            head.append_histogram_series(
                a,
                SortedPairs(&sorted),
                ss.histograms,
                ss.histogram_starts,
            );
        }
    }
}

impl Head {
    /// Applies a batch and logs it to `wal` (if any) as one record.
    pub fn append(
        &self,
        batch: &WriteBatch,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        self.append_any(batch, wal, None)
    }

    /// Applies `batch` (owned or borrowing its labels), logging it to
    /// `wal` (if any) as one record and charging new series to `writer`'s
    /// quota as well as the server's.
    pub(crate) fn append_any(
        &self,
        batch: &impl HeadBatch,
        wal: Option<&Wal>,
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        let (series, samples) = batch.counts();
        let _span = tracing::debug_span!("append", series, samples).entered();
        let newest = batch.newest(self.max_valid_t());
        let mut a = self.appending(wal.is_some(), samples, writer, newest);
        batch.append_each(self, &mut a);
        self.finish(a, wal)
    }

    /// Appends start-timestamp companions (`start_times.rs`), the only
    /// writes that may carry the reserved label; off the live stream.
    pub(crate) fn append_companions(
        &self,
        batch: &WriteBatch,
        wal: Option<&Wal>,
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        let newest = batch.newest(self.max_valid_t());
        let mut a = self.appending(wal.is_some(), batch.counts().1, writer, newest);
        a.for_companions();
        batch.append_each(self, &mut a);
        self.finish(a, wal)
    }

    /// Like [`Head::append`], for a batch borrowing its labels: series
    /// already present are found without allocating.
    pub fn append_borrowed(
        &self,
        batch: &BorrowedBatch<'_>,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        self.append_any(batch, wal, None)
    }
}
