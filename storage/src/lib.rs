//! Hourglass storage engine.
//!
//! This crate owns everything between a validated batch of samples and the
//! bytes on disk: series labels, Gorilla-compressed chunks, the in-memory
//! head, the roaring-bitmap inverted index, hourly partitions, the querier
//! that merges them, retention, and compaction (an hour's partitions
//! merged, old hours merged into day partitions, deletions and retention
//! rules applied by rewriting them). Durability comes from
//! [`hourglass_wal`]; this crate decides what goes into WAL records.
//!
//! It never knows about HTTP, protobuf or PromQL: callers hand it
//! [`Labels`], [`Sample`]s and [`Matcher`]s.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod calendar;
mod cardinality_history;
pub mod chunk;
mod chunk_handle;
mod clock;
pub mod compact;
#[cfg(test)]
mod damage;
pub mod downsample;
mod downsample_read;
pub mod encoding;
mod error;
mod expiry;
mod head;
mod hist_buf;
mod histogram_iter;
mod index;
mod model;
mod part_bytes;
pub mod partition;
mod prefetch;
mod prehashed;
mod querier;
mod retention;
mod retention_rules;
mod sample_iter;
mod sealed;
mod series_order;
mod snapshot;
mod start_times;
mod storage;
mod storage_querier;
pub mod synthetic_host;
pub mod tap;
pub mod tombstones;

pub use cardinality_history::{CardinalityQuery, HistoryCardinality};
pub use clock::Clock;
pub use downsample::{DownsampleRule, ReadAs};
pub use error::StorageError;
#[doc(hidden)]
pub use head::fuzz_wal_records;
pub use head::{
    AppendStats, Cardinality, DEFAULT_FUTURE_GRACE_MS, HandleBatch, HandleSample, HeadOptions,
    HeadQuerier, HeadStats, KnownSeries, MAX_REPORTED_ERRORS, Rejected, ReplayStats, SeriesHandle,
    SeriesLimits, SeriesQuota, SeriesRefusal, SeriesTarget,
};
pub use hist_buf::HistBuf;
pub use histogram_iter::HistogramIter;
pub use model::batch::{BorrowedBatch, SentKey, SeriesRef, SeriesSamples, WriteBatch};
pub use model::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, HistogramError,
    MAX_EXPONENTIAL_SCHEMA, MIN_EXPONENTIAL_SCHEMA, Span, is_custom_buckets_schema,
    is_exponential_schema,
};
pub use model::labels::{Label, LabelError, LabelLimits, Labels};
pub use model::matcher::{MatchOp, Matcher, MatcherError};
pub use model::sample::{STALE_NAN_BITS, Sample, is_stale_nan};
pub use prefetch::Prefetch;
pub use prehashed::{BuildPreHashed, PreHashed};
pub use querier::{Querier, Series, SeriesSet};
pub use retention::RetentionStats;
pub use retention_rules::RetentionRule;
pub use sample_iter::SampleIter;
pub use snapshot::{SnapshotStats, snapshot_name, snapshot_offline};
pub use start_times::{START_TIME_LABEL, valid_start};
pub use storage::{Options, PersistStats, Storage};
pub use storage_querier::StorageQuerier;

/// Internals reachable only by this crate's own benchmarks (the
/// `internals` feature, which `storage/benches` turn on): not an API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::chunk::layout::ENCODING_GRID;
    pub use crate::chunk::layout::ENCODING_PACKED;
    pub use crate::chunk::xor::XorAppender;
    pub use crate::head::Head;
    pub use crate::index::MemPostings;
    pub use crate::model::refs::{HeadRef, PostingId};
    pub use crate::partition::DayWriter;

    /// Compaction's CPU work on `parts` (merge, re-encode, encode the
    /// partition's files in memory) without writing: the encoded bytes.
    pub fn merge_and_encode(parts: &[std::sync::Arc<crate::partition::Partition>]) -> usize {
        let Ok((series, _)) = crate::compact::merge_only(parts) else {
            return 0;
        };
        crate::partition::encode(0, crate::partition::DAY_MS, 1, series, "job")
            .map_or(0, |e| e.chunks.len() + e.index.len())
    }
}
