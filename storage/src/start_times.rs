//! Start timestamps of float samples, kept as companion series.
//!
//! A sample's start timestamp ("ST", the renamed created timestamp) says
//! since when the counter it belongs to has been counting. A series'
//! start timestamps live in a companion series: the owner's labels plus
//! [`START_TIME_LABEL`], one sample per owner sample that has a start
//! timestamp, at the owner sample's time, whose value is the start
//! timestamp in ms (exact in an `f64` up to 2^53). The WAL, checkpoints,
//! partitions, compaction, retention, deletes and crash recovery treat it
//! as any series, so a start timestamp survives whatever its sample does;
//! a constant start timestamp (a cumulative counter) costs a few bits per
//! sample in the chunk encodings.
//!
//! Companions never reach a reader as series of their own: the querier
//! drops them from `select` and hands their samples to their owner as
//! [`crate::Series::start_times`], and drops the reserved label from label
//! listings. Writers outside storage cannot use the label
//! ([`crate::Labels::validate`] refuses it); only
//! [`crate::Storage::append_start_times`] writes companions.

use crate::error::StorageError;
use crate::model::batch::WriteBatch;
use crate::model::labels::{Label, Labels};
use crate::model::sample::Sample;
use crate::querier::{Series, SeriesSet};
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::model::labels::START_TIME_LABEL;

/// Whether `st` is a usable start timestamp of a sample at `t`: set
/// (`0` means unset, as in remote write 2.0) and before the sample. A
/// start timestamp at or after its sample says nothing about a reset, so
/// it is treated as unset and not stored.
pub fn valid_start(st: i64, t: i64) -> bool {
    st != 0 && st < t
}

/// Whether `labels` are a companion's.
pub(crate) fn is_companion(labels: &Labels) -> bool {
    labels.get(START_TIME_LABEL).is_some()
}

/// The companion series' labels of `owner`.
pub(crate) fn companion_of(owner: &Labels) -> Labels {
    let mut pairs: Vec<Label> = owner.iter().cloned().collect();
    pairs.push(Label {
        name: Arc::from(START_TIME_LABEL),
        value: Arc::from("1"),
    });
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    Labels::from_sorted(pairs)
}

/// The batch of companions for `owners`: per series, `(t, st)` pairs of
/// its samples (invalid start timestamps left out).
pub(crate) fn companion_batch(owners: &[(Labels, Vec<(i64, i64)>)]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (labels, starts) in owners {
        let samples: Vec<Sample> = starts
            .iter()
            .filter(|&&(t, st)| valid_start(st, t))
            .map(|&(t, st)| Sample::new(t, st as f64))
            .collect();
        if !samples.is_empty() {
            batch.push(companion_of(labels), samples);
        }
    }
    batch
}

/// `set` without companions, each owner carrying its companion's samples
/// as start times when `keep` (samples read as they are stored). A
/// downsampled set keeps none: its samples stand for intervals, which have
/// no start timestamps.
pub(crate) fn attach(set: SeriesSet, keep: bool) -> Result<SeriesSet, StorageError> {
    if !set.any(|s| is_companion(&s.labels)) {
        return Ok(set);
    }
    let res = set.downsampled_resolution();
    let (companions, mut owners): (Vec<Series>, Vec<Series>) =
        set.partition(|s| is_companion(&s.labels));
    if !keep || res.is_some() {
        return Ok(SeriesSet::new(owners).with_resolution(res));
    }
    let mut starts: HashMap<Labels, Vec<Sample>> = HashMap::with_capacity(companions.len());
    for c in companions {
        let mut it = c.samples;
        let v: Vec<Sample> = it.by_ref().collect();
        if let Some(e) = it.error() {
            return Err(StorageError::Chunk {
                series: c.labels.to_string(),
                source: e.clone(),
            });
        }
        starts.insert(c.labels.without(START_TIME_LABEL), v);
    }
    for o in &mut owners {
        if let Some(v) = starts.remove(&o.labels) {
            o.start_times = v;
        }
    }
    Ok(SeriesSet::new(owners).with_resolution(res))
}

/// Label names without the reserved one.
pub(crate) fn hide_name(mut names: Vec<String>) -> Vec<String> {
    names.retain(|n| n != START_TIME_LABEL);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companion_labels_round_trip() {
        let owner = Labels::from_pairs([("__name__", "c_total"), ("job", "a")]);
        let c = companion_of(&owner);
        assert!(is_companion(&c));
        assert!(!is_companion(&owner));
        assert_eq!(c.without(START_TIME_LABEL), owner);
        assert_eq!(c.get(START_TIME_LABEL), Some("1"));
    }

    #[test]
    fn invalid_starts_are_not_stored() {
        assert!(valid_start(1, 2));
        assert!(!valid_start(0, 2));
        assert!(!valid_start(2, 2));
        assert!(!valid_start(3, 2));
        assert!(valid_start(-5, 2));
        let owner = Labels::from_pairs([("__name__", "c_total")]);
        let b = companion_batch(&[(owner.clone(), vec![(10, 5), (20, 0), (30, 30), (40, 50)])]);
        assert_eq!(b.series.len(), 1);
        assert_eq!(b.series[0].samples, vec![Sample::new(10, 5.0)]);
        assert!(companion_batch(&[(owner, vec![(10, 0)])]).series.is_empty());
    }
}
