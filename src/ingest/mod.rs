//! Everything that turns outside bytes into samples for storage.

pub mod arena;
pub mod influx;
pub mod jsonl;
pub mod jsonl_histogram;
pub mod metric_family;
pub mod nhcb;
pub mod otlp;
pub mod protobuf;
pub mod remote_write;
pub mod text;
pub mod type_unit;
