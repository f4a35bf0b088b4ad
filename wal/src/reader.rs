//! Reading segments back: frame reassembly, LSN numbering, and the verdict
//! on how the log ends (cleanly, torn, or corrupt).
//!
//! A crash can only damage the end of the last segment (earlier segments are
//! fsynced before the next one is started), and only by leaving a prefix of
//! what was written, or zeros. Everything else is corruption: it is reported
//! with the segment and byte offset, and reading stops there.

use crate::error::{IoContext, Result};
use crate::frame::{self, Decoded, FragmentType};
use crate::fs::Fs;
use crate::segment::{SEGMENT_HEADER_LEN, SegmentHeader, segment_name};
use std::path::PathBuf;
use std::sync::Arc;

/// A place in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub segment: u32,
    pub offset: u64,
}

/// How reading ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// Every byte belonged to a whole record.
    Clean,
    /// The last record was cut short by a crash; `cut` is where valid data
    /// ends.
    Torn { cut: Position, reason: &'static str },
    /// Damage found at `at`; `cut` is where valid data ends (earlier than
    /// `at` when the damage hit a record spanning segments).
    Corrupt {
        at: Position,
        cut: Position,
        reason: String,
    },
}

struct Pending {
    lsn: u64,
    start: Position,
    data: Vec<u8>,
}

/// Walks segments in order and yields whole records with their LSNs.
pub(crate) struct Scanner {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    segments: Vec<u32>,
    /// Index into `segments` of the loaded segment, or of the next to load.
    index: usize,
    current: Option<u32>,
    previous: Option<u32>,
    data: Vec<u8>,
    offset: usize,
    /// LSN the next record starting in the log gets (valid once a segment
    /// header has been read).
    next_lsn: u64,
    started: bool,
    pending: Option<Pending>,
    /// Leading continuation fragments are expected at the start of the first
    /// segment read: their record began in a segment truncated away.
    orphans_ok: bool,
    from: u64,
    keep_data: bool,
    end: Option<End>,
    /// First LSN of each segment loaded so far.
    pub(crate) firsts: Vec<(u32, u64)>,
}

impl Scanner {
    /// Reads `segments` (ascending) from the start; records with an LSN below
    /// `from` are skipped; with `keep_data` false, payloads are not copied
    /// out (validation only).
    pub(crate) fn new(
        fs: Arc<dyn Fs>,
        dir: PathBuf,
        segments: Vec<u32>,
        from: u64,
        keep_data: bool,
    ) -> Scanner {
        Scanner {
            fs,
            dir,
            segments,
            index: 0,
            current: None,
            previous: None,
            data: Vec::new(),
            offset: 0,
            next_lsn: 0,
            started: false,
            pending: None,
            orphans_ok: true,
            from,
            keep_data,
            end: None,
            firsts: Vec::new(),
        }
    }

    /// How reading ended; `None` until `next_record` has returned `None`.
    pub(crate) fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The LSN the next record would get, once a segment header was read.
    pub(crate) fn next_lsn(&self) -> Option<u64> {
        self.started.then_some(self.next_lsn)
    }

    fn stop(&mut self, at: Position, reason: &'static str, torn: bool) {
        let cut = self.pending.as_ref().map_or(at, |p| p.start);
        if let Some(p) = self.pending.take() {
            // The unfinished record never got its LSN.
            self.next_lsn = p.lsn;
        }
        self.end = Some(if torn {
            End::Torn { cut, reason }
        } else {
            End::Corrupt {
                at,
                cut,
                reason: reason.to_string(),
            }
        });
    }

    fn is_last(&self) -> bool {
        self.index + 1 >= self.segments.len()
    }

