//! What a query's evaluation keeps for native histograms: the
//! histogram-carrying series of range arguments set aside for the
//! functions that read them, the statistics-only flag of Prometheus's
//! stats reads, and the count of histogram samples read.

use super::Ctx;
use super::error::EvalError;
use super::range::HistMatrix;
use hourglass_storage::{FloatHistogram, HistBuf, HistogramIter, Labels, StorageError};
use std::sync::atomic::{AtomicBool, Ordering};

/// A series' histogram samples and how many samples they hold against the
/// query's limit.
pub(crate) type Decoded = (Vec<(i64, FloatHistogram)>, usize);

/// The samples one histogram counts for against the query's sample limit:
impl Ctx<'_> {
    /// Counts histogram samples read from storage (for statistics).
    pub fn loaded_histograms(&self, hists: &[(i64, hourglass_storage::FloatHistogram)]) {
        self.samples.fetch_add(hists.len(), Ordering::Relaxed);
        if let Some(p) = &self.per_step {
            p.count(hists.iter().map(|h| h.0));
        }
    }

    /// Evaluates `f` with the statistics-only flag set to `on`, restoring
    /// it afterwards.
    pub(crate) fn with_stats_only<T>(&self, on: bool, f: impl FnOnce() -> T) -> T {
        with_flag(&self.stats_only, on, f)
    }

    /// Whether selectors derive reset hints (see [`Ctx::with_stats_only`]).
    pub(crate) fn stats_only(&self) -> bool {
        self.stats_only.load(Ordering::Relaxed)
    }

    /// Keeps the histogram series of the range argument at `key` for
    /// [`Ctx::take_hists`].
    pub fn stash_hists(&self, key: usize, m: HistMatrix) {
        if let Ok(mut stash) = self.hist_stash.lock() {
            stash.retain(|(k, _)| *k != key);
            stash.push((key, m));
        }
    }

    /// True when the range argument at `key` left histogram series.
    pub fn has_hists(&self, key: usize) -> bool {
        self.hist_stash
            .lock()
            .is_ok_and(|s| s.iter().any(|(k, _)| *k == key))
    }

    /// The histogram series the range argument at `key` left, if any,
    /// every series' histograms decoded.
    pub fn take_hists(&self, key: usize) -> Result<Option<HistMatrix>, EvalError> {
        let Some(mut m) = self.take_hists_lazy(key) else {
            return Ok(None);
        };
        if m.pending.is_empty() {
            return Ok(Some(m));
        }
        let pending = std::mem::take(&mut m.pending);
        let mut series = Vec::with_capacity(m.series.len());
        for (mut s, p) in std::mem::take(&mut m.series).into_iter().zip(pending) {
            if let Some(it) = p {
                s.hists = self.decode_hists(&s.labels, it, false)?.0;
            }
            // Only stale markers: a float series, as when decoded at once.
            if !s.hists.is_empty() {
                series.push(s);
            }
        }
        if series.is_empty() {
            return Ok(None);
        }
        m.series = series;
        Ok(Some(m))
    }

    /// [`Ctx::take_hists`] leaving histograms still in chunks in
    /// `pending`, for a reader that decodes one series at a time.
    pub fn take_hists_lazy(&self, key: usize) -> Option<HistMatrix> {
        let mut stash = self.hist_stash.lock().ok()?;
        let i = stash.iter().position(|(k, _)| *k == key)?;
        Some(stash.swap_remove(i).1)
    }

    /// Evaluates `f` with selectors leaving histograms in chunks (see
    /// [`Ctx::take_hists_lazy`]).
    pub(crate) fn with_lazy_hists<T>(&self, f: impl FnOnce() -> T) -> T {
        with_flag(&self.lazy_hists, true, f)
    }

    /// Whether selectors leave histograms in chunks.
    pub(crate) fn lazy_hists(&self) -> bool {
        self.lazy_hists.load(Ordering::Relaxed)
    }

    /// Decodes a selected series' histograms: stale markers dropped
    /// unless `keep_stale`, reset hints derived for statistics-only reads,
    /// counted in the statistics and held against the query's sample
    /// limit (the caller releases the count it gets once done, or keeps it
    /// held as part of its result).
    pub(crate) fn decode_hists(
        &self,
        labels: &Labels,
        it: HistogramIter,
        keep_stale: bool,
    ) -> Result<Decoded, EvalError> {
        let mut hists = it.into_vec().map_err(|source| StorageError::Chunk {
            series: labels.to_string(),
            source,
        })?;
        if !keep_stale {
            hists.retain(|(_, h)| !h.is_stale());
        }
        if self.stats_only() {
            derive_reset_hints(&mut hists);
        }
        self.loaded_histograms(&hists);
        // Charged against the query's sample limit, each as Prometheus
        // counts a histogram point.
        let n = hists.iter().map(|(_, h)| hpoint_samples(h)).sum();
        self.keep(n)?;
        Ok((hists, n))
    }

    /// [`Ctx::decode_hists`] into a worker's reused buffer; the count held
    /// against the sample limit, for the caller to release.
    pub(crate) fn decode_hists_into(
        &self,
        labels: &Labels,
        it: HistogramIter,
        buf: &mut HistBuf,
    ) -> Result<usize, EvalError> {
        it.decode_into(buf).map_err(|source| StorageError::Chunk {
            series: labels.to_string(),
            source,
        })?;
        buf.retain(|h| !h.is_stale());
        if self.stats_only() {
            derive_reset_hints(buf.as_mut_slice());
        }
        self.loaded_histograms(buf.as_slice());
        let n = buf.as_slice().iter().map(|(_, h)| hpoint_samples(h)).sum();
        self.keep(n)?;
        Ok(n)
    }
}

/// Evaluates `f` with `flag` set to `on`, restoring it afterwards.
fn with_flag<T>(flag: &AtomicBool, on: bool, f: impl FnOnce() -> T) -> T {
    let before = flag.swap(on, Ordering::Relaxed);
    let out = f();
    flag.store(before, Ordering::Relaxed);
    out
}

/// Gives every histogram without a hint the one its predecessor in `hs`
/// implies: a counter reset or not (the first: not).
fn derive_reset_hints(hs: &mut [(i64, FloatHistogram)]) {
    use hourglass_storage::CounterResetHint as H;
    for i in 0..hs.len() {
        if hs[i].1.counter_reset_hint != H::Unknown {
            continue;
        }
        let reset = i > 0 && super::histogram::reset::is_reset(&hs[i].1, &hs[i - 1].1);
        hs[i].1.counter_reset_hint = if reset {
            H::CounterReset
        } else {
            H::NotCounterReset
        };
    }
}

/// Prometheus's `HPoint.size()`, `(FloatHistogram.Size() + 8) / 16`, where
/// `Size()` is 168 bytes of struct plus 8 per span, bucket and custom
/// bound (a 20-bucket histogram of 2 spans counts as 22 samples).
fn hpoint_samples(h: &FloatHistogram) -> usize {
    let parts = h.positive_spans.len()
        + h.negative_spans.len()
        + h.positive_buckets.len()
        + h.negative_buckets.len()
        + h.custom_values.len();
    (168 + 8 * parts + 8) / 16
}
