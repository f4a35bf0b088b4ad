//! State shared by appenders, `sync` callers and the interval ticker, and
//! how it makes appended records durable: group-commit rounds, the
//! ticker's flush, fsync with its timing.

use crate::error::{Error, Result};
use crate::fs::WalFile;
use crate::lock::lock;
use crate::segment::segment_name;
use crate::state::{Acked, Shared};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Shared {
    pub(crate) fn sync_all(&self) -> Result<()> {
        let (upto, epoch) = {
            let mut w = lock(&self.writer);
            w.recover_from_fault(self)?;
            (w.next_lsn, self.commit.epoch())
        };
        self.commit.wait(upto, epoch, || self.round())
    }

    /// One group commit round: writes out buffered frames and fsyncs them;
    /// returns the LSN bound that made durable.
    pub(crate) fn round(&self) -> Result<u64> {
        let (file, end, epoch) = self.flush_current()?;
        self.fsync(&file, end.segment)?;
        self.acknowledge(end, epoch)?;
        Ok(end.lsn)
    }

    /// Records that everything up to `end` is durable, unless the log was
    /// cut back since (`epoch` changed): then those records are gone.
    pub(crate) fn acknowledge(&self, end: Acked, epoch: u64) -> Result<()> {
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
    pub(crate) fn tick(&self) {
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
    pub(crate) fn flush_current(&self) -> Result<(Arc<dyn WalFile>, Acked, u64)> {
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
    pub(crate) fn sync_file(&self, file: &Arc<dyn WalFile>, end: Acked, epoch: u64) -> Result<()> {
        self.fsync(file, end.segment)?;
        self.acknowledge(end, epoch)?;
        self.commit.publish(end.lsn);
        Ok(())
    }

    pub(crate) fn fsync(&self, file: &Arc<dyn WalFile>, segment: u32) -> Result<()> {
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
