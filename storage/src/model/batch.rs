//! What a writer hands to `Storage::append`.

use super::histogram::FloatHistogram;
use super::labels::Labels;
use super::sample::Sample;

/// Samples of one series inside a batch, in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series.
    pub labels: Labels,
    /// Its float samples.
    pub samples: Vec<Sample>,
    /// Its native histogram samples (time, histogram), in any order.
    pub histograms: Vec<(i64, FloatHistogram)>,
}

impl SeriesSamples {
    /// Its samples, floats and histograms.
    pub fn num_samples(&self) -> usize {
        self.samples.len() + self.histograms.len()
    }
}

/// A batch of samples for many series: one WAL record, one acknowledgement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// The series and their samples; a series may appear more than once.
    pub series: Vec<SeriesSamples>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples for a series.
    pub fn push(&mut self, labels: Labels, samples: Vec<Sample>) {
        self.series.push(SeriesSamples {
            labels,
            samples,
            histograms: Vec::new(),
        });
    }

    /// Adds native histogram samples for a series.
    pub fn push_histograms(&mut self, labels: Labels, histograms: Vec<(i64, FloatHistogram)>) {
        self.series.push(SeriesSamples {
            labels,
            samples: Vec::new(),
            histograms,
        });
    }

    /// Total samples, floats and histograms.
    pub fn num_samples(&self) -> usize {
        self.series.iter().map(SeriesSamples::num_samples).sum()
    }

    /// True when the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.num_samples() == 0
    }
}

/// A keyed 128-bit hash of a series' labels exactly as sent (order, empty
/// values and all), made by the writer's decoder with a secret key of the
/// process (remote write: SipHash-1-3 of the label fields' bytes). Equal
/// keys stand for equal labels: a sender cannot choose two label sets
/// whose keys collide without the secret, and by chance that happens once
/// in 2^128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SentKey(pub [u64; 2]);

/// Samples of one series borrowed from a decoded request: labels as sent
/// (any order; an empty value means the label is absent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesRef<'a> {
    /// The series' label pairs.
    pub labels: &'a [(&'a str, &'a str)],
    /// Its samples.
    pub samples: &'a [Sample],
    /// Remote write 2.0 start timestamps, one per sample (`0`: none), or
    /// empty. Storage puts a zero at a start timestamp only where it is
    /// newer than the series' last sample and older than the sample, as
    /// Prometheus does: the counter (re)started there.
    pub start_timestamps: &'a [i64],
    /// Native histogram samples (time, histogram), in any order.
    pub histograms: &'a [(i64, FloatHistogram)],
    /// Start timestamps of `histograms` as of `start_timestamps` (an
    /// empty histogram of the same schema is the zero), or empty.
    pub histogram_starts: &'a [i64],
    /// The key of `labels` as sent, when the writer made one: a series
    /// sent again is then found by it alone.
    pub sent_key: Option<SentKey>,
}

impl SeriesRef<'_> {
    /// Its samples, floats and histograms.
    pub fn num_samples(&self) -> usize {
        self.samples.len() + self.histograms.len()
    }
}

/// A batch that borrows from the request it was decoded from, so storing
/// samples of known series allocates nothing per series: labels are
/// copied only when a series is new.
///
/// ```
/// use hourglass_storage::{BorrowedBatch, Sample};
/// let labels = [("__name__", "up"), ("job", "node")];
/// let samples = [Sample::new(1_000, 1.0)];
/// let mut batch = BorrowedBatch::default();
/// batch.push(&labels, &samples);
/// assert_eq!(batch.num_samples(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BorrowedBatch<'a> {
    /// The series and their samples; a series may appear more than once.
    pub series: Vec<SeriesRef<'a>>,
}

impl<'a> BorrowedBatch<'a> {
    /// Adds samples for a series.
    pub fn push(&mut self, labels: &'a [(&'a str, &'a str)], samples: &'a [Sample]) {
        self.push_with_starts(labels, samples, &[]);
    }

    /// Adds samples for a series with their start timestamps (one per
    /// sample, or empty).
    pub fn push_with_starts(
        &mut self,
        labels: &'a [(&'a str, &'a str)],
        samples: &'a [Sample],
        start_timestamps: &'a [i64],
    ) {
        self.series.push(SeriesRef {
            labels,
            samples,
            start_timestamps,
            histograms: &[],
            histogram_starts: &[],
            sent_key: None,
        });
    }

    /// Adds native histogram samples for a series.
    pub fn push_histograms(
        &mut self,
        labels: &'a [(&'a str, &'a str)],
        histograms: &'a [(i64, FloatHistogram)],
    ) {
        self.push_histograms_with_starts(labels, histograms, &[]);
    }

    /// Adds native histogram samples for a series with their start
    /// timestamps (one per histogram, or empty).
    pub fn push_histograms_with_starts(
        &mut self,
        labels: &'a [(&'a str, &'a str)],
        histograms: &'a [(i64, FloatHistogram)],
        histogram_starts: &'a [i64],
    ) {
        self.series.push(SeriesRef {
            labels,
            samples: &[],
            start_timestamps: &[],
            histograms,
            histogram_starts,
            sent_key: None,
        });
    }

    /// Total samples, floats and histograms.
    pub fn num_samples(&self) -> usize {
        self.series.iter().map(SeriesRef::num_samples).sum()
    }

    /// True when the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.num_samples() == 0
    }
}
