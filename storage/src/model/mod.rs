//! The vocabulary shared by every room: labels, samples, matchers, batches.

pub mod batch;
pub mod histogram;
pub mod labels;
pub mod matcher;
pub mod refs;
pub mod sample;
