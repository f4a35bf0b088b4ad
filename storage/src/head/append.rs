//! Appending a batch: validation, acceptance per sample, one WAL record.
//!
//! Order of work: samples are applied to memory under each series' lock,
//! then the accepted ones are written as one WAL record, and the call
//! returns once that record is durable (per the WAL's sync policy). So an
//! acknowledged sample is always in the log; readers may briefly see
//! samples whose record is still being synced. If the WAL refuses the
//! record, its samples are taken back out (`rollback.rs`).
//!
//! Because records of concurrent batches may reach the log in another
//! order than their samples reached memory, replay re-applies samples
//! without the out-of-order window (they were accepted once already).

use super::series::{MemSeries, Outcome, Rules};
use super::wal_records::RecordWriter;
use super::{Head, lock};
use crate::error::StorageError;
use crate::model::batch::{BorrowedBatch, WriteBatch};
use crate::model::labels::{LabelError, Labels, sort_pairs, stable_hash_pairs};
use crate::model::sample::Sample;
use hourglass_wal::Wal;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Samples refused, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Older than the series' newest sample by more than the out-of-order
    /// window.
    pub out_of_window: u64,
    /// Older than retention allows.
    pub past_retention: u64,
    /// Same timestamp as a stored sample with a different value.
    pub duplicate_conflict: u64,
    /// Samples of series whose labels failed validation.
    pub invalid_series: u64,
}

impl Rejected {
    /// All refusals.
    pub fn total(&self) -> u64 {
        self.out_of_window + self.past_retention + self.duplicate_conflict + self.invalid_series
    }
}

/// What one `append` did. Refusals never abort the rest of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: u64,
    /// Exact duplicates (same time and value bits) accepted silently.
    pub duplicates: u64,
    /// Samples refused, by reason.
    pub rejected: Rejected,
    /// Series refused by validation (at most [`MAX_REPORTED_ERRORS`]).
    pub invalid_series: Vec<LabelError>,
}

/// How many validation errors one `AppendStats` reports in full.
pub const MAX_REPORTED_ERRORS: usize = 16;

/// How a batch names a series: owned labels, or borrowed pairs sorted by
/// [`sort_pairs`]. Lookups use it as is; labels are built only for new
/// series.
trait SeriesKey {
    fn hash(&self) -> u64;
    fn matches(&self, labels: &Labels) -> bool;
    fn to_labels(&self) -> Labels;
}

impl SeriesKey for &Labels {
    fn hash(&self) -> u64 {
        self.stable_hash()
    }
    fn matches(&self, labels: &Labels) -> bool {
        labels == *self
    }
    fn to_labels(&self) -> Labels {
        (*self).clone()
    }
}

