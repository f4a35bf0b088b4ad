//! One in-memory series: sealed chunks, the open chunk, and the
//! out-of-order buffer, with the acceptance rules.

use super::intern::SeriesLabels;
use super::thin::{OooMap, ThinVec};
use crate::chunk::{Chunk, CutPolicy, XorAppender};
use crate::chunk_handle::{ChunkData, ChunkMeta};
use crate::histogram_iter::HistSnapshot;
use crate::model::refs::HeadRef;
use crate::model::sample::Sample;
use crate::prefetch::{self, Prefetch};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

/// A chunk the head has sealed, with its time range.
#[derive(Debug, Clone)]
pub(crate) struct HeadChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) chunk: Chunk,
}

/// A series' samples. In-order samples live in chunks; older samples that
/// arrive later sit in `ooo` and are merged at read time.
#[derive(Debug, Default)]
pub(crate) struct SeriesData {
    pub(crate) sealed: ThinVec<HeadChunk>,
    pub(crate) open: XorAppender,
    /// Out-of-order samples by time (value bits), and the histograms.
    pub(crate) ooo: OooMap,
    /// Newest in-order sample (time, value bits) when `has_newest`; kept
    /// when its chunk moves to a partition, so the acceptance rules still
    /// see it. Split from its flag (no `Option`): 8 bytes less a series,
    /// which leave room for [`MemSeries::table_hash`].
    newest_at: (i64, u64),
    has_newest: bool,
    /// Set (under this lock) when garbage collection removed the series;
    /// an appender that finds it set looks the series up again.
    pub(crate) deleted: bool,
}

/// A series' data in a time range, as a reader copies it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) chunks: Vec<ChunkMeta>,
    pub(crate) ooo: Vec<Sample>,
    pub(crate) histograms: HistSnapshot,
}

impl Snapshot {
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.ooo.is_empty() && self.histograms.is_empty()
    }
}

/// What happened to one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Appended,
    /// Same timestamp and same value as a stored sample: nothing to do.
    Duplicate,
    /// Older than the series' newest by more than the out-of-order window.
    OutOfWindow,
    /// Older than retention allows.
    PastRetention,
    /// Same timestamp as a stored sample, different value.
    DuplicateConflict,
    /// Newer than the wall clock plus the future grace.
    TooFarInFuture,
}

/// The rules in force for an append.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) cut: CutPolicy,
    pub(crate) ooo_window_ms: i64,
    /// Samples before this are refused (retention).
    pub(crate) min_valid_t: i64,
    /// Samples after this are refused (wall clock plus the future grace);
    /// it also caps the time the out-of-order window is measured back
    /// from, so a series holding a future sample still takes current ones.
    pub(crate) max_valid_t: i64,
    /// Replay: samples were accepted once already, so no window applies.
    pub(crate) replay: bool,
}

impl Rules {
    /// The refusal of a sample at `t` by its time alone (retention, the
    /// future bound), whatever the series holds.
    pub(crate) fn refuse_time(&self, t: i64) -> Option<Outcome> {
        if self.replay {
            None
        } else if t < self.min_valid_t {
            Some(Outcome::PastRetention)
        } else if t > self.max_valid_t {
            Some(Outcome::TooFarInFuture)
        } else {
            None
        }
    }

    /// Small chunks (4 samples), an hour boundary, a one-second window
    /// and valid times 0..=1_000_000: the head's unit tests.
    #[cfg(test)]
    pub(crate) fn small() -> Self {
        Rules {
            cut: CutPolicy {
                max_samples: 4,
                boundary_ms: 3_600_000,
            },
            ooo_window_ms: 1000,
            min_valid_t: 0,
            max_valid_t: 1_000_000,
            replay: false,
        }
    }
}

/// A series in the head.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) id: HeadRef,
    /// The low half of its labels hash: its shard's table files it by
    /// this, so growing a table rehashes no labels.
    pub(crate) table_hash: u32,
    /// Interned: read through the head's interner.
    pub(crate) labels: SeriesLabels,
    pub(crate) data: Mutex<SeriesData>,
    /// Set once a WAL record holding this series' definition is durable;
    /// until then every record that uses the series repeats it.
    pub(crate) def_durable: AtomicBool,
    /// The writer's quota this series is charged to: an index into the
    /// head's owners plus one, `0` for none (fits beside `id`).
    pub(crate) owner: u16,
}

impl MemSeries {
    pub(crate) fn new(id: HeadRef, hash: u64, labels: SeriesLabels, owner: u16) -> Self {
        MemSeries {
            id,
            table_hash: hash as u32,
            labels,
            data: Mutex::new(SeriesData::default()),
            def_durable: AtomicBool::new(false),
            owner,
        }
    }
}

impl SeriesData {
    /// Newest in-order sample (time, value bits).
    pub(crate) fn newest(&self) -> Option<(i64, u64)> {
        self.has_newest.then_some(self.newest_at)
    }

    pub(crate) fn set_newest(&mut self, newest: Option<(i64, u64)>) {
        self.has_newest = newest.is_some();
        self.newest_at = newest.unwrap_or_default();
    }

