//! Errors of the WAL.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the WAL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation.
    #[error("WAL I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk that no write of ours produced.
    #[error("WAL corrupt in segment {segment:08} at byte {offset}: {reason}")]
    Corrupt {
        /// Segment number (its file name).
        segment: u32,
        /// Byte offset of the damaged frame or header within the segment.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record larger than [`crate::Options::max_record_size`].
    #[error("WAL record of {size} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// The record's size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// An earlier write or fsync failed; what reached the disk is unknown,
    /// so the log refuses further appends until it is reopened.
    #[error("WAL unusable after an earlier failure ({0}); reopen it to recover")]
    Poisoned(String),
    /// An option out of range.
    #[error("invalid WAL option {field}: {reason}")]
    InvalidOption {
        /// The option's name.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A checkpoint or truncation point past the end of the log.
    #[error("LSN {lsn} is past the end of the WAL (next LSN {next})")]
    BeyondEnd {
        /// The LSN asked for.
        lsn: u64,
        /// The LSN the next append would get.
        next: u64,
    },
}

/// Result alias for the WAL.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
