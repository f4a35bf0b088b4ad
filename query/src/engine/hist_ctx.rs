//! What a query's evaluation keeps for native histograms: the
//! histogram-carrying series of range arguments set aside for the
//! functions that read them, the statistics-only flag of Prometheus's
//! stats reads, and the count of histogram samples read.

use super::Ctx;
use super::range::HistMatrix;
use std::sync::atomic::Ordering;

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
        let before = self.stats_only.swap(on, Ordering::Relaxed);
        let out = f();
        self.stats_only.store(before, Ordering::Relaxed);
        out
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

    /// The histogram series the range argument at `key` left, if any.
    pub fn take_hists(&self, key: usize) -> Option<HistMatrix> {
        let mut stash = self.hist_stash.lock().ok()?;
        let i = stash.iter().position(|(k, _)| *k == key)?;
        Some(stash.swap_remove(i).1)
    }
}
