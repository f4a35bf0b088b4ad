//! Snapshots: a copy of the store that opens as a data directory as it
//! is. Partitions are immutable, so they are hard-linked (no bytes
//! copied); what is not yet in a partition lives in the WAL (its
//! checkpoint and segments), which is copied. Opening the snapshot replays
//! that WAL over the partitions, exactly as a restart after a crash would:
//! a segment copied while it grew ends in a torn record at worst, which
//! replay cuts off.

use crate::error::StorageError;
use crate::partition::Partition;
use std::fs;
use std::hash::BuildHasher;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// The snapshot's directory.
    pub dir: PathBuf,
    /// Partitions linked.
    pub partitions: u64,
    /// Files hard-linked (partition files).
    pub linked_files: u64,
    /// WAL files copied (segments and the checkpoint's).
    pub wal_files: u64,
    /// Bytes copied (the WAL and pending deletions; links copy none).
    pub copied_bytes: u64,
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

/// Hard-links every file of `src` into a new directory `dst`.
fn link_dir(src: &Path, dst: &Path, stats: &mut SnapshotStats) -> Result<(), StorageError> {
    fs::create_dir_all(dst).map_err(io_at(dst))?;
    for e in fs::read_dir(src).map_err(io_at(src))? {
        let e = e.map_err(io_at(src))?;
        if e.file_type().map_err(io_at(src))?.is_file() {
            let to = dst.join(e.file_name());
            fs::hard_link(e.path(), &to).map_err(io_at(&to))?;
            stats.linked_files += 1;
        }
    }
    sync_dir(dst)
}

/// Copies the regular files of `src` into `dst`, and its checkpoint
/// directories one level down; what already sits aside (`*.corrupt`) and
/// unfinished checkpoints (`*.tmp`, `*.old`) stay behind.
fn copy_wal(src: &Path, dst: &Path, stats: &mut SnapshotStats) -> Result<(), StorageError> {
    fs::create_dir_all(dst).map_err(io_at(dst))?;
    let entries = match fs::read_dir(src) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(src)(e)),
    };
    for e in entries {
        let e = e.map_err(io_at(src))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(".corrupt") || name.ends_with(".tmp") || name.ends_with(".old") {
            continue;
        }
        let (from, to) = (e.path(), dst.join(&name));
        let kind = e.file_type().map_err(io_at(&from))?;
        if kind.is_dir() && name.starts_with("checkpoint.") {
            copy_wal(&from, &to, stats)?;
        } else if kind.is_file() {
            match fs::copy(&from, &to) {
                Ok(n) => {
                    stats.copied_bytes += n;
                    stats.wal_files += 1;
                }
                // A segment the WAL truncated away meanwhile: its records
                // are in the checkpoint or a partition already.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_at(&from)(e)),
            }
            fs::File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(io_at(&to))?;
        }
    }
    sync_dir(dst)
}

/// Writes a snapshot of `data_dir` into `dst` (which must not exist): the
/// partition directories in `parts` are linked, and the WAL copied unless
/// `skip_head`. The caller keeps partitions and WAL still meanwhile.
pub(crate) fn write(
    data_dir: &Path,
    parts: &[PathBuf],
    dst: &Path,
    skip_head: bool,
) -> Result<SnapshotStats, StorageError> {
    if dst.exists() {
        return Err(io_at(dst)(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "snapshot directory exists",
        )));
    }
    // Written under a temporary name and renamed, so a snapshot directory
    // that exists is whole.
    let tmp = dst.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
    }
    let mut stats = SnapshotStats::default();
    let parts_dst = tmp.join("parts");
    fs::create_dir_all(&parts_dst).map_err(io_at(&parts_dst))?;
    for p in parts {
        let Some(name) = p.file_name() else { continue };
        link_dir(p, &parts_dst.join(name), &mut stats)?;
        stats.partitions += 1;
    }
    sync_dir(&parts_dst)?;
    if !skip_head {
        copy_wal(&data_dir.join("wal"), &tmp.join("wal"), &mut stats)?;
    }
    // Pending deletions go along, or deleted series would come back in
    // the snapshot. The file is replaced by rename, so a copy is whole.
    let tomb = data_dir.join(crate::tombstones::FILE);
    match fs::copy(&tomb, tmp.join(crate::tombstones::FILE)) {
        Ok(n) => stats.copied_bytes += n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(&tomb)(e)),
    }
    sync_dir(&tmp)?;
    fs::rename(&tmp, dst).map_err(io_at(dst))?;
    if let Some(parent) = dst.parent() {
        sync_dir(parent)?;
    }
    stats.dir = dst.to_path_buf();
    Ok(stats)
}

/// Snapshot of a stopped data directory (`hourglass snapshot`): every
/// partition that opens with its checksums intact is linked, the WAL
/// copied unless `skip_head`. The caller holds the directory's lock.
pub fn snapshot_offline(
    data_dir: &Path,
    dst: &Path,
    skip_head: bool,
) -> Result<SnapshotStats, StorageError> {
    let parts_dir = data_dir.join("parts");
    let mut parts = Vec::new();
    if parts_dir.is_dir() {
        let mut names: Vec<PathBuf> = fs::read_dir(&parts_dir)
            .map_err(io_at(&parts_dir))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.starts_with('.') || n.contains('.')) {
                continue;
            }
            // A partition the server would quarantine stays out.
            if Partition::open(&p).is_ok() {
                parts.push(p);
            }
        }
    }
    write(data_dir, &parts, dst, skip_head)
}

/// The partition directories of open partitions.
pub(crate) fn dirs(parts: &[Arc<Partition>]) -> Vec<PathBuf> {
    parts.iter().map(|p| p.dir().to_path_buf()).collect()
}

/// A fresh snapshot name, as Prometheus makes them: the UTC second and 64
/// random bits, `20261206T203512Z-1f2e3d4c5b6a7988`.
pub fn snapshot_name() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::calendar::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let random = std::collections::hash_map::RandomState::new().hash_one(now.as_nanos());
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{random:016x}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}
