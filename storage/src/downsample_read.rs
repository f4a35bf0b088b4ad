//! Reading downsampled series: for each partition's downsampled series
//! that the matchers select, the synthetic samples standing for its
//! intervals in the range, as the reader asks (`ReadAs`).

use crate::downsample::{ReadAs, synthesize};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;
use crate::partition::Partition;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Synthetic samples per series in `[mint, maxt]`, and the coarsest
/// resolution they stand for (none when no downsampled data was read).
pub(crate) type DsRead = (BTreeMap<Labels, Vec<Sample>>, Option<i64>);

/// Reads the downsampled series of `parts` (in querier order).
pub(crate) fn select(
    parts: &[Arc<Partition>],
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    read: ReadAs,
) -> DsRead {
    let mut by: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut res: Option<i64> = None;
    for p in parts {
        let m = p.meta();
        if p.downsampled().is_empty() || m.max_t < mint || m.min_t > maxt {
            continue;
        }
        for s in p.downsampled() {
            if !matchers.iter().all(|m| m.matches_labels(&s.labels)) {
                continue;
            }
            let out = by.entry(s.labels.clone()).or_default();
            let n = out.len();
            synthesize(s, read, mint, maxt, out);
            if out.len() > n {
                let r = s.iv.iter().map(|i| i.res).max();
                res = res.max(r);
            }
        }
    }
    by.retain(|_, v| {
        // Blocks of several partitions: time order, the first wins a tie.
        v.sort_by_key(|s| s.t);
        v.dedup_by_key(|s| s.t);
        !v.is_empty()
    });
    (by, res)
}
