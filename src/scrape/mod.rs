//! Pull collection: a Prometheus scrape configuration, target discovery,
//! relabelling and the per-target scrape loops that append to storage
//! through the same path as remote write.

pub mod cache;
pub mod config;
pub mod discovery;
pub mod fetch;
pub mod latency;
mod r#loop;
pub mod manager;
pub mod negotiate;
pub mod registry;
pub mod relabel;
pub mod schedule;
pub mod self_scrape;
pub mod stats;
pub mod target;
mod text_index;
pub mod tls;

pub use r#loop::{Health, TargetStatus};
pub use manager::{ActiveTarget, DroppedTarget, ScrapeManager, TargetMetadata, TargetsSnapshot};
pub use target::format_duration;
