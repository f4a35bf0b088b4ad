//! The Hourglass server and CLI: configuration, the HTTP surface
//! (Prometheus API, remote write, status), and the subcommands.
//!
//! This is the outermost room: protocol code (protobuf, JSON, HTTP) lives
//! here and nowhere else; storage and PromQL come from `hourglass-storage`
//! and `hourglass-query`. Nothing depends on this crate but its own binary,
//! tests and benches.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod api;
mod build_info;
pub mod cli;
mod config;
mod data_dir;
pub mod events;
pub mod ingest;
mod metadata;
#[cfg(test)]
mod mutate;
pub(crate) mod observe;
mod prom_time;
mod push;
pub mod remote_read;
pub mod rules;
pub mod scrape;
mod server;
mod sighup;
mod size;
mod ui;

/// Every route with its method and credentials class.
pub use api::routes;

/// Fuzz entry points for decoders that live in private modules.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::api::fuzz_query_params;
    pub use crate::api::remote_read_stream;
    pub use crate::events::fuzz_event_segment;
    pub use crate::ingest::jsonl_histogram::fuzz_import_line;
    pub use crate::push::{fuzz_custom_metrics_json, fuzz_group_file, fuzz_push_grouping};
    pub use crate::server::fuzz_request_target;
}
