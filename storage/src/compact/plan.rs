//! Which partitions to compact together: the partitions of one hour (late
//! data leaves several); the hours of a four-hour block once every one of
//! them left the head, so that a day not merged yet is a few partitions;
//! once a day is old enough, all of that day's partitions into one; plus
//! any partition a rewrite step touches.

use crate::partition::{
    BLOCK_MS, DAY_MS, HOUR_MS, Meta, Partition, block_name, day_name, hour_name,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One compaction: `inputs` become one partition covering
/// `[start_ms, start_ms + span_ms)`.
#[derive(Debug, Clone)]
pub struct Group {
    /// The partitions replaced, in the order the querier reads them.
    pub inputs: Vec<Arc<Partition>>,
    /// Start of the output's span.
    pub start_ms: i64,
    /// Length of the output's span (an hour, a block or a day).
    pub span_ms: i64,
    /// The output's compaction level.
    pub level: u32,
}

impl Group {
    /// The output's directory name before de-duplication.
    pub(crate) fn base_name(&self) -> String {
        match self.span_ms {
            DAY_MS => day_name(self.start_ms),
            BLOCK_MS => block_name(self.start_ms),
            _ => hour_name(self.start_ms),
        }
    }
}

/// The ends before which whole spans are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Days that ended at or before it are merged whole.
    pub day: Option<i64>,
    /// Blocks that ended at or before it (and whose day is not merged
    /// whole) are merged.
    pub block: Option<i64>,
}

/// The cutoffs of a compaction. Days: `day_after_ms` before `newest` (the
/// store's "now"), and no later than `complete_before` when known (every
/// hour before it left the head: a day merged with an hour still to come
/// would be merged again once that hour arrives). Blocks: at
/// `complete_before`, whenever day merges are on (`day_after_ms`): the
/// hours of the current day are merged as blocks end, not once the day
/// is old. None: no such merges.
pub fn cutoffs(
    newest: Option<i64>,
    day_after_ms: Option<i64>,
    complete_before: Option<i64>,
) -> Cutoffs {
    let day = newest
        .zip(day_after_ms)
        .map(|(n, after)| n.saturating_sub(after))
        .map(|aged| complete_before.map_or(aged, |c| aged.min(c)));
    Cutoffs {
        day,
        block: day_after_ms.and(complete_before),
    }
}

/// The span a partition is merged into: its day once the day is past the
/// day cutoff, else its block once that is past the block cutoff (a
/// partition spanning more than a block keeps its own), else its own span.
fn target(m: &Meta, c: Cutoffs) -> (i64, i64) {
    let day = m.hour_start_ms.div_euclid(DAY_MS) * DAY_MS;
    if c.day.is_some_and(|c| day.saturating_add(DAY_MS) <= c) {
        return (day, DAY_MS);
    }
    let block = m.hour_start_ms.div_euclid(BLOCK_MS) * BLOCK_MS;
    let ends_inside = m.hour_start_ms.saturating_add(m.span_ms) <= block.saturating_add(BLOCK_MS);
    if ends_inside && c.block.is_some_and(|c| block.saturating_add(BLOCK_MS) <= c) {
        return (block, BLOCK_MS);
    }
    (m.hour_start_ms, m.span_ms)
}

/// Plans compactions over `parts` (in querier order) for `cutoffs`
/// ([`cutoffs`]): days and blocks past theirs are merged whole; other
/// hours are merged when they hold more than one partition. `touched`
/// marks partitions to rewrite alone if nothing else would.
pub fn plan(
    parts: &[Arc<Partition>],
    cutoffs: Cutoffs,
    touched: &dyn Fn(&Partition) -> bool,
) -> Vec<Group> {
    let mut by_span: BTreeMap<(i64, i64), Vec<Arc<Partition>>> = BTreeMap::new();
    for p in parts {
        by_span
            .entry(target(p.meta(), cutoffs))
            .or_default()
            .push(Arc::clone(p));
    }
    let mut out = Vec::new();
    for ((start_ms, span_ms), inputs) in by_span {
        let already = inputs.len() == 1 && inputs[0].meta().span_ms == span_ms;
        if already && !touched(&inputs[0]) {
            continue;
        }
        let level = inputs.iter().map(|p| p.meta().level).max().unwrap_or(0) + 1;
        out.push(Group {
            inputs,
            start_ms,
            span_ms: match span_ms {
                DAY_MS | BLOCK_MS => span_ms,
                _ => HOUR_MS,
            },
            level,
        });
    }
    out
}
