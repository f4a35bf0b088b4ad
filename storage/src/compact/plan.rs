//! Which partitions to compact together: the partitions of one hour (late
//! data leaves several), and, once a day is old enough, all of that day's
//! partitions into one; plus any partition a rewrite step touches.

use crate::partition::{DAY_MS, HOUR_MS, Partition, day_name, hour_name};
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
    /// Length of the output's span (an hour or a day).
    pub span_ms: i64,
    /// The output's compaction level.
    pub level: u32,
}

impl Group {
    /// The output's directory name before de-duplication.
    pub(crate) fn base_name(&self) -> String {
        if self.span_ms == DAY_MS {
            day_name(self.start_ms)
        } else {
            hour_name(self.start_ms)
        }
    }
}

/// The end before which whole days are merged: `day_after_ms` before
/// `newest` (the store's "now"), and no later than `complete_before`
/// when known (every hour before it left the head: a day merged with an
/// hour still to come would be merged again once that hour arrives).
/// None: no day merges.
pub fn day_cutoff(
    newest: Option<i64>,
    day_after_ms: Option<i64>,
    complete_before: Option<i64>,
) -> Option<i64> {
    let aged = newest?.saturating_sub(day_after_ms?);
    Some(complete_before.map_or(aged, |c| aged.min(c)))
}

/// Plans compactions over `parts` (in querier order). Days that ended at
/// or before `day_cutoff` ([`day_cutoff`]) are merged whole; other hours
/// are merged when they hold more than one partition. `touched` marks
/// partitions to rewrite alone if nothing else would.
pub fn plan(
    parts: &[Arc<Partition>],
    day_cutoff: Option<i64>,
    touched: &dyn Fn(&Partition) -> bool,
) -> Vec<Group> {
    let mut by_span: BTreeMap<(i64, i64), Vec<Arc<Partition>>> = BTreeMap::new();
    for p in parts {
        let m = p.meta();
        let day = m.hour_start_ms.div_euclid(DAY_MS) * DAY_MS;
        let key = if day_cutoff.is_some_and(|c| day.saturating_add(DAY_MS) <= c) {
            (day, DAY_MS)
        } else {
            (m.hour_start_ms, m.span_ms)
        };
        by_span.entry(key).or_default().push(Arc::clone(p));
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
            span_ms: if span_ms == DAY_MS { DAY_MS } else { HOUR_MS },
            level,
        });
    }
    out
}
