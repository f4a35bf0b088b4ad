//! Rewrite steps: what compaction does to each series' samples besides
//! merging them. Deletions, retention rules and downsampling are steps.

use crate::downsample::DsSeries;
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
    /// Rewrites one series' downsampled intervals: by default keeps those
    /// whose last sample `apply` keeps.
    fn apply_ds(&self, labels: &Labels, ds: &mut DsSeries) {
        let mut probe: Vec<Sample> = ds.iv.iter().map(|i| Sample::new(i.last_t, 0.0)).collect();
        let n = probe.len();
        self.apply(labels, &mut probe);
        if probe.len() == n {
            return;
        }
        let mut keep = probe.iter().map(|s| s.t).peekable();
        let first_before = ds.iv.first().map(|i| i.last_t);
        ds.iv.retain(|i| {
            let kept = keep.peek() == Some(&i.last_t);
            if kept {
                keep.next();
            }
            kept
        });
        if let Some(i) = ds.iv.first()
            && Some(i.last_t) != first_before
        {
            // The first sample went with the intervals before: the new
            // first interval's increase counts from its own start.
            ds.first = Sample::new(i.t.min(i.last_t - 1), i.last - i.inc);
        }
    }
    /// Moves samples of the output span `(start, span_ms)` into the
    /// series' downsampled intervals (only downsampling does).
    fn summarize(
        &self,
        _labels: &Labels,
        _span: (i64, i64),
        _samples: &mut Vec<Sample>,
        _ds: &mut Option<DsSeries>,
    ) {
    }
    /// Whether a histogram sample of `labels` at `t` stays (every step
    /// that removes float samples by time removes histograms the same way).
    fn keeps_histogram(&self, labels: &Labels, t: i64) -> bool;
}

/// Applies `steps` in order.
pub(crate) fn apply_all(
    steps: &[&dyn RewriteStep],
    labels: &Labels,
    span: (i64, i64),
    samples: &mut Vec<Sample>,
    ds: &mut Option<DsSeries>,
) {
    for s in steps {
        if !samples.is_empty() {
            s.apply(labels, samples);
        }
        if let Some(d) = ds.as_mut() {
            s.apply_ds(labels, d);
            if d.iv.is_empty() {
                *ds = None;
            }
        }
        s.summarize(labels, span, samples, ds);
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
