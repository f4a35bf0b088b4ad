//! Collection latency: from a scrape's start to its samples being
//! queryable, i.e. until `Storage::append` has applied them to the head
//! (head appends are visible to queriers before the call returns). One
//! process-wide histogram, shown on `/metrics` as
//! `hourglass_scrape_collection_latency_seconds`.

use hourglass_wal::Histogram;
use std::sync::LazyLock;

/// Upper bounds of the buckets, in seconds (`+Inf` follows): fine around
/// the 100 ms a scrape's samples should take to become queryable.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every scrape of this process, successful or not.
pub static COLLECTION_LATENCY: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(BUCKETS));
