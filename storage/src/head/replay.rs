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
    /// Samples naming a series no record defined: their definition was in
    /// a record lost to damage. Set aside, counted exactly.
    pub unknown_series_samples: u64,
    /// WAL records lost to damage the WAL found at open (see
    /// [`hourglass_wal::RecoveryReport::records_set_aside`]).
    pub damaged_records: u64,
    /// Records whose frames verified but whose contents do not decode (or
    /// contradict earlier ones): set aside, with their samples.
    pub undecodable_records: u64,
}

impl ReplayStats {
    /// Records set aside, damaged or undecodable.
    pub fn records_set_aside(&self) -> u64 {
        self.damaged_records + self.undecodable_records
    }
}

impl Head {
    /// Applies the WAL's checkpoint and records to an empty head.
    pub fn replay(&self, wal: &Wal) -> Result<ReplayStats, StorageError> {
        let mut stats = ReplayStats {
            damaged_records: wal.recovery_report().records_set_aside(),
            ..ReplayStats::default()
        };
        let mut from = Lsn(0);
        if let Some((upto, recs)) = wal.read_checkpoint()? {
            for r in recs {
                self.apply_or_set_aside(upto.0, &r?, &mut stats);
            }
            from = upto;
        }
        for r in wal.replay(from)? {
            let r = r?;
            self.apply_or_set_aside(r.lsn.0, &r.data, &mut stats);
        }
        // Everything replayed is in the log already.
        for s in super::read(&self.by_id).iter().flatten() {
            s.def_durable.store(true, Ordering::Release);
        }
        Ok(stats)
    }

    /// Applies a record; one that cannot be applied is logged and counted,
    /// and replay goes on: the rest of the log is worth more than a stop.
    fn apply_or_set_aside(&self, lsn: u64, data: &[u8], stats: &mut ReplayStats) {
        if let Err(e) = self.apply_record(lsn, data, stats) {
            stats.undecodable_records += 1;
            tracing::error!(lsn, error = %e, "WAL record set aside");
        }
    }

    fn apply_record(
        &self,
        lsn: u64,
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
