//! `Storage`: the engine behind the write and read seams.
//!
//! On disk (so far): `<dir>/wal/` holds the write-ahead log. Opening
//! replays it into the head; partitions (`<dir>/parts/`) come next.

use crate::error::StorageError;
use crate::head::{
    AppendStats, Cardinality, Head, HeadOptions, HeadQuerier, HeadStats, ReplayStats,
};
use crate::model::batch::WriteBatch;
use hourglass_wal::Wal;
use hourglass_wal::fs::Fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How storage is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Head behaviour: cut policy, out-of-order window, retention, limits.
    pub head: HeadOptions,
    /// The WAL's segment size and sync policy.
    pub wal: hourglass_wal::Options,
}

/// The storage engine: WAL + head (partitions to come).
///
/// `append` may be called from many threads at once; it returns once the
/// batch's WAL record is durable per the WAL sync policy.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    head: Head,
    wal: Wal,
    replay: ReplayStats,
}

impl Storage {
    /// Opens (or creates) storage in `dir`, replaying the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Storage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|source| StorageError::Io {
            path: wal_dir.clone(),
            source,
        })?;
        let wal = Wal::open(&wal_dir, opts.wal)?;
        Self::with_wal(dir, wal, opts.head)
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
        let wal = Wal::open_with(fs, &wal_dir, opts.wal)?;
        Self::with_wal(dir, wal, opts.head)
    }

    fn with_wal(dir: PathBuf, wal: Wal, head: HeadOptions) -> Result<Storage, StorageError> {
        let head = Head::new(head);
        let replay = head.replay(&wal)?;
        tracing::info!(
            records = replay.records,
            samples = replay.samples,
            series = head.stats().series,
            "storage opened"
        );
        Ok(Storage {
            dir,
            head,
            wal,
            replay,
        })
    }

    /// Stores a batch: refusals are counted per reason in the result and
    /// never abort the rest of the batch; an `Err` means the WAL failed and
    /// the batch must be considered not acknowledged.
    pub fn append(&self, batch: &WriteBatch) -> Result<AppendStats, StorageError> {
        self.head.append(batch, Some(&self.wal))
    }

    /// A querier over `[mint, maxt]` (inclusive, ms).
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        self.head.querier(mint, maxt)
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

    /// Syncs and closes.
    pub fn close(self) -> Result<(), StorageError> {
        Ok(self.wal.close()?)
    }
}
