//! The file-system seam: everything the WAL, the partition writer and the
//! compactor do to disk goes through [`Fs`].
//!
//! [`StdFs`] is the real thing; [`FaultyFs`] is an in-memory file system for
//! tests that can fail writes and fsyncs and simulate a crash that throws
//! away whatever was not fsynced.

mod faulty;
mod std_fs;

pub use faulty::FaultyFs;
pub use std_fs::StdFs;

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's file name (no directory part).
    pub name: String,
    /// True for directories.
    pub is_dir: bool,
}

/// The directory operations the WAL needs.
///
/// Implementations must be usable from many threads at once.
pub trait Fs: Send + Sync + Debug {
    /// Creates a directory and its parents; succeeds if it exists.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists a directory, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates (or empties) a file and opens it for appending.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Writes a whole new file in one go (not synced).
    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.create(path)?.write_all(data)
    }
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Renames a file or directory, replacing a file at `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// True when something exists at `path`.
    fn exists(&self, path: &Path) -> bool;
    /// True when paths name files of the operating system, so a reader
    /// may map them into memory instead of reading them through [`Fs::read`].
    fn os_paths(&self) -> bool {
        false
    }
}

/// An open file that is only ever appended to (or cut back).
///
/// Methods take `&self` so that one thread can fsync while another appends:
/// group commit depends on it.
pub trait WalFile: Send + Sync + Debug {
    /// Appends all of `buf` at the end of the file.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes; later writes append after it.
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn size(&self) -> io::Result<u64>;
}
