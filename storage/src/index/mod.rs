//! The inverted index: label pair → series, as roaring bitmaps.
//!
//! [`MemPostings`] serves the head; partitions serialize the same shape.
//! Matcher evaluation lives here because it is bitmap algebra over postings.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod literal;
mod postings;

pub use postings::MemPostings;

#[cfg(test)]
mod tests;
