//! Checkpoints: a compact restatement of everything before some LSN, so the
//! segments before it can be deleted.
//!
//! A checkpoint is a directory `checkpoint.<upto, 16 digits>/` holding one
//! file `00000000` in the segment format (header with `first_lsn = upto`,
//! then whole frames). It is written under a `.tmp` name, fsynced, and
//! renamed into place, so a crash never leaves half of one visible.

use crate::error::{Error, IoContext, Result};
use crate::frame::{self, FragmentType};
use crate::fs::Fs;
use crate::reader::{End, Scanner};
use crate::recovery::{self, Damage};
use crate::segment::{SegmentHeader, segment_name};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PREFIX: &str = "checkpoint.";

pub(crate) fn name(upto: u64) -> String {
    format!("{PREFIX}{upto:016}")
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn with_suffix(dir: &Path, upto: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{}{suffix}", name(upto)))
}

/// Removes half-written checkpoints and finishes an interrupted replacement.
pub(crate) fn clean_up(fs: &dyn Fs, dir: &Path) -> Result<()> {
    for e in fs.list_dir(dir).at(dir)?.into_iter().filter(|e| e.is_dir) {
        let path = dir.join(&e.name);
        if let Some(base) = e.name.strip_suffix(".tmp").and_then(parse_name) {
            tracing::info!(checkpoint = base, "removing unfinished WAL checkpoint");
            fs.remove_dir_all(&path).at(&path)?;
        } else if let Some(base) = e.name.strip_suffix(".old").and_then(parse_name) {
            let live = dir.join(name(base));
            if fs.exists(&live) {
                fs.remove_dir_all(&path).at(&path)?;
            } else {
                fs.rename(&path, &live).at(&path)?;
            }
        }
    }
    fs.sync_dir(dir).at(dir)
}

/// The `upto` of the newest complete checkpoint.
pub(crate) fn latest(fs: &dyn Fs, dir: &Path) -> Result<Option<u64>> {
    Ok(fs
        .list_dir(dir)
        .at(dir)?
        .into_iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| parse_name(&e.name))
        .max())
}

pub(crate) fn write<I, R>(fs: &dyn Fs, dir: &Path, upto: u64, records: I, max: usize) -> Result<()>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[u8]>,
{
    let tmp = with_suffix(dir, upto, ".tmp");
    if fs.exists(&tmp) {
        fs.remove_dir_all(&tmp).at(&tmp)?;
    }
    fs.create_dir_all(&tmp).at(&tmp)?;
    let path = tmp.join(segment_name(0));
    let file = fs.create(&path).at(&path)?;
    let mut buf = SegmentHeader {
        first_lsn: upto,
        number: 0,
    }
    .encode()
    .to_vec();
    for r in records {
        let r = r.as_ref();
        if r.len() > max {
            return Err(Error::RecordTooLarge { size: r.len(), max });
        }
        frame::encode(&mut buf, FragmentType::Full, r);
        if buf.len() >= 1 << 20 {
            file.write_all(&buf).at(&path)?;
            buf.clear();
        }
    }
    file.write_all(&buf).at(&path)?;
    file.sync().at(&path)?;
    fs.sync_dir(&tmp).at(&tmp)?;
    let live = dir.join(name(upto));
    if fs.exists(&live) {
        // Same LSN checkpointed again: swap through `.old`, which
        // `clean_up` finishes if we crash halfway.
        let old = with_suffix(dir, upto, ".old");
        if fs.exists(&old) {
            fs.remove_dir_all(&old).at(&old)?;
        }
        fs.rename(&live, &old).at(&live)?;
        fs.rename(&tmp, &live).at(&tmp)?;
        fs.sync_dir(dir).at(dir)?;
        fs.remove_dir_all(&old).at(&old)?;
    } else {
        fs.rename(&tmp, &live).at(&tmp)?;
    }
    fs.sync_dir(dir).at(dir)
}

/// Deletes checkpoints older than `upto`.
pub(crate) fn remove_older(fs: &dyn Fs, dir: &Path, upto: u64) -> Result<()> {
    let mut removed = false;
    for e in fs.list_dir(dir).at(dir)?.into_iter().filter(|e| e.is_dir) {
        if parse_name(&e.name).is_some_and(|n| n < upto) {
            let path = dir.join(&e.name);
            fs.remove_dir_all(&path).at(&path)?;
            removed = true;
        }
    }
    if removed {
        fs.sync_dir(dir).at(dir)?;
    }
    Ok(())
}

/// Checks the checkpoint at `upto`: each damaged stretch, with a copy of
/// the checkpoint as found kept beside it in `dir` (a checkpoint directory
/// goes once a newer one is written; the copy stays).
pub(crate) fn check(fs: &Arc<dyn Fs>, dir: &Path, upto: u64) -> Result<Vec<Damage>> {
    let cp_dir = dir.join(name(upto));
    let file = cp_dir.join(segment_name(0));
    let mut scanner = Scanner::new(Arc::clone(fs), cp_dir, vec![0], u64::MAX, false);
    while scanner.next_record()?.is_some() {}
    let mut found: Vec<(u64, u64, u64, String)> = scanner
        .damages
        .iter()
        .map(|d| (d.at.offset, d.bytes, d.records, d.reason.to_string()))
        .collect();
    match scanner.end() {
        Some(End::Clean) | None => {}
        // Fsynced before it became visible: even a "torn" end is damage.
        Some(End::Torn { cut, reason }) => {
            let len = fs.read(&file).at(&file)?.len() as u64;
            found.push((
                cut.offset,
                len.saturating_sub(cut.offset),
                1,
                reason.to_string(),
            ));
        }
        Some(End::Corrupt { at, reason, .. }) => {
            let len = fs.read(&file).at(&file)?.len() as u64;
            found.push((at.offset, len.saturating_sub(at.offset), 1, reason.clone()));
        }
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let aside = recovery::copy_aside(&**fs, &file, dir.join(format!("{}.corrupt", name(upto))))?;
    Ok(found
        .into_iter()
        .map(|(offset, bytes, records, reason)| Damage {
            file: file.clone(),
            offset,
            bytes,
            records,
            exact: false,
            reason: format!("checkpoint: {reason}"),
            kept_aside: Some(aside.clone()),
        })
        .collect())
}

pub(crate) fn read(fs: Arc<dyn Fs>, dir: &Path, upto: u64) -> CheckpointRecords {
    CheckpointRecords {
        scanner: Scanner::new(fs, dir.join(name(upto)), vec![0], 0, true),
        done: false,
    }
}

/// The records of a checkpoint, in the order they were written.
pub struct CheckpointRecords {
    scanner: Scanner,
    done: bool,
}

impl Iterator for CheckpointRecords {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        match self.scanner.next_record() {
            Ok(Some((_, data))) => Some(Ok(data)),
            Ok(None) => {
                // Damage was skipped, or ends the records; `Wal::open`
                // reported it (see `check`).
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_name(&name(41)), Some(41));
        assert_eq!(parse_name("checkpoint.41"), None);
        assert_eq!(parse_name("checkpoint.0000000000000041.tmp"), None);
    }
}
