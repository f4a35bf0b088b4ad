//! A partition's series as it keeps them in memory: one small entry a
//! series (its shared labels and where its chunks start) and one flat
//! list of chunk spans in chunks-file order. A server opens a partition
//! an hour, so what each costs a series is what memory grows by each
//! hour: a `Vec` of chunk ranges and one of histogram ranges and a label
//! set of its own took ≈ 290 bytes a node-exporter series with one chunk;
//! this takes 24 a series and 24 a chunk, the labels shared
//! ([`crate::index::share_labels`]).

use crate::model::labels::Labels;

/// A chunk's time range and the end of its bytes in the chunks file;
/// its start is the end of the span before (chunks lie back to back).
#[derive(Debug, Clone, Copy)]
struct Span {
    min_t: i64,
    max_t: i64,
    end: usize,
}

/// `(min_t, max_t, start, end)` of one chunk in the chunks file.
pub(super) type ChunkRange = (i64, i64, usize, usize);

/// Where the first chunk starts: after the chunks file's 8-byte header.
const FIRST_CHUNK: usize = 8;

#[derive(Debug)]
struct Entry {
    labels: Labels,
    /// Its first span; its float chunks are `floats` spans from there,
    /// its histogram chunks the rest up to the next entry's first.
    at: u32,
    floats: u32,
}

/// The series of a partition, in storage order.
#[derive(Debug, Default)]
pub(super) struct SeriesTable {
    entries: Vec<Entry>,
    spans: Vec<Span>,
}

/// One series: its labels and chunk ranges.
#[derive(Debug, Clone)]
pub(super) struct SeriesView<'a> {
    pub(super) labels: &'a Labels,
    pub(super) floats: Ranges<'a>,
    pub(super) hists: Ranges<'a>,
}

/// Chunk ranges of one kind of one series, in time order.
#[derive(Debug, Clone)]
pub(super) struct Ranges<'a> {
    spans: &'a [Span],
    start: usize,
}

impl Ranges<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The earliest time of its first chunk.
    pub(super) fn min_t(&self) -> Option<i64> {
        self.spans.first().map(|s| s.min_t)
    }

    /// The latest time of its last chunk.
    pub(super) fn max_t(&self) -> Option<i64> {
        self.spans.last().map(|s| s.max_t)
    }
}

impl Iterator for Ranges<'_> {
    type Item = ChunkRange;

    fn next(&mut self) -> Option<ChunkRange> {
        let (s, rest) = self.spans.split_first()?;
        let start = self.start;
        self.spans = rest;
        self.start = s.end;
        Some((s.min_t, s.max_t, start, s.end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.spans.len(), Some(self.spans.len()))
    }
}

impl ExactSizeIterator for Ranges<'_> {}

/// Why a series cannot be added (the caller names file and offset).
#[derive(Debug)]
pub(super) struct TooManyChunks;

impl SeriesTable {
    pub(super) fn with_capacity(series: usize) -> Self {
        SeriesTable {
            entries: Vec::with_capacity(series),
            spans: Vec::new(),
        }
    }

    /// Starts series `labels`; its chunks follow with [`Self::push_chunk`],
    /// floats first, then [`Self::end_floats`], then its histograms.
    pub(super) fn push_series(&mut self, labels: Labels) -> Result<(), TooManyChunks> {
        let at = u32::try_from(self.spans.len()).map_err(|_| TooManyChunks)?;
        self.entries.push(Entry {
            labels,
            at,
            floats: 0,
        });
        Ok(())
    }

    /// Ends the float chunks of the series last pushed.
    pub(super) fn end_floats(&mut self) {
        let n = self.spans.len();
        if let Some(e) = self.entries.last_mut() {
            e.floats = (n - e.at as usize) as u32;
        }
    }

    /// A chunk of the series last pushed, ending at `end` in the chunks
    /// file (it starts where the one before ended).
    pub(super) fn push_chunk(&mut self, min_t: i64, max_t: i64, end: usize) {
        self.spans.push(Span { min_t, max_t, end });
    }

    /// Where the next chunk starts in the chunks file.
    pub(super) fn next_start(&self) -> usize {
        self.spans.last().map_or(FIRST_CHUNK, |s| s.end)
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.spans.shrink_to_fit();
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Series `i`.
    pub(super) fn get(&self, i: usize) -> Option<SeriesView<'_>> {
        let e = self.entries.get(i)?;
        let end = self
            .entries
            .get(i + 1)
            .map_or(self.spans.len(), |n| n.at as usize);
        let at = e.at as usize;
        let mid = at + e.floats as usize;
        let start_of = |k: usize| {
            k.checked_sub(1)
                .and_then(|p| self.spans.get(p))
                .map_or(FIRST_CHUNK, |s| s.end)
        };
        Some(SeriesView {
            labels: &e.labels,
            floats: Ranges {
                spans: self.spans.get(at..mid)?,
                start: start_of(at),
            },
            hists: Ranges {
                spans: self.spans.get(mid..end)?,
                start: start_of(mid),
            },
        })
    }

    /// Every series in storage order.
    pub(super) fn iter(&self) -> impl Iterator<Item = SeriesView<'_>> {
        (0..self.entries.len()).filter_map(|i| self.get(i))
    }
}
