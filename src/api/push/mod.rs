//! The push endpoints: Pushgateway-compatible and REST custom metrics. The
//! groups, the custom-metrics model and the counters are in `crate::push`.

mod body;
mod custom;
mod gateway;

pub use custom::custom_metrics;
pub use gateway::pushgateway;
