//! The log itself: opening (with recovery), appending, group commit,
//! replay and truncation.

use crate::checkpoint::{self, CheckpointRecords};
use crate::commit::Commit;
use crate::error::{Error, IoContext, Result};
use crate::frame::{self, FRAME_HEADER_LEN, FragmentType};
use crate::fs::{Fs, StdFs, WalFile};
use crate::histogram::{FINE_BUCKETS, Histogram, Snapshot};
use crate::interval::Ticker;
use crate::options::{MIN_SEGMENT_SIZE, Options, SyncPolicy};
use crate::reader::{End, Position, Scanner};
use crate::record::{Lsn, Record};
use crate::recovery::{self, RecoveryReport};
use crate::segment::{SEGMENT_HEADER_LEN, SegmentHeader, parse_segment_name, segment_name};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

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

pub(crate) struct Shared {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) dir: PathBuf,
    opts: Options,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) commit: Commit,
    counters: Counters,
    /// How long each fsync of a segment took.
    fsync_latency: Histogram,
    /// Why appends are refused, while they are; read by [`Wal::fault`]
    /// without waiting for the writer.
    fault: Arc<Mutex<Option<String>>>,
}

#[derive(Default)]
struct Counters {
    appends: AtomicU64,
    bytes: AtomicU64,
    fsyncs: AtomicU64,
    fsync_nanos: AtomicU64,
}

/// State of the segment being appended to. Guarded by one mutex that is
/// never held across an fsync.
pub(crate) struct Writer {
    pub(crate) file: Arc<dyn WalFile>,
    pub(crate) segment: u32,
    /// Logical length: bytes written plus bytes buffered.
    pub(crate) segment_len: u64,
    pub(crate) next_lsn: u64,
    /// First LSN of every segment on disk.
    pub(crate) firsts: BTreeMap<u32, u64>,
    /// Where the last record acknowledged to a caller ends: what healing
    /// after a failure cuts the log back to.
    pub(crate) acked: Acked,
    pub(crate) fault: Arc<Mutex<Option<String>>>,
    /// `fault` holds a reason: cleared by the next successful write.
    pub(crate) faulted: bool,
    /// Under group commit, frames wait here for the round's leader, who
    /// writes them in one call before its fsync: nobody is acknowledged
    /// before that fsync anyway, and it saves a syscall per append.
    buffered: bool,
    pub(crate) buf: Vec<u8>,
    pub(crate) poisoned: Option<String>,
}

/// The end of an acknowledged record: its segment, the byte after it, and
/// the LSN the next record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acked {
    pub(crate) segment: u32,
    pub(crate) offset: u64,
    pub(crate) lsn: u64,
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
        Ok(Replay {
            scanner: Scanner::new(
                Arc::clone(&self.shared.fs),
                self.shared.dir.clone(),
                segments,
                from.0,
                true,
            ),
            known: self.known_damage.clone(),
            seen: 0,
            done: false,
        })
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

