//! Events about collection (issue #16): the `metrics_collected` event
//! (`model`), its durable outbox (`segment`, `outbox`), the bus that
//! appends and fans out (`bus`), building events where collection paths
//! end (`emit`, `streaming` for remote write's per-second aggregate),
//! consumers that pull from a position (`consumer`), and broker sinks
//! (`sink`, `nats`).
//!
//! The bus is installed once per process by `serve`; when none is, the
//! collection paths skip building events at the cost of one atomic load.

pub mod bus;
pub mod consumer;
pub mod emit;
pub mod live;
pub mod model;
pub mod nats;
pub mod nats_sink;
pub mod outbox;
pub mod segment;
pub mod sink;
pub mod streaming;

pub use bus::Bus;
pub use model::{Event, Filter, Method, Summary};

use hourglass_wal::lock::lock;
use std::sync::OnceLock;

static BUS: OnceLock<Bus> = OnceLock::new();

/// Makes `bus` the process's bus (only the first call counts).
pub fn install(bus: Bus) {
    let _ = BUS.set(bus);
}

/// The process's bus, once installed.
pub fn bus() -> Option<&'static Bus> {
    BUS.get()
}

static SINKS: std::sync::Mutex<Vec<(&'static str, std::sync::Arc<sink::SinkStats>)>> =
    std::sync::Mutex::new(Vec::new());

/// Lists a running sink's counters for `/metrics`.
pub fn add_sink(kind: &'static str, stats: std::sync::Arc<sink::SinkStats>) {
    lock(&SINKS).push((kind, stats));
}

/// Every running sink's counters.
pub fn sinks() -> Vec<(&'static str, std::sync::Arc<sink::SinkStats>)> {
    lock(&SINKS).clone()
}

/// Events directory under the data directory.
pub const DIR: &str = "events";

/// Decodes arbitrary bytes as an outbox segment, for the `event_segment`
/// fuzz target.
#[doc(hidden)]
pub use segment::fuzz_one as fuzz_event_segment;
