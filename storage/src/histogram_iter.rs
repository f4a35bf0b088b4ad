//! A series' histogram samples as the read seam hands them out: decoded
//! where they were cheap to have (the head, the chunks at the ends of the
//! range), and otherwise as partition chunks decoded only when the samples
//! are read, so a reader that takes series one at a time holds one
//! series' histograms at a time.

use crate::chunk::ChunkError;
use crate::chunk::histogram::decode_range_reusing;
use crate::hist_buf::HistBuf;
use crate::model::histogram::FloatHistogram;
use crate::part_bytes::PartBytes;
use std::sync::Arc;

/// Part of one source's samples, in time order.
#[derive(Debug, Clone)]
pub(crate) enum HistPiece {
    /// Samples already decoded.
    Decoded(Vec<(i64, FloatHistogram)>),
    /// Whole histogram chunks of a partition (`start..end` in `file`),
    /// every sample inside the selected range; never empty.
    Chunks {
        file: Arc<PartBytes>,
        ranges: Vec<(usize, usize)>,
    },
    /// Whole sealed histogram chunks of the head, shared with it, every
    /// sample inside the selected range; never empty.
    Sealed(Vec<Arc<[u8]>>),
}

impl HistPiece {
    /// Calls `f` with the bytes of each chunk of a `Chunks` or `Sealed`
    /// piece, in order; nothing for `Decoded`.
    fn for_each_chunk(
        &self,
        mut f: impl FnMut(&[u8]) -> Result<(), ChunkError>,
    ) -> Result<(), ChunkError> {
        match self {
            HistPiece::Decoded(_) => Ok(()),
            HistPiece::Chunks { file, ranges } => ranges.iter().try_for_each(|&(start, end)| {
                f(file
                    .get(start..end)
                    .ok_or(ChunkError::TooShort { len: 0 })?)
            }),
            HistPiece::Sealed(chunks) => chunks.iter().try_for_each(|bytes| f(bytes)),
        }
    }

    fn decode_into(self, out: &mut Vec<(i64, FloatHistogram)>) -> Result<(), ChunkError> {
        match self {
            HistPiece::Decoded(mut v) if out.is_empty() => {
                std::mem::swap(out, &mut v);
                Ok(())
            }
            HistPiece::Decoded(mut v) => {
                out.append(&mut v);
                Ok(())
            }
            chunks => chunks.for_each_chunk(|bytes| {
                crate::chunk::histogram::decode_range_into(bytes, i64::MIN, i64::MAX, out)
            }),
        }
    }

    /// [`HistPiece::decode_into`] into a reused buffer.
    fn decode_reusing(self, out: &mut HistBuf) -> Result<(), ChunkError> {
        match self {
            HistPiece::Decoded(v) => {
                out.reserve(v.len());
                for (t, h) in v {
                    out.push(t, h);
                }
                Ok(())
            }
            chunks => {
                chunks.for_each_chunk(|bytes| decode_range_reusing(bytes, i64::MIN, i64::MAX, out))
            }
        }
    }
}

/// A series' head histograms in a range as a reader takes them: the sealed
/// part (shared chunks, and the samples of chunks partly in the range),
/// and the decoded part; each in time order, timestamps disjoint.
#[derive(Debug, Default)]
pub(crate) struct HistSnapshot {
    pub(crate) sealed: Vec<HistPiece>,
    pub(crate) decoded: Vec<(i64, FloatHistogram)>,
}

