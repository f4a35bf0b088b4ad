//! Series built by a translating decoder (OTLP, Influx line protocol):
//! every label name and value is written into one string, so a request of
//! many points allocates a few buffers, not a string per label; the result
//! is handed to storage as a [`BorrowedBatch`].

use hourglass_storage::{BorrowedBatch, FloatHistogram, Labels, Sample};
use std::ops::Range;

/// One native histogram sample, as a one-element slice for the batch.
type HistogramSample = [(i64, FloatHistogram); 1];

/// Series with one sample (a float or a native histogram) each, labels in
/// one text arena.
#[derive(Debug, Default)]
pub struct SeriesArena {
    text: String,
    /// Byte ranges in `text` of each label's name and value.
    pairs: Vec<(Range<usize>, Range<usize>)>,
    /// Each series' range in `pairs`, and its sample.
    series: Vec<(Range<usize>, Sample)>,
    /// Each native-histogram series' range in `pairs`, and its sample.
    histograms: Vec<(Range<usize>, HistogramSample)>,
    /// Start timestamps of `series`' samples (ms, `0`: none), one each.
    starts: Vec<i64>,
    /// Start timestamps of `histograms`' samples, as of `starts`.
    histogram_starts: Vec<i64>,
    /// Start timestamps kept as such (storage's start-timestamp
    /// companions) rather than as zero samples: `(index in series, ms)`.
    kept: Vec<(usize, i64)>,
    /// Bucket bytes held by `histograms`' samples.
    histogram_bytes: usize,
    /// Where the series being built starts in `pairs`.
    open: usize,
}

