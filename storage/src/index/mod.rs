//! The inverted index: label pair → series, as roaring bitmaps.
//!
//! [`MemPostings`] serves the head; partitions serialize the same shape.
//! Matcher evaluation lives here because it is bitmap algebra over postings.
//! Partitions share their series' label sets through [`share_labels`].
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod label_sets;
mod literal;
mod postings;

pub(crate) use label_sets::share as share_labels;
pub use postings::MemPostings;

#[cfg(test)]
mod tests;