    /// Loads `segments[index]`; false when reading stopped on its header.
    fn load(&mut self, number: u32) -> Result<bool> {
        let at = Position {
            segment: number,
            offset: 0,
        };
        if let Some(prev) = self.previous
            && number != prev.wrapping_add(1)
        {
            self.stop(at, "the segment before this one is missing", false);
            return Ok(false);
        }
        let path = self.dir.join(segment_name(number));
        self.data = self.fs.read(&path).at(&path)?;
        self.offset = SEGMENT_HEADER_LEN;
        let header = match SegmentHeader::decode(&self.data) {
            Ok(h) => h,
            Err(reason) => {
                let torn = self.is_last()
                    && (self.data.len() < SEGMENT_HEADER_LEN || self.data.iter().all(|&b| b == 0));
                self.stop(at, reason, torn);
                return Ok(false);
            }
        };
        if header.number != number {
            self.stop(at, "segment header names another segment", false);
            return Ok(false);
        }
        if !self.started {
            self.started = true;
            self.next_lsn = header.first_lsn;
        } else {
            self.orphans_ok = false;
            if header.first_lsn != self.next_lsn {
                self.stop(at, "segment's first LSN does not follow on", false);
                return Ok(false);
            }
        }
        self.firsts.push((number, header.first_lsn));
        self.current = Some(number);
        Ok(true)
    }

    fn finish(&mut self) {
        match &self.pending {
            Some(p) => {
                let at = p.start;
                self.stop(at, "last record's fragments end early", true);
            }
            None => self.end = Some(End::Clean),
        }
    }

    /// The next whole record at or after `from`, or `None` at the end of the
    /// log (see [`Scanner::end`] for how it ended).
    pub(crate) fn next_record(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            if self.end.is_some() {
                return Ok(None);
            }
            let segment = match self.current {
                Some(s) => s,
                None => {
                    let Some(&number) = self.segments.get(self.index) else {
                        self.finish();
                        return Ok(None);
                    };
                    if !self.load(number)? {
                        return Ok(None);
                    }
                    number
                }
            };
            if self.offset >= self.data.len() {
                self.previous = self.current.take();
                self.index += 1;
                continue;
            }
            let at = Position {
                segment,
                offset: self.offset as u64,
            };
            let (kind, range) = match frame::decode(&self.data[self.offset..]) {
                Decoded::Frame {
                    kind,
                    payload,
                    total,
                } => {
                    let start = self.offset + frame::FRAME_HEADER_LEN;
                    self.offset += total;
                    (kind, start..start + payload.len())
                }
                Decoded::Incomplete => {
                    let torn = self.is_last();
                    self.stop(at, "record cut short", torn);
                    return Ok(None);
                }
                Decoded::Zeros => {
                    let torn = self.is_last();
                    self.stop(at, "zero-filled tail", torn);
                    return Ok(None);
                }
                Decoded::Corrupt(reason) => {
                    self.stop(at, reason, false);
                    return Ok(None);
                }
            };
            if let Some(rec) = self.accept(kind, range, at) {
                return Ok(Some(rec));
            }
        }
    }

    /// Feeds one verified frame into reassembly; returns a finished record.
    fn accept(
        &mut self,
        kind: FragmentType,
        range: std::ops::Range<usize>,
        at: Position,
    ) -> Option<(u64, Vec<u8>)> {
        let payload = &self.data[range];
        match kind {
            FragmentType::Full | FragmentType::First => {
                if self.pending.is_some() {
                    self.stop(
                        at,
                        "new record before the last fragment of the previous",
                        false,
                    );
                    return None;
                }
                self.orphans_ok = false;
                let lsn = self.next_lsn;
                self.next_lsn += 1;
                let wanted = lsn >= self.from;
                let data = if wanted && self.keep_data {
                    payload.to_vec()
                } else {
                    Vec::new()
                };
                if kind == FragmentType::First {
                    self.pending = Some(Pending {
                        lsn,
                        start: at,
                        data,
                    });
                    None
                } else {
                    wanted.then_some((lsn, data))
                }
            }
            FragmentType::Middle | FragmentType::Last => {
                let Some(p) = self.pending.as_mut() else {
                    if !self.orphans_ok {
                        self.stop(at, "fragment without the start of its record", false);
                    }
                    return None;
                };
                let wanted = p.lsn >= self.from;
                if wanted && self.keep_data {
                    p.data.extend_from_slice(payload);
                }
                if kind == FragmentType::Last {
                    let p = self.pending.take()?;
                    return wanted.then_some((p.lsn, p.data));
                }
                None
            }
        }
    }
}
