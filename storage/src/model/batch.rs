//! What a writer hands to `Storage::append`.

use super::labels::Labels;
use super::sample::Sample;

/// Samples of one series inside a batch, in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series.
    pub labels: Labels,
    /// Its samples.
    pub samples: Vec<Sample>,
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
        self.series.push(SeriesSamples { labels, samples });
    }

    /// Total samples.
    pub fn num_samples(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }

    /// True when the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.num_samples() == 0
    }
}
