//! Hourglass storage engine.
//!
//! This crate owns everything between a validated batch of samples and the
//! bytes on disk: series labels, Gorilla-compressed chunks, the in-memory
//! head, the roaring-bitmap inverted index, hourly partitions, the querier
//! that merges them, and retention. It does not compact partitions yet:
//! each hour is written once from the head (late data adds `-1`, `-2`
//! partitions beside it). Durability comes from
//! [`hourglass_wal`]; this crate decides what goes into WAL records.
//!
//! It never knows about HTTP, protobuf or PromQL: callers hand it
//! [`Labels`], [`Sample`]s and [`Matcher`]s.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod calendar;
pub mod chunk;
mod chunk_handle;
mod clock;
pub mod encoding;
mod error;
mod head;
mod index;
mod model;
pub mod partition;
mod prefetch;
mod querier;
mod retention;
mod sample_iter;
mod series_order;
mod storage;
mod storage_querier;

pub use clock::Clock;
pub use error::StorageError;
#[doc(hidden)]
pub use head::fuzz_wal_records;
pub use head::{
    AppendStats, Cardinality, DEFAULT_FUTURE_GRACE_MS, HandleBatch, HandleSample, HeadOptions,
    HeadQuerier, HeadStats, MAX_REPORTED_ERRORS, Rejected, ReplayStats, SeriesHandle, SeriesLimits,
    SeriesQuota, SeriesRefusal, SeriesTarget,
};
pub use model::batch::{BorrowedBatch, SeriesRef, SeriesSamples, WriteBatch};
pub use model::labels::{Label, LabelError, LabelLimits, Labels};
pub use model::matcher::{MatchOp, Matcher, MatcherError};
pub use model::sample::{STALE_NAN_BITS, Sample, is_stale_nan};
pub use prefetch::Prefetch;
pub use querier::{Querier, Series, SeriesSet};
pub use retention::RetentionStats;
pub use sample_iter::SampleIter;
pub use storage::{Options, PersistStats, Storage};
pub use storage_querier::StorageQuerier;

/// Internals reachable only by this crate's own benchmarks (the
/// `internals` feature, which `storage/benches` turn on): not an API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::chunk::layout::ENCODING_PACKED;
    pub use crate::chunk::xor::XorAppender;
    pub use crate::head::Head;
    pub use crate::index::MemPostings;
    pub use crate::model::refs::{HeadRef, PostingId};
}
