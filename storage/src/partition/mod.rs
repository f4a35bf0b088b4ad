//! Partitions: immutable, checksummed directories of sealed chunks with
//! their own label index, one per hour (or per four-hour block or day,
//! once compacted). Layout in `FORMAT.md` beside this file.

mod check;
mod cursor;
#[cfg(feature = "internals")]
mod day_writer;
mod meta;
mod reader;
mod series_table;
mod writer;

#[cfg(test)]
mod tests;

pub use check::{MAX_PROBLEMS, PartitionCheck, Problem, check};
#[cfg(feature = "internals")]
pub use day_writer::DayWriter;
pub use meta::Meta;
pub(crate) use meta::{block_name, day_name, hour_name};
pub use reader::{Partition, fuzz_index};
pub(crate) use writer::{
    Encoded, PartSeries, encode, free_name, publish, write_partition, write_tmp,
};

/// One hour in ms.
pub const HOUR_MS: i64 = 3_600_000;
/// One block in ms: compaction merges the hours of a day that is not
/// merged whole yet into blocks of this length (aligned, six a day).
pub const BLOCK_MS: i64 = 4 * HOUR_MS;
/// One day in ms.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Why a partition cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// A file or directory operation failed.
    #[error("partition {dir}: I/O error: {source}")]
    Io {
        /// The partition directory.
        dir: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A check failed: the partition must not be served.
    #[error("partition {dir} corrupt in {file} at byte {offset}: {reason}")]
    Corrupt {
        /// The partition directory.
        dir: String,
        /// The file inside it.
        file: &'static str,
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}
