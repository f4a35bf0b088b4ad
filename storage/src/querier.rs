//! The read seam: what the query engine sees of storage.
//!
//! A [`Querier`] answers for a fixed time range `[mint, maxt]` (both
//! inclusive, ms). `select` returns series sorted by labels, each with a
//! [`SampleIter`] yielding samples in strictly increasing time order with
//! duplicates (same timestamp from several sources) removed. Queriers are
//! `Send + Sync`; each `Series` owns its data, so iterators run on any
//! thread after the querier is gone.

use crate::chunk::{Chunk, ChunkError, ChunkView};
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;
use std::sync::Arc;

/// Read access to stored series over a time range.
pub trait Querier: Send + Sync {
    /// Series matching every matcher with at least one sample in
    /// `[mint, maxt]` (intersected with the querier's own range), sorted by
    /// labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64)
    -> Result<SeriesSet, StorageError>;

    /// Label names of series matching `matchers` (all series when empty),
    /// sorted.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Values of label `name` on series matching `matchers`, sorted.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
}

/// One selected series.
#[derive(Debug)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// Its samples in the selected range.
    pub samples: SampleIter,
}

/// Selected series in label order.
#[derive(Debug, Default)]
pub struct SeriesSet {
    series: std::vec::IntoIter<Series>,
}

impl SeriesSet {
    pub(crate) fn new(mut series: Vec<Series>) -> Self {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        SeriesSet {
            series: series.into_iter(),
        }
    }
}

impl Iterator for SeriesSet {
    type Item = Series;
    fn next(&mut self) -> Option<Series> {
        self.series.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.series.size_hint()
    }
}

impl ExactSizeIterator for SeriesSet {}

/// Where a chunk's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum ChunkData {
    /// Sealed in memory (the head).
    Owned(Arc<Chunk>),
    /// A range of a partition's mmapped chunks file, CRC checked on decode.
    Mapped {
        file: Arc<memmap2::Mmap>,
        start: usize,
        end: usize,
    },
}

/// A chunk handle with its time range, so whole chunks can be skipped.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMeta {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: ChunkData,
}

/// One sorted source of samples.
#[derive(Debug)]
struct Source {
    /// Remaining chunks (sorted, disjoint), decoded one at a time into `buf`.
    chunks: std::vec::IntoIter<ChunkMeta>,
    buf: Vec<Sample>,
    pos: usize,
}

impl Source {
    fn head(&self) -> Option<Sample> {
        self.buf.get(self.pos).copied()
    }
}

/// Samples of one series: a merge of sorted sources, de-duplicated by
/// timestamp (the earlier source wins), clipped to `[mint, maxt]`.
///
/// Contract as for [`crate::chunk::ChunkIter`]: corrupt data ends iteration
/// early and [`SampleIter::error`] says why; check it after the loop.
#[derive(Debug)]
pub struct SampleIter {
    sources: Vec<Source>,
    mint: i64,
    maxt: i64,
    /// The last sample returned, which `seek` may return again.
    last: Option<Sample>,
    err: Option<ChunkError>,
}

impl SampleIter {
    /// `runs` are chunk lists (each sorted and disjoint), `extra` a sorted
    /// sample list (e.g. out-of-order samples); earlier inputs win ties.
    pub(crate) fn new(runs: Vec<Vec<ChunkMeta>>, extra: Vec<Sample>, mint: i64, maxt: i64) -> Self {
        let mut sources: Vec<Source> = runs
            .into_iter()
            .map(|r| Source {
                chunks: r.into_iter(),
                buf: Vec::new(),
                pos: 0,
            })
            .collect();
        if !extra.is_empty() {
            sources.push(Source {
                chunks: Vec::new().into_iter(),
                buf: extra,
                pos: 0,
            });
        }
        let mut it = SampleIter {
            sources,
            mint,
            maxt,
            last: None,
            err: None,
        };
        for i in 0..it.sources.len() {
            it.fill(i, mint);
        }
        it
    }

    /// True when no sample is left (and none failed to decode).
    pub fn is_exhausted(&self) -> bool {
        self.err.is_none() && self.sources.iter().all(|s| s.head().is_none())
    }

