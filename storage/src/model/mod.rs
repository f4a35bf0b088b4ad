//! The vocabulary shared by every room: labels, samples, matchers.

pub mod labels;
pub mod matcher;
pub mod sample;