impl SeriesArena {
    /// Empties the arena, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.pairs.clear();
        self.series.clear();
        self.histograms.clear();
        self.starts.clear();
        self.histogram_starts.clear();
        self.kept.clear();
        self.histogram_bytes = 0;
        self.open = 0;
    }

    /// Adds a label to the series being built, its name and value written
    /// by `name` and `value` (each appends to the string it is given). An
    /// empty value means the label is absent.
    pub fn label_with(&mut self, name: impl FnOnce(&mut String), value: impl FnOnce(&mut String)) {
        let a = self.text.len();
        name(&mut self.text);
        let b = self.text.len();
        value(&mut self.text);
        self.pairs.push((a..b, b..self.text.len()));
    }

    /// Adds a label as given.
    pub fn label(&mut self, name: &str, value: &str) {
        self.label_with(|s| s.push_str(name), |s| s.push_str(value));
    }

    /// Copies labels added earlier (`from`, positions given by
    /// [`SeriesArena::mark`]) onto the series being built.
    pub fn copy_labels(&mut self, from: Range<usize>) {
        for i in from {
            if let Some(p) = self.pairs.get(i).cloned() {
                self.pairs.push(p);
            }
        }
    }

    /// The position of the next label added, for
    /// [`SeriesArena::copy_labels`].
    pub fn mark(&self) -> usize {
        self.pairs.len()
    }

    /// Ends the series being built with its sample.
    pub fn finish(&mut self, sample: Sample) {
        self.finish_started(sample, 0);
    }

    /// Ends the series being built with its sample and the start ("created")
    /// timestamp of its counter (ms, `0`: none).
    pub fn finish_started(&mut self, sample: Sample, start: i64) {
        let end = self.pairs.len();
        self.series.push((self.open..end, sample));
        self.starts.push(start);
        self.open = end;
    }

    /// Ends the series being built with its sample and the start timestamp
    /// of its counter (ms), kept as such for queries to read.
    pub fn finish_kept(&mut self, sample: Sample, start: i64) {
        if hourglass_storage::valid_start(start, sample.t) {
            self.kept.push((self.series.len(), start));
        }
        self.finish_started(sample, 0);
    }

    /// Ends the series being built with a native histogram sample.
    pub fn finish_histogram(&mut self, t: i64, h: FloatHistogram) {
        self.finish_histogram_started(t, h, 0);
    }

    /// [`SeriesArena::finish_histogram`] with a start timestamp (ms, `0`:
    /// none).
    pub fn finish_histogram_started(&mut self, t: i64, h: FloatHistogram, start: i64) {
        self.histogram_starts.push(start);
        let end = self.pairs.len();
        self.histogram_bytes += (h.num_buckets() + h.custom_values.len()) * size_of::<f64>()
            + (h.positive_spans.len() + h.negative_spans.len()) * 8;
        self.histograms.push((self.open..end, [(t, h)]));
        self.open = end;
    }

    /// Drops the labels added since the last finished series.
    pub fn discard(&mut self) {
        self.pairs.truncate(self.open);
    }

    /// Series finished so far.
    pub fn len(&self) -> usize {
        self.series.len() + self.histograms.len()
    }

    /// True when no series is finished.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (for the in-flight budget).
    pub fn held_bytes(&self) -> usize {
        self.text.capacity()
            + self.pairs.capacity() * size_of::<(Range<usize>, Range<usize>)>()
            + self.series.capacity() * size_of::<(Range<usize>, Sample)>()
            + self.histograms.capacity() * size_of::<(Range<usize>, HistogramSample)>()
            + (self.starts.capacity() + self.histogram_starts.capacity()) * size_of::<i64>()
            + self.kept.capacity() * size_of::<(usize, i64)>()
            + self.histogram_bytes
    }

    /// The series as a batch for storage, handed to `f`.
    pub fn with_batch<R>(&self, f: impl FnOnce(&BorrowedBatch<'_>) -> R) -> R {
        let refs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(n, v)| {
                (
                    self.text.get(n.clone()).unwrap_or_default(),
                    self.text.get(v.clone()).unwrap_or_default(),
                )
            })
            .collect();
        let samples: Vec<Sample> = self.series.iter().map(|(_, s)| *s).collect();
        let mut batch = BorrowedBatch::default();
        batch.series.reserve(self.len());
        for (i, (range, _)) in self.series.iter().enumerate() {
            if let (Some(labels), Some(s)) = (refs.get(range.clone()), samples.get(i..=i)) {
                batch.push_with_starts(labels, s, start_of(&self.starts, i));
            }
        }
        for (i, (range, h)) in self.histograms.iter().enumerate() {
            if let Some(labels) = refs.get(range.clone()) {
                batch.push_histograms_with_starts(labels, h, start_of(&self.histogram_starts, i));
            }
        }
        f(&batch)
    }

    /// The start timestamps kept by [`SeriesArena::finish_kept`], as
    /// `(labels, [(t, st)])` for `Storage::append_start_times`.
    pub fn kept_start_times(&self) -> Vec<(Labels, Vec<(i64, i64)>)> {
        self.kept
            .iter()
            .filter_map(|&(i, st)| {
                let (range, s) = self.series.get(i)?;
                let pairs = self.pairs.get(range.clone())?.iter().map(|(n, v)| {
                    (
                        self.text.get(n.clone()).unwrap_or_default(),
                        self.text.get(v.clone()).unwrap_or_default(),
                    )
                });
                Some((Labels::from_pairs(pairs), vec![(s.t, st)]))
            })
            .collect()
    }

    /// Each series' labels (in the order added) and sample, for tests.
    pub fn to_vec(&self) -> Vec<(Vec<(String, String)>, Sample)> {
        self.series
            .iter()
            .map(|(range, s)| {
                let labels = self.pairs[range.clone()]
                    .iter()
                    .map(|(n, v)| {
                        (
                            self.text[n.clone()].to_string(),
                            self.text[v.clone()].to_string(),
                        )
                    })
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                (labels, *s)
            })
            .collect()
    }
}

/// The start timestamp at `i` as a batch's one-element slice; empty when
/// it is `0`, so a sample without one takes storage's plain path.
fn start_of(starts: &[i64], i: usize) -> &[i64] {
    match starts.get(i..=i) {
        Some(st) if st.first() != Some(&0) => st,
        _ => &[],
    }
}