/// Scans the log, repairs its end, and returns the writer positioned after
/// the last whole record.
fn recover(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    segments: &[u32],
    fresh_lsn: u64,
) -> Result<(Writer, RecoveryReport, Vec<Position>)> {
    let mut scanner = Scanner::new(
        Arc::clone(fs),
        dir.to_path_buf(),
        segments.to_vec(),
        u64::MAX,
        false,
    );
    while scanner.next_record()?.is_some() {}
    let end = scanner.end().cloned().unwrap_or(End::Clean);
    let mut firsts: BTreeMap<u32, u64> = scanner.firsts.iter().copied().collect();
    let next_lsn = scanner.next_lsn().unwrap_or(fresh_lsn);
    let first_lsn = firsts.values().next().copied().unwrap_or(next_lsn);
    let mut report = RecoveryReport {
        records: next_lsn.saturating_sub(first_lsn),
        next_lsn: Lsn(next_lsn),
        ..RecoveryReport::default()
    };
    for d in &scanner.damages {
        let file = dir.join(segment_name(d.at.segment));
        let kept_aside = if fs.exists(&file) {
            let base = PathBuf::from(format!("{}.corrupt", file.display()));
            Some(recovery::copy_aside(&**fs, &file, base)?)
        } else {
            None
        };
        tracing::error!(
            file = %file.display(),
            offset = d.at.offset,
            bytes = d.bytes,
            records = d.records,
            exact = d.exact,
            reason = d.reason,
            kept_aside = ?kept_aside,
            "WAL segment damaged; reading skips it and keeps what follows"
        );
        report.damage.push(recovery::Damage {
            file,
            offset: d.at.offset,
            bytes: d.bytes,
            records: d.records,
            exact: d.exact,
            reason: d.reason.to_string(),
            kept_aside,
        });
    }
    let cut = match &end {
        End::Clean => None,
        End::Torn { cut, reason } => {
            let bytes_cut = recovery::bytes_from(&**fs, dir, segments, *cut)?;
            tracing::warn!(
                segment = cut.segment,
                offset = cut.offset,
                bytes_cut,
                reason,
                "WAL ends in a torn record; cutting it off"
            );
            report.torn_tail = Some(recovery::TornTail {
                segment: cut.segment,
                offset: cut.offset,
                bytes_cut,
                reason,
            });
            Some(*cut)
        }
        End::Corrupt { at, cut, reason } => {
            let kept_aside = recovery::keep_aside(&**fs, dir, segments, *cut)?;
            tracing::error!(
                segment = at.segment,
                offset = at.offset,
                reason = %reason,
                kept_aside = ?kept_aside,
                "WAL corrupt; replay stops here and the rest is kept aside"
            );
            report.corruption = Some(recovery::Corruption {
                segment: at.segment,
                offset: at.offset,
                reason: reason.clone(),
                kept_aside,
            });
            Some(*cut)
        }
    };
    if let Some(cut) = cut {
        recovery::cut_at(&**fs, dir, segments, cut)?;
        firsts.retain(|&n, _| {
            n < cut.segment || (n == cut.segment && cut.offset >= SEGMENT_HEADER_LEN as u64)
        });
    }
    let writer = match firsts.iter().next_back() {
        Some((&segment, _)) => {
            let path = dir.join(segment_name(segment));
            let file = fs.open_append(&path).at(&path)?;
            let segment_len = file.size().at(&path)?;
            file.sync().at(&path)?;
            Writer::new(file, segment, segment_len, next_lsn, firsts)
        }
        None => {
            let segment = cut.map_or(0, |c| c.segment);
            let (file, segment_len) = create_segment(&**fs, dir, segment, next_lsn)?;
            file.sync().at(dir.join(segment_name(segment)))?;
            firsts.insert(segment, next_lsn);
            Writer::new(file, segment, segment_len, next_lsn, firsts)
        }
    };
    fs.sync_dir(dir).at(dir)?;
    let known = scanner.damages.iter().map(|d| d.at).collect();
    Ok((writer, report, known))
}

fn create_segment(
    fs: &dyn Fs,
    dir: &Path,
    number: u32,
    first_lsn: u64,
) -> Result<(Arc<dyn WalFile>, u64)> {
    let path = dir.join(segment_name(number));
    let file = fs.create(&path).at(&path)?;
    let header = SegmentHeader { first_lsn, number }.encode();
    file.write_all(&header).at(&path)?;
    fs.sync_dir(dir).at(dir)?;
    Ok((file, SEGMENT_HEADER_LEN as u64))
}

impl Writer {
    fn new(
        file: Arc<dyn WalFile>,
        segment: u32,
        segment_len: u64,
        next_lsn: u64,
        firsts: BTreeMap<u32, u64>,
    ) -> Writer {
        Writer {
            file,
            segment,
            segment_len,
            next_lsn,
            firsts,
            acked: Acked {
                segment,
                offset: segment_len,
                lsn: next_lsn,
            },
            fault: Arc::default(),
            faulted: false,
            buffered: false,
            buf: Vec::new(),
            poisoned: None,
        }
    }

    fn append(&mut self, sh: &Shared, record: &[u8]) -> Result<u64> {
        if let Some(why) = &self.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        let lsn = self.next_lsn;
        let segment_size = sh.opts.segment_size;
        let whole = (FRAME_HEADER_LEN + record.len()) as u64;
        // A recovered segment may exceed a since-lowered segment size.
        let room = segment_size.saturating_sub(self.segment_len);
        let result = if whole <= room {
            self.write_frame(sh, FragmentType::Full, record)
        } else if whole + SEGMENT_HEADER_LEN as u64 <= segment_size {
            self.roll(sh, lsn)
                .and_then(|()| self.write_frame(sh, FragmentType::Full, record))
                .inspect_err(|e| self.poison(e))
        } else {
            self.write_fragments(sh, lsn, record)
                .inspect_err(|e| self.poison(e))
        };
        if !self.buffered && self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        result?;
        self.next_lsn += 1;
        Ok(lsn)
    }

