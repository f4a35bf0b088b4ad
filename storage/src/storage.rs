//! `Storage`: the engine behind the write and read seams.
//!
//! On disk: `<dir>/wal/` holds the write-ahead log, `<dir>/parts/` the
//! hourly partitions. Opening loads the partitions (quarantining any that
//! fail their checks) and replays the WAL into the head.

use crate::error::StorageError;
use crate::head::{
    AppendStats, Cardinality, HandleBatch, Head, HeadOptions, HeadQuerier, HeadStats, KnownSeries,
    ReplayStats, SeriesQuota,
};
use crate::model::batch::{BorrowedBatch, SentKey, WriteBatch};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::partition::{Partition, write_partition};
use crate::retention::{self, RetentionStats};
use crate::retention_rules::RetentionRule;
use crate::snapshot::SnapshotStats;
use crate::storage_querier::StorageQuerier;
use crate::tombstones::{self, Tombstone};
use hourglass_wal::Wal;
use hourglass_wal::fs::{Fs, StdFs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

mod lifecycle;

/// How storage is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Head behaviour: cut policy, out-of-order window, retention, limits.
    pub head: HeadOptions,
    /// The WAL's segment size and sync policy.
    pub wal: hourglass_wal::Options,
    /// Inside a partition, series are grouped by metric name, then by this
    /// label's value (`job` unless set).
    pub source_label: Option<String>,
    /// Retention per selector (first match wins; `head.retention_ms` is
    /// the fallback), enforced by compaction.
    pub retention_rules: Vec<RetentionRule>,
}

/// What one [`Storage::persist`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistStats {
    /// Partition directories written.
    pub partitions: Vec<PathBuf>,
    /// Series written (summed over partitions).
    pub series: u64,
    /// Idle, empty series dropped from the head.
    pub series_removed: usize,
    /// What retention removed afterwards.
    pub retention: RetentionStats,
}

/// The storage engine: WAL + head (partitions to come).
///
/// `append` may be called from many threads at once; it returns once the
/// batch's WAL record is durable per the WAL sync policy.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    /// Partitions, compaction and retention go through it (the WAL holds
    /// its own handle to the same file system).
    fs: Arc<dyn Fs>,
    head: Head,
    wal: Wal,
    replay: ReplayStats,
    parts: RwLock<Vec<Arc<Partition>>>,
    source_label: String,
    retention_ms: Option<i64>,
    retention_bytes: Option<u64>,
    downsample_rules: RwLock<Arc<Vec<crate::downsample::DownsampleRule>>>,
    /// Deletions not yet applied to every partition (replaced whole).
    tombstones: RwLock<Arc<Vec<Tombstone>>>,
    /// One persist at a time; holds the last `ready_end` collected, so a
    /// call with no newly finished hour and no backfill before it skips
    /// the pass over all series.
    persisting: Mutex<Option<i64>>,
    /// The WAL's bytes written (since open) at the last checkpoint, and
    /// that checkpoint's size.
    checkpointed: Mutex<(u64, u64)>,
    /// Set by a stop: a compaction in progress gives up before its swap.
    stopping: AtomicBool,
}

/// Records written since the last checkpoint that make `persist` write a
/// new one even when no hour is ready, unless half the last checkpoint's
/// size is more: the WAL then holds at most about 1.5 times what the
/// head's chunks cost, plus this.
const CHECKPOINT_AFTER_WAL_BYTES: u64 = 4 << 20;

