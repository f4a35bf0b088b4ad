//! Reopening a log: every segment scanned, the end repaired, the writer
//! positioned after the last whole record.

use crate::error::{IoContext, Result};
use crate::fs::Fs;
use crate::reader::{End, Position, Scanner};
use crate::record::Lsn;
use crate::recovery::{self, RecoveryReport};
use crate::segment::{SEGMENT_HEADER_LEN, segment_name};
use crate::state::Writer;
use crate::writer::create_segment;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Scans the log, repairs its end, and returns the writer positioned after
/// the last whole record.
pub(crate) fn recover(
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
