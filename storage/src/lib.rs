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
mod clock;
pub mod encoding;
mod error;
pub mod head;
pub mod index;
mod model;
pub mod partition;
mod prefetch;
mod querier;
mod retention;
mod series_order;
mod storage;
mod storage_querier;

pub use clock::Clock;
pub use error::StorageError;
pub use head::{
    AppendStats, HandleBatch, HandleSample, HeadStats, Rejected, SeriesHandle, SeriesLimits,
    SeriesQuota, SeriesRefusal, SeriesTarget,
};
pub use model::batch::{BorrowedBatch, SeriesRef, SeriesSamples, WriteBatch};
pub use model::labels::{Label, LabelError, LabelLimits, Labels};
pub use model::matcher::{MatchOp, Matcher, MatcherError};
pub use model::sample::{STALE_NAN_BITS, Sample, is_stale_nan};
pub use prefetch::Prefetch;
pub use querier::{Querier, SampleIter, Series, SeriesSet};
pub use retention::RetentionStats;
pub use storage::{Options, PersistStats, Storage};
pub use storage_querier::StorageQuerier;
