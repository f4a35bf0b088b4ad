//! Retention: dropping whole partitions by age and by total size.
//!
//! Age is measured back from the newest sample stored, capped at the wall
//! clock plus the future grace (`Head::store_now`): a node that was down,
//! or history backfilled into a fresh store, is not emptied, and a
//! future-dated sample cannot make current data look old (the head refuses
//! samples already past retention, so nothing is stored only to be
//! dropped).
//! Partitions are dropped oldest first; a dropped partition is first
//! renamed to `.del-<name>` (gone from view atomically), then deleted;
//! `open` finishes deletions a crash interrupted.

use crate::partition::Partition;
use hourglass_wal::fs::Fs;
use std::sync::Arc;

/// What retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionStats {
    /// Partitions dropped for age.
    pub by_age: usize,
    /// Partitions dropped for size.
    pub by_size: usize,
    /// Bytes of partitions kept.
    pub kept_bytes: u64,
}

/// On-disk size of a partition's files.
pub(crate) fn partition_bytes(p: &Partition) -> u64 {
    p.bytes()
}

/// Splits `parts` into kept and dropped (oldest first) under the limits.
pub(crate) fn plan(
    mut parts: Vec<Arc<Partition>>,
    now: Option<i64>,
    retention_ms: Option<i64>,
    max_bytes: Option<u64>,
) -> (Vec<Arc<Partition>>, Vec<Arc<Partition>>, RetentionStats) {
    parts.sort_by(|a, b| (a.meta().hour_start_ms, a.dir()).cmp(&(b.meta().hour_start_ms, b.dir())));
    let mut stats = RetentionStats::default();
    let mut dropped = Vec::new();
    if let (Some(now), Some(r)) = (now, retention_ms) {
        let cutoff = now.saturating_sub(r);
        let (old, keep): (Vec<_>, Vec<_>) =
            parts.into_iter().partition(|p| p.meta().max_t < cutoff);
        stats.by_age = old.len();
        dropped.extend(old);
        parts = keep;
    }
    let sizes: Vec<u64> = parts.iter().map(|p| partition_bytes(p)).collect();
    let mut total: u64 = sizes.iter().sum();
    let mut first_kept = 0;
    if let Some(max) = max_bytes {
        while total > max && first_kept < parts.len() {
            total -= sizes[first_kept];
            first_kept += 1;
        }
    }
    stats.by_size = first_kept;
    let keep = parts.split_off(first_kept);
    dropped.extend(parts);
    stats.kept_bytes = total;
    (keep, dropped, stats)
}

/// Removes a dropped partition's directory (rename first, then delete).
pub(crate) fn delete(fs: &dyn Fs, p: &Partition) -> std::io::Result<()> {
    delete_dir(fs, p.dir())
}

/// Removes a partition directory: renamed to `.del-<name>` (gone from
/// view atomically, and durably once the parent is synced), then deleted.
pub(crate) fn delete_dir(fs: &dyn Fs, dir: &std::path::Path) -> std::io::Result<()> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Ok(());
    };
    let doomed = parent.join(format!(".del-{}", name.to_string_lossy()));
    fs.rename(dir, &doomed)?;
    fs.sync_dir(parent)?;
    fs.remove_dir_all(&doomed)
}

/// True for leftovers of an interrupted deletion.
pub(crate) fn is_leftover(name: &str) -> bool {
    name.starts_with(".del-")
}
