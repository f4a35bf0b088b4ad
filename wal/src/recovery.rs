//! What `Wal::open` does about damage: cut a torn tail, skip damaged
//! stretches (keeping a copy of each damaged file aside), set aside
//! corruption with nothing readable after it, and say so in a
//! [`RecoveryReport`].

use crate::error::{IoContext, Result};
use crate::fs::Fs;
use crate::reader::Position;
use crate::record::Lsn;
use crate::segment::{SEGMENT_HEADER_LEN, segment_name};
use std::path::{Path, PathBuf};

/// What recovery found when the log was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Whole records found in the segments.
    pub records: u64,
    /// The LSN the next append gets.
    pub next_lsn: Lsn,
    /// A record cut short by a crash, now cut off.
    pub torn_tail: Option<TornTail>,
    /// Damage that no crash explains, with nothing readable after it; the
    /// log continues from just before it.
    pub corruption: Option<Corruption>,
    /// Damaged stretches that reading skips, in segments and in the
    /// checkpoint; what follows each is kept.
    pub damage: Vec<Damage>,
}

impl RecoveryReport {
    /// Records lost to damage (see [`Damage::records`]); a [`Corruption`]
    /// cut counts its bytes only, as its records cannot be told apart.
    pub fn records_set_aside(&self) -> u64 {
        self.damage.iter().map(|d| d.records).sum()
    }

    /// True when anything was damaged (a torn tail is a normal end).
    pub fn is_damaged(&self) -> bool {
        self.corruption.is_some() || !self.damage.is_empty()
    }
}

/// A damaged stretch of a WAL file that reading skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file (a segment, or a checkpoint's file).
    pub file: PathBuf,
    /// Byte offset of the damage in it.
    pub offset: u64,
    /// Bytes skipped.
    pub bytes: u64,
    /// Records lost. Exact when `exact`: a later segment's header says
    /// where numbering resumes. Otherwise one per damaged stretch, which
    /// is right when one frame was damaged (a flipped byte).
    pub records: u64,
    /// Whether `records` is exact.
    pub exact: bool,
    /// What is wrong.
    pub reason: String,
    /// A copy of the damaged file as found, for a human to inspect (none
    /// when the file itself is missing).
    pub kept_aside: Option<PathBuf>,
}

/// Where a torn record was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Segment holding the start of the torn record.
    pub segment: u32,
    /// Its byte offset; the segment now ends here.
    pub offset: u64,
    /// Bytes thrown away.
    pub bytes_cut: u64,
    /// What the tail looked like.
    pub reason: &'static str,
}

/// Damage found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Segment holding the damage.
    pub segment: u32,
    /// Byte offset of the damaged frame or header.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
    /// Files now holding every byte from the cut on, for a human to inspect.
    pub kept_aside: Vec<PathBuf>,
}

fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(segment_name(n))
}

/// Bytes in the log from `cut` to its end.
pub(crate) fn bytes_from(fs: &dyn Fs, dir: &Path, segments: &[u32], cut: Position) -> Result<u64> {
    let mut total = 0;
    for &n in segments.iter().filter(|&&n| n >= cut.segment) {
        let path = segment_path(dir, n);
        let len = fs.read(&path).at(&path)?.len() as u64;
        total += if n == cut.segment {
            len.saturating_sub(cut.offset)
        } else {
            len
        };
    }
    Ok(total)
}

/// A name beside `path` ending in `.corrupt` that is not taken yet.
fn aside_name(fs: &dyn Fs, path: &Path) -> PathBuf {
    let base = format!("{}.corrupt", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut i = 1;
    while fs.exists(&candidate) {
        candidate = PathBuf::from(format!("{base}.{i}"));
        i += 1;
    }
    candidate
}

/// Copies `path` to `base` (or `base.1`, …), unless a copy with the same
/// bytes is there already (the same damage found at an earlier open).
pub(crate) fn copy_aside(fs: &dyn Fs, path: &Path, base: PathBuf) -> Result<PathBuf> {
    let data = fs.read(path).at(path)?;
    let mut candidate = base.clone();
    let mut i = 1;
    while fs.exists(&candidate) {
        if fs.read(&candidate).ok().as_deref() == Some(&data[..]) {
            return Ok(candidate);
        }
        candidate = PathBuf::from(format!("{}.{i}", base.display()));
        i += 1;
    }
    let f = fs.create(&candidate).at(&candidate)?;
    f.write_all(&data).at(&candidate)?;
    f.sync().at(&candidate)?;
    if let Some(dir) = candidate.parent() {
        fs.sync_dir(dir).at(dir)?;
    }
    Ok(candidate)
}

/// Moves every byte from `cut` on into `*.corrupt` files (durably) and
/// returns their paths. The segment holding `cut` keeps its bytes before it.
pub(crate) fn keep_aside(
    fs: &dyn Fs,
    dir: &Path,
    segments: &[u32],
    cut: Position,
) -> Result<Vec<PathBuf>> {
    let mut kept = Vec::new();
    for &n in segments.iter().filter(|&&n| n >= cut.segment) {
        let path = segment_path(dir, n);
        let aside = aside_name(fs, &path);
        if n == cut.segment && cut.offset >= SEGMENT_HEADER_LEN as u64 {
            let data = fs.read(&path).at(&path)?;
            let from = usize::try_from(cut.offset)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let f = fs.create(&aside).at(&aside)?;
            f.write_all(&data[from..]).at(&aside)?;
            f.sync().at(&aside)?;
        } else {
            fs.rename(&path, &aside).at(&path)?;
        }
        kept.push(aside);
    }
    fs.sync_dir(dir).at(dir)?;
    Ok(kept)
}

/// Ends the log at `cut`: later segments go, the segment holding `cut` is
/// cut to it (or goes too when the cut falls inside its header).
pub(crate) fn cut_at(fs: &dyn Fs, dir: &Path, segments: &[u32], cut: Position) -> Result<()> {
    for &n in segments.iter().filter(|&&n| n >= cut.segment) {
        let path = segment_path(dir, n);
        if !fs.exists(&path) {
            continue; // already moved aside
        }
        if n == cut.segment && cut.offset >= SEGMENT_HEADER_LEN as u64 {
            let f = fs.open_append(&path).at(&path)?;
            f.truncate(cut.offset).at(&path)?;
            f.sync().at(&path)?;
        } else {
            fs.remove_file(&path).at(&path)?;
        }
    }
    fs.sync_dir(dir).at(dir)
}
