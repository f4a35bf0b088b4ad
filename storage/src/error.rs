//! The storage crate's error type.

use std::path::PathBuf;

/// Everything `Storage` and its queriers can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] hourglass_wal::Error),
    /// A WAL record this crate cannot decode.
    #[error("WAL record at LSN {lsn} is invalid at byte {offset}: {reason}")]
    BadWalRecord {
        /// The record's LSN.
        lsn: u64,
        /// Byte offset inside the record.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file or directory operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A partition could not be written or opened.
    #[error(transparent)]
    Partition(#[from] crate::partition::PartitionError),
    /// A delete would keep more tombstones than allowed.
    #[error(
        "too many pending deletions (at most {max}); run clean_tombstones or a compaction first"
    )]
    TooManyTombstones {
        /// The limit.
        max: usize,
    },
    /// A chunk failed to decode while reading a series.
    #[error("series {series}: {source}")]
    Chunk {
        /// The series as printed.
        series: String,
        /// The decoder's error.
        #[source]
        source: crate::chunk::ChunkError,
    },
    /// A compaction stopped before its swap because the store is stopping
    /// (`Storage::interrupt_compaction`); nothing of it was written.
    #[error("compaction interrupted by a stop")]
    Interrupted,
}
