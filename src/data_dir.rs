//! The data directory, the exclusive lock that keeps a second server
//! off it, and the durable replacement of the small files kept in it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the data directory could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The directory or its lock file could not be created.
    #[error("cannot use data directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error(
        "data directory {dir} is in use by another hourglass process (lock file {lock} is held)"
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

/// A data directory held exclusively for the life of this value.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    // Held for the lock; the OS releases it when the process ends, even on
    // kill -9, so a stale LOCK file never blocks a restart.
    _lock: File,
}

impl DataDir {
    /// Creates `path` if needed and locks it.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let io = |source| DataDirError::Io {
            dir: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(path).map_err(io)?;
        let lock_path = path.join("LOCK");
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::Locked {
                    dir: path.to_path_buf(),
                    lock: lock_path,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's PID, for whoever wonders who has the lock.
        lock.set_len(0).map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The partition directories under `parts` (its `.tmp-*` and `.corrupt`
/// entries included), sorted by name; none when `parts` does not exist.
pub(crate) fn partition_dirs(parts: &Path) -> std::io::Result<Vec<PathBuf>> {
    subdirs(parts)
}

/// The directories directly in `dir`, sorted by name; none when `dir`
/// does not exist.
pub(crate) fn subdirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    dirs.sort();
    Ok(dirs)
}

/// Replaces `path` with `bytes` atomically and durably: a temporary file
/// beside it (extension `tmp_extension`) created with permission bits
/// `mode` (before the umask), fsynced, renamed over `path`, then the
/// directory fsynced.
pub(crate) fn replace_file(
    path: &Path,
    tmp_extension: &str,
    mode: u32,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(tmp_extension);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Total bytes of the regular files directly in `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_while_the_first_is_held() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let first = DataDir::open(&dir).unwrap();
        let err = DataDir::open(&dir).unwrap_err();
        assert!(matches!(err, DataDirError::Locked { .. }));
        assert!(err.to_string().contains(&dir.display().to_string()));
        drop(first);
        DataDir::open(&dir).unwrap();
    }
}
