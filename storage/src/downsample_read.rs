//! Reading downsampled series: for each partition's downsampled series
//! that the matchers select, the synthetic samples standing for its
//! intervals in the range, as the reader asks (`ReadAs`). Only the
//! selected series' blocks are decoded, one at a time.

use crate::downsample::{DsCursor, FormatError, ReadAs, synthesize};
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;
use crate::partition::{Partition, PartitionError};
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
) -> Result<DsRead, StorageError> {
    let mut by: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut res: Option<i64> = None;
    for p in parts {
        let m = p.meta();
        let file = p.downsampled();
        if file.entries().is_empty() || m.max_t < mint || m.min_t > maxt {
            continue;
        }
        let mut cur = DsCursor::new(file);
        for (i, e) in file.entries().iter().enumerate() {
            if e.last_t < mint
                || e.first_t > maxt
                || !matchers.iter().all(|m| m.matches_labels(&e.labels))
            {
                continue;
            }
            let s = cur.series(i).map_err(|d| damaged(p, d))?;
            let out = by.entry(e.labels.clone()).or_default();
            let n = out.len();
            synthesize(s, read, mint, maxt, out);
            if out.len() > n {
                res = res.max(Some(e.res_max));
            }
        }
    }
    by.retain(|_, v| {
        // Blocks of several partitions: time order, the first wins a tie.
        v.sort_by_key(|s| s.t);
        v.dedup_by_key(|s| s.t);
        !v.is_empty()
    });
    Ok((by, res))
}

/// A block of `p`'s `downsampled` file that failed to decode.
pub(crate) fn damaged(p: &Partition, e: FormatError) -> StorageError {
    StorageError::Partition(PartitionError::Corrupt {
        dir: p.dir().display().to_string(),
        file: crate::downsample::FILE,
        offset: e.offset,
        reason: e.reason,
    })
}
