//! Checking a WAL directory without changing anything in it, for
//! `hourglass verify`: the same reading rules as [`crate::Wal::open`], so it
//! finds what an open would find, but nothing is cut, copied or renamed.

use crate::checkpoint;
use crate::error::{IoContext, Result};
use crate::fs::{Fs, StdFs};
use crate::reader::{End, Scanner};
use crate::segment::{parse_segment_name, segment_name};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What kind of trouble a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// The last record was cut short by a crash: a normal end of the log,
    /// which the next open cuts off. Not damage.
    TornTail,
    /// Damaged bytes that reading skips; what follows is kept.
    Damage,
    /// Damage with nothing readable after it: the log ends there.
    Corruption,
}

/// One thing `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of trouble it is.
    pub kind: FindingKind,
    /// The file (a segment, or a checkpoint's file).
    pub file: PathBuf,
    /// Byte offset in it.
    pub offset: u64,
    /// Bytes affected, to the next readable byte or the end of the file.
    pub bytes: u64,
    /// Records lost, where known.
    pub records: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// The result of checking a WAL directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalCheck {
    /// Segment files.
    pub segments: usize,
    /// Whole records readable from the segments.
    pub records: u64,
    /// The newest checkpoint's directory and its readable records.
    pub checkpoint: Option<(PathBuf, u64)>,
    /// Files already kept aside by an earlier recovery (`*.corrupt`).
    pub kept_aside: Vec<PathBuf>,
    /// Everything wrong, in log order (checkpoint first).
    pub findings: Vec<Finding>,
}

impl WalCheck {
    /// True when anything but a torn tail was found.
    pub fn is_damaged(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.kind != FindingKind::TornTail)
    }
}

/// Checks the WAL in `dir` (read only).
pub fn verify(dir: &Path) -> Result<WalCheck> {
    let fs: Arc<dyn Fs> = Arc::new(StdFs);
    let mut check = WalCheck::default();
    let entries = fs.list_dir(dir).at(dir)?;
    let mut segments: Vec<u32> = Vec::new();
    for e in &entries {
        if e.name.contains(".corrupt") {
            check.kept_aside.push(dir.join(&e.name));
        } else if !e.is_dir
            && let Some(n) = parse_segment_name(&e.name)
        {
            segments.push(n);
        }
    }
    check.kept_aside.sort();
    segments.sort_unstable();
    check.segments = segments.len();

    if let Some(upto) = checkpoint::latest(&*fs, dir)? {
        let cp_dir = dir.join(checkpoint::name(upto));
        let (records, findings) = scan(&fs, &cp_dir, vec![0], true)?;
        check.checkpoint = Some((cp_dir, records));
        check.findings.extend(findings);
    }
    let (records, findings) = scan(&fs, dir, segments, false)?;
    check.records = records;
    check.findings.extend(findings);
    Ok(check)
}

/// Reads `segments` of `dir`; in a checkpoint (`fsynced_whole`) a torn end
/// is damage too.
fn scan(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    segments: Vec<u32>,
    fsynced_whole: bool,
) -> Result<(u64, Vec<Finding>)> {
    let mut scanner = Scanner::new(Arc::clone(fs), dir.to_path_buf(), segments, 0, false);
    let mut records = 0;
    while scanner.next_record()?.is_some() {
        records += 1;
    }
    let file = |n: u32| dir.join(segment_name(n));
    let mut findings: Vec<Finding> = scanner
        .damages
        .iter()
        .map(|d| Finding {
            kind: FindingKind::Damage,
            file: file(d.at.segment),
            offset: d.at.offset,
            bytes: d.bytes,
            records: d.exact.then_some(d.records),
            reason: d.reason.to_string(),
        })
        .collect();
    let tail = |n: u32, offset: u64| -> Result<u64> {
        let path = file(n);
        Ok((fs.read(&path).at(&path)?.len() as u64).saturating_sub(offset))
    };
    let bad_end = match scanner.end() {
        Some(End::Clean) | None => None,
        Some(End::Torn { cut, reason }) => Some((*cut, reason.to_string(), FindingKind::TornTail)),
        Some(End::Corrupt { at, reason, .. }) => {
            Some((*at, reason.clone(), FindingKind::Corruption))
        }
    };
    if let Some((at, reason, kind)) = bad_end {
        findings.push(Finding {
            // A checkpoint has no later writes to lose: its end is damage.
            kind: if fsynced_whole {
                FindingKind::Damage
            } else {
                kind
            },
            file: file(at.segment),
            offset: at.offset,
            bytes: tail(at.segment, at.offset)?,
            records: None,
            reason,
        });
    }
    Ok((records, findings))
}
