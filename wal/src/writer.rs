//! The writer: the segment being appended to, framing records into it,
//! rolling to the next segment, and what a failure leaves it refusing.

use crate::error::{Error, IoContext, Result};
use crate::frame::{self, FRAME_HEADER_LEN, FragmentType};
use crate::fs::{Fs, WalFile};
use crate::lock::lock;
use crate::segment::{SEGMENT_HEADER_LEN, SegmentHeader, segment_name};
use crate::state::{Acked, Shared, Writer};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(crate) fn create_segment(
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
    pub(crate) fn new(
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

    pub(crate) fn append(&mut self, sh: &Shared, record: &[u8]) -> Result<u64> {
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

    pub(crate) fn poison(&mut self, e: &Error) {
        self.poison_with(e.to_string());
    }

    pub(crate) fn poison_with(&mut self, why: String) {
        if self.poisoned.is_none() {
            self.note_fault(why.clone());
            self.poisoned = Some(why);
        }
    }

    /// Shows `why` through [`crate::Wal::fault`] until a write succeeds.
    pub(crate) fn note_fault(&mut self, why: String) {
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
    pub(crate) fn advance_acked(&mut self, end: Acked) {
        if end.lsn > self.acked.lsn {
            self.acked = end;
        }
    }

    /// Writes one frame; on failure cuts the file back so that no partial
    /// frame is followed by later ones.
    pub(crate) fn write_frame(
        &mut self,
        sh: &Shared,
        kind: FragmentType,
        payload: &[u8],
    ) -> Result<()> {
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

    pub(crate) fn write_fragments(&mut self, sh: &Shared, lsn: u64, record: &[u8]) -> Result<()> {
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
    pub(crate) fn flush(&mut self, sh: &Shared) -> Result<()> {
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
