//! Pull collection: a Prometheus scrape configuration, target discovery,
//! relabelling and the per-target scrape loops that append to storage
//! through the same path as remote write.

pub mod config;
pub mod discovery;
pub mod relabel;
pub mod target;