    fn poison(&mut self, e: &Error) {
        self.poison_with(e.to_string());
    }

    fn poison_with(&mut self, why: String) {
        if self.poisoned.is_none() {
            self.note_fault(why.clone());
            self.poisoned = Some(why);
        }
    }

    /// Shows `why` through [`Wal::fault`] until a write succeeds.
    fn note_fault(&mut self, why: String) {
        *lock(&self.fault) = Some(why);
        self.faulted = true;
    }

    pub(crate) fn clear_fault(&mut self) {
        if self.faulted {
            *lock(&self.fault) = None;
            self.faulted = false;
        }
    }

    /// Moves the acknowledged end forward to `end` (never back).
    fn advance_acked(&mut self, end: Acked) {
        if end.lsn > self.acked.lsn {
            self.acked = end;
        }
    }

    /// Writes one frame; on failure cuts the file back so that no partial
    /// frame is followed by later ones.
    fn write_frame(&mut self, sh: &Shared, kind: FragmentType, payload: &[u8]) -> Result<()> {
        if self.buffered {
            let before = self.buf.len();
            frame::encode(&mut self.buf, kind, payload);
            let len = (self.buf.len() - before) as u64;
            self.segment_len += len;
            sh.counters.bytes.fetch_add(len, Ordering::Relaxed);
            return Ok(());
        }
        self.buf.clear();
        frame::encode(&mut self.buf, kind, payload);
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.segment_len += self.buf.len() as u64;
                sh.counters
                    .bytes
                    .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(source) => {
                let path = sh.dir.join(segment_name(self.segment));
                self.note_fault(format!("write to {} failed: {source}", path.display()));
                if let Err(cut) = self.file.truncate(self.segment_len) {
                    self.poison_with(format!(
                        "write failed ({source}) and cutting the partial write back failed ({cut})"
                    ));
                }
                Err(Error::Io { path, source })
            }
        }
    }

    fn write_fragments(&mut self, sh: &Shared, lsn: u64, record: &[u8]) -> Result<()> {
        let segment_size = sh.opts.segment_size;
        if segment_size.saturating_sub(self.segment_len) <= FRAME_HEADER_LEN as u64 {
            self.roll(sh, lsn)?;
        }
        let mut rest = record;
        let mut first = true;
        loop {
            let room = (segment_size.saturating_sub(self.segment_len) as usize)
                .saturating_sub(FRAME_HEADER_LEN)
                .max(1);
            let n = room.min(rest.len());
            let last = n == rest.len();
            let kind = match (first, last) {
                (true, true) => FragmentType::Full,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
                (false, true) => FragmentType::Last,
            };
            self.write_frame(sh, kind, &rest[..n])?;
            rest = &rest[n..];
            first = false;
            if last {
                return Ok(());
            }
            // Records starting in the next segment begin after this one.
            self.roll(sh, lsn + 1)?;
        }
    }

    /// Hands buffered frames to the OS. A failure poisons the log: those
    /// frames already have LSNs that later records count on.
    fn flush(&mut self, sh: &Shared) -> Result<()> {
        if !self.buffered || self.buf.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buf).map_err(|source| Error::Io {
            path: sh.dir.join(segment_name(self.segment)),
            source,
        });
        if let Err(e) = &result {
            self.poison(e);
        }
        self.buf.clear();
        if self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        result
    }

    /// Seals the current segment (fsynced, so a crash can only ever tear the
    /// last one) and starts the next, whose first record will be `first_lsn`.
    pub(crate) fn roll(&mut self, sh: &Shared, first_lsn: u64) -> Result<()> {
        let old = sh.dir.join(segment_name(self.segment));
        self.flush(sh)?;
        self.file.sync().at(&old)?;
        let number = self.segment + 1;
        let (file, len) = create_segment(&*sh.fs, &sh.dir, number, first_lsn)?;
        self.file = file;
        self.segment = number;
        self.segment_len = len;
        self.firsts.insert(number, first_lsn);
        Ok(())
    }
}