    /// Newest in-order timestamp.
    pub(crate) fn max_t(&self) -> Option<i64> {
        self.newest().map(|(t, _)| t)
    }

    pub(crate) fn append(&mut self, s: Sample, rules: &Rules) -> Outcome {
        if let Some(refused) = rules.refuse_time(s.t) {
            return refused;
        }
        if self.has_histogram_at(s.t) {
            return Outcome::DuplicateConflict;
        }
        let Some(max_t) = self.max_t() else {
            return self.append_in_order(s, rules);
        };
        if s.t > max_t {
            return self.append_in_order(s, rules);
        }
        let window_end = max_t.min(rules.max_valid_t);
        if !rules.replay && s.t < window_end.saturating_sub(rules.ooo_window_ms) {
            return Outcome::OutOfWindow;
        }
        let bits = s.v.to_bits();
        if let Some(stored) = self.stored_at(s.t) {
            return if stored == bits {
                Outcome::Duplicate
            } else {
                Outcome::DuplicateConflict
            };
        }
        self.ooo.insert(s.t, bits);
        Outcome::Appended
    }

    fn append_in_order(&mut self, s: Sample, rules: &Rules) -> Outcome {
        if rules.cut.should_cut(&self.open, s.t) {
            self.seal_open();
        }
        let ok = self.open.append(s).is_ok() || {
            // Full (u16::MAX samples) cannot happen below the cut policy's
            // max; seal and retry once rather than lose the sample.
            self.seal_open();
            self.open.append(s).is_ok()
        };
        if !ok {
            return Outcome::DuplicateConflict;
        }
        self.set_newest(Some((s.t, s.v.to_bits())));
        Outcome::Appended
    }

    /// Moves the open chunk to `sealed`.
    pub(crate) fn seal_open(&mut self) {
        if let (Some(min_t), Some(max_t)) = (self.open.first_t(), self.open.last_t()) {
            let chunk = crate::chunk::seal(&self.open);
            self.sealed.push(HeadChunk {
                min_t,
                max_t,
                chunk,
            });
        }
        self.open = XorAppender::new();
    }

    /// The float value bits stored at exactly `t`, if any.
    pub(crate) fn stored_at(&self, t: i64) -> Option<u64> {
        if let Some(&b) = self.ooo.get(&t) {
            return Some(b);
        }
        if let Some((nt, nb)) = self.newest()
            && nt == t
        {
            return Some(nb);
        }
        if let (Some(first), Some(last)) = (self.open.first_t(), self.open.last()) {
            if t == last.t {
                return Some(last.v.to_bits());
            }
            if t >= first {
                return self
                    .open
                    .to_chunk()
                    .iter()
                    .find(|s| s.t == t)
                    .map(|s| s.v.to_bits());
            }
        }
        // Sealed chunks are sorted and disjoint.
        let i = self.sealed.partition_point(|c| c.max_t < t);
        let c = self.sealed.get(i).filter(|c| c.min_t <= t)?;
        let mut it = c.chunk.iter();
        it.seek(t).filter(|s| s.t == t).map(|s| s.v.to_bits())
    }

    /// Hints the CPU to fetch what [`SeriesData::snapshot`] will read, a
    /// level at a time, each reached through the one before: the chunk
    /// list and the open chunk's bytes, then the newest chunk entries,
    /// then those chunks' shared allocations.
    pub(crate) fn prefetch(&self, level: Prefetch, mint: i64, maxt: i64) {
        match level {
            Prefetch::Lists => {
                prefetch::line(self.sealed.as_ptr());
                self.open.prefetch();
            }
            Prefetch::Chunks => {
                // The entries a range near the present reads: the last few.
                let n = self.sealed.len();
                let tail = &self.sealed[n.saturating_sub(3)..];
                prefetch::line(tail.as_ptr());
                prefetch::line(tail.as_ptr_range().end.wrapping_sub(1));
            }
            Prefetch::Bytes => {
                for c in overlapping(&self.sealed, mint, maxt).iter().rev().take(4) {
                    prefetch::line(c.chunk.as_bytes().as_ptr());
                }
            }
        }
    }

    /// Samples with `mint <= t <= maxt`, for a reader: chunk handles, the
    /// out-of-order samples and the histogram samples, copied so the lock
    /// can be released.
    pub(crate) fn snapshot(&self, mint: i64, maxt: i64) -> Snapshot {
        let sealed = overlapping(&self.sealed, mint, maxt);
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(sealed.len() + 1);
        chunks.extend(sealed.iter().map(|c| ChunkMeta {
            min_t: c.min_t,
            max_t: c.max_t,
            data: ChunkData::Owned(c.chunk.clone()),
        }));
        if let (Some(first), Some(last)) = (self.open.first_t(), self.open.last_t())
            && last >= mint
            && first <= maxt
        {
            chunks.push(ChunkMeta {
                min_t: first,
                max_t: last,
                data: ChunkData::Copied(self.open.to_chunk()),
            });
        }
        let ooo = if mint <= maxt {
            self.ooo
                .range(mint..=maxt)
                .map(|(&t, &b)| Sample::new(t, f64::from_bits(b)))
                .collect()
        } else {
            Vec::new()
        };
        let histograms = self.hist_snapshot(mint, maxt);
        Snapshot {
            chunks,
            ooo,
            histograms,
        }
    }

