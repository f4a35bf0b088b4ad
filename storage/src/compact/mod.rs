//! Compaction: one mechanism for the background compactor of `serve` and
//! the offline `hourglass compact`. It merges the partitions of one hour
//! (late data leaves several), the hours of a four-hour block once they
//! all left the head, and, past an age, the partitions of a day into one
//! day partition; re-encodes every series over its whole span; applies
//! the rewrite steps (deletions, retention rules); and swaps the result in
//! for its inputs so that a crash at any step loses and duplicates nothing.
//!
//! `plan` picks the groups, `merge` builds a group's series, `swap`
//! writes and swaps (with `journal`), `rewrite` is the step seam.

mod downsample_step;
mod journal;
mod merge;
mod plan;
mod rewrite;
mod swap;

pub use journal::{JOURNAL, check_journal, fuzz_journal};
pub use merge::MergeCounts;
pub use plan::{Cutoffs, Group, cutoffs, plan};
pub use rewrite::RewriteStep;
pub(crate) use swap::recover;

use crate::error::StorageError;
use crate::partition::{Partition, encode, free_name};
use hourglass_wal::fs::Fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How compaction runs.
#[derive(Debug, Clone, Default)]
pub struct CompactOptions {
    /// Merge the partitions of a day into one once the day ended this
    /// long before the newest sample stored, capped at the wall clock, and
    /// meanwhile its hours into four-hour blocks as each block's hours
    /// leave the head (none: hours stay hours).
    pub day_after_ms: Option<i64>,
}

/// What one compaction run did, for logs and the CLI summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Groups compacted.
    pub groups: usize,
    /// Partitions replaced.
    pub partitions_in: usize,
    /// Partitions written.
    pub partitions_out: usize,
    /// Series and samples read and written.
    pub counts: MergeCounts,
    /// Bytes of the partitions replaced.
    pub bytes_in: u64,
    /// Bytes of the partitions written.
    pub bytes_out: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// A stop interrupted the run: the groups after `groups` were left
    /// as they were, for the next run.
    pub interrupted: bool,
}

impl CompactStats {
    /// Adds another run's figures to these.
    pub(crate) fn add(&mut self, o: &CompactStats) {
        self.groups += o.groups;
        self.partitions_in += o.partitions_in;
        self.partitions_out += o.partitions_out;
        self.counts.series_in += o.counts.series_in;
        self.counts.series_out += o.counts.series_out;
        self.counts.samples_in += o.counts.samples_in;
        self.counts.samples_out += o.counts.samples_out;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.elapsed += o.elapsed;
        self.interrupted |= o.interrupted;
    }
}

/// Progress of a run: after each group, `done` of `total` groups, and the
/// totals so far.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Groups finished.
    pub done: usize,
    /// Groups planned.
    pub total: usize,
    /// Totals so far.
    pub so_far: &'a CompactStats,
}

/// The merge alone, no rewrite steps (benchmarks).
#[cfg(feature = "internals")]
pub(crate) fn merge_only(
    parts: &[Arc<Partition>],
) -> Result<(Vec<crate::partition::PartSeries>, MergeCounts), StorageError> {
    merge::merge(
        parts,
        &[],
        (0, crate::partition::DAY_MS),
        &AtomicBool::new(false),
    )
    .map(|(s, _, c)| (s, c))
}

/// Compacts one group: merge, encode, swap. Returns the output partition
/// (none when nothing stays) and the group's figures. `stop` set before
/// the swap commits (a stop) ends it with [`StorageError::Interrupted`]:
/// during the merge, after the encoding, or once the copy is written
/// (which then goes), so a stop waits for one step at most.
pub(crate) fn compact_group(
    fs: &dyn Fs,
    parts: &Path,
    g: &Group,
    steps: &[&dyn RewriteStep],
    source_label: &str,
    stop: &AtomicBool,
) -> Result<(Option<Arc<Partition>>, CompactStats), StorageError> {
    let t0 = std::time::Instant::now();
    let (series, ds, counts) = merge::merge(&g.inputs, steps, (g.start_ms, g.span_ms), stop)?;
    let enc = if series.is_empty() && ds.is_none() {
        None
    } else {
        Some(encode(g.start_ms, g.span_ms, g.level, series, source_label)?.with_downsampled(ds))
    };
    if stop.load(Ordering::Relaxed) {
        return Err(StorageError::Interrupted);
    }
    let name = free_name(fs, parts, &g.base_name());
    let out = swap::swap(
        fs,
        parts,
        &g.inputs,
        enc.as_ref().map(|e| (e, name.as_str())),
        stop,
    )?;
    let stats = CompactStats {
        groups: 1,
        partitions_in: g.inputs.len(),
        partitions_out: usize::from(out.is_some()),
        counts,
        bytes_in: g.inputs.iter().map(|p| p.bytes()).sum(),
        bytes_out: out.as_ref().map_or(0, |p| p.bytes()),
        elapsed: t0.elapsed(),
        interrupted: false,
    };
    Ok((out, stats))
}
