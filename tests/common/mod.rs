//! Helpers of the integration tests, one module per idea: a real
//! `hourglass serve` ([`server`]), the binary as a command ([`cli`]), the HTTP client ([`http`]), writes
//! ([`write`]), queries and `/metrics` ([`query`]), answers compared with Prometheus ([`compare`]), waiting ([`wait`]),
//! credentials ([`auth`]), the custom metrics API ([`custom`]), OTLP bodies ([`otlp`]), scrape targets served by the test ([`target`],
//! [`protobuf_target`] for the protobuf format, [`families`] for its bodies),
//! the targets API ([`targets`]) and outside binaries such as Prometheus
//! ([`external`]).
//! Assertions over text (an error message, a log line) are in [`text`].
#![allow(dead_code, unused_imports)]

pub mod auth;
pub mod cli;
pub mod compare;
pub mod custom;
pub mod events;
pub mod external;
pub mod families;
pub mod http;
pub mod otlp;
pub mod protobuf_target;
pub mod query;
pub mod remote_read;
pub mod server;
pub mod target;
pub mod targets;
pub mod text;
pub mod wait;
pub mod write;

pub use http::{JSON, Response, request, try_request};
pub use query::metric;
pub use server::{
    BIN, FORM, KEEP_HISTORY, Server, config_file, keeping_history, refused_naming, refused_start,
    signal, start_scraping, start_scraping_with, start_with_config, wait_with_timeout,
};
pub use text::assert_mentions;
// The family types, in scope for [`families`] (which the unit tests mount too).
use hourglass::ingest::metric_family::{
    Bucket, Counter, Family, FamilyType, HistogramMsg, Metric, Summary, encode,
};
pub use wait::{wait_for, wait_until};
pub use write::{
    Series, V1_HEADERS, V2_HEADERS, gzip, now_ms, post_write, remote_write, remote_write_v2,
    v1_body, write_counter_v2, write_series, written,
};
