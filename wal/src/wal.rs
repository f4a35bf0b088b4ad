//! The log itself: opening, appending, syncing, replay, truncation and
//! checkpoints; the writer (writer.rs), durability rounds (sync.rs),
//! reopening (reopen.rs) and replay (replay.rs) sit beside it.

use crate::checkpoint::{self, CheckpointRecords};
use crate::commit::Commit;
use crate::error::{Error, IoContext, Result};
use crate::fs::{Fs, StdFs};
use crate::histogram::{FINE_BUCKETS, Histogram, Snapshot};
use crate::interval::Ticker;
use crate::lock::lock;
use crate::options::{MIN_SEGMENT_SIZE, Options, SyncPolicy};
use crate::reader::{Position, Scanner};
use crate::record::Lsn;
use crate::recovery::RecoveryReport;
use crate::reopen::recover;
use crate::replay::Replay;
use crate::segment::{SEGMENT_HEADER_LEN, parse_segment_name, segment_name};
use crate::state::Acked;
use crate::state::{Counters, Shared};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// A segmented, checksummed write-ahead log.
///
/// `Wal` is `Send + Sync`: append from as many threads as you like. Under
/// [`SyncPolicy::Group`] appenders that arrive while an fsync is in flight
/// share the next one, run by one of them, so throughput grows with
/// concurrency.
///
/// ```
/// use hourglass_wal::{Lsn, Options, Wal};
/// let dir = tempfile::tempdir().unwrap();
/// let wal = Wal::open(dir.path(), Options::default()).unwrap();
/// let lsn = wal.append(b"batch of samples").unwrap();
/// assert_eq!(lsn, Lsn(1));
/// drop(wal);
///
/// let wal = Wal::open(dir.path(), Options::default()).unwrap();
/// let records: Vec<_> = wal.replay(Lsn(0)).unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(records[0].data, b"batch of samples");
/// ```
pub struct Wal {
    shared: Arc<Shared>,
    /// Runs only under [`SyncPolicy::Interval`].
    ticker: Option<Ticker>,
    report: RecoveryReport,
    /// Segment damage recovery found and reported; replay skips it quietly.
    known_damage: Vec<Position>,
    closed: bool,
}

