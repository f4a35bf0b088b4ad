//! Downsampling: tiers `match → after, resolution`. Once a partition's
//! whole span is older than `after` (from the newest sample stored,
//! capped at the wall clock), compaction replaces the raw samples of the
//! series a tier selects by per-interval summaries (count, sum, min, max,
//! last, counter increase) in the partition's `downsampled` file; coarser
//! tiers later fold those intervals into coarser ones. The swap that
//! writes the partition is the one that removes the raw samples, so both
//! never disappear together.
//!
//! `interval` holds the arithmetic, `format` the file; the compaction step
//! is `compact/downsample_step.rs`, the reading `downsample_read.rs`.

mod bitcolumn;
mod blocks;
mod columns;
mod file;
mod format;
mod interval;
mod reader;
mod residuals;

pub(crate) use blocks::{DsEncoded, DsWriter};
pub use file::{downsampled_bits, fuzz_downsampled, rewrite_as_version_4};
pub(crate) use format::FILE;
pub use format::FormatError;
pub use interval::{DsSeries, Interval, ReadAs};
pub(crate) use interval::{join, synthesize};
pub(crate) use reader::{DsCursor, check, open_file};
pub use reader::{DsEntry, DsFile};
pub use residuals::{COLUMNS, ColumnBits};

use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;

/// One day in ms (a resolution must divide it).
const DAY_MS: i64 = 86_400_000;

/// One tier, as configured.
#[derive(Debug, Clone)]
pub struct DownsampleRule {
    /// The selector as written, for logs and errors.
    pub selector: String,
    /// Selects the series (all must match).
    pub matchers: Vec<Matcher>,
    /// Age (from the newest sample stored, capped at the wall clock) past
    /// which the tier applies, ms.
    pub after_ms: i64,
    /// Interval length, ms; divides a day, and every coarser tier's.
    pub resolution_ms: i64,
}

impl DownsampleRule {
    fn selects(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }
}

/// Why a set of tiers is refused.
pub fn check_rules(rules: &[DownsampleRule]) -> Result<(), String> {
    for (k, r) in rules.iter().enumerate() {
        let n = k + 1;
        let name = format!("downsample rule {n} (match = {:?})", r.selector);
        if r.after_ms <= 0 {
            return Err(format!("{name}: after must be a positive duration"));
        }
        if r.resolution_ms < 60_000 || DAY_MS % r.resolution_ms != 0 {
            return Err(format!(
                "{name}: resolution must be at least 1m and divide a day (1m, 5m, 1h, …)"
            ));
        }
        for (j, o) in rules[..k].iter().enumerate() {
            let (fine, coarse) = if o.after_ms <= r.after_ms {
                (o, r)
            } else {
                (r, o)
            };
            if o.after_ms != r.after_ms && coarse.resolution_ms % fine.resolution_ms != 0 {
                return Err(format!(
                    "{name}: resolution does not nest with rule {} (match = {:?}): a later tier's resolution must be a multiple of an earlier one's",
                    j + 1,
                    o.selector
                ));
            }
            if o.after_ms == r.after_ms && o.selector == r.selector {
                return Err(format!(
                    "{name} never applies: rule {} has the same selector and after, and comes first",
                    j + 1
                ));
            }
        }
    }
    Ok(())
}

/// The tiers applied by one compaction, with "now" (the newest sample stored,
/// capped at the wall clock).
#[derive(Debug)]
pub(crate) struct Downsampling<'a> {
    pub(crate) rules: &'a [DownsampleRule],
    pub(crate) newest: i64,
}

impl Downsampling<'_> {
    /// The series' tiers as `(cutoff, resolution)`, finest first: per
    /// distinct `after`, the first rule selecting the series; only tiers
    /// whose resolution divides `span_ms`.
    fn tiers(&self, labels: &Labels, span_ms: i64) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64, i64)> = Vec::new();
        for r in self.rules {
            if out.iter().any(|t| t.0 == r.after_ms) || !r.selects(labels) {
                continue;
            }
            if span_ms % r.resolution_ms == 0 {
                out.push((
                    r.after_ms,
                    self.newest.saturating_sub(r.after_ms),
                    r.resolution_ms,
                ));
            }
        }
        out.sort_by_key(|t| t.0);
        out.into_iter().map(|(_, c, r)| (c, r)).collect()
    }

    /// True when a partition of `span_ms` ending at `end` is past a tier
    /// of `labels` coarser than `res_below` (0 for raw samples).
    pub(crate) fn past(&self, labels: &Labels, span_ms: i64, end: i64, res_below: i64) -> bool {
        self.tiers(labels, span_ms)
            .iter()
            .any(|&(cut, res)| end <= cut && res > res_below)
    }

    /// Moves the samples of `labels` before the finest tier's cutoff into
    /// `ds` (intervals of the output span `[start, start + span_ms)`), and
    /// folds `ds` into coarser tiers past theirs.
    pub(crate) fn summarize_series(
        &self,
        labels: &Labels,
        span: (i64, i64),
        samples: &mut Vec<Sample>,
        ds: &mut Option<DsSeries>,
    ) {
        let (start, span_ms) = span;
        let end = start.saturating_add(span_ms);
        let tiers = self.tiers(labels, span_ms);
        let Some(&(cut, res)) = tiers.first() else {
            return;
        };
        if end <= cut && !samples.is_empty() {
            let s = ds.get_or_insert_with(|| DsSeries {
                labels: labels.clone(),
                first: samples[0],
                iv: Vec::new(),
            });
            let prev = s.iv.last().map(|i| Sample::new(i.last_t, i.last));
            let first = samples
                .iter()
                .copied()
                .find(|x| !crate::model::sample::is_stale_nan(x.v));
            let new = interval::summarize(samples, res, prev.filter(|p| p.t < samples[0].t));
            if let Some(f) = first {
                interval::combine(s, f, new);
            }
            samples.clear();
        }
        if let Some(s) = ds.as_mut() {
            for &(cut, res) in &tiers[1..] {
                if end <= cut {
                    interval::coarsen(&mut s.iv, res, end);
                }
            }
        }
        if ds.as_ref().is_some_and(|s| s.iv.is_empty()) {
            *ds = None;
        }
    }
}

#[cfg(test)]
mod blocks_tests;
#[cfg(test)]
mod tests;
