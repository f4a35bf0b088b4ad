//! A tap on stored samples: one process-wide observer (the server's live
//! stream) gets each append's accepted float samples, per series, after
//! the WAL acknowledged them. Every ingest path goes through the head's
//! append, so this is the one seam they share. While nobody wants the
//! samples, an append pays one atomic load; while someone does, it pays
//! an `Arc` clone of each series' labels and a copy of its samples into
//! one flat batch, which it hands over whole (the observer queues it and
//! does its matching and encoding elsewhere).

use crate::model::labels::Labels;
use crate::model::sample::Sample;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one append stored: each series' labels and its samples, in one
/// flat buffer (no allocation per series).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stored {
    /// Each series' labels and the end of its samples in `samples`.
    series: Vec<(Labels, usize)>,
    samples: Vec<Sample>,
}

impl Stored {
    /// An empty batch with room for `samples` samples.
    pub fn with_capacity(samples: usize) -> Stored {
        Stored {
            series: Vec::new(),
            samples: Vec::with_capacity(samples),
        }
    }

    /// Adds one series' stored samples (nothing when `samples` is empty).
    pub fn push(&mut self, labels: &Labels, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        self.samples.extend_from_slice(samples);
        self.series.push((labels.clone(), self.samples.len()));
    }

    /// Each series with its samples, in the order they were appended.
    pub fn iter(&self) -> impl Iterator<Item = (&Labels, &[Sample])> {
        let mut start = 0;
        self.series.iter().map(move |(labels, end)| {
            let s = self.samples.get(start..*end).unwrap_or(&[]);
            start = *end;
            (labels, s)
        })
    }

    /// Samples in the batch.
    pub fn num_samples(&self) -> usize {
        self.samples.len()
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Receives each acknowledged append's stored samples, by value (called
/// on the appending thread; keep it short and non-blocking).
pub type Observer = fn(Stored);

static OBSERVER: OnceLock<Observer> = OnceLock::new();
static WANTED: AtomicBool = AtomicBool::new(false);

/// Makes `observer` the process's observer (only the first call counts).
pub fn install(observer: Observer) {
    let _ = OBSERVER.set(observer);
}

/// Turns collecting on (someone listens) or off.
pub fn want(on: bool) {
    WANTED.store(on, Ordering::Relaxed);
}

/// Whether appends should collect what they store.
pub(crate) fn wanted() -> bool {
    WANTED.load(Ordering::Relaxed)
}

/// Hands an acknowledged append's samples to the observer.
pub(crate) fn deliver(stored: Stored) {
    if let (Some(observe), false) = (OBSERVER.get(), stored.is_empty()) {
        observe(stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_batch_gives_back_each_series_samples() {
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let mut s = Stored::with_capacity(3);
        s.push(&a, &[Sample::new(1, 1.0), Sample::new(2, 2.0)]);
        s.push(&b, &[]);
        s.push(&b, &[Sample::new(3, 3.0)]);
        let got: Vec<(String, Vec<i64>)> = s
            .iter()
            .map(|(l, s)| {
                (
                    l.get("__name__").unwrap_or("").to_string(),
                    s.iter().map(|x| x.t).collect(),
                )
            })
            .collect();
        assert_eq!(got, [("a".into(), vec![1, 2]), ("b".into(), vec![3])]);
        assert_eq!(s.num_samples(), 3);
    }
}