/// Figures for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalStats {
    /// Records appended since open.
    pub appends: u64,
    /// Bytes written since open, framing included.
    pub bytes: u64,
    /// Successful fsyncs since open.
    pub fsyncs: u64,
    /// Time spent in fsync since open.
    pub fsync_seconds: f64,
    /// Segment files on disk.
    pub segments: usize,
    /// The LSN the next append gets.
    pub next_lsn: Lsn,
    /// Whether an earlier failure stopped appends.
    pub poisoned: bool,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` on the real file system,
    /// recovering from a crash or damage as [`Wal::open_with`] describes.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Wal> {
        Wal::open_with(Arc::new(StdFs), dir, opts)
    }

    /// Opens the log in `dir` through `fs`.
    ///
    /// Recovery: a torn last record is cut off and logged; damaged stretches
    /// (in segments or the checkpoint) are logged with their file and
    /// offset, a copy of each damaged file is kept aside, and reading skips
    /// them and keeps what follows; corruption with nothing readable after
    /// it is copied aside into `*.corrupt` files and the log continues from
    /// the last whole record before it. [`Wal::recovery_report`] says what
    /// was found (see `FORMAT.md`).
    pub fn open_with(fs: Arc<dyn Fs>, dir: impl AsRef<Path>, opts: Options) -> Result<Wal> {
        validate(&opts)?;
        let dir = dir.as_ref().to_path_buf();
        fs.create_dir_all(&dir).at(&dir)?;
        checkpoint::clean_up(&*fs, &dir)?;
        let fresh_lsn = checkpoint::latest(&*fs, &dir)?.unwrap_or(1);
        let mut segments: Vec<u32> = fs
            .list_dir(&dir)
            .at(&dir)?
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| parse_segment_name(&e.name))
            .collect();
        segments.sort_unstable();

        let (mut writer, mut report, known_damage) = recover(&fs, &dir, &segments, fresh_lsn)?;
        if let Some(upto) = checkpoint::latest(&*fs, &dir)? {
            let damage = checkpoint::check(&fs, &dir, upto)?;
            for d in &damage {
                tracing::error!(
                    file = %d.file.display(),
                    offset = d.offset,
                    bytes = d.bytes,
                    records = d.records,
                    reason = %d.reason,
                    kept_aside = ?d.kept_aside,
                    "WAL checkpoint damaged; its intact records are kept"
                );
            }
            report.damage.extend(damage);
        }
        writer.buffered = opts.sync == SyncPolicy::Group;
        let next_lsn = writer.next_lsn;
        let fault = Arc::clone(&writer.fault);
        let shared = Arc::new(Shared {
            fs,
            dir,
            opts,
            writer: Mutex::new(writer),
            commit: Commit::new(next_lsn),
            counters: Counters::default(),
            fsync_latency: Histogram::new(FINE_BUCKETS),
            fault,
        });
        let ticker = match shared.opts.sync {
            SyncPolicy::Interval(every) => {
                let for_thread = Arc::clone(&shared);
                let ticker = Ticker::spawn(every, move || for_thread.tick()).at(&shared.dir)?;
                Some(ticker)
            }
            _ => None,
        };
        tracing::debug!(dir = %shared.dir.display(), next_lsn, "WAL opened");
        Ok(Wal {
            shared,
            ticker,
            report,
            known_damage,
            closed: false,
        })
    }

    /// Appends one record and returns its LSN.
    ///
    /// Under [`SyncPolicy::Always`] and [`SyncPolicy::Group`] it returns only
    /// once the record is durable. An empty record is allowed.
    pub fn append(&self, record: &[u8]) -> Result<Lsn> {
        self.append_batch(&[record])
    }

    /// Appends `records` in order, with consecutive LSNs, and returns the
    /// first one's (the next LSN if `records` is empty).
    ///
    /// Under [`SyncPolicy::Always`] and [`SyncPolicy::Group`] it returns only
    /// once all of them are durable, having waited once for the lot: one
    /// fsync, or one share of a group commit round. If any record is too
    /// large nothing is appended; on another error a prefix of the batch
    /// may have been appended, and none of it is reported durable.
    pub fn append_batch<R: AsRef<[u8]>>(&self, records: &[R]) -> Result<Lsn> {
        let sh = &*self.shared;
        let max = sh.opts.max_record_size;
        if let Some(r) = records.iter().find(|r| r.as_ref().len() > max) {
            return Err(Error::RecordTooLarge {
                size: r.as_ref().len(),
                max,
            });
        }
        let (first, next, file, end, epoch) = {
            let mut w = lock(&sh.writer);
            if w.poisoned.is_some() {
                w.heal(sh)?;
            }
            let first = w.next_lsn;
            let result = records
                .iter()
                .try_for_each(|r| w.append(sh, r.as_ref()).map(drop));
            // Counted even if a later record failed: those before it are in
            // the log.
            sh.counters
                .appends
                .fetch_add(w.next_lsn - first, Ordering::Relaxed);
            result?;
            if w.poisoned.is_none() {
                w.clear_fault();
            }
            let end = Acked {
                segment: w.segment,
                offset: w.segment_len,
                lsn: w.next_lsn,
            };
            if matches!(sh.opts.sync, SyncPolicy::Interval(_) | SyncPolicy::Never) {
                // Acknowledged once written.
                w.advance_acked(end);
            }
            (
                first,
                w.next_lsn,
                Arc::clone(&w.file),
                end,
                sh.commit.epoch(),
            )
        };
        if next > first {
            match sh.opts.sync {
                SyncPolicy::Always => sh.sync_file(&file, end, epoch)?,
                SyncPolicy::Group => sh.commit.wait(next, epoch, || sh.round())?,
                SyncPolicy::Interval(_) | SyncPolicy::Never => {}
            }
        }
        Ok(Lsn(first))
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> Result<()> {
        self.shared.sync_all()
    }

    /// Why appends are refused, while an earlier write or fsync failure
    /// stands; `None` when the log accepts appends. The next append (or
    /// [`Wal::sync`]) tries to recover: it cuts the log back to the last
    /// acknowledged record and continues in a fresh segment. Never waits
    /// for a write or fsync in progress.
    pub fn fault(&self) -> Option<String> {
        lock(&self.shared.fault).clone()
    }

    /// Every record below this LSN was acknowledged to its appender. After
    /// a failure the log is cut back to here and the LSNs after it are
    /// given out again, so a checkpoint must not claim more.
    pub fn acked_lsn(&self) -> Lsn {
        Lsn(lock(&self.shared.writer).acked.lsn)
    }

    /// The LSN the next append will get.
    pub fn next_lsn(&self) -> Lsn {
        Lsn(lock(&self.shared.writer).next_lsn)
    }

    /// What recovery found when the log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// How long fsyncs of segments took since open.
    pub fn fsync_latency(&self) -> Snapshot {
        self.shared.fsync_latency.snapshot()
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        let c = &self.shared.counters;
        let w = lock(&self.shared.writer);
        WalStats {
            appends: c.appends.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            fsync_seconds: c.fsync_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            segments: w.firsts.len(),
            next_lsn: Lsn(w.next_lsn),
            poisoned: w.poisoned.is_some(),
        }
    }

    /// Reads records with LSN ≥ `from`, oldest first.
    ///
    /// Meant for startup, before appends begin; it must not run concurrently
    /// with [`Wal::truncate_before`]. Damage that [`Wal::open`] reported is
    /// skipped; damage that appeared since ends the iteration with
    /// [`Error::Corrupt`].
    pub fn replay(&self, from: Lsn) -> Result<Replay> {
        let w = lock(&self.shared.writer);
        let start = w
            .firsts
            .iter()
            .rev()
            .find(|&(_, &first)| first <= from.0)
            .or_else(|| w.firsts.iter().next())
            .map(|(&n, _)| n)
            .unwrap_or(w.segment);
        let last = w.segment;
        drop(w);
        // The files on disk, as `open` read them: segments it skipped as
        // damaged are read (and skipped) again, not taken for missing.
        let dir = &self.shared.dir;
        let mut segments: Vec<u32> = self
            .shared
            .fs
            .list_dir(dir)
            .at(dir)?
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| parse_segment_name(&e.name))
            .filter(|n| (start..=last).contains(n))
            .collect();
        segments.sort_unstable();
        let scanner = Scanner::new(
            Arc::clone(&self.shared.fs),
            self.shared.dir.clone(),
            segments,
            from.0,
            true,
        );
        Ok(Replay::new(scanner, self.known_damage.clone()))
    }

    /// Deletes segments that hold only records with LSN < `lsn`. The segment
    /// being appended to is always kept. Returns how many were deleted.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<usize> {
        let sh = &*self.shared;
        let mut w = lock(&sh.writer);
        if lsn.0 > w.next_lsn {
            return Err(Error::BeyondEnd {
                lsn: lsn.0,
                next: w.next_lsn,
            });
        }
        let numbers: Vec<(u32, u64)> = w.firsts.iter().map(|(&n, &f)| (n, f)).collect();
        let mut removed = 0;
        for pair in numbers.windows(2) {
            let [(seg, _), (_, next_first)] = [pair[0], pair[1]];
            if next_first > lsn.0 || seg == w.segment {
                break;
            }
            let path = sh.dir.join(segment_name(seg));
            sh.fs.remove_file(&path).at(&path)?;
            w.firsts.remove(&seg);
            removed += 1;
        }
        if removed > 0
            && let Some(&oldest) = w.firsts.keys().next()
        {
            // Segments that reading skipped as damaged (their copies are
            // kept aside) go once the log has moved past them.
            for e in sh.fs.list_dir(&sh.dir).at(&sh.dir)? {
                if let Some(n) = parse_segment_name(&e.name).filter(|&n| n < oldest) {
                    let path = sh.dir.join(segment_name(n));
                    sh.fs.remove_file(&path).at(&path)?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            sh.fs.sync_dir(&sh.dir).at(&sh.dir)?;
            tracing::debug!(removed, before = lsn.0, "WAL segments truncated");
        }
        Ok(removed)
    }

    /// Makes every record durable, then seals the current segment and
    /// starts an empty one, so that a checkpoint at [`Wal::acked_lsn`] can
    /// delete every segment holding records (a graceful stop does this).
    /// Does nothing when the current segment holds no frame yet.
    pub fn roll(&self) -> Result<()> {
        let sh = &*self.shared;
        sh.sync_all()?;
        let mut w = lock(&sh.writer);
        if let Some(why) = &w.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        if w.segment_len <= SEGMENT_HEADER_LEN as u64 {
            return Ok(());
        }
        let next = w.next_lsn;
        if let Err(e) = w.roll(sh, next) {
            w.poison(&e);
            return Err(e);
        }
        if w.acked.lsn == next {
            // Nothing in flight: a later cut-back starts in the new segment.
            w.acked = Acked {
                segment: w.segment,
                offset: w.segment_len,
                lsn: next,
            };
        }
        Ok(())
    }

    /// Writes a checkpoint: `records` stand for everything before `upto`,
    /// which must not be past [`Wal::acked_lsn`].
    /// Once it is durable, segments wholly before `upto` and older
    /// checkpoints are deleted. Call it from one thread at a time.
    pub fn checkpoint<I, R>(&self, upto: Lsn, records: I) -> Result<()>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let sh = &*self.shared;
        // Beyond the acknowledged end, a failure could cut records the
        // checkpoint claims and hand their LSNs to new ones, which replay
        // would then skip.
        let next = lock(&sh.writer).acked.lsn;
        if upto.0 > next {
            return Err(Error::BeyondEnd { lsn: upto.0, next });
        }
        checkpoint::write(&*sh.fs, &sh.dir, upto.0, records, sh.opts.max_record_size)?;
        self.truncate_before(upto)?;
        checkpoint::remove_older(&*sh.fs, &sh.dir, upto.0)
    }

    /// The newest checkpoint: its `upto` LSN and its records. Replay the log
    /// from that LSN after applying them.
    pub fn read_checkpoint(&self) -> Result<Option<(Lsn, CheckpointRecords)>> {
        let sh = &*self.shared;
        match checkpoint::latest(&*sh.fs, &sh.dir)? {
            None => Ok(None),
            Some(upto) => Ok(Some((
                Lsn(upto),
                checkpoint::read(Arc::clone(&sh.fs), &sh.dir, upto),
            ))),
        }
    }

    /// Syncs and closes the log, reporting a failure to sync.
    pub fn close(mut self) -> Result<()> {
        self.closed = true;
        let result = self.shared.sync_all();
        self.stop_ticker();
        result
    }

    fn stop_ticker(&mut self) {
        if let Some(mut ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if !self.closed
            && let Err(e) = self.shared.sync_all()
        {
            tracing::warn!(error = %e, "WAL sync on drop failed");
        }
        self.stop_ticker();
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("opts", &self.shared.opts)
            .finish_non_exhaustive()
    }
}

fn validate(opts: &Options) -> Result<()> {
    if opts.segment_size < MIN_SEGMENT_SIZE || opts.segment_size > u64::from(u32::MAX) {
        return Err(Error::InvalidOption {
            field: "segment_size",
            reason: format!(
                "{} is outside {MIN_SEGMENT_SIZE}..={}",
                opts.segment_size,
                u32::MAX
            ),
        });
    }
    if opts.max_record_size == 0 || opts.max_record_size > u32::MAX as usize {
        return Err(Error::InvalidOption {
            field: "max_record_size",
            reason: format!("{} is outside 1..={}", opts.max_record_size, u32::MAX),
        });
    }
    if let SyncPolicy::Interval(d) = opts.sync
        && d.is_zero()
    {
        return Err(Error::InvalidOption {
            field: "sync",
            reason: "the sync interval must be positive".into(),
        });
    }
    Ok(())
}
