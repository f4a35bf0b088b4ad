//! Reading segments back: frame reassembly, LSN numbering, and the verdict
//! on how the log ends (cleanly, torn, or corrupt).
//!
//! A crash can only damage the end of the last segment (earlier segments are
//! fsynced before the next one is started), and only by leaving a prefix of
//! what was written, or zeros. Everything else is corruption. Reading skips
//! it when it can: to the next whole frame (found by its checksums) or the
//! next segment, whose header says how many records were lost in between;
//! each skip is listed in [`Scanner::damages`]. Corruption with nothing
//! readable after it ends the log there.

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

/// A stretch of damaged bytes that reading skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damaged {
    pub at: Position,
    pub bytes: u64,
    /// Records lost: exact once a later segment header re-anchored the
    /// numbering, else one per damaged stretch (the usual case of one
    /// damaged frame).
    pub records: u64,
    pub exact: bool,
    pub reason: &'static str,
}

/// What loading a segment found.
enum Load {
    Ready,
    /// Its header is damaged: the whole segment was skipped.
    Skipped,
    /// Reading stopped.
    Stopped,
}

/// Records starting in `frames` (a segment's bytes after its header) and
/// whether every byte belonged to a whole frame.
fn count_records(mut frames: &[u8]) -> (u64, bool) {
    let mut n = 0;
    while !frames.is_empty() {
        match frame::decode(frames) {
            Decoded::Frame { kind, total, .. } => {
                if matches!(kind, FragmentType::Full | FragmentType::First) {
                    n += 1;
                }
                frames = &frames[total..];
            }
            _ => return (n, false),
        }
    }
    (n, true)
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
    /// Damage skipped so far, in log order.
    pub(crate) damages: Vec<Damaged>,
    /// Index in `damages` of the first damage not yet re-anchored by a
    /// segment header.
    unanchored: Option<usize>,
    /// Records assumed lost since then.
    assumed: u64,
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
            damages: Vec::new(),
            unanchored: None,
            assumed: 0,
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

    /// Records damage of `bytes` bytes at `at`, taken to have cost
    /// `records` records until a segment header says otherwise.
    fn damage(&mut self, at: Position, bytes: u64, records: u64, reason: &'static str) {
        self.unanchored.get_or_insert(self.damages.len());
        self.assumed += records;
        self.damages.push(Damaged {
            at,
            bytes,
            records,
            exact: false,
            reason,
        });
    }

    /// Skips damaged bytes from the current offset to `to`: one record is
    /// taken as lost (a half-read record, if any, is that one).
    fn skip(&mut self, at: Position, to: usize, reason: &'static str) {
        if self.pending.take().is_none() {
            self.next_lsn += 1;
        }
        let bytes = to.saturating_sub(self.offset) as u64;
        self.damage(at, bytes, 1, reason);
        self.offset = to;
        // Fragments of the damaged record may follow.
        self.orphans_ok = true;
    }

    /// Damage in the last segment ends the log; elsewhere the segment is
    /// skipped, and the next header re-anchors the numbering.
    fn bad_segment(&mut self, at: Position, reason: &'static str) -> Load {
        if self.is_last() {
            let torn = self.data.len() < SEGMENT_HEADER_LEN || self.data.iter().all(|&b| b == 0);
            self.stop(at, reason, torn);
            return Load::Stopped;
        }
        let half_read = u64::from(self.pending.take().is_some());
        let bytes = self.data.len() as u64;
        let (records, whole) = count_records(self.data.get(SEGMENT_HEADER_LEN..).unwrap_or(&[]));
        // The records counted get their LSNs, as if read.
        self.next_lsn += records;
        self.damage(at, bytes, records + half_read, reason);
        if let Some(d) = self.damages.last_mut() {
            // Exact if its frames all read; a later header may still say.
            d.exact = whole;
        }
        self.previous = Some(at.segment);
        self.index += 1;
        Load::Skipped
    }

    /// A segment header after damage: the records lost are what its first
    /// LSN says; false if it cannot follow on even so.
    fn re_anchor(&mut self, first_lsn: u64) -> bool {
        let Some(from) = self.unanchored else {
            return first_lsn == self.next_lsn;
        };
        let floor = self.next_lsn.saturating_sub(self.assumed);
        if first_lsn < floor {
            return false;
        }
        let mut lost = first_lsn - floor;
        let n = self.damages.len();
        for (i, d) in self.damages[from..].iter_mut().enumerate() {
            d.records = if from + i + 1 == n {
                lost
            } else {
                d.records.min(lost)
            };
            lost -= d.records;
            d.exact = true;
        }
        self.next_lsn = first_lsn;
        self.unanchored = None;
        self.assumed = 0;
        true
    }

    /// Loads `segments[index]`.
    fn load(&mut self, number: u32) -> Result<Load> {
        let at = Position {
            segment: number,
            offset: 0,
        };
        if let Some(prev) = self.previous
            && number != prev.wrapping_add(1)
        {
            // What the missing segments held is lost: this header says how
            // much.
            let half_read = u64::from(self.pending.take().is_some());
            self.damage(at, 0, half_read, "the segment before this one is missing");
        }
        let path = self.dir.join(segment_name(number));
        self.data = self.fs.read(&path).at(&path)?;
        self.offset = SEGMENT_HEADER_LEN;
        let header = match SegmentHeader::decode(&self.data) {
            Ok(h) => h,
            Err(reason) => return Ok(self.bad_segment(at, reason)),
        };
        if header.number != number {
            return Ok(self.bad_segment(at, "segment header names another segment"));
        }
        if !self.started {
            self.started = true;
            self.next_lsn = header.first_lsn;
            // Nothing before to anchor to: the counts stand as they are.
            self.unanchored = None;
            self.assumed = 0;
        } else {
            self.orphans_ok = self.unanchored.is_some();
            if !self.re_anchor(header.first_lsn) {
                self.stop(at, "segment's first LSN does not follow on", false);
                return Ok(Load::Stopped);
            }
        }
        self.firsts.push((number, header.first_lsn));
        self.current = Some(number);
        Ok(Load::Ready)
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
                    match self.load(number)? {
                        Load::Ready => number,
                        Load::Skipped => continue,
                        Load::Stopped => return Ok(None),
                    }
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
                Decoded::Incomplete | Decoded::Zeros if !self.is_last() => {
                    // A sealed segment was cut short or zeroed.
                    let to = self.data.len();
                    self.skip(at, to, "segment ends inside a record");
                    continue;
                }
                Decoded::Incomplete => {
                    self.stop(at, "record cut short", true);
                    return Ok(None);
                }
                Decoded::Zeros => {
                    self.stop(at, "zero-filled tail", true);
                    return Ok(None);
                }
                Decoded::Corrupt(reason) => {
                    match frame::resync(&self.data, self.offset + 1) {
                        Some(to) => self.skip(at, to, reason),
                        None if !self.is_last() => {
                            let to = self.data.len();
                            self.skip(at, to, reason);
                        }
                        None => {
                            self.stop(at, reason, false);
                            return Ok(None);
                        }
                    }
                    continue;
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
