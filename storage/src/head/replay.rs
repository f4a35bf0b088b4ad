//! Recovery: rebuilding the head from the WAL (checkpoint, then records).

use super::series::{Outcome, Rules};
use super::wal_records::{self, BatchRecord};
use super::{Admit, Head, lock};
use crate::error::StorageError;
use hourglass_wal::{Lsn, Wal};
use std::sync::atomic::Ordering;

/// What replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records applied.
    pub records: u64,
    /// Samples applied.
    pub samples: u64,
    /// Samples naming a series no record defined (never written by us).
    pub unknown_series_samples: u64,
}

impl Head {
    /// Applies the WAL's checkpoint and records to an empty head.
    pub fn replay(&self, wal: &Wal) -> Result<ReplayStats, StorageError> {
        let mut stats = ReplayStats::default();
        let mut from = Lsn(0);
        if let Some((upto, recs)) = wal.read_checkpoint()? {
            for (i, r) in recs.enumerate() {
                let data = r?;
                self.apply_record(upto.0, i, &data, &mut stats)?;
            }
            from = upto;
        }
        for r in wal.replay(from)? {
            let r = r?;
            self.apply_record(r.lsn.0, 0, &r.data, &mut stats)?;
        }
        // Everything replayed is in the log already.
        for s in super::read(&self.by_id).iter().flatten() {
            s.def_durable.store(true, Ordering::Release);
        }
        Ok(stats)
    }

    fn apply_record(
        &self,
        lsn: u64,
        _index: usize,
        data: &[u8],
        stats: &mut ReplayStats,
    ) -> Result<(), StorageError> {
        let rec = wal_records::decode(data).map_err(|e| StorageError::BadWalRecord {
            lsn,
            offset: e.offset,
            reason: e.reason,
        })?;
        self.apply(rec, lsn, stats)
    }

    fn apply(
        &self,
        rec: BatchRecord,
        lsn: u64,
        stats: &mut ReplayStats,
    ) -> Result<(), StorageError> {
        stats.records += 1;
        for (id, labels) in rec.defs {
            match self.by_id(id) {
                Some(s) if s.labels == labels => {}
                Some(_) => {
                    return Err(StorageError::BadWalRecord {
                        lsn,
                        offset: 0,
                        reason: "series ref redefined with other labels",
                    });
                }
                None => {
                    // Replay is never refused by limits.
                    let _ = self.get_or_create(&labels, Some(id), Admit::Replay);
                }
            }
        }
        let rules = Rules {
            cut: self.opts.cut,
            ooo_window_ms: self.opts.ooo_window_ms,
            min_valid_t: i64::MIN,
            max_valid_t: i64::MAX,
            replay: true,
        };
        let mut max = i64::MIN;
        let mut min = i64::MAX;
        for (id, samples) in rec.groups {
            let Some(s) = self.by_id(id) else {
                stats.unknown_series_samples += samples.len() as u64;
                continue;
            };
            let mut data = lock(&s.data);
            for x in samples {
                if data.append(x, &rules) == Outcome::Appended {
                    stats.samples += 1;
                    max = max.max(x.t);
                    min = min.min(x.t);
                }
            }
        }
        self.max_t.fetch_max(max, Ordering::Relaxed);
        self.min_t.fetch_min(min, Ordering::Relaxed);
        Ok(())
    }
}