impl HistSnapshot {
    pub(crate) fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.decoded.is_empty()
    }

    /// The time of the first sample.
    pub(crate) fn first_t(&self) -> Option<i64> {
        let sealed = self.sealed.first().and_then(|p| match p {
            HistPiece::Decoded(v) => v.first().map(|x| x.0),
            HistPiece::Sealed(c) => c
                .first()
                .and_then(|b| crate::chunk::histogram::first_time(b)),
            HistPiece::Chunks { .. } => None,
        });
        let decoded = self.decoded.first().map(|x| x.0);
        match (sealed, decoded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The two parts as sources of a merge, sealed first.
    pub(crate) fn into_sources(self) -> [Vec<HistPiece>; 2] {
        [self.sealed, vec![HistPiece::Decoded(self.decoded)]]
    }
}

/// Histogram samples of one selected series in strictly increasing time
/// order (duplicates across sources removed); empty for float-only series.
/// Samples still in chunks are decoded when first read ([`Self::into_vec`]
/// or iteration); a damaged chunk found then ends the samples and is kept
/// in [`Self::error`].
#[derive(Debug, Default, Clone)]
pub struct HistogramIter {
    items: std::vec::IntoIter<(i64, FloatHistogram)>,
    /// Sources not decoded yet, each a run of pieces in time order.
    pending: Vec<Vec<HistPiece>>,
    error: Option<ChunkError>,
}

impl HistogramIter {
    /// Samples already sorted by time and without duplicate timestamps.
    pub fn from_sorted(items: Vec<(i64, FloatHistogram)>) -> Self {
        HistogramIter {
            items: items.into_iter(),
            ..HistogramIter::default()
        }
    }

    /// Samples from several sources, each sorted by time: merged in time
    /// order; on a timestamp several sources hold, the earliest source wins.
    pub fn merge(sources: Vec<Vec<(i64, FloatHistogram)>>) -> Self {
        Self::from_sorted(merge(sources))
    }

    /// [`Self::merge`] of sources still (partly) in chunks: nothing is
    /// decoded until the samples are read. Empty sources are dropped.
    pub(crate) fn merge_lazy(sources: Vec<Vec<HistPiece>>) -> Self {
        let pending: Vec<Vec<HistPiece>> = sources
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .filter(|p| !matches!(p, HistPiece::Decoded(v) if v.is_empty()))
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect();
        HistogramIter {
            pending,
            ..HistogramIter::default()
        }
    }

    /// Decodes what is still in chunks.
    fn materialize(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut sources = Vec::with_capacity(self.pending.len());
        for pieces in std::mem::take(&mut self.pending) {
            let mut v = Vec::new();
            for p in pieces {
                if let Err(e) = p.decode_into(&mut v) {
                    self.error = Some(e);
                    return;
                }
            }
            sources.push(v);
        }
        self.items = merge(sources).into_iter();
    }

    /// The samples left, decoded; the error of a damaged chunk.
    pub fn into_vec(mut self) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
        self.materialize();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.items.collect()),
        }
    }

    /// The samples left decoded into `buf` (replacing what it held), its
    /// kept slots reused; the error of a damaged chunk. Sources that follow
    /// one another in time are decoded straight in place.
    pub fn decode_into(mut self, buf: &mut HistBuf) -> Result<(), ChunkError> {
        buf.clear();
        if self.pending.is_empty() {
            buf.fill(self.items.collect());
            return Ok(());
        }
        let mut starts = Vec::with_capacity(self.pending.len());
        for pieces in std::mem::take(&mut self.pending) {
            starts.push(buf.len());
            for p in pieces {
                p.decode_reusing(buf)?;
            }
        }
        let s = buf.as_slice();
        let ordered = starts
            .iter()
            .filter(|&&i| i > 0 && i < s.len())
            .all(|&i| s[i - 1].0 < s[i].0);
        if !ordered {
            let mut sources = Vec::with_capacity(starts.len());
            let ends = starts.iter().skip(1).copied().chain([s.len()]);
            for (a, b) in starts.iter().copied().zip(ends) {
                sources.push(s[a..b].to_vec());
            }
            buf.fill(merge(sources));
        }
        Ok(())
    }

    /// True when no sample is left (known without decoding).
    pub fn is_empty(&self) -> bool {
        self.items.len() == 0 && self.pending.is_empty()
    }

    /// True when some samples are still in chunks.
    pub fn is_lazy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The decode error that ended the samples early, if any.
    pub fn error(&self) -> Option<&ChunkError> {
        self.error.as_ref()
    }

    /// The samples left, as a slice (decoded first).
    pub fn as_slice(&mut self) -> &[(i64, FloatHistogram)] {
        self.materialize();
        self.items.as_slice()
    }
}

