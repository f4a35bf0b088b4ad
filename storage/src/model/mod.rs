//! The vocabulary shared by every room: labels, samples, matchers, batches.

pub mod batch;
pub mod histogram;
mod histogram_resolution;
pub mod labels;
pub mod matcher;
pub mod refs;
pub mod sample;
