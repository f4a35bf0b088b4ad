//! Rewrite steps: what compaction does to each series' samples besides
//! merging them. Deletions and retention rules are steps; downsampling
//! can be one later, without touching the merge.

use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use crate::partition::Partition;
use std::fmt::Debug;

/// One transformation of a series' samples during compaction.
///
/// `apply` gets the samples of one series over the whole output span,
/// sorted by time with distinct timestamps, and must leave them so.
pub trait RewriteStep: Send + Sync + Debug {
    /// True when `apply` might change something in `p`: such a partition
    /// is rewritten even when there is nothing to merge it with.
    fn touches(&self, p: &Partition) -> bool;
    /// Rewrites one series' samples in place.
    fn apply(&self, labels: &Labels, samples: &mut Vec<Sample>);
    /// Whether a histogram sample of `labels` at `t` stays (every step
    /// that removes float samples by time removes histograms the same way).
    fn keeps_histogram(&self, labels: &Labels, t: i64) -> bool;
}

/// Applies `steps` in order.
pub(crate) fn apply_all(steps: &[&dyn RewriteStep], labels: &Labels, samples: &mut Vec<Sample>) {
    for s in steps {
        if samples.is_empty() {
            return;
        }
        s.apply(labels, samples);
    }
}

/// Applies `steps` to one series' histogram samples.
pub(crate) fn apply_all_histograms(
    steps: &[&dyn RewriteStep],
    labels: &Labels,
    histograms: &mut Vec<(i64, FloatHistogram)>,
) {
    for s in steps {
        if histograms.is_empty() {
            return;
        }
        histograms.retain(|(t, _)| s.keeps_histogram(labels, *t));
    }
}
