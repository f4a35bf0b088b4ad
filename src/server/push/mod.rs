//! The push endpoints: Pushgateway-compatible and REST custom metrics.

mod body;
mod custom;
mod gateway;

pub use custom::custom_metrics;
pub use gateway::pushgateway;
