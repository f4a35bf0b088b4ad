//! Healing after a failed write or fsync (a full disk, say): the log is cut
//! back to the end of the last acknowledged record and continues in a
//! fresh segment, so it needs no restart once the cause is gone.
//!
//! Nothing acknowledged is cut: a record is acknowledged only once it is
//! as durable as the sync policy promises, and the cut point only moves
//! then. Records past it were refused to their appenders, and waits begun
//! before the cut fail (the commit epoch changes).

use crate::error::{Error, IoContext, Result};
use crate::segment::segment_name;
use crate::state::{Acked, Shared, Writer};
use std::sync::Arc;

impl Writer {
    /// Clears a standing fault: rebuilds a refused log, or, after a failed
    /// write that was cut back cleanly, proves writes work again by starting
    /// a fresh segment. Called by `sync`, so a periodic sync recovers the
    /// log (and readiness) without waiting for the next append.
    pub(crate) fn recover_from_fault(&mut self, sh: &Shared) -> Result<()> {
        if self.poisoned.is_some() {
            return self.heal(sh);
        }
        if self.faulted {
            let next = self.next_lsn;
            self.roll(sh, next)?;
            self.clear_fault();
        }
        Ok(())
    }

    /// Rebuilds the log after a failure; on failure it stays refused and the
    /// error says why, with the original cause.
    pub(crate) fn heal(&mut self, sh: &Shared) -> Result<()> {
        let Some(why) = self.poisoned.clone() else {
            return Ok(());
        };
        match self.rebuild(sh) {
            Ok(()) => {
                self.poisoned = None;
                self.clear_fault();
                tracing::warn!(
                    after = %why,
                    segment = self.segment,
                    next_lsn = self.next_lsn,
                    "WAL recovered from an earlier failure"
                );
                Ok(())
            }
            Err(e) => Err(Error::Poisoned(format!("{why}; recovery failed: {e}"))),
        }
    }

    fn rebuild(&mut self, sh: &Shared) -> Result<()> {
        let keep = self.acked;
        let dir = &sh.dir;
        // Segments begun after the acknowledged end (one may be a segment
        // whose creation failed) hold nothing acknowledged.
        for n in keep.segment.saturating_add(1)..=self.segment.saturating_add(1) {
            let path = dir.join(segment_name(n));
            if sh.fs.exists(&path) {
                sh.fs.remove_file(&path).at(&path)?;
            }
        }
        let path = dir.join(segment_name(keep.segment));
        let file = if keep.segment == self.segment {
            Arc::clone(&self.file)
        } else {
            sh.fs.open_append(&path).at(&path)?
        };
        file.truncate(keep.offset).at(&path)?;
        file.sync().at(&path)?;
        sh.fs.sync_dir(dir).at(dir)?;
        self.firsts.retain(|&n, _| n <= keep.segment);
        self.file = file;
        self.segment = keep.segment;
        self.segment_len = keep.offset;
        self.next_lsn = keep.lsn;
        self.buf.clear();
        // After a failed fsync the kernel may have dropped pages of this
        // file: write on in a new one.
        self.roll(sh, keep.lsn)?;
        self.acked = Acked {
            segment: self.segment,
            offset: self.segment_len,
            lsn: keep.lsn,
        };
        sh.commit.reset(keep.lsn);
        Ok(())
    }
}