impl Storage {
    /// Opens (or creates) storage in `dir`, replaying the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Storage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|source| StorageError::Io {
            path: wal_dir.clone(),
            source,
        })?;
        let wal = Wal::open(&wal_dir, opts.wal.clone())?;
        Self::with_wal(Arc::new(StdFs), dir, wal, opts)
    }

    /// Like [`Storage::open`] over another file system (crash tests).
    #[doc(hidden)]
    pub fn open_with_fs(
        fs: Arc<dyn Fs>,
        dir: impl AsRef<Path>,
        opts: Options,
    ) -> Result<Storage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        let wal_dir = dir.join("wal");
        fs.create_dir_all(&wal_dir)
            .map_err(|source| StorageError::Io {
                path: wal_dir.clone(),
                source,
            })?;
        let wal = Wal::open_with(Arc::clone(&fs), &wal_dir, opts.wal.clone())?;
        Self::with_wal(fs, dir, wal, opts)
    }

    fn with_wal(
        fs: Arc<dyn Fs>,
        dir: PathBuf,
        wal: Wal,
        opts: Options,
    ) -> Result<Storage, StorageError> {
        let parts = load_partitions(&*fs, &dir.join("parts"))?;
        let tombstones = tombstones::load(&*fs, &dir)?;
        let retention_ms = opts.head.retention_ms;
        let retention_bytes = opts.head.retention_bytes;
        let head = Head::new(opts.head);
        head.set_retention_rules(opts.retention_rules);
        if let Some(t) = parts.iter().map(|p| p.meta().max_t).max() {
            head.note_stored(t);
        }
        let replay = head.replay(&wal)?;
        tracing::info!(
            records = replay.records,
            samples = replay.samples,
            series = head.stats().series,
            "storage opened"
        );
        if replay.records_set_aside() > 0
            || replay.unknown_series_samples > 0
            || replay.unlinked_samples > 0
        {
            tracing::error!(
                damaged_records = replay.damaged_records,
                undecodable_records = replay.undecodable_records,
                samples_of_unknown_series = replay.unknown_series_samples,
                samples_without_base = replay.unlinked_samples,
                "WAL damage: records and samples set aside at replay"
            );
        }
        Ok(Storage {
            dir,
            fs,
            head,
            wal,
            replay,
            parts: RwLock::new(parts),
            source_label: opts.source_label.unwrap_or_else(|| "job".to_string()),
            retention_ms,
            retention_bytes,
            downsample_rules: RwLock::new(Arc::new(Vec::new())),
            tombstones: RwLock::new(Arc::new(tombstones)),
            persisting: Mutex::new(None),
            checkpointed: Mutex::new((0, 0)),
            stopping: AtomicBool::new(false),
        })
    }

    /// Stores a batch: refusals are counted per reason in the result and
    /// never abort the rest of the batch; an `Err` means the WAL failed and
    /// the batch must be considered not acknowledged.
    pub fn append(&self, batch: &WriteBatch) -> Result<AppendStats, StorageError> {
        self.head.append(batch, Some(&self.wal))
    }

    /// Stores native histogram samples of one series (any order), under
    /// the float rules; the histograms are expected valid
    /// ([`FloatHistogram::validate`]).
    pub fn append_histograms(
        &self,
        labels: &Labels,
        samples: &[(i64, FloatHistogram)],
    ) -> Result<AppendStats, StorageError> {
        let mut batch = WriteBatch::new();
        batch.push_histograms(labels.clone(), samples.to_vec());
        self.append(&batch)
    }

    /// Like [`Storage::append`], for a batch that borrows its labels from a
    /// decoded request: series already stored are found without allocating.
    pub fn append_borrowed(&self, batch: &BorrowedBatch<'_>) -> Result<AppendStats, StorageError> {
        self.head.append_borrowed(batch, Some(&self.wal))
    }

    /// Like [`Storage::append`], for single samples by series handle:
    /// known series skip the lookup by labels, and every entry comes back
    /// with its series' handle for the next time.
    pub fn append_handles(&self, batch: &mut HandleBatch) -> Result<AppendStats, StorageError> {
        self.head.append_handles(batch, Some(&self.wal))
    }

    /// Like [`Storage::append`], charging new series to the writer's quota
    /// as well as the server's.
    pub fn append_for(
        &self,
        batch: &WriteBatch,
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        self.head.append_any(batch, Some(&self.wal), writer)
    }

    /// Like [`Storage::append_borrowed`], charging new series to the
    /// writer's quota as well as the server's.
    pub fn append_borrowed_for(
        &self,
        batch: &BorrowedBatch<'_>,
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        self.head.append_any(batch, Some(&self.wal), writer)
    }

    /// The series a writer's keys name (`None`: not looked up, or not
    /// found), for [`Storage::append_known`]: a request's series sent
    /// before need no labels decoded.
    pub fn find_sent(&self, keys: &[Option<SentKey>]) -> Vec<Option<KnownSeries>> {
        self.head.find_sent(keys)
    }

    /// Like [`Storage::append_borrowed_for`], with the series
    /// [`Storage::find_sent`] found for the batch's series (one per
    /// series, in order, or none): a found series' labels are not read.
    pub fn append_known(
        &self,
        batch: &BorrowedBatch<'_>,
        known: &[Option<KnownSeries>],
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        let batch = crate::head::KnownBatch(batch, known);
        self.head.append_any(&batch, Some(&self.wal), writer)
    }

    /// Stores start timestamps of float samples already appended: per
    /// series, `(t, st)` pairs (`st` in ms; unset or not before `t`: left
    /// out), kept in the series' companion (`start_times.rs`). Call it
    /// after appending the samples themselves; a start timestamp whose
    /// sample was not stored is never read.
    pub fn append_start_times(
        &self,
        owners: &[(Labels, Vec<(i64, i64)>)],
        writer: Option<&Arc<SeriesQuota>>,
    ) -> Result<AppendStats, StorageError> {
        let batch = crate::start_times::companion_batch(owners);
        if batch.series.is_empty() {
            return Ok(AppendStats::default());
        }
        self.head.append_companions(&batch, Some(&self.wal), writer)
    }

    /// Live series, as counted for the active-series limit.
    pub fn active_series(&self) -> u64 {
        self.head.active_series()
    }

    /// A querier over head and partitions for `[mint, maxt]` (inclusive, ms).
    pub fn querier(&self, mint: i64, maxt: i64) -> StorageQuerier<'_> {
        StorageQuerier {
            head: &self.head,
            parts: &self.parts,
            mint,
            maxt,
            gone: self.expiry(false),
        }
    }

    /// A querier over the head alone.
    pub fn head_querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        self.head.querier(mint, maxt)
    }

    /// The open partitions.
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.parts.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes every hour that no acceptable sample can reach any more (it
    /// ended more than the out-of-order window before the newest sample)
    /// as a partition, drops it from the head, then checkpoints and
    /// truncates the WAL. Cheap to call often (e.g. every minute): it does
    /// the work only once another hour has finished, or a backfill (at
    /// least a sample a series) arrived for hours already written; late
    /// samples follow as a further partition for their hour. Then applies
    /// retention.
    pub fn persist(&self) -> Result<PersistStats, StorageError> {
        let mut stats = self.persist_hours()?;
        stats.retention = self.retain()?;
        Ok(stats)
    }

    /// Whether an hour became ready since the last persist: a cheap check
    /// (no pass over the series) for calling `persist` as soon as an hour
    /// ends rather than on a timer.
    pub fn persist_due(&self) -> bool {
        let done = self.head.collected_end().unwrap_or(i64::MIN);
        self.head.ready_end().is_some_and(|e| e > done)
    }

    /// Makes a compaction in progress (and every later one) give up
    /// before its swap, leaving its inputs as they are: for a stop, which
    /// should not wait for a day merge. The next start merges again.
    pub fn interrupt_compaction(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Finished hours held in memory that [`Storage::persist`] would
    /// write now (a figure for tests and self-metrics; `persist_due` is
    /// what the server's persister asks).
    pub fn hours_ready(&self) -> i64 {
        self.head.hours_ready()
    }

    /// `persist` without retention.
    fn persist_hours(&self) -> Result<PersistStats, StorageError> {
        if self.wal.fault().is_some()
            && let Err(e) = self.wal.sync()
        {
            tracing::debug!(error = %e, "WAL still refuses writes");
        }
        let mut last = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats = PersistStats::default();
        // Another hour finished, or at least a sample a series arrived for
        // hours already written: a backfill beside live data, whose newest
        // sample keeps the end in place while old hours fill up. (A few
        // samples of lagging series wait for the next hour instead of
        // making a partition each.) Counted before collecting: what
        // arrives meanwhile counts for the next call.
        let late = self.head.take_late();
        let backfill = late > 0 && late >= self.head.active_series();
        let Some(end) = self
            .head
            .ready_end()
            .filter(|&e| last.is_none_or(|l| e > l || backfill))
        else {
            self.checkpoint_if_outgrown()?;
            return Ok(stats);
        };
        self.roll_wal();
        // Read before collecting: every record below `upto` has its samples
        // in memory already (they are applied before they are logged), and
        // was acknowledged, so no WAL failure can cut it and reuse its LSN.
        // Records after it are replayed on top of the checkpoint, where
        // their samples are duplicates at worst.
        let upto = self.wal.acked_lsn();
        let leaving = self.expiry(true);
        let ready = self
            .head
            .collect_ready(end, &|l, s, h| leaving.apply(l, s, h));
        if ready.is_empty() {
            *last = Some(end);
            self.head.collected(end);
            self.checkpoint_if_outgrown()?;
            return Ok(stats);
        }
        let parts_dir = self.dir.join("parts");
        for (hour, (series, taken)) in ready {
            if series.is_empty() {
                // Deleted or expired whole: nothing reaches a partition.
                self.head.drop_persisted(taken);
                continue;
            }
            stats.series += series.len() as u64;
            let dir = write_partition(&*self.fs, &parts_dir, hour, series, &self.source_label)?;
            let p = Partition::open_with(&*self.fs, &dir)?;
            self.parts
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(Arc::new(p));
            self.head.drop_persisted(taken);
            stats.partitions.push(dir);
        }
        // Series idle since before the persisted hours hold nothing now.
        stats.series_removed = self.head.gc(end);
        self.checkpoint(upto, false)?;
        // Only now: after a failure the next call tries again.
        *last = Some(end);
        self.head.collected(end);
        Ok(stats)
    }

    /// Writes a snapshot into `dst` (which must not exist): the open
    /// partitions hard-linked, and unless `skip_head` the WAL copied (its
    /// checkpoint and segments, synced first), so `dst` opens as a data
    /// directory holding everything acknowledged before the call. No
    /// persist, checkpoint or retention runs meanwhile.
    pub fn snapshot(&self, dst: &Path, skip_head: bool) -> Result<SnapshotStats, StorageError> {
        let _still = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        if !skip_head {
            self.wal.sync()?;
        }
        let parts = crate::snapshot::dirs(&self.partitions());
        crate::snapshot::write(&self.dir, &parts, dst, skip_head)
    }

    /// The head, for the statistics modules of this crate.
    pub(crate) fn head(&self) -> &Head {
        &self.head
    }

    /// The label series are grouped by inside partitions after the metric.
    pub fn source_label(&self) -> &str {
        &self.source_label
    }

    /// Makes everything appended so far durable.
    pub fn flush(&self) -> Result<(), StorageError> {
        Ok(self.wal.sync()?)
    }

    /// Head statistics since open.
    pub fn stats(&self) -> HeadStats {
        self.head.stats()
    }

    /// Series and samples per metric, label name and label pair (top `top`).
    pub fn cardinality(&self, top: usize) -> Cardinality {
        self.head.cardinality(top)
    }

    /// The WAL's counters, for `/metrics`.
    pub fn wal_stats(&self) -> hourglass_wal::WalStats {
        self.wal.stats()
    }

    /// How long fsyncs of WAL segments took since open.
    pub fn wal_fsync_latency(&self) -> hourglass_wal::histogram::Snapshot {
        self.wal.fsync_latency()
    }

    /// Why the WAL refuses writes (a full disk, say), while it does: it
    /// recovers by itself at the next write, sync or persist once the cause
    /// is gone. Never waits for a write in progress.
    pub fn wal_fault(&self) -> Option<String> {
        self.wal.fault()
    }

    /// What WAL recovery found at open (torn tail, corruption).
    pub fn wal_recovery(&self) -> &hourglass_wal::RecoveryReport {
        self.wal.recovery_report()
    }

    /// What recovery replayed at open.
    pub fn replay_stats(&self) -> &ReplayStats {
        &self.replay
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Syncs and closes; the next open replays the WAL.
    pub fn close(self) -> Result<(), StorageError> {
        Ok(self.wal.close()?)
    }

    /// A graceful stop: [`Storage::checkpoint_for_stop`], then close.
    /// Only a failure to sync the WAL is an error.
    pub fn stop(self) -> Result<(), StorageError> {
        self.checkpoint_for_stop();
        self.close()
    }

    /// Persists the hours that are ready (without applying retention),
    /// writes the head as a WAL
    /// checkpoint at the end of the log (its chunks as they are) and
    /// deletes the segments before it, so the next open replays no record
    /// (`head/FORMAT.md`). For a stop, once writers are done; a record
    /// appended after it is replayed on top as usual. If it fails, the WAL
    /// is kept whole and the next open replays it, as after a crash: logged,
    /// not an error.
    pub fn checkpoint_for_stop(&self) {
        let t0 = std::time::Instant::now();
        match self.checkpoint_head() {
            Ok(()) => tracing::info!(
                took_ms = t0.elapsed().as_millis() as u64,
                series = self.head.stats().series,
                "head checkpointed: nothing to replay at the next start"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot checkpoint the head at stop; the next start replays the WAL"
            ),
        }
    }

    /// No retention here: a stop deletes nothing (the next start applies
    /// it, with its own clock and limits).
    fn checkpoint_head(&self) -> Result<(), StorageError> {
        self.persist_hours()?;
        self.wal.roll()?;
        self.checkpoint(self.wal.acked_lsn(), true)
    }

    /// Starts a fresh WAL segment, so the checkpoint about to be written
    /// can delete the one holding the records it restates. Best effort: a
    /// failure only keeps that segment until the next checkpoint.
    fn roll_wal(&self) {
        if let Err(e) = self.wal.roll() {
            tracing::warn!(error = %e, "cannot start a fresh WAL segment");
        }
    }

    /// Checkpoints the head once the records written since the last
    /// checkpoint outweigh [`CHECKPOINT_AFTER_WAL_BYTES`] and half that
    /// checkpoint: samples then sit in the WAL as chunks, not records.
    fn checkpoint_if_outgrown(&self) -> Result<(), StorageError> {
        let since = {
            let c = self.checkpointed.lock().unwrap_or_else(|p| p.into_inner());
            let since = self.wal.stats().bytes.saturating_sub(c.0);
            (since >= CHECKPOINT_AFTER_WAL_BYTES.max(c.1 / 2)).then_some(since)
        };
        let Some(since) = since else {
            return Ok(());
        };
        tracing::debug!(wal_bytes = since, "WAL outgrew its checkpoint");
        self.roll_wal();
        self.checkpoint(self.wal.acked_lsn(), false)
    }

    /// Writes the head as the WAL checkpoint at `upto` (see `persist` for
    /// why every record before it is in the head) and notes its size;
    /// `cold` (a graceful stop) re-encodes it hour by hour.
    fn checkpoint(&self, upto: hourglass_wal::Lsn, cold: bool) -> Result<(), StorageError> {
        let written = self.wal.stats().bytes;
        let mut size = 0u64;
        // A stop's re-encoding on every core; a running server's periodic
        // checkpoint on this thread only, leaving the others to ingest.
        let workers = if cold {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            1
        };
        self.head
            .with_checkpoint_records(cold, workers, |records| {
                self.wal
                    .checkpoint(upto, records.inspect(|r| size += r.len() as u64))
            })?;
        *self.checkpointed.lock().unwrap_or_else(|p| p.into_inner()) = (written, size);
        Ok(())
    }
}

/// Opens every partition under `parts`: an interrupted compaction is
/// finished or undone first, leftover temp directories are removed,
/// corrupt partitions renamed to `<name>.corrupt` and skipped.
fn load_partitions(fs: &dyn Fs, parts: &Path) -> Result<Vec<Arc<Partition>>, StorageError> {
    let io = |source| StorageError::Io {
        path: parts.to_path_buf(),
        source,
    };
    fs.create_dir_all(parts).map_err(io)?;
    crate::compact::recover(fs, parts)?;
    let mut names: Vec<String> = fs
        .list_dir(parts)
        .map_err(io)?
        .into_iter()
        .filter(|e| e.is_dir)
        .map(|e| e.name)
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = parts.join(&name);
        if name.starts_with(".tmp-") || retention::is_leftover(&name) {
            // A write that never reached its rename.
            fs.remove_dir_all(&path).map_err(io)?;
            continue;
        }
        if name.ends_with(".corrupt") {
            continue;
        }
        match Partition::open_with(fs, &path) {
            Ok(p) => out.push(Arc::new(p)),
            Err(e) => {
                tracing::error!(partition = %path.display(), error = %e, "partition quarantined");
                let dst = parts.join(format!("{name}.corrupt"));
                fs.rename(&path, &dst).map_err(io)?;
            }
        }
    }
    Ok(out)
}