    /// Why iteration stopped early, if it did.
    pub fn error(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    /// Advances to the first sample with time `>= t`; if the last returned
    /// sample already qualifies it is returned again (never backwards).
    pub fn seek(&mut self, t: i64) -> Option<Sample> {
        if let Some(l) = self.last
            && l.t >= t
        {
            return Some(l);
        }
        let t = t.max(self.mint);
        for i in 0..self.sources.len() {
            let src = &mut self.sources[i];
            let skip = src.buf[src.pos..].partition_point(|s| s.t < t);
            src.pos += skip;
            self.fill(i, t);
        }
        self.next()
    }

    /// Makes sure source `i` has a sample `>= from` buffered, or is done.
    fn fill(&mut self, i: usize, from: i64) {
        loop {
            let src = &mut self.sources[i];
            if src.pos < src.buf.len() {
                return;
            }
            let Some(c) = src.chunks.next() else {
                return;
            };
            if c.max_t < from || c.min_t > self.maxt {
                continue;
            }
            src.buf.clear();
            src.pos = 0;
            let (lo, hi) = (from, self.maxt);
            let res = match &c.data {
                ChunkData::Owned(chunk) => {
                    let mut it = chunk.iter();
                    src.buf
                        .extend(it.by_ref().filter(|s| s.t >= lo && s.t <= hi));
                    it.finish()
                }
                ChunkData::Mapped { file, start, end } => {
                    match file.get(*start..*end).map(ChunkView::parse) {
                        Some(Ok(view)) => {
                            let mut it = view.iter();
                            src.buf
                                .extend(it.by_ref().filter(|s| s.t >= lo && s.t <= hi));
                            it.finish()
                        }
                        Some(Err(e)) => Err(e),
                        None => Err(ChunkError::TooShort { len: 0 }),
                    }
                }
            };
            if let Err(e) = res {
                self.err.get_or_insert(e);
                self.sources.iter_mut().for_each(|s| {
                    s.buf.clear();
                    s.pos = 0;
                    s.chunks = Vec::new().into_iter();
                });
                return;
            }
        }
    }
}

impl Iterator for SampleIter {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        loop {
            // Few sources (usually one or two): a linear scan is cheapest.
            let mut best: Option<(usize, Sample)> = None;
            for (i, src) in self.sources.iter().enumerate() {
                if let Some(s) = src.head()
                    && best.is_none_or(|(_, b)| s.t < b.t)
                {
                    best = Some((i, s));
                }
            }
            let (i, s) = best?;
            let next_from = s.t.saturating_add(1);
            self.sources[i].pos += 1;
            self.fill(i, next_from);
            if s.t > self.maxt {
                return None;
            }
            if self.last.is_some_and(|l| s.t <= l.t) || s.t < self.mint {
                continue;
            }
            self.last = Some(s);
            return Some(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::XorAppender;

    fn run(samples: &[(i64, f64)], per_chunk: usize) -> Vec<ChunkMeta> {
        samples
            .chunks(per_chunk)
            .map(|c| {
                let mut a = XorAppender::new();
                for &(t, v) in c {
                    a.append(Sample::new(t, v)).unwrap();
                }
                ChunkMeta {
                    min_t: c[0].0,
                    max_t: c[c.len() - 1].0,
                    data: ChunkData::Owned(Arc::new(a.to_chunk())),
                }
            })
            .collect()
    }

    #[test]
    fn merges_dedups_and_clips() {
        let a: Vec<_> = (0..10).map(|i| (i * 10, 1.0)).collect();
        let b: Vec<_> = (0..10).map(|i| (i * 15, 2.0)).collect();
        let extra = vec![Sample::new(5, 3.0), Sample::new(30, 9.0)];
        let it = SampleIter::new(vec![run(&a, 3), run(&b, 4)], extra, 10, 60);
        let got: Vec<(i64, f64)> = it.map(|s| (s.t, s.v)).collect();
        assert_eq!(
            got,
            vec![
                (10, 1.0),
                (15, 2.0),
                (20, 1.0),
                (30, 1.0),
                (40, 1.0),
                (45, 2.0),
                (50, 1.0),
                (60, 1.0)
            ]
        );
        let mut it = SampleIter::new(vec![run(&a, 3)], vec![], 0, 1000);
        assert_eq!(it.seek(35), Some(Sample::new(40, 1.0)));
        assert_eq!(it.next(), Some(Sample::new(50, 1.0)));
        assert_eq!(it.seek(10), Some(Sample::new(50, 1.0)));
        assert_eq!(it.next(), Some(Sample::new(60, 1.0)));
    }
}
