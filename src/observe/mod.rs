//! The server watching itself: latency histograms of HTTP requests,
//! queries and persist rounds, and the slow-query log. Handlers record
//! here; `/metrics` (`api/self_metrics/`) writes the figures out. Knows
//! neither HTTP handlers nor the exposition format, so both the server
//! and the API import it and it imports neither.

mod latency;
mod slow_query;

pub use latency::{Latencies, QueryKind, QueryPhases, method_label};
pub use slow_query::{MAX_LOGGED_QUERY_BYTES, SlowQuery, SlowQueryLog, bounded_text};

use std::time::Duration;

/// Everything the server observes about itself.
#[derive(Debug)]
pub struct Observer {
    /// Latency histograms.
    pub latency: Latencies,
    /// Queries slower than the threshold, logged and counted.
    pub slow_queries: SlowQueryLog,
}

impl Observer {
    /// An observer logging queries slower than `slow_query_threshold`
    /// (zero: none).
    pub fn new(slow_query_threshold: Duration) -> Observer {
        Observer {
            latency: Latencies::default(),
            slow_queries: SlowQueryLog::new(slow_query_threshold),
        }
    }
}