/// Pairs sorted by name with empty values dropped.
struct SortedPairs<'p, 'a>(&'p [(&'a str, &'a str)]);

impl SeriesKey for SortedPairs<'_, '_> {
    fn hash(&self) -> u64 {
        stable_hash_pairs(self.0)
    }
    fn matches(&self, labels: &Labels) -> bool {
        labels.eq_pairs(self.0)
    }
    fn to_labels(&self) -> Labels {
        Labels::from_pairs(self.0.iter().copied())
    }
}

/// One `append` call's running state.
struct Appending {
    rules: Rules,
    stats: AppendStats,
    rec: Option<RecordWriter>,
    new_defs: Vec<Arc<MemSeries>>,
    accepted: Vec<Sample>,
    batch_max: i64,
    batch_min: i64,
}

impl Head {
    /// Applies a batch and logs it to `wal` (if any) as one record.
    pub fn append(
        &self,
        batch: &WriteBatch,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        let mut a = self.appending(wal.is_some(), batch.num_samples());
        for ss in &batch.series {
            self.append_series(&mut a, &ss.labels, &ss.samples);
        }
        self.finish(a, wal)
    }

    /// Like [`Head::append`], for a batch borrowing its labels: series
    /// already present are found without allocating.
    pub fn append_borrowed(
        &self,
        batch: &BorrowedBatch<'_>,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        let mut a = self.appending(wal.is_some(), batch.num_samples());
        let mut sorted = Vec::new();
        for ss in &batch.series {
            sort_pairs(ss.labels, &mut sorted);
            self.append_series(&mut a, SortedPairs(&sorted), ss.samples);
        }
        self.finish(a, wal)
    }

    fn appending(&self, logged: bool, samples: usize) -> Appending {
        Appending {
            rules: Rules {
                cut: self.opts.cut,
                ooo_window_ms: self.opts.ooo_window_ms,
                min_valid_t: self.min_valid_t(),
                replay: false,
            },
            stats: AppendStats::default(),
            rec: logged.then(|| RecordWriter::with_capacity(samples)),
            new_defs: Vec::new(),
            accepted: Vec::new(),
            batch_max: i64::MIN,
            batch_min: i64::MAX,
        }
    }

    fn append_series(&self, a: &mut Appending, key: impl SeriesKey, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        let hash = key.hash();
        // Labels equal to a stored series' were validated when it was
        // created; only new series need checking.
        let mut series = match self.get_by(hash, |l| key.matches(l)) {
            Some(s) => s,
            None => {
                let labels = key.to_labels();
                if let Err(e) = labels.validate(&self.opts.limits) {
                    a.stats.rejected.invalid_series += samples.len() as u64;
                    if a.stats.invalid_series.len() < MAX_REPORTED_ERRORS {
                        a.stats.invalid_series.push(e);
                    }
                    return;
                }
                self.create(hash, &labels, None)
            }
        };
        a.accepted.clear();
        {
            let mut data = lock(&series.data);
            // Collected between lookup and lock: start it afresh.
            while data.deleted {
                drop(data);
                std::thread::yield_now();
                series = self.get_or_create(&key.to_labels(), None);
                data = lock(&series.data);
            }
            for &s in samples {
                match data.append(s, &a.rules) {
                    Outcome::Appended => {
                        a.accepted.push(s);
                        a.batch_max = a.batch_max.max(s.t);
                        a.batch_min = a.batch_min.min(s.t);
                    }
                    Outcome::Duplicate => a.stats.duplicates += 1,
                    Outcome::OutOfWindow => a.stats.rejected.out_of_window += 1,
                    Outcome::PastRetention => a.stats.rejected.past_retention += 1,
                    Outcome::DuplicateConflict => a.stats.rejected.duplicate_conflict += 1,
                }
            }
        }
        a.stats.appended += a.accepted.len() as u64;
        if let Some(rec) = a.rec.as_mut()
            && !a.accepted.is_empty()
        {
            if !series.def_durable.load(Ordering::Acquire) {
                rec.def(series.id, &series.labels);
                a.new_defs.push(series.clone());
            }
            rec.group(series.id, &a.accepted);
        }
    }

    /// Logs what was accepted and publishes counters.
    fn finish(&self, a: Appending, wal: Option<&Wal>) -> Result<AppendStats, StorageError> {
        let Appending {
            stats,
            rec,
            new_defs,
            batch_max,
            batch_min,
            ..
        } = a;
        if let (Some(wal), Some(rec)) = (wal, rec)
            && !rec.is_empty()
        {
            let record = rec.finish();
            if let Err(e) = wal.append(&record) {
                // Not acknowledged, so not readable either.
                self.roll_back(&record);
                return Err(e.into());
            }
            for s in new_defs {
                s.def_durable.store(true, Ordering::Release);
            }
        }
        if batch_max != i64::MIN {
            self.max_t.fetch_max(batch_max, Ordering::Relaxed);
            self.min_t.fetch_min(batch_min, Ordering::Relaxed);
        }
        let c = &self.counters;
        c.appended.fetch_add(stats.appended, Ordering::Relaxed);
        c.duplicates.fetch_add(stats.duplicates, Ordering::Relaxed);
        let r = &stats.rejected;
        for (ctr, n) in [
            (&c.out_of_window, r.out_of_window),
            (&c.past_retention, r.past_retention),
            (&c.duplicate_conflict, r.duplicate_conflict),
            (&c.invalid_series, r.invalid_series),
        ] {
            if n > 0 {
                ctr.fetch_add(n, Ordering::Relaxed);
            }
        }
        Ok(stats)
    }
}