    /// True when nothing is held and the newest sample is before `t`.
    pub(crate) fn idle_before(&self, t: i64) -> bool {
        self.sealed.is_empty()
            && self.open.is_empty()
            && self.ooo.is_empty()
            && self.newest().is_none_or(|(n, _)| n < t)
            && self
                .ooo
                .hist()
                .is_none_or(|h| h.is_empty() && h.newest.is_none_or(|n| n < t))
    }

    /// Samples stored (in-order and out-of-order).
    pub(crate) fn num_samples(&self) -> usize {
        self.sealed
            .iter()
            .map(|c| c.chunk.num_samples())
            .sum::<usize>()
            + self.open.len()
            + self.ooo.len()
            + self.num_histograms()
    }
}

/// Entries searched from the end before falling back to binary search.
const SCAN_BACK: usize = 4;

/// The chunks of `sealed` (in time order, disjoint) that overlap
/// `[mint, maxt]`. Queries mostly read the newest chunks: a short walk
/// back from the end touches adjacent entries, whose cache misses overlap,
/// where a binary search from the middle takes one dependent miss per step.
fn overlapping(sealed: &[HeadChunk], mint: i64, maxt: i64) -> &[HeadChunk] {
    let end = last_where(sealed, |c| c.min_t <= maxt);
    let sealed = &sealed[..end];
    let start = last_where(sealed, |c| c.max_t < mint);
    &sealed[start..]
}

/// `v.partition_point(pred)`, searched from the end first.
fn last_where(v: &[HeadChunk], pred: impl Fn(&HeadChunk) -> bool) -> usize {
    match v.iter().rev().take(SCAN_BACK).position(&pred) {
        Some(k) => v.len() - k,
        None => {
            let rest = &v[..v.len().saturating_sub(SCAN_BACK)];
            rest.partition_point(pred)
        }
    }
}

#[cfg(test)]
mod tests {
    /// A series' fixed part with its `Arc` counts fits mimalloc's 192-byte
    /// class; one field more and every series costs 32 bytes more.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_series_fits_192_bytes() {
        assert!(std::mem::size_of::<MemSeries>() + 16 <= 192);
    }

    use super::*;

    #[test]
    fn acceptance_rules() {
        let r = Rules::small();
        let mut d = SeriesData::default();
        for t in (10_000..20_000).step_by(500) {
            assert_eq!(d.append(Sample::new(t, t as f64), &r), Outcome::Appended);
        }
        let newest = 19_500;
        assert_eq!(
            d.append(Sample::new(newest, newest as f64), &r),
            Outcome::Duplicate
        );
        assert_eq!(
            d.append(Sample::new(newest, 1.0), &r),
            Outcome::DuplicateConflict
        );
        assert_eq!(
            d.append(Sample::new(19_000, 19_000.0), &r),
            Outcome::Duplicate
        );
        assert_eq!(
            d.append(Sample::new(19_000, 1.0), &r),
            Outcome::DuplicateConflict
        );
        assert_eq!(d.append(Sample::new(18_600, 1.0), &r), Outcome::Appended);
        assert_eq!(d.append(Sample::new(18_600, 1.0), &r), Outcome::Duplicate);
        assert_eq!(d.append(Sample::new(18_400, 1.0), &r), Outcome::OutOfWindow);
        // A sealed chunk's sample is found for the duplicate check.
        assert_eq!(
            d.append(Sample::new(10_000, 2.0), &Rules { replay: true, ..r }),
            Outcome::DuplicateConflict
        );
        let past = Rules {
            min_valid_t: 50_000,
            ..r
        };
        assert_eq!(
            d.append(Sample::new(40_000, 1.0), &past),
            Outcome::PastRetention
        );
        assert!(d.sealed.len() >= 4);
        assert_eq!(d.num_samples(), 21);
    }

    #[test]
    fn overlapping_matches_a_binary_search() {
        let chunk = XorAppender::new().to_chunk();
        for n in 0..12 {
            let sealed: Vec<HeadChunk> = (0..n)
                .map(|i| HeadChunk {
                    min_t: i * 10,
                    max_t: i * 10 + 5,
                    chunk: chunk.clone(),
                })
                .collect();
            for mint in -5..n * 10 + 10 {
                for maxt in mint - 3..n * 10 + 10 {
                    let from = sealed.partition_point(|c| c.max_t < mint);
                    let to = sealed.partition_point(|c| c.min_t <= maxt).max(from);
                    let got = overlapping(&sealed, mint, maxt);
                    let want = &sealed[from..to];
                    assert_eq!(got.len(), want.len(), "n={n} [{mint}, {maxt}]");
                    assert!(got.first().map(|c| c.min_t) == want.first().map(|c| c.min_t));
                }
            }
        }
    }
}
