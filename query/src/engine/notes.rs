//! Annotations a query collects and the output it ends with.

use super::stats::{QueryStats, StepSamples};
use super::{Ctx, Note, QueryOutput, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl Ctx<'_> {
    /// Records an annotation once.
    pub fn note(&self, kind: Note, text: String) {
        if let Ok(mut notes) = self.notes.lock()
            && !notes.iter().any(|(k, t)| *k == kind && *t == text)
        {
            notes.push((kind, text));
        }
    }

    pub(super) fn take_notes(&self, kind: Note) -> Vec<String> {
        match self.notes.lock() {
            Ok(notes) => notes
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, t)| t.clone())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The query's result with its annotations and statistics; it began
    /// at `t0` and sorting its result took `sort_time`.
    pub(super) fn output(&self, value: Value, t0: Instant, sort_time: Duration) -> QueryOutput {
        let stats = QueryStats {
            samples_loaded: self.samples.load(Ordering::Relaxed),
            series_loaded: self.series.load(Ordering::Relaxed),
            peak_samples: self.peak.load(Ordering::Relaxed),
            prepare_time: Duration::from_nanos(self.select_nanos.load(Ordering::Relaxed)),
            sort_time,
            eval_time: t0.elapsed(),
        };
        QueryOutput {
            value,
            stats,
            warnings: self.take_notes(Note::Warning),
            infos: self.take_notes(Note::Info),
            samples_per_step: self
                .per_step
                .as_ref()
                .map(StepSamples::take)
                .unwrap_or_default(),
        }
    }
}
