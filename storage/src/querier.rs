//! The read seam: what the query engine sees of storage.
//!
//! A [`Querier`] answers for a fixed time range `[mint, maxt]` (both
//! inclusive, ms). `select` returns series sorted by labels, each with a
//! [`SampleIter`] yielding float samples and a [`HistogramIter`] yielding
//! native histogram samples, each in strictly increasing time order with
//! duplicates (same timestamp from several sources) removed; a series is
//! returned when either holds a sample in range. Queriers are
//! `Send + Sync`; each `Series` owns its data, so iterators run on any
//! thread after the querier is gone.

use crate::downsample::ReadAs;
use crate::error::StorageError;
use crate::histogram_iter::HistogramIter;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::{Sample, is_stale_nan};
use crate::sample_iter::SampleIter;

/// Read access to stored series over a time range.
pub trait Querier: Send + Sync {
    /// Series matching every matcher with at least one sample in
    /// `[mint, maxt]` (intersected with the querier's own range), sorted by
    /// labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64)
    -> Result<SeriesSet, StorageError>;

    /// Like `select`, with downsampled spans read as `read` asks: the
    /// synthetic samples that stand for each interval for the function
    /// being evaluated (`select` reads them as [`ReadAs::Last`]). The set
    /// tells which resolution it used
    /// ([`SeriesSet::downsampled_resolution`]).
    fn select_as(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        read: ReadAs,
    ) -> Result<SeriesSet, StorageError> {
        let set = self.select(matchers, mint, maxt)?;
        if read == ReadAs::Count {
            return counted(set, mint, maxt);
        }
        Ok(set)
    }

    /// Label names of series matching `matchers` (all series when empty),
    /// sorted.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Values of label `name` on series matching `matchers`, sorted.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
}

/// `set` read as [`ReadAs::Count`] where every sample is raw: each
/// sample but stale markers becomes a 1.
pub(crate) fn counted(set: SeriesSet, mint: i64, maxt: i64) -> Result<SeriesSet, StorageError> {
    let res = set.downsampled_resolution();
    let mut out = Vec::with_capacity(set.len());
    for s in set {
        let v = ones(s.samples, &s.labels)?;
        if !v.is_empty() || !s.histograms.is_empty() {
            out.push(Series {
                labels: s.labels,
                samples: SampleIter::new(Vec::new(), v, mint, maxt),
                histograms: s.histograms,
                start_times: Vec::new(),
            });
        }
    }
    Ok(SeriesSet::new(out).with_resolution(res))
}

/// The samples of `it` but stale markers, each as a 1.
pub(crate) fn ones(mut it: SampleIter, labels: &Labels) -> Result<Vec<Sample>, StorageError> {
    let v: Vec<Sample> = it
        .by_ref()
        .filter(|s| !is_stale_nan(s.v))
        .map(|s| Sample::new(s.t, 1.0))
        .collect();
    match it.error() {
        Some(e) => Err(StorageError::Chunk {
            series: labels.to_string(),
            source: e.clone(),
        }),
        None => Ok(v),
    }
}

/// One selected series.
#[derive(Debug)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// Its float samples in the selected range.
    pub samples: SampleIter,
    /// Its histogram samples in the selected range (empty for float-only
    /// series). A timestamp is never in both.
    pub histograms: HistogramIter,
    /// Start timestamps of its float samples, in time order: a sample at
    /// `t` with value `st` says the sample at `t` counts since `st` (ms).
    /// Empty when none is stored (see `start_times.rs`).
    pub start_times: Vec<Sample>,
}

impl Series {
    /// A series without start timestamps, or `None` when neither iterator
    /// holds a sample (chunks may overlap a range without one inside it).
    pub(crate) fn non_empty(
        labels: Labels,
        samples: SampleIter,
        histograms: HistogramIter,
    ) -> Option<Series> {
        (!samples.is_exhausted() || !histograms.is_empty()).then(|| Series {
            labels,
            samples,
            histograms,
            start_times: Vec::new(),
        })
    }
}

/// Selected series in label order.
#[derive(Debug, Default)]
pub struct SeriesSet {
    series: std::vec::IntoIter<Series>,
    /// The coarsest downsampled resolution read, ms.
    resolution_ms: Option<i64>,
}

impl SeriesSet {
    pub(crate) fn new(mut series: Vec<Series>) -> Self {
        // Labels are distinct within a set: an unstable sort is exact.
        crate::series_order::sort_by_labels(&mut series, |s| &s.labels);
        SeriesSet {
            series: series.into_iter(),
            resolution_ms: None,
        }
    }

    /// The same set, marked as holding downsampled data of `res` ms.
    pub(crate) fn with_resolution(mut self, res: Option<i64>) -> Self {
        self.resolution_ms = res;
        self
    }

    /// Whether any series satisfies `f`, without taking it out.
    pub(crate) fn any(&self, f: impl Fn(&Series) -> bool) -> bool {
        self.series.as_slice().iter().any(f)
    }

    /// The coarsest resolution (ms) of the downsampled data among these
    /// series; none when every sample is raw.
    pub fn downsampled_resolution(&self) -> Option<i64> {
        self.resolution_ms
    }
}

impl Iterator for SeriesSet {
    type Item = Series;
    fn next(&mut self) -> Option<Series> {
        self.series.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.series.size_hint()
    }
}

impl ExactSizeIterator for SeriesSet {}
