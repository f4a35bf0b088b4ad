//! Recovery: rebuilding the head from the WAL (checkpoint, then records).

use super::checkpoint_records::SeriesEntry;
use super::intern::SeriesLabels;
use super::replay_decode::{Decoded, Item, decode_record};
use super::series::{Outcome, Rules};
use super::wal_records::BatchRecord;
use super::{Admit, Head, lock};
use crate::error::StorageError;
use crate::model::refs::PostingId;
use crate::model::sample::Sample;
use hourglass_wal::Wal;
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
    /// Samples coded against a previous sample of their series that no
    /// record held (it was lost to damage): set aside, counted exactly.
    pub unlinked_samples: u64,
}

impl ReplayStats {
    /// Records set aside, damaged or undecodable.
    pub fn records_set_aside(&self) -> u64 {
        self.damaged_records + self.undecodable_records
    }

    /// Samples set aside: their series' definition or their base sample
    /// was lost.
    pub fn samples_set_aside(&self) -> u64 {
        self.unknown_series_samples + self.unlinked_samples
    }
}

/// Records decoded ahead of the one being applied.
const DECODED_AHEAD: usize = 32;

impl Head {
    /// Applies the WAL's checkpoint and records to an empty head: one
    /// thread reads and decodes them (`replay_decode`), this one applies
    /// them in log order.
    pub fn replay(&self, wal: &Wal) -> Result<ReplayStats, StorageError> {
        let mut stats = ReplayStats {
            damaged_records: wal.recovery_report().records_set_aside(),
            ..ReplayStats::default()
        };
        let mut waiting = Vec::new();
        let mut failed = None;
        let mut apply = |item: Result<Item, StorageError>| match item {
            Ok(mut item) => {
                if item.decode_again(self) {
                    let mut resolve = |id, t| self.stored_value(id, t);
                    item.decoded =
                        decode_record(item.lsn, &item.data, &mut resolve, &self.interner);
                }
                if self.apply_or_set_aside(item.lsn, item.decoded, &mut stats) && !item.checkpoint {
                    waiting.push((item.lsn, item.data));
                }
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        };
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(DECODED_AHEAD);
            let decoder = std::thread::Builder::new()
                .name("wal-decode".into())
                .spawn_scoped(scope, move || {
                    self.decode_log(wal, &mut |item| tx.send(item).is_ok());
                });
            match decoder {
                Ok(_) => {
                    for item in rx {
                        if !apply(item) {
                            break;
                        }
                    }
                }
                // No thread to spare: decode and apply in turn.
                Err(e) => {
                    tracing::warn!(error = %e, "WAL replay on one thread");
                    drop(rx);
                    self.decode_log(wal, &mut apply);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        // Counted again by what still waits once every record is in.
        stats.unlinked_samples = 0;
        self.apply_waiting(waiting, &mut stats);
        // Everything replayed is in the log already.
        for s in super::read(&self.by_id).iter().flatten() {
            s.def_durable.store(true, Ordering::Release);
        }
        Ok(stats)
    }

    /// Applies a decoded record; one that cannot be applied is logged and
    /// counted, and replay goes on: the rest of the log is worth more than
    /// a stop. True when some of its samples wait for a base sample of a
    /// later record (see `linked_records`).
    fn apply_or_set_aside(
        &self,
        lsn: u64,
        decoded: Result<Decoded, StorageError>,
        stats: &mut ReplayStats,
    ) -> bool {
        match decoded.and_then(|d| self.apply_decoded(lsn, d, true, stats)) {
            Ok(waits) => waits,
            Err(e) => {
                stats.undecodable_records += 1;
                tracing::error!(lsn, error = %e, "WAL record set aside");
                false
            }
        }
    }

    /// Applies again the records some of whose samples waited for a base
    /// sample (two appenders of one series logged out of order), as long
    /// as that helps; what still waits lost its base to damage.
    fn apply_waiting(&self, mut waiting: Vec<(u64, Vec<u8>)>, stats: &mut ReplayStats) {
        let mut left = usize::MAX;
        while !waiting.is_empty() {
            let mut lost = 0;
            waiting.retain(|(lsn, data)| {
                let mut again = ReplayStats::default();
                let mut resolve = |id, t| self.stored_value(id, t);
                let waits = decode_record(*lsn, data, &mut resolve, &self.interner)
                    .and_then(|d| self.apply_decoded(*lsn, d, false, &mut again))
                    .unwrap_or(false);
                stats.samples += again.samples;
                lost += again.unlinked_samples;
                waits
            });
            if waiting.len() >= left {
                stats.unlinked_samples += lost;
                tracing::error!(
                    records = waiting.len(),
                    samples = lost,
                    "WAL samples whose base sample was lost: set aside"
                );
                break;
            }
            left = waiting.len();
        }
    }

    /// Applies one decoded record; true when some of its samples wait for
    /// a base sample not replayed yet (counted in `unlinked_samples`
    /// meanwhile).
    fn apply_decoded(
        &self,
        lsn: u64,
        decoded: Decoded,
        first_pass: bool,
        stats: &mut ReplayStats,
    ) -> Result<bool, StorageError> {
        match decoded {
            Decoded::Series(entries) => self.apply_series(entries, lsn, stats).map(|()| false),
            Decoded::Batch(rec) => self.apply(rec, lsn, first_pass, stats),
        }
    }

    fn replay_rules(&self) -> Rules {
        Rules {
            cut: self.opts.cut,
            ooo_window_ms: self.opts.ooo_window_ms,
            min_valid_t: i64::MIN,
            max_valid_t: i64::MAX,
            replay: true,
        }
    }

    /// Applies a checkpoint's series: into a series holding nothing yet
    /// (the usual case: checkpoints come first) the chunks are adopted as
    /// they are; otherwise their samples are appended.
    fn apply_series(
        &self,
        entries: Vec<(SeriesEntry, SeriesLabels)>,
        lsn: u64,
        stats: &mut ReplayStats,
    ) -> Result<(), StorageError> {
        stats.records += 1;
        let rules = self.replay_rules();
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for (e, numbers) in entries {
            let s = match self.by_id(e.id) {
                Some(s) if s.labels == numbers => s,
                Some(_) => {
                    return Err(StorageError::BadWalRecord {
                        lsn,
                        offset: 0,
                        reason: "series ref redefined with other labels",
                    });
                }
                // Replay is never refused by limits; the decoder numbered
                // the labels already.
                None => match self.create_numbered(
                    e.labels.stable_hash(),
                    &e.labels,
                    Some(numbers),
                    Some(e.id),
                    Admit::Replay,
                ) {
                    Ok(s) => s,
                    Err(_) => continue,
                },
            };
            let mut d = lock(&s.data);
            if d.idle_before(i64::MIN) && d.newest().is_none() {
                let mut newest = e.newest;
                if let Some(last) = e.chunks.last()
                    && newest.is_none_or(|(t, _)| t < last.max_t)
                {
                    newest = last.chunk.iter().last().map(|x| (x.t, x.v.to_bits()));
                }
                for c in e.chunks {
                    stats.samples += c.chunk.num_samples() as u64;
                    min = min.min(c.min_t);
                    max = max.max(c.max_t);
                    d.sealed.push(c);
                }
                d.set_newest(newest);
                if let Some((t, _)) = newest {
                    max = max.max(t);
                }
            } else {
                for x in e.chunks.iter().flat_map(|c| c.chunk.iter()) {
                    if d.append(x, &rules) == Outcome::Appended {
                        stats.samples += 1;
                        (min, max) = (min.min(x.t), max.max(x.t));
                    }
                }
            }
            for (t, b) in e.ooo {
                if d.append(Sample::new(t, f64::from_bits(b)), &rules) == Outcome::Appended {
                    stats.samples += 1;
                    (min, max) = (min.min(t), max.max(t));
                }
            }
        }
        self.max_t.fetch_max(max, Ordering::Relaxed);
        self.min_t.fetch_min(min, Ordering::Relaxed);
        Ok(())
    }

    /// Applies a decoded batch; true when some of its groups wait for
    /// their base sample.
    fn apply(
        &self,
        rec: BatchRecord,
        lsn: u64,
        first_pass: bool,
        stats: &mut ReplayStats,
    ) -> Result<bool, StorageError> {
        stats.records += 1;
        for (id, labels) in rec.defs {
            match self.by_id(id) {
                Some(s) if s.labels.eq_labels(&self.interner, &labels) => {}
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
        let rules = self.replay_rules();
        let mut max = i64::MIN;
        let mut min = i64::MAX;
        // Series are only created by the defs above: one look at the
        // table for the whole record.
        let by_id = super::read(&self.by_id);
        for (id, samples) in rec.groups {
            let Some(s) = by_id.get(id.index()).and_then(Option::as_ref) else {
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
        for (id, hs) in rec.histograms {
            let Some(s) = by_id.get(id.index()).and_then(Option::as_ref) else {
                stats.unknown_series_samples += hs.len() as u64;
                continue;
            };
            let mut data = lock(&s.data);
            for (t, h) in &hs {
                if data.append_histogram(*t, h, &rules) == Outcome::Appended {
                    stats.samples += 1;
                    max = max.max(*t);
                    min = min.min(*t);
                }
            }
        }
        self.max_t.fetch_max(max, Ordering::Relaxed);
        self.min_t.fetch_min(min, Ordering::Relaxed);
        // A group is stored already when its series holds a newer sample
        // (the checkpoint was taken after the group was applied).
        let mut waits = false;
        for u in rec.unlinked {
            let Some(s) = by_id.get(u.id.index()).and_then(Option::as_ref) else {
                stats.unknown_series_samples += u.samples as u64;
                continue;
            };
            // Only in log order: a retry comes after later records.
            let stored = first_pass && lock(&s.data).max_t().is_some_and(|t| t >= u.last_t);
            if !stored {
                stats.unlinked_samples += u.samples as u64;
                waits = true;
            }
        }
        Ok(waits)
    }
}
