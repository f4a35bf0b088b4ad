//! The kinds of series id, each its own type so one cannot be passed
//! where the other is meant. Both are dense `u32`s, because the inverted
//! index keeps them in roaring bitmaps, which are fastest on those.
//!
//! | type        | names a series in   | handed out by            | lives as long as       | written to          |
//! |-------------|---------------------|--------------------------|------------------------|---------------------|
//! | [`HeadRef`] | the head            | the head, in creation order | the series in the head | WAL records         |
//! | [`SeriesOrd`] | one partition     | the partition writer: its rank in label order | the partition | the partition's postings |
//!
//! A head ref means nothing in a partition and an ordinal nothing in the
//! head; the labels are what ties them together.

/// A series' id in the head: dense, in creation order (replay re-creates
/// series under the ids their WAL records carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeadRef(u32);

/// A series' ordinal in one partition: its rank in the partition's
/// label-sorted series table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesOrd(u32);

/// An id the inverted index keeps in its bitmaps.
pub trait PostingId: Copy {
    /// The id of bitmap member `raw`.
    fn from_raw(raw: u32) -> Self;
    /// The bitmap member of this id.
    fn raw(self) -> u32;
    /// The id as an index into a dense table.
    fn index(self) -> usize {
        self.raw() as usize
    }
}

impl PostingId for HeadRef {
    fn from_raw(raw: u32) -> Self {
        HeadRef(raw)
    }
    fn raw(self) -> u32 {
        self.0
    }
}

impl PostingId for SeriesOrd {
    fn from_raw(raw: u32) -> Self {
        SeriesOrd(raw)
    }
    fn raw(self) -> u32 {
        self.0
    }
}
