//! Downsampling as a compaction step: which partitions it touches, and
//! the summarizing of each series (`crate::downsample` does the work).

use super::RewriteStep;
use crate::downsample::{Downsampling, DsSeries};
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use crate::partition::Partition;

impl RewriteStep for Downsampling<'_> {
    /// True when compacting `p` would downsample something: its whole
    /// span is past a tier of some series it holds, raw or finer.
    fn touches(&self, p: &Partition) -> bool {
        let m = p.meta();
        let end = m.hour_start_ms.saturating_add(m.span_ms);
        p.series().any(|(l, _)| self.past(l, m.span_ms, end, 0))
            || p.downsampled().entries().iter().any(|e| {
                let finest = if e.res_max > 0 { e.res_min } else { i64::MAX };
                self.past(&e.labels, m.span_ms, end, finest)
            })
    }

    fn apply(&self, _labels: &Labels, _samples: &mut Vec<Sample>) {}

    /// Native histograms are not downsampled: they stay raw.
    fn keeps_histogram(&self, _labels: &Labels, _t: i64) -> bool {
        true
    }

    fn summarize(
        &self,
        labels: &Labels,
        span: (i64, i64),
        samples: &mut Vec<Sample>,
        ds: &mut Option<DsSeries>,
    ) {
        self.summarize_series(labels, span, samples, ds);
    }
}
