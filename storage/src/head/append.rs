//! Appending a batch: validation, acceptance per sample, one WAL record.
//!
//! Order of work: samples are applied to memory under each series' lock,
//! then the accepted ones are written as one WAL record, and the call
//! returns once that record is durable (per the WAL's sync policy). So an
//! acknowledged sample is always in the log; readers may briefly see
//! samples whose record is still being synced.
//!
//! Because records of concurrent batches may reach the log in another
//! order than their samples reached memory, replay re-applies samples
//! without the out-of-order window (they were accepted once already).

use super::series::{Outcome, Rules};
use super::wal_records::RecordWriter;
use super::{Head, lock};
use crate::error::StorageError;
use crate::model::batch::WriteBatch;
use crate::model::labels::LabelError;
use crate::model::sample::Sample;
use hourglass_wal::Wal;
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

impl Head {
    /// Applies a batch and logs it to `wal` (if any) as one record.
    pub fn append(
        &self,
        batch: &WriteBatch,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        let rules = Rules {
            cut: self.opts.cut,
            ooo_window_ms: self.opts.ooo_window_ms,
            min_valid_t: self.min_valid_t(),
            replay: false,
        };
        let mut stats = AppendStats::default();
        let mut rec = wal.map(|_| RecordWriter::with_capacity(batch.num_samples()));
        let mut new_defs = Vec::new();
        let mut accepted: Vec<Sample> = Vec::new();
        let mut batch_max = i64::MIN;
        let mut batch_min = i64::MAX;
        for ss in &batch.series {
            if ss.samples.is_empty() {
                continue;
            }
            let hash = ss.labels.stable_hash();
            // Labels equal to a stored series' were validated when it was
            // created; only new series need checking.
            let mut series = match self.get(hash, &ss.labels) {
                Some(s) => s,
                None => {
                    if let Err(e) = ss.labels.validate(&self.opts.limits) {
                        stats.rejected.invalid_series += ss.samples.len() as u64;
                        if stats.invalid_series.len() < MAX_REPORTED_ERRORS {
                            stats.invalid_series.push(e);
                        }
                        continue;
                    }
                    self.create(hash, &ss.labels, None)
                }
            };
            accepted.clear();
            {
                let mut data = lock(&series.data);
                // Collected between lookup and lock: start it afresh.
                while data.deleted {
                    drop(data);
                    std::thread::yield_now();
                    series = self.get_or_create(&ss.labels, None);
                    data = lock(&series.data);
                }
                for &s in &ss.samples {
                    match data.append(s, &rules) {
                        Outcome::Appended => {
                            accepted.push(s);
                            batch_max = batch_max.max(s.t);
                            batch_min = batch_min.min(s.t);
                        }
                        Outcome::Duplicate => stats.duplicates += 1,
                        Outcome::OutOfWindow => stats.rejected.out_of_window += 1,
                        Outcome::PastRetention => stats.rejected.past_retention += 1,
                        Outcome::DuplicateConflict => stats.rejected.duplicate_conflict += 1,
                    }
                }
            }
            stats.appended += accepted.len() as u64;
            if let Some(rec) = rec.as_mut()
                && !accepted.is_empty()
            {
                if !series.def_durable.load(Ordering::Acquire) {
                    rec.def(series.id, &series.labels);
                    new_defs.push(series.clone());
                }
                rec.group(series.id, &accepted);
            }
        }
        if let (Some(wal), Some(rec)) = (wal, rec)
            && !rec.is_empty()
        {
            wal.append(&rec.finish())?;
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