/// Sources sorted by time merged in time order, the earliest source
/// winning a shared timestamp.
fn merge(sources: Vec<Vec<(i64, FloatHistogram)>>) -> Vec<(i64, FloatHistogram)> {
    let mut sources: Vec<_> = sources.into_iter().filter(|s| !s.is_empty()).collect();
    // Partitions are hours apart: sources that follow one another in
    // time are concatenated, without sorting or copying twice.
    let disjoint = sources
        .windows(2)
        .all(|w| matches!((w[0].last(), w[1].first()), (Some(a), Some(b)) if a.0 < b.0));
    match sources.len() {
        0 => Vec::new(),
        1 => sources.pop().unwrap_or_default(),
        _ if disjoint => {
            let mut all = Vec::with_capacity(sources.iter().map(Vec::len).sum());
            for s in sources {
                all.extend(s);
            }
            all
        }
        _ => {
            let mut all: Vec<(usize, i64, FloatHistogram)> = sources
                .into_iter()
                .enumerate()
                .flat_map(|(i, s)| s.into_iter().map(move |(t, h)| (i, t, h)))
                .collect();
            all.sort_by_key(|&(i, t, _)| (t, i));
            all.dedup_by_key(|x| x.1);
            all.into_iter().map(|(_, t, h)| (t, h)).collect()
        }
    }
}

impl Iterator for HistogramIter {
    type Item = (i64, FloatHistogram);
    fn next(&mut self) -> Option<Self::Item> {
        self.materialize();
        self.items.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.pending.is_empty() {
            self.items.size_hint()
        } else {
            (self.items.len(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(sum: f64) -> FloatHistogram {
        FloatHistogram {
            sum,
            ..FloatHistogram::default()
        }
    }

    fn chunk(ts: &[i64]) -> Arc<[u8]> {
        let samples: Vec<(i64, FloatHistogram)> = ts.iter().map(|&t| (t, h(t as f64))).collect();
        crate::chunk::histogram::encode(&samples).unwrap().into()
    }

    fn lazy(second: Vec<(i64, FloatHistogram)>) -> HistogramIter {
        HistogramIter::merge_lazy(vec![
            vec![HistPiece::Sealed(vec![chunk(&[1, 2, 3]), chunk(&[4, 5])])],
            vec![HistPiece::Decoded(second)],
        ])
    }

    #[test]
    fn decode_into_a_reused_buffer_matches_into_vec() {
        let mut buf = HistBuf::default();
        for second in [
            vec![(6, h(6.0)), (7, h(7.0))],
            // Overlapping sources: merged, the first winning the tie.
            vec![(0, h(0.0)), (5, h(50.0)), (8, h(8.0))],
            vec![],
        ] {
            let want = lazy(second.clone()).into_vec().unwrap();
            lazy(second).decode_into(&mut buf).unwrap();
            assert_eq!(buf.as_slice(), want.as_slice());
        }
        HistogramIter::from_sorted(vec![(9, h(9.0))])
            .decode_into(&mut buf)
            .unwrap();
        assert_eq!(buf.as_slice(), &[(9, h(9.0))]);
    }

    #[test]
    fn merge_keeps_time_order_and_the_first_source_on_a_tie() {
        let it = HistogramIter::merge(vec![
            vec![(1, h(1.0)), (5, h(5.0))],
            vec![],
            vec![(3, h(3.0)), (5, h(50.0)), (7, h(7.0))],
        ]);
        let got: Vec<(i64, f64)> = it.map(|(t, h)| (t, h.sum)).collect();
        assert_eq!(got, vec![(1, 1.0), (3, 3.0), (5, 5.0), (7, 7.0)]);
        assert!(HistogramIter::default().is_empty());
    }
}