impl Shared {
    fn sync_all(&self) -> Result<()> {
        let (upto, epoch) = {
            let mut w = lock(&self.writer);
            w.recover_from_fault(self)?;
            (w.next_lsn, self.commit.epoch())
        };
        self.commit.wait(upto, epoch, || self.round())
    }

    /// One group commit round: writes out buffered frames and fsyncs them;
    /// returns the LSN bound that made durable.
    fn round(&self) -> Result<u64> {
        let (file, end, epoch) = self.flush_current()?;
        self.fsync(&file, end.segment)?;
        self.acknowledge(end, epoch)?;
        Ok(end.lsn)
    }

    /// Records that everything up to `end` is durable, unless the log was
    /// cut back since (`epoch` changed): then those records are gone.
    fn acknowledge(&self, end: Acked, epoch: u64) -> Result<()> {
        let mut w = lock(&self.writer);
        if self.commit.epoch() != epoch {
            return Err(Error::Poisoned(
                "the log was rebuilt after a failure and this record was not kept".into(),
            ));
        }
        w.advance_acked(end);
        Ok(())
    }

    /// [`SyncPolicy::Interval`]: fsync whatever was appended since the last
    /// tick.
    fn tick(&self) {
        if lock(&self.writer).next_lsn <= self.commit.durable_upto() {
            return;
        }
        match self.sync_all() {
            Ok(()) | Err(Error::Poisoned(_)) => {}
            Err(e) => tracing::warn!(error = %e, "WAL interval sync failed"),
        }
    }

    /// Writes out buffered frames; returns the segment file to fsync, where
    /// what that fsync makes durable ends, and the epoch it belongs to.
    fn flush_current(&self) -> Result<(Arc<dyn WalFile>, Acked, u64)> {
        let mut w = lock(&self.writer);
        if let Some(why) = &w.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        w.flush(self)?;
        let end = Acked {
            segment: w.segment,
            offset: w.segment_len,
            lsn: w.next_lsn,
        };
        Ok((Arc::clone(&w.file), end, self.commit.epoch()))
    }

    /// [`SyncPolicy::Always`]: this appender's own fsync.
    fn sync_file(&self, file: &Arc<dyn WalFile>, end: Acked, epoch: u64) -> Result<()> {
        self.fsync(file, end.segment)?;
        self.acknowledge(end, epoch)?;
        self.commit.publish(end.lsn);
        Ok(())
    }

    fn fsync(&self, file: &Arc<dyn WalFile>, segment: u32) -> Result<()> {
        let _span = tracing::debug_span!("wal_fsync", segment).entered();
        let t0 = Instant::now();
        match file.sync() {
            Ok(()) => {
                let took = t0.elapsed();
                self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .fsync_nanos
                    .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                self.fsync_latency.observe_duration(took);
                tracing::trace!(took_us = took.as_micros() as u64, "fsynced");
                Ok(())
            }
            Err(source) => {
                // After a failed fsync the kernel may have dropped the dirty
                // pages: nothing written since the last good fsync can be
                // trusted, so stop accepting appends.
                let e = Error::Io {
                    path: self.dir.join(segment_name(segment)),
                    source,
                };
                lock(&self.writer).poison(&e);
                Err(e)
            }
        }
    }
}

/// Records read back by [`Wal::replay`].
pub struct Replay {
    scanner: Scanner,
    /// Damage reported when the log was opened: skipped without an error.
    known: Vec<Position>,
    /// Entries of the scanner's damage list looked at so far.
    seen: usize,
    done: bool,
}

impl Iterator for Replay {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let next = self.scanner.next_record();
        // Damage that appeared since the log was opened stops replay.
        while let Some(d) = self.scanner.damages.get(self.seen) {
            self.seen += 1;
            if !self.known.contains(&d.at) {
                self.done = true;
                return Some(Err(corrupt(d.at, d.reason)));
            }
        }
        match next {
            Ok(Some((lsn, data))) => Some(Ok(Record {
                lsn: Lsn(lsn),
                data,
            })),
            Ok(None) => {
                self.done = true;
                match self.scanner.end() {
                    Some(End::Corrupt { at, reason, .. }) => Some(Err(corrupt(*at, reason))),
                    _ => None,
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn corrupt(at: Position, reason: &str) -> Error {
    Error::Corrupt {
        segment: at.segment,
        offset: at.offset,
        reason: reason.to_string(),
    }
}
