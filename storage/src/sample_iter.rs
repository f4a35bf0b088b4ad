//! [`SampleIter`]: one series' samples, merged from sorted runs of chunks
//! and loose samples, de-duplicated and clipped to the query's range.

use crate::chunk::ChunkError;
use crate::chunk_handle::{ChunkData, ChunkMeta};
use crate::model::sample::Sample;
use crate::prefetch::{self, Prefetch};

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
    /// Whether the sources were filled. `new` defers that (so decoding
    /// happens wherever the samples are read, e.g. on a worker thread)
    /// when chunk bounds already prove a sample in range.
    primed: bool,
    /// [`SampleIter::held_bytes`], counted by `new` while its lists are
    /// still in cache (on thousands of series, reading them again later
    /// misses the cache twice a series).
    held: usize,
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
        let inside = |t: i64| t >= mint && t <= maxt;
        // A chunk's first and last times are sample times: either inside
        // the range proves the series non-empty without decoding.
        let sure = runs_hit(&sources, inside)
            || sources
                .iter()
                .any(|s| s.buf.iter().any(|smp| inside(smp.t)));
        let mut it = SampleIter {
            sources,
            mint,
            maxt,
            last: None,
            err: None,
            primed: false,
            held: 0,
        };
        if !sure {
            it.prime();
        }
        it.held = it.count_held();
        it
    }

    fn prime(&mut self) {
        if !self.primed {
            self.primed = true;
            for i in 0..self.sources.len() {
                self.fill(i, self.mint);
            }
        }
    }

    /// True when no sample is left (and none failed to decode).
    pub fn is_exhausted(&self) -> bool {
        // Unprimed only when a sample in range is known to exist.
        self.primed && self.err.is_none() && self.sources.iter().all(|s| s.head().is_none())
    }

    /// At most how many samples [`SampleIter::read_into`] appends (the
    /// chunk headers' counts, before clipping to the range): known before
    /// anything is decoded, but whole chunks; a reader counting against a
    /// limit uses [`SampleIter::read_into_at_most`] instead.
    pub fn upper_bound(&self) -> usize {
        self.sources
            .iter()
            .map(|s| {
                let queued: usize = s.chunks.as_slice().iter().map(ChunkMeta::num_samples).sum();
                s.buf.len().saturating_sub(s.pos).saturating_add(queued)
            })
            .fold(0, usize::saturating_add)
    }

    /// Heap bytes this iterator held of its own when it was made: its
    /// sources, their chunk handles, decoded buffers, and chunk bytes
    /// copied for it alone (a head chunk still being appended); bytes
    /// shared with storage are not counted. For a query's memory
    /// accounting, before anything is read.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    fn count_held(&self) -> usize {
        // Known from the handle alone: no chunk's shared count is read
        // (a cache miss each, on thousands of series).
        let own = |m: &ChunkMeta| match &m.data {
            ChunkData::Copied(c) => c.byte_len(),
            ChunkData::Owned(_) | ChunkData::Mapped { .. } => 0,
        };
        self.sources.capacity() * size_of::<Source>()
            + self
                .sources
                .iter()
                .map(|s| {
                    let chunks = s.chunks.as_slice();
                    size_of_val(chunks)
                        + chunks.iter().map(own).sum::<usize>()
                        + s.buf.capacity() * size_of::<Sample>()
                })
                .sum::<usize>()
    }

    /// Appends every remaining sample to `out`: what the iterator would
    /// yield, copied a run at a time instead of sample by sample. As with
    /// the iterator, check [`SampleIter::error`] afterwards.
    pub fn read_into(&mut self, out: &mut Vec<Sample>) {
        self.read_into_at_most(out, usize::MAX);
    }

    /// [`SampleIter::read_into`] that stops once it has appended more than
    /// `max` samples, at the end of the chunk (or merged run) that went
    /// past it: so a reader can count the samples in range against a limit
    /// as they are decoded, holding at most one chunk more than it allows.
    /// True when every sample was read; after false, another call reads
    /// on from where this one stopped.
    pub fn read_into_at_most(&mut self, out: &mut Vec<Sample>, max: usize) -> bool {
        // A single source needs no buffering at all: skip priming it.
        if self.sources.len() == 1 {
            self.primed = true;
        }
        self.prime();
        // Room for every remaining chunk up front (within what the caller
        // allows): no regrowth, and the headers' cache misses overlap
        // instead of stalling one by one.
        out.reserve(self.upper_bound().min(max));
        if self.sources.len() == 1 {
            return self.read_single(out, max);
        }
        let first = out.len();
        loop {
            // The source with the earliest head (the first such wins ties,
            // as in `next`) and the earliest head among the others.
            let mut best: Option<(usize, i64)> = None;
            let mut second = i64::MAX;
            for (i, src) in self.sources.iter().enumerate() {
                let Some(h) = src.head() else { continue };
                match best {
                    Some((_, b)) if h.t >= b => second = second.min(h.t),
                    _ => {
                        if let Some((_, b)) = best {
                            second = second.min(b);
                        }
                        best = Some((i, h.t));
                    }
                }
            }
            let Some((i, head)) = best else { return true };
            if head > self.maxt {
                return true;
            }
            let from = self
                .last
                .map_or(self.mint, |l| l.t.saturating_add(1))
                .max(self.mint);
            let maxt = self.maxt;
            let src = &mut self.sources[i];
            let rest = &src.buf[src.pos..];
            // The run this source leads: up to the other sources' next
            // sample (the head itself on a tie, which it wins).
            let end = rest.partition_point(|s| s.t < second && s.t <= maxt).max(1);
            let skip = rest[..end].partition_point(|s| s.t < from);
            out.extend_from_slice(&rest[skip..end]);
            if skip < end {
                self.last = Some(rest[end - 1]);
            }
            let next_from = rest[end - 1].t.saturating_add(1);
            src.pos += end;
            self.fill(i, next_from);
            if out.len() - first > max {
                return false;
            }
        }
    }

    /// Hints the CPU to fetch what reading will touch, one level at a
    /// time (see [`Prefetch`]); no effect on the samples.
    ///
    /// ```
    /// # use hourglass_storage::{Prefetch, SampleIter};
    /// // Reading series after series: ask ahead, a level per distance.
    /// fn read_all(iters: &mut [SampleIter]) -> usize {
    ///     let mut n = 0;
    ///     for i in 0..iters.len() {
    ///         for (ahead, level) in [(3, Prefetch::Lists), (2, Prefetch::Chunks), (1, Prefetch::Bytes)] {
    ///             if let Some(it) = iters.get(i + ahead) {
    ///                 it.prefetch(level);
    ///             }
    ///         }
    ///         n += iters[i].by_ref().count();
    ///     }
    ///     n
    /// }
    /// # assert_eq!(read_all(&mut []), 0);
    /// ```
    pub fn prefetch(&self, level: Prefetch) {
        match level {
            Prefetch::Lists => prefetch::line(self.sources.as_ptr()),
            Prefetch::Chunks => {
                for s in &self.sources {
                    prefetch::line(s.chunks.as_slice().as_ptr());
                }
            }
            Prefetch::Bytes => {
                for s in &self.sources {
                    for c in s.chunks.as_slice() {
                        match &c.data {
                            // The open chunk's copy spans a few lines.
                            ChunkData::Owned(chunk) | ChunkData::Copied(chunk) => {
                                prefetch::bytes(chunk.as_bytes(), 256)
                            }
                            ChunkData::Mapped { file, start, end } => {
                                if let Some(b) = file.get(*start..*end) {
                                    prefetch::bytes(b, 64);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Why iteration stopped early, if it did.
    pub fn error(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    /// Advances to the first sample with time `>= t`; if the last returned
    /// sample already qualifies it is returned again (never backwards).
    pub fn seek(&mut self, t: i64) -> Option<Sample> {
        self.prime();
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
            let res = c.decode_into(&mut src.buf);
            // Decoded times strictly increase: clip by binary search.
            let maxt = self.maxt;
            src.buf.truncate(src.buf.partition_point(|s| s.t <= maxt));
            src.pos = src.buf.partition_point(|s| s.t < from);
            if let Err(e) = res {
                self.fail(e);
                return;
            }
        }
    }

    /// Stops iteration for good after a decoding error.
    fn fail(&mut self, e: ChunkError) {
        self.err.get_or_insert(e);
        self.sources.iter_mut().for_each(|s| {
            s.buf.clear();
            s.pos = 0;
            s.chunks = Vec::new().into_iter();
        });
    }

    /// [`SampleIter::read_into_at_most`] for a single source: no merging,
    /// so the chunks decode straight into `out` and are clipped there.
    fn read_single(&mut self, out: &mut Vec<Sample>, max: usize) -> bool {
        let maxt = self.maxt;
        let mut from = self
            .last
            .map_or(self.mint, |l| l.t.saturating_add(1))
            .max(self.mint);
        let first = out.len();
        let Some(src) = self.sources.first_mut() else {
            return true;
        };
        let rest = &src.buf[src.pos..];
        let hi = rest.partition_point(|s| s.t <= maxt);
        let lo = rest[..hi].partition_point(|s| s.t < from);
        out.extend_from_slice(&rest[lo..hi]);
        src.pos = src.buf.len();
        if let Some(l) = out.get(first..).and_then(<[Sample]>::last) {
            from = l.t.saturating_add(1);
        }
        let mut failed = None;
        let mut done = true;
        loop {
            if out.len() - first > max && !src.chunks.as_slice().is_empty() {
                done = false;
                break;
            }
            let Some(c) = src.chunks.next() else { break };
            if c.max_t < from || c.min_t > maxt {
                continue;
            }
            let start = out.len();
            // As the iterator: nothing of a chunk that fails.
            if let Err(e) = c.decode_range_into(from, maxt, out) {
                failed = Some(e);
                break;
            }
            if let Some(l) = out.get(start..).and_then(<[Sample]>::last) {
                from = l.t.saturating_add(1);
            }
        }
        if let Some(l) = out.get(first..).and_then(<[Sample]>::last) {
            self.last = Some(*l);
        }
        if let Some(e) = failed {
            self.fail(e);
            return true;
        }
        done
    }
}

/// True when some chunk of `sources` starts or ends at a time for which
/// `inside` holds.
fn runs_hit(sources: &[Source], inside: impl Fn(i64) -> bool) -> bool {
    sources.iter().any(|s| {
        s.chunks
            .as_slice()
            .iter()
            .any(|c| inside(c.min_t) || inside(c.max_t))
    })
}

impl Iterator for SampleIter {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        self.prime();
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
    use std::sync::Arc;

    fn run(samples: &[(i64, f64)], per_chunk: usize) -> Vec<ChunkMeta> {
        samples
            .chunks(per_chunk)
            .map(|c| {
                let mut a = XorAppender::new();
                for &(t, v) in c {
                    a.append(Sample::new(t, v)).unwrap();
                }
                // Sealed as the head seals: packed when regular.
                ChunkMeta {
                    min_t: c[0].0,
                    max_t: c[c.len() - 1].0,
                    data: ChunkData::Owned(crate::chunk::seal(&a)),
                }
            })
            .collect()
    }

    use proptest::prelude::*;

    /// Sorted, distinct timestamps with values tagged by source: random,
    /// or one fixed interval apart (whose chunks seal packed).
    fn times(max: usize) -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            prop::collection::btree_set(0i64..400, 0..max).prop_map(|s| s.into_iter().collect()),
            (0i64..100, 1i64..12, 0..max)
                .prop_map(|(t0, d, n)| (0..n as i64).map(|i| t0 + i * d).collect()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn read_into_agrees_with_next(
            a in times(80), b in times(40), extra in times(10),
            per_chunk in 1usize..30, mint in -5i64..300, len in 0i64..400, taken in 0usize..5,
            with_b in any::<bool>(), with_extra in any::<bool>(), max in prop::option::of(0usize..40),
        ) {
            let tagged = |ts: &[i64], v: f64| -> Vec<(i64, f64)> {
                ts.iter().map(|&t| (t, v)).collect()
            };
            let make = || {
                let mut runs = vec![run(&tagged(&a, 1.0), per_chunk)];
                if with_b && !b.is_empty() {
                    runs.push(run(&tagged(&b, 2.0), per_chunk.div_ceil(2)));
                }
                let extra = if with_extra { extra.as_slice() } else { &[] };
                let extra = extra.iter().map(|&t| Sample::new(t, 3.0)).collect();
                SampleIter::new(runs, extra, mint, mint + len)
            };
            let mut want_it = make();
            let mut got_it = make();
            prop_assert_eq!(want_it.is_exhausted(), got_it.is_exhausted());
            let mut got: Vec<Sample> = Vec::new();
            for _ in 0..taken {
                got.extend(got_it.next());
            }
            match max {
                None => got_it.read_into(&mut got),
                // In pieces: each call past `max` by at most one chunk
                // (or the loose samples), and on from where it stopped.
                Some(max) => loop {
                    let before = got.len();
                    let done = got_it.read_into_at_most(&mut got, max);
                    prop_assert!(got.len() - before <= max + per_chunk.max(10));
                    if done {
                        break;
                    }
                },
            }
            let want: Vec<Sample> = want_it.by_ref().collect();
            prop_assert_eq!(got, want);
            prop_assert!(got_it.error().is_none());
            prop_assert!(got_it.next().is_none());
        }
    }

    #[test]
    fn emptiness_is_known_before_decoding() {
        let a: Vec<_> = (0..10).map(|i| (i * 10, 1.0)).collect();
        // Chunk bounds inside the range: not exhausted, nothing decoded yet.
        let it = SampleIter::new(vec![run(&a, 3)], vec![], 25, 35);
        assert!(!it.is_exhausted() && !it.primed);
        // A chunk straddling a range with no sample in it: decoded to know.
        let it = SampleIter::new(vec![run(&a, 10)], vec![], 41, 49);
        assert!(it.is_exhausted());
    }

    #[test]
    fn read_into_reports_corrupt_chunks() {
        let a: Vec<_> = (0..10).map(|i| (i * 10, 1.0)).collect();
        let mut bytes = run(&a, 10)
            .pop()
            .map(|c| match c.data {
                ChunkData::Owned(c) | ChunkData::Copied(c) => c.as_bytes().to_vec(),
                ChunkData::Mapped { .. } => unreachable!(),
            })
            .unwrap();
        bytes[6] ^= 0xff;
        let len = bytes.len();
        let meta = ChunkMeta {
            min_t: 0,
            max_t: 90,
            data: ChunkData::Mapped {
                file: Arc::new(crate::part_bytes::PartBytes::Owned(bytes)),
                start: 0,
                end: len,
            },
        };
        let good: Vec<_> = (10..20).map(|i| (i * 10, 2.0)).collect();
        let mut it = SampleIter::new(vec![vec![meta.clone()]], vec![], 0, 100);
        assert!(!it.is_exhausted());
        let mut out = Vec::new();
        it.read_into(&mut out);
        assert!(out.is_empty());
        assert!(matches!(it.error(), Some(ChunkError::Checksum { .. })));
        // Good chunks before a bad one are read, as by the iterator.
        let mut bad_last: Vec<ChunkMeta> = run(&good, 4);
        bad_last.push(ChunkMeta {
            min_t: 200,
            max_t: 290,
            data: meta.data.clone(),
        });
        for merged in [false, true] {
            let mut runs = vec![bad_last.clone()];
            if merged {
                runs.push(run(&[(1000, 9.0)], 1));
            }
            let mut want_it = SampleIter::new(runs.clone(), vec![], 0, 2000);
            let want: Vec<_> = want_it.by_ref().collect();
            let mut it = SampleIter::new(runs, vec![], 0, 2000);
            let mut out = Vec::new();
            it.read_into(&mut out);
            assert_eq!(out.len(), 10);
            assert_eq!(out, want);
            assert_eq!(it.error(), want_it.error());
        }
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
