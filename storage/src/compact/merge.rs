//! Merging the series of several partitions into one partition's series:
//! decode, merge by time (the first input wins a shared timestamp, as in
//! the querier), join their downsampled intervals, apply the rewrite
//! steps, re-encode over the whole span.

use super::rewrite::{RewriteStep, apply_all, apply_all_histograms};
use crate::chunk;
use crate::downsample::{DsCursor, DsEncoded, DsSeries, DsWriter, join};
use crate::downsample_read::damaged;
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use crate::partition::{PartSeries, Partition};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Counts of one merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    /// Series read (summed over inputs).
    pub series_in: u64,
    /// Series written.
    pub series_out: u64,
    /// Samples read (summed over inputs).
    pub samples_in: u64,
    /// Samples written.
    pub samples_out: u64,
}

/// What a merge produces: raw series and the encoded downsampled file
/// (streamed: one block of series decoded at a time).
pub(crate) type Merged = (Vec<PartSeries>, Option<DsEncoded>, MergeCounts);

/// Where a series comes from: raw series and downsampled series, each
/// `(input, index)`.
#[derive(Default)]
struct Sources {
    raw: Vec<(usize, usize)>,
    ds: Vec<(usize, usize)>,
}

/// Merges `inputs` series by series into the span `(start, span_ms)`;
/// gives up with [`StorageError::Interrupted`] once `stop` is set.
pub(crate) fn merge(
    inputs: &[Arc<Partition>],
    steps: &[&dyn RewriteStep],
    span: (i64, i64),
    stop: &AtomicBool,
) -> Result<Merged, StorageError> {
    let mut by: BTreeMap<&Labels, Sources> = BTreeMap::new();
    for (pi, p) in inputs.iter().enumerate() {
        for si in 0..p.series_count() {
            if let Some((labels, _)) = p.series_at(si) {
                by.entry(labels).or_default().raw.push((pi, si));
            }
        }
        for (i, e) in p.downsampled().entries().iter().enumerate() {
            by.entry(&e.labels).or_default().ds.push((pi, i));
        }
    }
    // Series come in label order, so each input's blocks are decoded once.
    let mut cursors: Vec<DsCursor<'_>> = inputs
        .iter()
        .map(|p| DsCursor::new(p.downsampled()))
        .collect();
    let mut writer = DsWriter::default();
    let mut counts = MergeCounts::default();
    let mut out = Vec::with_capacity(by.len());
    let mut samples: Vec<Sample> = Vec::new();
    for (labels, sources) in by {
        if stop.load(Ordering::Relaxed) {
            return Err(StorageError::Interrupted);
        }
        samples.clear();
        let mut histograms = Vec::new();
        for &(pi, si) in &sources.raw {
            let Some((_, chunks)) = inputs[pi].series_at(si) else {
                continue;
            };
            histograms.extend(inputs[pi].histograms_at(si).map_err(|source| {
                StorageError::Chunk {
                    series: labels.to_string(),
                    source,
                }
            })?);
            for c in &chunks {
                c.decode_into(&mut samples)
                    .map_err(|source| StorageError::Chunk {
                        series: labels.to_string(),
                        source,
                    })?;
            }
        }
        counts.series_in += sources.raw.len() as u64;
        counts.samples_in += (samples.len() + histograms.len()) as u64;
        if sources.raw.len() > 1 {
            // Stable: on a shared timestamp the earlier input stays first.
            samples.sort_by_key(|s| s.t);
            samples.dedup_by_key(|s| s.t);
            histograms.sort_by_key(|h| h.0);
            histograms.dedup_by_key(|h| h.0);
        }
        let mut blocks = Vec::with_capacity(sources.ds.len());
        for &(pi, i) in &sources.ds {
            let s = cursors[pi].series(i).map_err(|e| damaged(&inputs[pi], e))?;
            blocks.push(s.clone());
        }
        blocks.sort_by_key(|d| d.first.t);
        let mut ds: Option<DsSeries> = None;
        for b in blocks {
            match ds.as_mut() {
                Some(a) => join(a, b),
                None => ds = Some(b),
            }
        }
        apply_all(steps, labels, span, &mut samples, &mut ds);
        if let Some(d) = ds {
            writer.push(d);
        }
        apply_all_histograms(steps, labels, &mut histograms);
        if samples.is_empty() && histograms.is_empty() {
            continue;
        }
        let chunks = chunk::encode_cold_runs(&samples);
        counts.series_out += 1;
        counts.samples_out += (samples.len() + histograms.len()) as u64;
        out.push(PartSeries {
            labels: labels.clone(),
            chunks,
            histograms,
        });
    }
    Ok((out, writer.finish(), counts))
}
